"""The gunicorn worker class: gevent's pywsgi server, with an idle keep-alive timeout and a graceful shutdown
that ends every stream (finished, or cut with an error event) and flushes its log rows before the master's kill."""
import os
import time

import gevent
import orjson
from gevent.pool import Pool
from gunicorn.http.wsgi import base_environ
from gunicorn.sock import ssl_context
from gunicorn.workers.ggevent import VERSION, GeventPyWSGIWorker, PyWSGIHandler, PyWSGIServer

from gateway import drain
from gateway import exceptions as exc

KEEPALIVE_S = float(os.environ.get("SWITCHYARD_KEEPALIVE_S", "5"))
# After a 413 the rest of the body is read for at most this long and this much (so the client, still sending, gets
# the answer instead of a reset), then the connection closes: gevent would read all of it, however large.
REFUSED_BODY_DRAIN_S = 1.0
REFUSED_BODY_DRAIN_BYTES = 1 << 20


def envelope(err: exc.GatewayError) -> dict:
    """The OpenAI error envelope (as gateway/errors.py renders it; not imported from there, because this module
    is loaded by the gunicorn master too, which then would carry Flask for nothing)."""
    return {"error": {"message": err.client_message, "type": err.code, "code": err.code, "param": err.param}}


def _raw_json_error(err: exc.GatewayError) -> bytes:
    body = orjson.dumps(envelope(err))
    head = (f"HTTP/1.1 {err.status} {'Bad Request' if err.status == 400 else 'Internal Server Error'}\r\n"
            f"Connection: close\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


# What the HTTP server itself answers (a request it cannot parse, a failure outside the app), in our envelope too.
_MALFORMED = _raw_json_error(exc.InvalidRequest("The HTTP request could not be parsed."))
_SERVER_FAILURE = orjson.dumps(envelope(exc.Internal()))


class _RefusedBody:
    """In place of gevent's request body after a 413: a lingering close. What the client still sends is read up to
    REFUSED_BODY_DRAIN_BYTES or REFUSED_BODY_DRAIN_S (so a client still sending gets the answer, not a reset);
    gevent itself would read all of it, however large it said it was."""

    def __init__(self, body):
        self.body = body

    def _discard(self) -> None:
        left = REFUSED_BODY_DRAIN_BYTES
        with gevent.Timeout(REFUSED_BODY_DRAIN_S, False):
            try:
                while left > 0:
                    data = self.body.read(min(16384, left))
                    if not data:
                        break
                    left -= len(data)
            except (OSError, ValueError):
                pass


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

    def run_application(self):
        try:
            super().run_application()
        finally:
            if getattr(self, "code", None) == 413:
                self.close_connection = True
                self.wsgi_input = _RefusedBody(self.wsgi_input)     # gevent discards the body through it

    def read_requestline(self):
        again = getattr(self, "_served_one", False)
        if again and drain.draining():
            return ""                      # shutting down: no new request on a kept-alive connection
        self._served_one = True
        me = gevent.getcurrent()
        if again:
            _IDLE.add(me)
        try:
            with gevent.Timeout(KEEPALIVE_S, False):
                return super().read_requestline()
            return ""                      # nothing came: handle_one_request treats it as a closed connection
        finally:
            _IDLE.discard(me)


# Connection greenlets waiting for the next request on a kept-alive connection: closed at once on shutdown.
_IDLE: set = set()


def shutdown_schedule(grace_s: float) -> tuple[float, float]:
    """(cut_at, settle_s): when, after the stop signal, the streams still running are cut, and how long they get
    to send their last event. What is left of the grace after both is the exit flush of the log rows, which must
    finish before the gunicorn master's SIGKILL at `grace_s`."""
    margin = min(5.0, max(0.4, 0.4 * grace_s))
    return grace_s - margin, min(2.0, margin / 4)


class OneAcceptServer(PyWSGIServer):
    """Accept one connection per wake-up (gevent's default is up to 100), so connections that arrive together
    spread over the workers: with 100, one worker took most of a burst of keep-alive clients and ran at 100%
    of one core while the other idled (gunicorn sets this for its own gevent server, not for pywsgi's)."""
    max_accept = 1


class GeventWorker(GeventPyWSGIWorker):
    """gunicorn's pywsgi worker with our server and handler, and a shutdown of our own.

    gunicorn's gevent worker notices the stop signal up to 1 s late, waits for open connections for the whole
    graceful timeout and then kills them, while the master sends SIGKILL at that same moment: a stream running
    past the grace was cut without an error event, and the rows of every request still open were lost. Here the
    worker notices within 0.1 s, lets streams finish until `shutdown_schedule`'s cut, then ends each remaining
    stream with a `shutting_down` error event (its log row is handed over as on any ending), kills what is left
    (a request still waiting for its upstream: its row is handed over by the app's teardown), and returns, so the
    worker_exit hook flushes every row before the master's deadline."""
    server_class = OneAcceptServer
    wsgi_handler = KeepAliveHandler

    def run(self):
        # as GeventWorker.run in gunicorn 27, up to the shutdown
        servers = []
        ssl_args = {"ssl_context": ssl_context(self.cfg)} if self.cfg.is_ssl else {}
        for s in self.sockets:
            s.setblocking(1)
            environ = base_environ(self.cfg)
            environ.update({"wsgi.multithread": True, "SERVER_SOFTWARE": VERSION})
            server = self.server_class(s, application=self.wsgi, spawn=Pool(self.worker_connections),
                                       log=self.log, handler_class=self.wsgi_handler, environ=environ, **ssl_args)
            server.start()
            servers.append(server)
        beat = 0.0
        while self.alive:
            if time.monotonic() - beat >= 1.0:
                self.notify()
                beat = time.monotonic()
            gevent.sleep(0.1)
        self._shut_down(servers)

    def _shut_down(self, servers) -> None:
        stop_signal = time.monotonic()
        grace = float(self.cfg.graceful_timeout)
        cut_at, settle_s = shutdown_schedule(grace)
        drain.begin()
        for server in servers:
            server.close()                         # stop accepting
        for idle in list(_IDLE):
            idle.kill(block=False)

        def busy() -> bool:
            return any(server.pool.free_count() != server.pool.size for server in servers)

        beat = 0.0
        while busy() and time.monotonic() - stop_signal < cut_at:
            if time.monotonic() - beat >= 1.0:
                self.notify()
                beat = time.monotonic()
            gevent.sleep(0.05)
        if not busy():
            return
        cut = drain.cut_streams(exc.ShuttingDown(
            f"The gateway is shutting down and its grace period of {grace:g} s ran out; retry the request."))
        self.log.warning("shutdown grace ran out (pid:%s): cut %d streams", self.pid, cut)
        settle_until = time.monotonic() + settle_s
        while busy() and time.monotonic() < settle_until:
            gevent.sleep(0.01)
        for server in servers:
            server.stop(timeout=0.05)              # requests still waiting for an upstream: killed
