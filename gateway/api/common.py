"""What the endpoint blueprints share: starting the request record, authenticating, reading a JSON body."""
import os

import orjson
from flask import Response, g, request

from gateway import exceptions as exc
from gateway.auth import KeyRecord, bearer_of
from gateway.limits import check_rate
from gateway.record import RequestRecord
from gateway.services import services


def start_record(endpoint: str) -> RequestRecord:
    rec = RequestRecord(request_id=f"req_{os.urandom(12).hex()}", endpoint=endpoint)
    g.rec = rec
    return rec


def authenticate() -> KeyRecord:
    """The caller's key (401 without a valid one), within its request rate (429 past it)."""
    svc = services()
    key = svc.keys.lookup(bearer_of(request.headers.get("Authorization")))
    check_rate(key, svc.settings.RATELIMIT_DEFAULT)
    svc.ledger.check(key)
    return key


def json_body() -> dict:
    raw = request.get_data(cache=False)
    if not raw:
        raise exc.InvalidRequest("The request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise exc.InvalidRequest(f"The request body is not valid JSON: {e}.") from None
    if not isinstance(body, dict):
        raise exc.InvalidRequest("The request body must be a JSON object.")
    return body


def json_response(payload: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")
