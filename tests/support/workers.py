"""A real gunicorn gateway for API tests that must see its workers: started on the provider double with extra
settings and configuration, its worker pids and their resident memory (from /proc), and its request log rows."""
import os
import time

from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from models import RequestAttempt, RequestLog
from tests.support.procs import Gateway, flask, gunicorn_argv, prepared_env


def children(pid: int) -> set[int]:
    """The live child processes of `pid` (a gunicorn master's workers)."""
    out = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                text = f.read()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(d))
    return out


def rss_kb(pid: int) -> int:
    """VmRSS of a process, in KiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Served:
    """gunicorn (deploy/gunicorn.conf.py) on a prepared database: the test configuration, `extra_config`
    imported on top with the CLI, `env` added to its environment."""

    def __init__(self, tmp_path, double_url: str, extra_config: str | None = None, **env):
        self.env, self.key = prepared_env(tmp_path, double_url, **{k: str(v) for k, v in env.items()})
        if extra_config:
            path = tmp_path / "extra.yaml"
            path.write_text(extra_config)
            flask(self.env, "config", "import", str(path))
        # gunicorn.conf.py empties it at start (a directory of its own would be left behind in /tmp)
        self.env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
        self.gateway = Gateway(self.env, tmp_path / "gunicorn.log", argv=gunicorn_argv()).start()
        self.url = self.gateway.url
        self.engine = create_engine(self.env["DATABASE_URL"])
        self.sessions = sessionmaker(self.engine)
        self.workers = self.wait_for_workers()

    @property
    def master(self) -> int:
        return self.gateway.proc.pid

    def expected_workers(self) -> int:
        """What deploy/gunicorn.conf.py runs: WEB_CONCURRENCY workers with REDIS_URL, else one."""
        return int(self.env.get("WEB_CONCURRENCY", "1")) if self.env.get("REDIS_URL") else 1

    def wait_for_workers(self, timeout_s: float = 30) -> set[int]:
        deadline = time.monotonic() + timeout_s
        while True:
            pids = children(self.master)
            if len(pids) >= self.expected_workers() or time.monotonic() > deadline:
                return pids
            time.sleep(0.1)

    def worker_pids(self) -> set[int]:
        return children(self.master)

    def worker_rss_kb(self) -> dict[int, int]:
        return {pid: rss_kb(pid) for pid in sorted(self.worker_pids())}

    def log_row(self, request_id: str, wait_s: float = 10.0) -> RequestLog:
        """The request log row of `request_id` (ours, or the client's own X-Request-Id), once the worker's
        writer has flushed it (a stream's row comes when the response is closed)."""
        deadline = time.monotonic() + wait_s
        column = RequestLog.request_id if request_id.startswith("req_") else RequestLog.client_request_id
        while True:
            with self.sessions() as s:
                row = s.scalar(select(RequestLog).where(column == request_id))
            if row is not None or time.monotonic() > deadline:
                assert row is not None, f"no log row for {request_id}"
                return row
            time.sleep(0.05)

    def attempts(self, request_id: str) -> list[RequestAttempt]:
        with self.sessions() as s:
            return list(s.scalars(select(RequestAttempt).where(RequestAttempt.request_id == request_id)
                                  .order_by(RequestAttempt.position)))

    def rows(self, client_ids: list[str], wait_s: float = 30.0) -> dict[str, RequestLog]:
        """The rows of these client request ids, waiting until each one is there (or `wait_s` passed)."""
        deadline = time.monotonic() + wait_s
        found: dict[str, RequestLog] = {}
        wanted = set(client_ids)
        while True:
            with self.sessions() as s:
                for row in s.scalars(select(RequestLog).where(
                        RequestLog.client_request_id.in_(sorted(wanted - set(found))))):
                    found[row.client_request_id] = row
            if len(found) == len(wanted) or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    def output(self) -> str:
        return self.gateway.output()

    def stop(self) -> None:
        self.engine.dispose()
        self.gateway.stop(timeout_s=30)
