"""GET /healthz (the process answers) and /readyz (the database answers): no auth, for load balancers."""
from flask import Blueprint, Response
from sqlalchemy import text

from gateway import exceptions as exc
from gateway.api.common import json_response
from gateway.services import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return json_response({"status": "ok"})


@bp.get("/metrics")
def metrics():
    """Prometheus text format; no key (restrict it at the proxy, as with the health checks)."""
    return Response(services().metrics.exposition(), mimetype="text/plain; version=0.0.4")


@bp.get("/readyz")
def readyz():
    try:
        with services().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as e:  # noqa: BLE001 - any DB failure means not ready
        raise exc.Unavailable("The database is not reachable.") from e
    return json_response({"status": "ready"})
