"""The gunicorn worker class: gevent's pywsgi server, with an idle keep-alive timeout so shutdowns stay short."""
import os

import gevent
import orjson
from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler, PyWSGIServer

from gateway import exceptions as exc

KEEPALIVE_S = float(os.environ.get("SWITCHYARD_KEEPALIVE_S", "5"))


def envelope(err: exc.GatewayError) -> dict:
    """The OpenAI error envelope (as gateway/errors.py renders it; not imported from there, because this module
    is loaded by the gunicorn master too, which then would carry Flask for nothing)."""
    return {"error": {"message": err.message, "type": err.code, "code": err.code, "param": err.param}}


def _raw_json_error(err: exc.GatewayError) -> bytes:
    body = orjson.dumps(envelope(err))
    head = (f"HTTP/1.1 {err.status} {'Bad Request' if err.status == 400 else 'Internal Server Error'}\r\n"
            f"Connection: close\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


# What the HTTP server itself answers (a request it cannot parse, a failure outside the app), in our envelope too.
_MALFORMED = _raw_json_error(exc.InvalidRequest("The HTTP request could not be parsed."))
_SERVER_FAILURE = orjson.dumps(envelope(exc.Internal()))


class KeepAliveHandler(PyWSGIHandler):
    """Waits at most KEEPALIVE_S for the next request on a kept-alive connection, then closes it.

    gevent's handler would wait forever, so one idle client connection held a worker's graceful shutdown
    open until graceful_timeout (which is long, for streams in flight)."""

    # gevent's hooks for answers made outside the WSGI app (they default to plain text); named in its docs as
    # the place for subclasses to customise them.
    def _handle_client_error(self, ex):
        super()._handle_client_error(ex)        # logs it
        return ("400", _MALFORMED)

    def _send_error_response_if_possible(self, error_code):
        if self.response_length or error_code != 500:
            return super()._send_error_response_if_possible(error_code)
        try:
            self.start_response("500 Internal Server Error", [("Content-Type", "application/json"),
                                                              ("Content-Length", str(len(_SERVER_FAILURE))),
                                                              ("Connection", "close")])
            self.write(_SERVER_FAILURE)
        except OSError:
            self.close_connection = True

    def read_requestline(self):
        with gevent.Timeout(KEEPALIVE_S, False):
            return super().read_requestline()
        return ""                          # nothing came: handle_one_request treats it as a closed connection


class OneAcceptServer(PyWSGIServer):
    """Accept one connection per wake-up (gevent's default is up to 100), so connections that arrive together
    spread over the workers: with 100, one worker took most of a burst of keep-alive clients and ran at 100%
    of one core while the other idled (gunicorn sets this for its own gevent server, not for pywsgi's)."""
    max_accept = 1


class GeventWorker(GeventPyWSGIWorker):
    server_class = OneAcceptServer
    wsgi_handler = KeepAliveHandler
