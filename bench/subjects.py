"""What a scenario is measured against: the Node double, our gateway under gunicorn, a peer; and plain HTTP to them."""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.procs import Abort, Processes, free_port, process_tree, say, wait_until

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PROVIDER_ENV = ("OPENAI", "ANTHROPIC", "GEMINI", "XAI", "MISTRAL", "DEEPSEEK", "GROQ", "OPENROUTER")
# Never inherited from the shell: ours gets the bench's own Redis (or none), and the usual key no default rate.
NOT_INHERITED = ("REDIS_URL", "SWITCHYARD_REDIS_PREFIX", "SWITCHYARD_RATELIMIT_DEFAULT")
# The limited key of scenario 7 (bench-limited): each limit high enough never to refuse a bench run.
LIMITED_KEY = {"rpm": 10_000_000, "tpm": 1_000_000_000, "budget_usd": 1_000_000, "budget_period": "month"}


@dataclass
class Subject:
    name: str                       # "direct", "switchyard", or the peer's label
    url: str                        # the chat completions URL
    model: str
    headers: dict = field(default_factory=dict)
    root_pid: int | None = None     # its process tree is what CPU and memory are read from
    kind: str = "gateway"           # "direct" or "gateway"
    ok_answers: int = 0             # 2xx answers the clients saw (compared with the request log rows)
    redis_pid: int | None = None    # its private redis-server: that CPU is read apart (not the gateway's)
    limited_headers: dict | None = None     # auth of a key with limits (scenario 7); None: no such key

    def pids(self) -> list[int]:
        return process_tree(self.root_pid)


def chat_url(base: str) -> str:
    base = base.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    if base.endswith("/v1"):
        return base + "/chat/completions"
    return base + "/v1/chat/completions"


def parse_auth(raw: str | None) -> dict:
    if not raw:
        return {}
    if ":" in raw:
        name, _, value = raw.partition(":")
        return {name.strip(): value.strip()}
    return {"Authorization": f"Bearer {raw.strip()}"}


