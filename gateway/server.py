"""The gunicorn worker class: gevent's pywsgi server, with an idle keep-alive timeout so shutdowns stay short."""
import os

import gevent
from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler, PyWSGIServer

KEEPALIVE_S = float(os.environ.get("SWITCHYARD_KEEPALIVE_S", "5"))


class KeepAliveHandler(PyWSGIHandler):
    """Waits at most KEEPALIVE_S for the next request on a kept-alive connection, then closes it.

    gevent's handler would wait forever, so one idle client connection held a worker's graceful shutdown
    open until graceful_timeout (which is long, for streams in flight)."""

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
