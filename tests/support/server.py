"""Runs a Switchyard app on 127.0.0.1 in a thread (werkzeug), and prepares a clean database for it."""
import socket
import threading

from sqlalchemy import create_engine, inspect, text
from werkzeug.serving import WSGIRequestHandler, make_server

from gateway import db


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


class _NoDelayHandler(WSGIRequestHandler):
    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, *args, **kwargs):  # quiet
        pass


class LiveServer:
    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_NoDelayHandler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LiveServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
