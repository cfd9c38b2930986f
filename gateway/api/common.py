"""What the endpoint blueprints share: starting the request record, authenticating, reading a JSON body."""
import os
import re

import orjson
from flask import Response, g, request

from gateway import exceptions as exc
from gateway.auth import KeyRecord, bearer_of
from gateway.record import RequestRecord
from gateway.services import services


# A client's X-Request-Id we keep (echoed in x-request-id, logged): a safe token, else we use only our own.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# W3C trace context, version 00: trace id and parent id in lower-case hex, neither all zeros.
_TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
# tracestate is only passed on beside a valid traceparent: printable ASCII, as long as the spec asks us to carry.
_TRACESTATE = re.compile(r"[\x20-\x7e]{1,512}")


def start_record(endpoint: str) -> RequestRecord:
    """The record of this request: our id, the client's own id and trace context when they are well-formed."""
    rec = RequestRecord(request_id=f"req_{os.urandom(12).hex()}", endpoint=endpoint)
    headers = request.headers
    client_id = headers.get("X-Request-Id")
    traceparent = headers.get("traceparent")
    tracestate = headers.get("tracestate")
    traced = bool(traceparent and _TRACEPARENT.fullmatch(traceparent))
    rec.identified(client_id if client_id and _SAFE_REQUEST_ID.fullmatch(client_id) else None,
                   traceparent if traced else None,
                   tracestate if traced and tracestate and _TRACESTATE.fullmatch(tracestate) else None)
    g.rec = rec
    services().metrics.request_started(rec)
    return rec


def authenticate(count: bool = True) -> KeyRecord:
    """The caller's key (401 without a valid, unexpired one); with `count`, a request that spends nothing is
    counted against its request rate here (429 past it). A spending request is admitted later, once its body is
    valid and its model resolved (`admit`), so a 400 never counts."""
    svc = services()
    key = svc.keys.lookup(bearer_of(request.headers.get("Authorization")))
    rec = g.get("rec")
    if rec is not None:
        rec.admitted(key.id, key.prefix, key.team.id if key.team is not None else None)
    if count:
        svc.admission.count_request(key)
    return key


def admit(key: KeyRecord, rec: RequestRecord, plan, body: dict) -> None:
    """The admit step of a request that spends: its rates, token limits, budgets and quotas (gateway/admission)."""
    services().admission.admit(key, rec, plan, body)


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


def sse_response(body) -> Response:
    """A stream's answer: the relay as the body, never cached or buffered by a proxy."""
    return Response(body, mimetype="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def json_response(payload: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")
