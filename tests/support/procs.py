"""Real gateway servers for tests: gunicorn processes from deploy/gunicorn.conf.py on free loopback ports, each on
a database of its own (a SQLite file, or a fresh PostgreSQL database when TEST_DATABASE_URL names a server)."""
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import requests
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database_url(tmp_path, name: str) -> str:
    """An empty database: a SQLite file under tmp_path, or (TEST_DATABASE_URL on PostgreSQL) a new database
    beside the test database, dropped first if a previous run left it."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base or not base.startswith("postgresql"):
        return f"sqlite:///{tmp_path / (name + '.db')}"
    db_name = f"switchyard_{name}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    engine.dispose()
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{db_name}"))


def flask(env: dict, *args, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([os.path.join(BIN, "flask"), "--app", "app", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    if check:
        assert out.returncode == 0, f"flask {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out


def gateway_env(tmp_path, database_url: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR",)}
    env.update({"DATABASE_URL": database_url, "SWITCHYARD_INSTANCE_DIR": str(tmp_path / "instance"),
                "HOST": "127.0.0.1", "WEB_CONCURRENCY": "2", "SWITCHYARD_SECRET_KEY": _SHARED_FERNET_KEY})
    env.update({k: str(v) for k, v in extra.items()})
    return env


# One Fernet key for every test server of this run: hosts that share a database read each other's provider keys.
_SHARED_FERNET_KEY = Fernet.generate_key().decode()


class Gateway:
    """One gunicorn master with its workers. `stop()` sends SIGTERM and waits (the graceful path); the output of
    the whole run is in `self.log_path`."""

    def __init__(self, env: dict, log_path, name: str = "gateway"):
        self.env = dict(env)
        self.port = free_port()
        self.env["PORT"] = str(self.port)
        self.log_path = log_path
        self.name = name
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30) -> "Gateway":
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([os.path.join(BIN, "gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
                                     cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        self.kill()
        raise AssertionError(f"{self.name} did not start in {timeout_s} s:\n{self.output()}")

    def output(self) -> str:
        with open(self.log_path) as f:
            return f.read()

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float) -> int:
        return self.proc.wait(timeout=timeout_s)

    def stop(self, timeout_s: float = 60) -> None:
        self.terminate()
        try:
            self.wait(timeout_s)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
