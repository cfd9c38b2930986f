"""One blueprint per endpoint, and the hooks every /v1 answer shares (request id, x-gateway headers, log row)."""
from flask import Flask, g, request

from gateway import drain
from gateway.api import chat_completions, health, models, responses, usage
from gateway.services import services


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(chat_completions.bp)
    app.register_blueprint(responses.bp)
    app.register_blueprint(models.bp)
    app.register_blueprint(usage.bp)
    app.register_blueprint(health.bp)

    @app.before_request
    def _start_services():
        svc = services()
        if not svc.started and request.blueprint != health.bp.name:   # probes stay cheap: no catalog load
            svc.start()

    @app.after_request
    def _finish(response):
        limits = g.get("rate_headers")
        if limits:                               # x-ratelimit-* of the tightest limits (gateway/admission.py)
            response.headers.update(limits)
        rec = g.get("rec")
        if rec is None:
            return response
        rec.answered(response.status_code)
        response.headers.update(rec.gateway_headers())
        response.headers["x-gateway-overhead-ms"] = f"{rec.overhead_ms():.2f}"
        svc = services()
        if rec.stream and response.status_code == 200:
            svc.metrics.stream_started(rec)
        # The log row is handed over when the server closes the response, for JSON answers and streams alike
        # (a stream's relay has then told the record how it ended).
        rec.closing_with_response()
        response.call_on_close(lambda: svc.finish(rec))
        return response

    @app.teardown_request
    def _never_unfinished(error):
        """A request whose answer failed after its handler (so `_finish` did not run: an error while rendering,
        a worker killed at the end of its shutdown grace) still leaves its log row and the in-flight gauge."""
        rec = g.get("rec")
        if rec is not None and not rec.closes_with_response:
            if error is not None and rec.error_code is None:
                rec.failed(*(("shutting_down", 503) if drain.draining() else ("internal", 500)))
            services().finish(rec)
