"""One blueprint per endpoint, and the hooks every /v1 answer shares (request id, x-gateway headers, log row)."""
from flask import Flask, g

from gateway.api import chat_completions, health, models
from gateway.services import services


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(chat_completions.bp)
    app.register_blueprint(models.bp)
    app.register_blueprint(health.bp)

    @app.before_request
    def _start_services():
        svc = services()
        if not svc.started:
            svc.start()

    @app.after_request
    def _finish(response):
        rec = g.get("rec")
        if rec is None:
            return response
        rec.status = response.status_code
        response.headers.update(rec.gateway_headers())
        response.headers["x-gateway-overhead-ms"] = f"{rec.overhead_ms():.2f}"
        if not rec.relaying:
            services().finish(rec)
        return response
