"""The gunicorn worker class: gevent's pywsgi server, with an idle keep-alive timeout so shutdowns stay short."""
import os

import gevent
from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler

KEEPALIVE_S = float(os.environ.get("SWITCHYARD_KEEPALIVE_S", "5"))


class KeepAliveHandler(PyWSGIHandler):
    """Waits at most KEEPALIVE_S for the next request on a kept-alive connection, then closes it.

    gevent's handler would wait forever, so one idle client connection held a worker's graceful shutdown
    open until graceful_timeout (which is long, for streams in flight)."""

    def read_requestline(self):
        with gevent.Timeout(KEEPALIVE_S, False):
            return super().read_requestline()
        return ""                          # nothing came: handle_one_request treats it as a closed connection


class GeventWorker(GeventPyWSGIWorker):
    wsgi_handler = KeepAliveHandler
