"""Real gateway processes for the deploy tests: a migrated database with a key and the test configuration, then a
server command (gunicorn, waitress...) on a free loopback port, ready once /healthz answers."""
import os
import signal
import subprocess
import time
import uuid

import requests

from tests.conftest import base_config
from tests.support.procs import BIN, ROOT, flask, free_port

__all__ = ["BIN", "ROOT", "ServerProc", "free_port", "gunicorn_argv", "prepared_env", "start_gunicorn"]


def prepared_env(tmp_path, double_url: str, **extra) -> tuple[dict, str]:
    """An environment on a fresh SQLite database under tmp_path, migrated, with the test configuration imported
    and one key; returns (env, key). `extra` adds or overrides variables."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}", "SWITCHYARD_INSTANCE_DIR": str(tmp_path),
                "HOST": "127.0.0.1", "WEB_CONCURRENCY": "2",
                # with REDIS_URL set (CI), cooldowns of one test's gateway must not reach the next one's
                "SWITCHYARD_REDIS_PREFIX": f"switchyard-deploy-test:{uuid.uuid4().hex}:"})
    env.update({k: str(v) for k, v in extra.items()})
    key = flask(env, "bootstrap").stdout.strip().splitlines()[-1]
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(base_config(double_url))
    flask(env, "config", "import", str(cfg))
    return env, key


class ServerProc:
    """A server process started from ROOT; its output goes to a file (a pipe nobody reads could fill and block)."""

    def __init__(self, argv: list[str], env: dict, port: int, log_path):
        self.argv, self.env, self.port, self.log_path = argv, env, port, log_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30) -> "ServerProc":
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.argv[0]} exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        self.kill()
        raise AssertionError(f"{self.argv} did not answer /healthz in {timeout_s} s:\n{self.output()}")

    def output(self) -> str:
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout_s: float = 30) -> int:
        """Send `sig` and wait; the exit code."""
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout_s)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def gunicorn_argv(*extra: str) -> list[str]:
    return [os.path.join(BIN, "gunicorn"), "-c", "deploy/gunicorn.conf.py", *extra, "wsgi:app"]


def start_gunicorn(tmp_path, double_url: str, *extra_args: str, **extra_env) -> tuple[ServerProc, str]:
    """gunicorn from deploy/gunicorn.conf.py on a prepared database; (server, key)."""
    port = free_port()
    env, key = prepared_env(tmp_path, double_url, PORT=port, **extra_env)
    # gunicorn.conf.py empties it at start (a directory of its own would be left behind in /tmp)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
    return ServerProc(gunicorn_argv(*extra_args), env, port, tmp_path / "gunicorn.log").start(), key
