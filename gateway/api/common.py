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


# orjson reads JSON nested up to 1024 levels but writes at most 254, and an adapter nests a value a level or two
# deeper than the client did (and some walk a schema recursively): a body nested deeper than this is refused here,
# naming where (only a body with that many brackets at all is looked at), rather than failing on its way upstream.
MAX_DEPTH = 128
_ORJSON_DEPTH = 254               # the deepest orjson.dumps writes (counting the outermost container)


def json_body() -> dict:
    """The request's JSON object, its size bounded before it is parsed (read)."""
    raw = _bounded_body()
    if not raw:
        raise exc.InvalidRequest("The request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise exc.InvalidRequest(f"The request body is not valid JSON: {e}.") from None
    if not isinstance(body, dict):
        raise exc.InvalidRequest("The request body must be a JSON object.")
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
        _check_depth(body)
    return body


def _bounded_body() -> bytes:
    """The body, 413 past SWITCHYARD_MAX_BODY_BYTES (Flask's MAX_CONTENT_LENGTH): a Content-Length above it before a
    byte is read; a body without one (chunked) as soon as it goes past it. Werkzeug reads such a body only up to
    the limit and stops there without a word: what it read would be parsed as if it were the whole body."""
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    raw = request.get_data(cache=False)
    if limit is not None and request.content_length is None and len(raw) >= limit \
            and request.environ["wsgi.input"].read(1):
        raise _too_large(limit)
    return raw


def _too_large(limit: int) -> exc.PayloadTooLarge:
    return exc.PayloadTooLarge(f"The request body is larger than {limit} bytes, the gateway's limit "
                               f"(SWITCHYARD_MAX_BODY_BYTES).")


def _check_depth(body: dict) -> None:
    """400 naming the field when `body` nests deeper than MAX_DEPTH. Checked at orjson's speed: the body wrapped in
    as many lists as orjson's own bound leaves beyond ours cannot be written exactly when it nests too deep (the
    Python walk that names the path runs only then)."""
    wrapped: object = body
    for _ in range(_ORJSON_DEPTH - MAX_DEPTH):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
        return
    except orjson.JSONEncodeError:
        path = _path_deeper_than(body, MAX_DEPTH)
    if path:
        field = path.split(".")[0].split("[")[0]
        raise exc.InvalidRequest(f"{field}: nested more than {MAX_DEPTH} levels deep (at {path[:120]}...).",
                                 param=field)


def _path_deeper_than(body: dict, limit: int) -> str:
    stack = [(body, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        if depth > limit:
            return path
        items = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((v, (f"{path}.{k}" if path else str(k)) if isinstance(node, dict) else f"{path}[{k}]", depth + 1)
                     for k, v in items if isinstance(v, (dict, list)))
    return ""


def sse_response(body) -> Response:
    """A stream's answer: the relay as the body, never cached or buffered by a proxy."""
    return Response(body, mimetype="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def json_response(payload: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")
