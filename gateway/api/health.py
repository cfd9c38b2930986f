"""GET /healthz (the process answers) and /readyz (the database answers): no auth, for load balancers."""
from flask import Blueprint
from sqlalchemy import text

from gateway import exceptions as exc
from gateway.api.common import json_response
from gateway.services import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz():
    try:
        with services().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as e:  # noqa: BLE001 - any DB failure means not ready
        raise exc.Unavailable("The database is not reachable.") from e
    return json_response({"status": "ready"})
