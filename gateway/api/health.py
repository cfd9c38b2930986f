"""GET /healthz (the process answers), /readyz (the database and Redis answer, every stored provider key decrypts,
the log writer keeps up) and /metrics (Prometheus, behind a bearer token when SWITCHYARD_METRICS_TOKEN is set): no
key, for load balancers and scrapers."""
import hmac

from flask import Blueprint, Response, request
from sqlalchemy import text

from gateway import exceptions as exc
from gateway.api.common import json_response
from gateway.auth import bearer_of
from gateway.services import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return json_response({"status": "ok"})


@bp.get("/metrics")
def metrics():
    """Prometheus text format; with SWITCHYARD_METRICS_TOKEN set, only for `Authorization: Bearer <token>`."""
    svc = services()
    token = svc.settings.METRICS_TOKEN
    if token:
        given = bearer_of(request.headers.get("Authorization"))
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise exc.AuthInvalid("Invalid metrics token.")
    return Response(svc.metrics.exposition(svc.log_writer, svc.pipeline.breaker),
                    mimetype="text/plain; version=0.0.4")


def not_ready_reasons() -> list[str]:
    """What keeps this worker from taking traffic, one phrase per failed check (empty: ready)."""
    svc = services()
    reasons = []
    try:
        with svc.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any DB failure means not ready
        reasons.append("the database is not reachable")
    if svc.redis is not None:
        try:
            svc.redis.ping()
        except Exception:  # noqa: BLE001 - any Redis failure means not ready
            reasons.append("Redis is not reachable")
    if not svc.catalog.loaded and not reasons:
        try:
            svc.start()                      # the database answers: load now rather than at the next beat
        except exc.Unavailable:
            reasons.append("the catalog has not been loaded yet")
    unreadable = svc.catalog.snapshot.unreadable_keys if svc.catalog.loaded else []
    if unreadable:
        reasons.append(f"the stored API key of the provider{'s' if len(unreadable) > 1 else ''} "
                       f"{', '.join(repr(n) for n in unreadable)} cannot be decrypted with SWITCHYARD_SECRET_KEY")
    backlog, bound = svc.log_writer.pending, svc.settings.READY_MAX_LOG_BACKLOG
    if backlog > bound:
        reasons.append(f"the request log writer is backed up ({backlog} rows queued, more than "
                       f"SWITCHYARD_READY_MAX_LOG_BACKLOG={bound})")
    return reasons


@bp.get("/readyz")
def readyz():
    reasons = not_ready_reasons()
    if reasons:
        raise exc.Unavailable(f"Not ready: {'; '.join(reasons)}.")
    return json_response({"status": "ready"})
