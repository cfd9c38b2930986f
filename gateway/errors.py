"""Renders every exception as the OpenAI error envelope: as an HTTP body or as an in-stream event."""
import logging

import orjson
from flask import Flask, Response, g
from sqlalchemy import exc as db_exc
from werkzeug.exceptions import HTTPException

from gateway import exceptions as exc

log = logging.getLogger("switchyard.errors")

_HTTP_TO_ERROR = {404: exc.NotFound, 405: exc.MethodNotAllowed, 413: exc.PayloadTooLarge}
# The database not answering (down, refusing, locked past its timeout, the pool exhausted) is a 503, not a bug.
_DATABASE_DOWN = (db_exc.OperationalError, db_exc.InterfaceError, db_exc.DisconnectionError, db_exc.TimeoutError)


# Answers a retry cannot change: the quota stays spent until its period resets; the provider keeps refusing the
# gateway's own key until an operator fixes it.
_NOT_WORTH_RETRYING = frozenset({"quota_exceeded", "provider_auth"})


def envelope(err: exc.GatewayError) -> dict:
    return {"error": {"message": err.client_message, "type": err.code, "code": err.code, "param": err.param}}


def to_gateway_error(e: BaseException) -> exc.GatewayError:
    """Any exception -> the GatewayError the client sees. Unknown exceptions become `internal`, logged once."""
    if isinstance(e, exc.GatewayError):
        return e
    if isinstance(e, HTTPException):
        cls = _HTTP_TO_ERROR.get(e.code or 500)
        if cls is not None:
            return cls()
        if e.code and e.code < 500:
            return exc.InvalidRequest(e.description or "Invalid request.")
    if isinstance(e, _DATABASE_DOWN):
        orig = getattr(e, "orig", None) or e
        log.warning("the database is not reachable: %s", (str(orig).strip().splitlines() or [type(orig).__name__])[0])
        return exc.ServiceUnavailable(retry_after=1)
    log.exception("unhandled error", exc_info=e)
    return exc.Internal()


def error_response(err: exc.GatewayError) -> Response:
    resp = Response(orjson.dumps(envelope(err)), status=err.status, mimetype="application/json")
    if err.retry_after is not None and err.status in (429, 503):
        resp.headers["retry-after"] = str(max(1, int(err.retry_after)))
    if err.code in _NOT_WORTH_RETRYING:
        resp.headers["x-should-retry"] = "false"   # the OpenAI SDK retries 429s and 5xx unless told not to
    if err.status == 405:
        resp.headers["allow"] = "GET, POST, OPTIONS"
    return resp


def stream_error_event(e: BaseException) -> bytes:
    """An error after the first byte of a stream: one SSE data event in the OpenAI envelope."""
    return b"data: " + orjson.dumps(envelope(to_gateway_error(e))) + b"\n\n"


def init_errors(app: Flask) -> None:
    @app.errorhandler(Exception)
    def _any(e: Exception):  # noqa: ANN202 - Flask handler
        err = to_gateway_error(e)
        rec = g.get("rec")
        if rec is not None:
            rec.failed(err.code, message=err.message)
        return error_response(err)
