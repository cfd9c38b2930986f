"""One blueprint per endpoint, and the hooks every /v1 answer shares (request id, x-gateway headers, log row)."""
from flask import Flask, g, request

from gateway.api import chat_completions, health, models
from gateway.services import services


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(chat_completions.bp)
    app.register_blueprint(models.bp)
    app.register_blueprint(health.bp)

    @app.before_request
    def _start_services():
        svc = services()
        if not svc.started and request.blueprint != health.bp.name:   # probes stay cheap: no catalog load
            svc.start()

    @app.after_request
    def _finish(response):
        rec = g.get("rec")
        if rec is None:
            return response
        rec.status = response.status_code
        response.headers.update(rec.gateway_headers())
        response.headers["x-gateway-overhead-ms"] = f"{rec.overhead_ms():.2f}"
        if rec.relaying:
            services().metrics.stream_started(rec)     # until the relay's end hook calls Services.finish
        else:
            services().finish(rec)
        return response

    @app.teardown_request
    def _never_unfinished(error):
        """A request whose answer failed after its handler (so `_finish` did not run) still leaves its log row
        and leaves the in-flight gauge."""
        rec = g.get("rec")
        if rec is not None and not rec.logged and not rec.relaying:
            if error is not None and rec.error_code is None:
                rec.status, rec.error_code = 500, "internal"
            services().finish(rec)
