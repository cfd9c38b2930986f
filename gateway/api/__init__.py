"""One blueprint per endpoint, the 501 of the OpenAI paths the gateway does not serve, and the hooks every /v1
answer shares (request id, x-gateway headers, log row)."""
from flask import Flask, g, request

from gateway import drain
from gateway import exceptions as exc
from gateway.api import chat_completions, health, models, openapi, responses, usage
from gateway.services import services

# Paths of the OpenAI API that the gateway does not serve (any method): 501 not_implemented, naming what it serves.
# Every other unknown path is a 404.
UNSERVED_FAMILIES = ("assistants", "audio", "batches", "chatkit", "completions", "containers",
                     "content_provenance_checks", "conversations", "embeddings", "evals", "files", "fine_tuning",
                     "images", "moderations", "organization", "projects", "realtime", "skills", "threads", "uploads",
                     "vector_stores", "videos")
UNSERVED_PATHS = ("/v1/chat/completions/<path:rest>", "/v1/responses/<response_id>/cancel",
                  "/v1/responses/input_tokens", "/v1/responses/compact")
_ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def not_served(**_):
    raise exc.NotImplementedYet(openapi.not_served_message(request.method, request.path))


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(chat_completions.bp)
    app.register_blueprint(responses.bp)
    app.register_blueprint(models.bp)
    app.register_blueprint(usage.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    families = f"<any({', '.join(UNSERVED_FAMILIES)}):family>"
    for rule in (f"/v1/{families}", f"/v1/{families}/<path:rest>", *UNSERVED_PATHS):
        app.add_url_rule(rule, endpoint=f"not_served:{rule}", view_func=not_served, methods=_ANY_METHOD)

    @app.before_request
    def _start_services():
        svc = services()
        endpoint = request.endpoint or ""
        if not svc.started and request.blueprint not in (health.bp.name, openapi.bp.name) \
                and not endpoint.startswith("not_served:"):         # probes and descriptions load no catalog
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
