"""Real gateway servers for tests: gunicorn processes from deploy/gunicorn.conf.py on free loopback ports, each on
a database of its own (a SQLite file, or a fresh PostgreSQL database when TEST_DATABASE_URL names a server)."""
import atexit
import os
import pathlib
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
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
    # the server's own temporary directories (the metrics one) go under tmp_path: whatever way a test ends the
    # process, nothing is left in the system's temp folder
    os.makedirs(tmp_path / "tmp", exist_ok=True)
    env.update({"TMPDIR": str(tmp_path / "tmp"), "DATABASE_URL": database_url,
                "SWITCHYARD_INSTANCE_DIR": str(tmp_path / "instance"),
                "HOST": "127.0.0.1", "WEB_CONCURRENCY": "2", "SWITCHYARD_SECRET_KEY": _SHARED_FERNET_KEY})
    env.update({k: str(v) for k, v in extra.items()})
    return env


# One Fernet key for every test server of this run: hosts that share a database read each other's provider keys.
_SHARED_FERNET_KEY = Fernet.generate_key().decode()


def prepared_env(tmp_path, double_url: str, database_url: str | None = None, **extra) -> tuple[dict, str]:
    """An environment on a fresh database (default: SQLite under tmp_path), migrated, with the test configuration
    imported and one key; returns (env, key). `extra` adds or overrides variables.

    A new SQLite file is a copy of one database that `flask bootstrap` and `flask config import` prepared once per
    run (the same commands, the same shared Fernet key), not two more CLI processes (~1.5 s) per server; a
    database that already exists, or is not SQLite, is prepared by the commands themselves."""
    env = gateway_env(tmp_path, database_url or f"sqlite:///{tmp_path / 'g.db'}",
                      # with REDIS_URL set (CI), cooldowns of one test's gateway must not reach the next one's
                      SWITCHYARD_REDIS_PREFIX=f"switchyard-proc-test:{uuid.uuid4().hex}:", **extra)
    path = _new_sqlite_file(env["DATABASE_URL"])
    if path is not None:
        template, key = _prepared_template(double_url)
        _copy_sqlite(template, path)
        return env, key
    return env, _prepare(env, tmp_path, double_url)


def _prepare(env: dict, tmp_path, double_url: str) -> str:
    """Migrate, import the test configuration and create a key with the CLI, as an operator does; the key."""
    from tests.conftest import base_config
    key = flask(env, "bootstrap").stdout.strip().splitlines()[-1]
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(base_config(double_url))
    flask(env, "config", "import", str(cfg))
    return key


def _new_sqlite_file(url: str) -> str | None:
    """The path of a SQLite file URL whose file does not exist yet, else None."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):]
    return None if os.path.exists(path) else path


# double URL -> (the prepared SQLite file, its key); the directory goes when the run ends
_TEMPLATES: dict[str, tuple[str, str]] = {}


def _prepared_template(double_url: str) -> tuple[str, str]:
    if double_url not in _TEMPLATES:
        where = pathlib.Path(tempfile.mkdtemp(prefix="switchyard-prepared-"))
        atexit.register(shutil.rmtree, where, ignore_errors=True)
        env = gateway_env(where, f"sqlite:///{where / 'prepared.db'}",
                          SWITCHYARD_REDIS_PREFIX=f"switchyard-proc-test:{uuid.uuid4().hex}:")
        _TEMPLATES[double_url] = (str(where / "prepared.db"), _prepare(env, where, double_url))
    return _TEMPLATES[double_url]


def _copy_sqlite(source: str, dest: str) -> None:
    """A consistent copy through SQLite's backup API (whatever its journal mode left beside the file)."""
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    src, dst = sqlite3.connect(source), sqlite3.connect(dest)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def gunicorn_argv(*extra: str) -> list[str]:
    return [os.path.join(BIN, "gunicorn"), "-c", "deploy/gunicorn.conf.py", *extra, "wsgi:app"]


class Gateway:
    """One server process started from ROOT (default: gunicorn from deploy/gunicorn.conf.py on a free port, given
    to it as PORT), ready once /healthz answers. `stop()` sends SIGTERM and waits (the graceful path). Its output
    goes to `log_path` (a pipe nobody reads could fill and block the server)."""

    def __init__(self, env: dict, log_path, name: str = "gateway", argv: list[str] | None = None,
                 port: int | None = None):
        self.env = dict(env)
        self.port = port or free_port()
        self.env["PORT"] = str(self.port)
        self.argv = argv or gunicorn_argv()
        self.log_path = log_path
        self.name = name
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30) -> "Gateway":
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
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
        raise AssertionError(f"{self.name} did not answer /healthz in {timeout_s} s:\n{self.output()}")

    def output(self) -> str:
        with open(self.log_path) as f:
            return f.read()

    def terminate(self, sig=signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout_s: float) -> int:
        return self.proc.wait(timeout=timeout_s)

    def stop(self, sig=signal.SIGTERM, timeout_s: float = 60) -> int:
        """Send `sig` and wait; the exit code (killed if it does not end in time)."""
        self.terminate(sig)
        try:
            return self.wait(timeout_s)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