def request(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
            timeout_s: float = 10.0) -> tuple[int, dict, bytes]:
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout_s)
    try:
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        conn.request(method, u.path + (f"?{u.query}" if u.query else ""), body=body, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def chat_body(model: str, stream: bool) -> bytes:
    b = {"model": model, "messages": [{"role": "system", "content": "You are terse."},
                                      {"role": "user", "content": "Say hello in five words."}], "max_tokens": 16}
    if stream:
        b |= {"stream": True, "stream_options": {"include_usage": True}}
    return json.dumps(b, separators=(",", ":")).encode()


class Double:
    def __init__(self, procs: Processes, tmp: Path, port: int):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.proc = procs.start("double", ["node", str(BENCH / "double.js"), str(port)], cwd=ROOT,
                                log_path=tmp / "double.log", stdin_pipe=True)
        wait_until(lambda: self.proc.poll() is None and request("GET", self.base + "/healthz")[0] == 200, 10,
                   what=f"the double on port {port}")

    def mode(self, m: dict) -> None:
        status, _, body = request("POST", self.base + "/_bench/mode", json.dumps(m).encode())
        if status != 200:
            raise Abort(f"the double refused mode {m}: {status} {body[:200]!r}")

    def stats(self) -> dict:
        return json.loads(request("GET", self.base + "/_bench/stats")[2])


def _ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
        c.sendall(b"PING\r\n")
        return c.recv(64).startswith(b"+PONG")


class Redis:
    """A private redis-server for ours (REDIS_URL), on a free port of 127.0.0.1, with nothing saved to disk."""

    def __init__(self, procs: Processes, tmp: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.prefix = f"bench-{secrets.token_hex(4)}:"       # SWITCHYARD_REDIS_PREFIX: this run's keys only
        self.version = _version(["redis-server", "--version"])
        self.proc = procs.start("redis", ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                          "--save", "", "--appendonly", "no", "--dir", str(tmp)],
                                cwd=tmp, log_path=tmp / "redis.log")
        wait_until(lambda: self.proc.poll() is None and _ping(self.port), 10, what=f"redis-server on {self.port}")

    @classmethod
    def start(cls, procs: Processes, tmp: Path) -> "Redis | None":
        """None when redis-server is not installed: ours then runs one worker (deploy/gunicorn.conf.py)."""
        return cls(procs, tmp) if shutil.which("redis-server") else None

    def info(self) -> dict:
        return {"on": True, "version": self.version, "port": self.port, "prefix": self.prefix}

    def keys(self) -> dict:
        """This run's keys in it (the limit counters among them) and their values, to show what was counted."""
        try:
            import redis
            r = redis.Redis(port=self.port, socket_timeout=2)
            out = {}
            # ours start with the prefix; flask-limiter's have it inside (LIMITS:LIMITER/<prefix>limits/...)
            for k in sorted(r.scan_iter(match=f"*{self.prefix}*", count=1000))[:50]:
                name = k.decode().replace(self.prefix, "", 1)
                out[name] = r.get(k).decode() if r.type(k) == b"string" else r.type(k).decode()
            return out
        except Exception as e:  # noqa: BLE001 - only a record of the run
            return {"error": f"{type(e).__name__}: {e}"}


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    m = re.search(r"v=(\S+)", out)
    return m.group(1) if m else out.strip()


def _python_tool(name: str) -> list[str]:
    exe = Path(sys.executable).parent / name
    return [str(exe)] if exe.exists() else [sys.executable, "-m", name]


class Switchyard:
    """Our gateway from a fresh database: bootstrap (migrations + first key), config import, gunicorn."""

    def __init__(self, procs: Processes, tmp: Path, double: Double, redis: Redis | None = None):
        self.procs, self.tmp, self.double, self.redis = procs, tmp, double, redis
        self.db_path = tmp / "bench.db"
        self.env = {k: v for k, v in os.environ.items()
                    if not any(k.startswith(p + "_") for p in PROVIDER_ENV) and not k.startswith("FLASK_")
                    and k not in NOT_INHERITED}
        self.env |= {"DATABASE_URL": f"sqlite:///{self.db_path}", "SWITCHYARD_INSTANCE_DIR": str(tmp / "instance"),
                     "SWITCHYARD_GRACEFUL_TIMEOUT": "10", "PYTHONDONTWRITEBYTECODE": "1"}
        if redis is not None:
            self.env |= {"REDIS_URL": redis.url, "SWITCHYARD_REDIS_PREFIX": redis.prefix}
        self.key = self._bootstrap()
        self.limited_key = self._limited_key()
        self.logs: list[Path] = []

    def _flask(self, *args: str) -> str:
        cp = subprocess.run([*_python_tool("flask"), "--app", "app", *args], cwd=ROOT, env=self.env,
                            capture_output=True, text=True, timeout=120)
        if cp.returncode != 0:
            raise Abort(f"flask {' '.join(args)} failed ({cp.returncode}):\n{cp.stdout}\n{cp.stderr}")
        return cp.stdout

    def _bootstrap(self) -> str:
        out = self._flask("bootstrap").strip().splitlines()
        key = out[-1].strip() if out else ""
        if not key.startswith("sk-"):
            raise Abort(f"bootstrap did not print a key as its last line: {out[-3:]}")
        cfg = self.tmp / "bench-config.yaml"
        cfg.write_text(f"""providers:
  - name: bench
    type: openai
    base_url: {self.double.base}/v1
    api_key: bench
models:
  - id: bench/fast
    upstream: fast
    input_per_mtok: 0.15
    output_per_mtok: 0.60
    cached_input_per_mtok: 0.075
""")
        say(self._flask("config", "import", str(cfg)).strip())
        return key

    def _limited_key(self) -> str:
        """bench-limited: an rpm, a tpm and a monthly budget (LIMITED_KEY), made with the CLI as an operator would."""
        k = LIMITED_KEY
        out = self._flask("keys", "create", "--name", "bench-limited", "--rpm", str(k["rpm"]), "--tpm", str(k["tpm"]),
                          "--budget-usd", str(k["budget_usd"]), "--budget-period", k["budget_period"])
        key = (out.strip().splitlines() or [""])[-1].strip()
        if not key.startswith("sk-"):
            raise Abort(f"keys create did not print a key as its last line: {out[-300:]}")
        return key

    def start(self, name: str, workers: int, worker_class: str | None) -> tuple[Subject, subprocess.Popen, dict]:
        port = free_port()
        env = dict(self.env, HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY=str(workers))
        if worker_class:
            env["SWITCHYARD_WORKER_CLASS"] = worker_class
        conf = json.loads(subprocess.run(
            [sys.executable, "-c", "import json, runpy; c = runpy.run_path('deploy/gunicorn.conf.py'); "
             "print(json.dumps({k: c[k] for k in ('workers', 'worker_class', 'worker_connections', 'keepalive', "
             "'timeout', 'graceful_timeout', 'max_requests', 'LIMITS_NOTE') if k in c}))"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=True).stdout)
        conf |= {"workers_asked": workers, "redis": self.redis.info() if self.redis else {"on": False}}
        log = self.tmp / f"gunicorn-{name}.log"
        self.logs.append(log)
        proc = self.procs.start(name, [*_python_tool("gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
                                cwd=ROOT, env=env, log_path=log)
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            if proc.poll() is not None:
                raise Abort(f"gunicorn exited with {proc.returncode}:\n{_tail(log)}")
            return (request("GET", base + "/healthz", timeout_s=2)[0] == 200     # the conf's count: 1 without Redis
                    and len(process_tree(proc.pid)) >= conf["workers"] + 1)
        try:
            wait_until(ready, 60, 0.2, what=f"gunicorn {name} on port {port}")
        except TimeoutError as e:
            raise Abort(f"{e}\n{_tail(log)}") from None
        subj = Subject(name, chat_url(base), "bench/fast", {"Authorization": f"Bearer {self.key}"}, proc.pid,
                       redis_pid=self.redis.proc.pid if self.redis else None,
                       limited_headers={"Authorization": f"Bearer {self.limited_key}"})
        return subj, proc, conf | {"port": port}

    def log_summary(self) -> dict:
        text = "".join(p.read_text(errors="replace") for p in self.logs if p.exists())
        return {"tracebacks": text.count("Traceback"), "error_lines": len(re.findall(r"\bERROR\b", text)),
                "worker_timeouts": text.count("WORKER TIMEOUT"), "booted_workers": text.count("Booting worker"),
                # Redis could not be used: the request was let through uncounted (rates, counters) or decided locally
                "store_unavailable": {what: text.count(what) for what in (
                    "request rate store unavailable", "limit counters unavailable", "a settlement was lost",
                    "redis unavailable for cooldown state")},
                "last_lines": text.strip().splitlines()[-15:]}

    def request_log_rows(self) -> dict:
        try:
            with contextlib.closing(sqlite3.connect(self.db_path, timeout=10)) as c:
                total, ok, costed, streams = c.execute(
                    "SELECT COUNT(*), SUM(status = 200), COUNT(cost_usd), SUM(stream) FROM request_logs").fetchone()
                by = c.execute("SELECT status, error_code, stream, COUNT(*), COUNT(cost_usd) FROM request_logs "
                               "GROUP BY status, error_code, stream ORDER BY 4 DESC").fetchall()
            return {"rows": total, "status_200": ok or 0, "with_cost": costed, "streams": streams or 0,
                    "by_status": [{"status": st, "error_code": ec, "stream": bool(sm), "rows": n, "with_cost": wc}
                                  for st, ec, sm, n, wc in by]}
        except sqlite3.Error as e:
            return {"error": str(e)}


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""
