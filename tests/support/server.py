"""Runs a Switchyard app on 127.0.0.1 the way a production worker does, and prepares a clean database for it.

The server is the one gateway/server.py's GeventWorker runs: gevent's pywsgi with our OneAcceptServer and
KeepAliveHandler, in this (monkey-patched, see tests/conftest.py) process. So a test sees the production closing and
timeout behaviour: e.g. a stream cut by the idle deadline ends for the client at once, where a threaded werkzeug
server kept the response open until the upstream spoke again."""
import socket
from collections import deque

from gevent.pool import Pool
from gunicorn.workers.ggevent import VERSION
from sqlalchemy import create_engine, inspect, text

from gateway import db
from gateway.server import _IDLE, KeepAliveHandler, OneAcceptServer


def reset_database(url: str) -> None:
    """Drop everything, then build the schema with the real migrations (tests run what production runs)."""
    if not url.startswith("sqlite"):
        engine = create_engine(url)
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            else:
                for table in reversed(inspect(conn).get_table_names()):
                    conn.execute(text(f"DROP TABLE {table}"))
        engine.dispose()
    db.upgrade(url)


class AccessLog:
    """What gunicorn's PyWSGIHandler needs of gunicorn's logger: `access()`, called once per request after it
    ended. Keeps the last requests as (method, path, status) for a failing test to show; writes nothing."""

    def __init__(self, keep: int = 200):
        self.entries: deque = deque(maxlen=keep)

    def access(self, resp, req_headers, environ, request_time) -> None:
        self.entries.append((environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), resp.status))


class LiveServer:
    """`app` served by gevent's pywsgi on a free loopback port, with the worker's server and handler classes and
    the environ it sets. The accept loop and each connection are greenlets of this process's hub."""

    def __init__(self, app, connections: int = 1000):
        self.app = app
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # as gunicorn's listener (accepted sockets inherit it): headers and body go out in separate writes, and
        # without it Nagle + delayed ACK add 40 ms
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        self.log = AccessLog()
        self.server = OneAcceptServer(listener, application=app, spawn=Pool(connections), log=self.log,
                                      handler_class=KeepAliveHandler,
                                      environ={"wsgi.multithread": True, "SERVER_SOFTWARE": VERSION})
        self.port = listener.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LiveServer":
        self.server.start()
        return self

    def stop(self) -> None:
        """As the worker's shutdown begins: stop accepting, close the connections that wait idle for a next
        request at once (KeepAliveHandler would keep them 5 s), give requests in flight a second, then kill."""
        self.server.close()
        for idle in list(_IDLE):
            if idle in self.server.pool.greenlets:     # only this server's: another one keeps its connections
                idle.kill(block=False)
        self.server.stop(timeout=1)
