"""`make bench` (python -m bench.run): Switchyard's benchmark harness. bench/README.md explains the scenarios.

Starts a Node.js provider double (bench/double.js) and the gateway as it runs in production (gunicorn with
deploy/gunicorn.conf.py, a fresh SQLite database, request logging, a real key, a priced model), then measures every
scenario straight against the double and through the gateway, back to back, with wrk (bench/chat.lua) as the load.
Writes bench/results/latest.md and bench/results/<timestamp>.json.

    python -m bench.run                   # full run, about 2 minutes
    python -m bench.run --quick           # shorter runs, about 1 minute
    python -m bench.run --target http://127.0.0.1:4000 --auth-header "Authorization: Bearer sk-..." \
        --model bench-fast --double-port 18091 --label litellm     # a peer instead of ours
    python -m bench.run --profile 15      # py-spy on one worker under c=32 load (pip install py-spy)
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

from bench import ttfb
from bench.procs import (CLK_TCK, MemSampler, Processes, cpu_ms, cpu_ticks, free_port, machine_ticks, memory,
                         process_tree, wait_until)

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"

DURATIONS = {
    "full": {"c1_s": 8, "load_s": 8, "slow_s": 8, "warm_s": 3, "ttfb_n": 200, "streams_n": 1000, "streams_chunks": 20},
    "quick": {"c1_s": 3, "load_s": 3, "slow_s": 3, "warm_s": 2, "ttfb_n": 100, "streams_n": 1000,
              "streams_chunks": 10},
}
# What the double does in each scenario (its mode; see bench/double.js).
FAST = {"delay_ms": 0, "chunks": 20, "chunk_delay_ms": 0}
SLOW = {"delay_ms": 50, "chunks": 20, "chunk_delay_ms": 0}
SLOW_STREAM = {"delay_ms": 50, "chunks": 20, "chunk_delay_ms": 0}    # 50 ms to the first chunk, then 20 at once
TRICKLE = {"delay_ms": 0, "chunks": 20, "chunk_delay_ms": 50}        # a chunk every 50 ms (issue 5)
SETTLE_S = 0.6        # after a run, before reading the gateway's CPU: the log writer flushes every 0.25 s
PROVIDER_ENV = ("OPENAI", "ANTHROPIC", "GEMINI", "XAI", "MISTRAL", "DEEPSEEK", "GROQ", "OPENROUTER")

T0 = time.monotonic()


def say(msg: str) -> None:
    print(f"[bench {time.monotonic() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


class Abort(Exception):
    pass


# ---------------------------------------------------------------------------------------------------------------
# subjects: what a scenario is measured against

@dataclass
class Subject:
    name: str                       # "direct", "switchyard", or the peer's label
    url: str                        # the chat completions URL
    model: str
    headers: dict = field(default_factory=dict)
    root_pid: int | None = None     # its process tree is what CPU and memory are read from
    kind: str = "gateway"           # "direct" or "gateway"
    ok_answers: int = 0             # 2xx answers the clients saw (compared with the request log rows)

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


# ---------------------------------------------------------------------------------------------------------------
# the double and the gateway

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


def _python_tool(name: str) -> list[str]:
    exe = Path(sys.executable).parent / name
    return [str(exe)] if exe.exists() else [sys.executable, "-m", name]


class Switchyard:
    """Our gateway from a fresh database: bootstrap (migrations + first key), config import, gunicorn."""

    def __init__(self, procs: Processes, tmp: Path, double: Double):
        self.procs, self.tmp, self.double = procs, tmp, double
        self.db_path = tmp / "bench.db"
        self.env = {k: v for k, v in os.environ.items()
                    if not any(k.startswith(p + "_") for p in PROVIDER_ENV) and not k.startswith("FLASK_")}
        self.env |= {"DATABASE_URL": f"sqlite:///{self.db_path}", "SWITCHYARD_INSTANCE_DIR": str(tmp / "instance"),
                     "SWITCHYARD_GRACEFUL_TIMEOUT": "10", "PYTHONDONTWRITEBYTECODE": "1"}
        self.key = self._bootstrap()
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

    def start(self, name: str, workers: int, worker_class: str | None) -> tuple[Subject, subprocess.Popen, dict]:
        port = free_port()
        env = dict(self.env, HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY=str(workers))
        if worker_class:
            env["SWITCHYARD_WORKER_CLASS"] = worker_class
        conf = json.loads(subprocess.run(
            [sys.executable, "-c", "import json, runpy; c = runpy.run_path('deploy/gunicorn.conf.py'); "
             "print(json.dumps({k: c[k] for k in ('workers', 'worker_class', 'worker_connections', 'keepalive', "
             "'timeout', 'graceful_timeout', 'max_requests') if k in c}))"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=True).stdout)
        log = self.tmp / f"gunicorn-{name}.log"
        self.logs.append(log)
        proc = self.procs.start(name, [*_python_tool("gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
                                cwd=ROOT, env=env, log_path=log)
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            if proc.poll() is not None:
                raise Abort(f"gunicorn exited with {proc.returncode}:\n{_tail(log)}")
            return (request("GET", base + "/healthz", timeout_s=2)[0] == 200
                    and len(process_tree(proc.pid)) >= workers + 1)
        try:
            wait_until(ready, 60, 0.2, what=f"gunicorn {name} on port {port}")
        except TimeoutError as e:
            raise Abort(f"{e}\n{_tail(log)}") from None
        subj = Subject(name, chat_url(base), "bench/fast", {"Authorization": f"Bearer {self.key}"}, proc.pid)
        return subj, proc, conf | {"port": port}

    def log_summary(self) -> dict:
        text = "".join(p.read_text(errors="replace") for p in self.logs if p.exists())
        return {"tracebacks": text.count("Traceback"), "error_lines": len(re.findall(r"\bERROR\b", text)),
                "worker_timeouts": text.count("WORKER TIMEOUT"), "booted_workers": text.count("Booting worker"),
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


# ---------------------------------------------------------------------------------------------------------------
# measurements

def pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def r3(x):
    return None if x is None else round(x, 3)


def run_wrk(subj: Subject, conc: int, seconds: float, stream: bool, double: Double) -> dict:
    env = dict(os.environ, BENCH_MODEL=subj.model, BENCH_STREAM="1" if stream else "0")
    for name, value in subj.headers.items():
        env |= {"BENCH_AUTH_NAME": name, "BENCH_AUTH_VALUE": value}
    cmd = ["wrk", "-t1", f"-c{conc}", f"-d{seconds}s", "--timeout", "10s", "--latency", "-s",
           str(BENCH / "chat.lua"), subj.url]
    g0, d0 = cpu_ticks(subj.pids()), cpu_ticks([double.proc.pid])
    m0, r0, s0 = machine_ticks(), resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    sampler = MemSampler(subj.pids) if subj.root_pid else contextlib.nullcontext()
    with sampler:
        cp = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    m1, r1 = machine_ticks(), resource.getrusage(resource.RUSAGE_CHILDREN)
    if subj.root_pid:
        time.sleep(SETTLE_S)
    g1, d1 = cpu_ticks(subj.pids()), cpu_ticks([double.proc.pid])
    m2, s1 = machine_ticks(), resource.getrusage(resource.RUSAGE_SELF)
    wrk_ms = ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) * 1000
    own_ms = ((s1.ru_utime - s0.ru_utime) + (s1.ru_stime - s0.ru_stime)) * 1000
    gw_ms, dbl_ms = cpu_ms(g0, g1), cpu_ms(d0, d1)
    # CPU of everything else on the machine meanwhile (other people's processes; a peer without --target-pid)
    span_ms = (m2[1] - m0[1]) * 1000 / CLK_TCK / max(1, os.cpu_count() or 1)
    other_cores = ((m2[0] - m0[0]) * 1000 / CLK_TCK - gw_ms - dbl_ms - wrk_ms - own_ms) / max(1.0, span_ms)
    line = next((ln for ln in cp.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        return {"failed": f"wrk exited {cp.returncode}: {cp.stderr.strip()[-500:] or cp.stdout.strip()[-500:]}"}
    j = json.loads(line[len("BENCH_JSON "):])
    n, dur, e, lat = j["requests"], j["duration_us"] / 1e6, j["errors"], j["latency_us"]
    sock = e["connect"] + e["read"] + e["write"] + e["timeout"]
    subj.ok_answers += max(0, n - e["status"])
    res = {
        "concurrency": conc, "stream": stream, "seconds": round(dur, 2), "requests": n,
        "rps": round(n / dur, 1), "ok_rps": round((n - e["status"]) / dur, 1),
        "errors_total": e["status"] + sock, "errors_non2xx": e["status"], "errors_socket": sock, "errors": e,
        **{f"{k}_ms": r3(lat[k] / 1000) for k in ("p50", "p75", "p90", "p99", "p999", "mean", "max")},
        "machine_busy_pct": round(100 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1]), 1),
        "double_cpu_ms_per_req": r3(dbl_ms / max(1, n)), "wrk_cpu_ms_per_req": r3(wrk_ms / max(1, n)),
        "other_cpu_cores": round(max(0.0, other_cores), 2),
    }
    if subj.root_pid:
        res |= {"gateway_cpu_ms_per_req": r3(gw_ms / max(1, n)), "gateway_cpu_cores": round(gw_ms / 1000 / dur, 2),
                "gateway_mem_peak": {k: v for k, v in sampler.peak.items() if k != "rss_mb_each"},
                "process_set_changed": sorted(g0) != sorted(g1)}
    return res


def run_ttfb(subj: Subject, n: int) -> dict:
    g0 = cpu_ticks(subj.pids())
    ts = ttfb.run(subj.url, chat_body(subj.model, True), subj.headers, n, warmup=10)
    g1 = cpu_ticks(subj.pids()) if subj.root_pid else {}
    ok = [t for t in ts if t.error is None and t.status == 200 and t.done]
    subj.ok_answers += len(ok) + 10
    res = {"requests": len(ts), "ok": len(ok), "errors": len(ts) - len(ok),
           "statuses": dict(Counter(str(t.status) for t in ts)),
           "client_errors": dict(Counter(t.error for t in ts if t.error))}
    for name, attr in (("first_byte", "first_byte_ms"), ("first_data", "first_data_ms"), ("total", "total_ms")):
        xs = [getattr(t, attr) for t in ok if getattr(t, attr) is not None]
        res |= {f"{name}_p50_ms": r3(pct(xs, 50)), f"{name}_p99_ms": r3(pct(xs, 99)),
                f"{name}_mean_ms": r3(sum(xs) / len(xs)) if xs else None}
    res["events_p50"] = pct([t.events for t in ok], 50)
    if subj.root_pid:
        res["gateway_cpu_ms_per_req"] = r3(cpu_ms(g0, g1) / max(1, len(ts) + 10))
    return res


def run_streams(subj: Subject, n: int, timeout_s: float) -> dict:
    cfg = {"url": subj.url, "n": n, "headers": subj.headers, "body": chat_body(subj.model, True).decode(),
           "timeout_ms": int(timeout_s * 1000)}
    g0 = cpu_ticks(subj.pids())
    idle = memory(subj.pids()) if subj.root_pid else None
    sampler = MemSampler(subj.pids, 0.2) if subj.root_pid else contextlib.nullcontext()
    with sampler:
        cp = subprocess.run(["node", str(BENCH / "streams.js"), json.dumps(cfg)], capture_output=True, text=True,
                            timeout=timeout_s + 30)
    if subj.root_pid:
        time.sleep(SETTLE_S)
    g1 = cpu_ticks(subj.pids())
    if cp.returncode != 0:
        return {"failed": f"streams.js exited {cp.returncode}: {cp.stderr.strip()[-500:]}"}
    out = json.loads(cp.stdout)
    rs = out["results"]
    good = [r for r in rs if r.get("status") == 200 and r.get("done") and not r.get("error")]
    subj.ok_answers += len(good)
    res = {"streams": n, "completed": len(good), "failed": n - len(good), "wall_ms": r3(out["wall_ms"]),
           "statuses": dict(Counter(str(r.get("status")) for r in rs)),
           "errors": dict(Counter(r.get("error") for r in rs if r.get("error"))),
           "events_p50": pct([r["events"] for r in good], 50)}
    for name in ("headers_ms", "first_data_ms", "end_ms"):
        xs = [r[name] for r in good if r.get(name) is not None]
        res |= {f"{name[:-3]}_p50_ms": r3(pct(xs, 50)), f"{name[:-3]}_p99_ms": r3(pct(xs, 99)),
                f"{name[:-3]}_max_ms": r3(max(xs)) if xs else None}
    if subj.root_pid:
        workers = [p for p in sampler.peak["rss_mb_each"] if p != str(subj.root_pid)]
        after = memory(subj.pids())
        res |= {"gateway_cpu_s": r3(cpu_ms(g0, g1) / 1000),
                "memory_idle": idle, "memory_peak": {k: v for k, v in sampler.peak.items() if k != "rss_mb_each"},
                "worker_rss_mb_idle": max((v for p, v in idle["rss_mb_each"].items() if p != str(subj.root_pid)),
                                          default=None),
                "worker_rss_mb_peak": max((sampler.peak["rss_mb_each"][p] for p in workers), default=None),
                "worker_rss_mb_after": max((v for p, v in after["rss_mb_each"].items()
                                            if p != str(subj.root_pid)), default=None),
                "memory_after": after}
    return res


def probe(subj: Subject) -> dict:
    """One plain and one streaming request with a normal client: what the answers look like (shown on errors)."""
    out = {}
    for stream in (False, True):
        try:
            status, headers, body = request("POST", subj.url, chat_body(subj.model, stream), subj.headers)
            out["stream" if stream else "plain"] = {
                "status": status, "content_type": headers.get("content-type"),
                "gateway_headers": {k: v for k, v in headers.items()
                                    if k.startswith("x-gateway") or k == "x-request-id"},
                "body_start": body[:300].decode(errors="replace")}
            subj.ok_answers += status == 200
        except OSError as e:
            out["stream" if stream else "plain"] = {"status": None, "error": f"{type(e).__name__}: {e}"}
    return out


# ---------------------------------------------------------------------------------------------------------------
# comparisons and targets

def added(direct: dict, gw: dict, key: str) -> float | None:
    if not direct or not gw or direct.get(key) is None or gw.get(key) is None:
        return None
    return r3(gw[key] - direct[key])


def ratio(direct: dict, gw: dict, key: str) -> float | None:
    if not direct or not gw or not direct.get(key) or gw.get(key) is None:
        return None
    return round(gw[key] / direct[key], 3)


def compare(scn: dict, gateways: list[str]) -> None:
    d = scn.get("direct") or {}
    for g in gateways:
        gw = scn.get(g) or {}
        if "rps" in gw:
            scn.setdefault("vs_direct", {})[g] = {
                "p50_added_ms": added(d, gw, "p50_ms"), "p99_added_ms": added(d, gw, "p99_ms"),
                "rps_ratio": ratio(d, gw, "rps"), "p50_ratio": ratio(d, gw, "p50_ms"),
                "p99_ratio": ratio(d, gw, "p99_ms")}
        elif "end_p50_ms" in gw:
            scn.setdefault("vs_direct", {})[g] = {
                f"{k}_added_ms": added(d, gw, f"{k}_ms") for k in (
                    "headers_p50", "headers_p99", "first_data_p50", "first_data_p99", "end_p50", "end_p99",
                    "end_max")}
        elif "first_data_p50_ms" in gw:
            scn.setdefault("vs_direct", {})[g] = {
                f"{k}_added_ms": added(d, gw, f"{k}_ms") for k in (
                    "first_byte_p50", "first_byte_p99", "first_data_p50", "first_data_p99", "total_p50", "total_p99")}


def evaluate(sc: dict, g: str) -> list[dict]:
    """The issue's targets for gateway g: value, limit, met, and by how much."""
    out = []

    def target(tid: str, text: str, value, limit, higher_is_better: bool = False, unit: str = "ms", note=None):
        if value is None:       # not measured (no process to read) -> n/a; failed to measure (errors) -> not met
            out.append({"id": tid, "target": text, "value": None, "met": False if note else None, "by": None,
                        "note": note or "not measured"})
            return
        met = value >= limit if higher_is_better else value <= limit
        margin = (value - limit) if higher_is_better else (limit - value)
        out.append({"id": tid, "target": text, "value": r3(value), "limit": limit, "unit": unit, "met": met,
                    "by": r3(abs(margin)), "by_pct": round(100 * abs(margin) / limit, 1) if limit else None,
                    "note": note})

    def get(*path):
        cur = sc
        for p in path:
            if not isinstance(cur, dict) or p not in cur:
                return None
            cur = cur[p]
        return cur

    def errors_note(run):
        if run and isinstance(run.get("failed"), str):
            return run["failed"]
        if run and run.get("errors_total"):
            return f"{run['errors_total']} errors ({run['errors_non2xx']} non-2xx, {run['errors_socket']} socket)"
        return None

    c1 = sc.get("1_c1", {})
    target("c1_p50", "c=1 added latency p50 <= 1.5 ms", get("1_c1", "vs_direct", g, "p50_added_ms"), 1.5,
           note=errors_note(c1.get(g)))
    target("c1_p99", "c=1 added latency p99 <= 4 ms", get("1_c1", "vs_direct", g, "p99_added_ms"), 4.0,
           note=errors_note(c1.get(g)))
    c32 = get("2_c32", g) or {}
    target("c32_rps", "c=32 >= 1,000 requests/s", c32.get("ok_rps"), 1000, True, "req/s", errors_note(c32))
    target("c32_cpu", "c=32 gateway CPU <= 1.5 ms per request", c32.get("gateway_cpu_ms_per_req"), 1.5,
           note=c32.get("failed") if isinstance(c32.get("failed"), str) else None)
    target("c32_errors", "c=32 no errors", c32.get("errors_total"), 0, unit="errors", note=errors_note(c32))
    s3 = get("3_stream_c1", g) or {}
    note = None
    if s3 and s3.get("errors"):
        note = f"{s3['errors']} of {s3['requests']} streams failed (statuses {s3['statuses']})"
    target("stream_ttfb", "streaming c=1 time to first byte added <= 2 ms (first SSE data event, p50)",
           get("3_stream_c1", "vs_direct", g, "first_data_p50_added_ms"), 2.0, note=note)
    for key, label in (("4_slow_c64", "c=64 non-streaming"), ("4_slow_c256", "c=256 non-streaming"),
                       ("4_slow_c256_stream", "c=256 streaming")):
        run, d = get(key, g) or {}, get(key, "direct") or {}
        limit = round(1.10 * d["p50_ms"], 3) if d.get("p50_ms") else None
        note = errors_note(run) if isinstance(run.get("failed"), str) else None
        if run.get("machine_busy_pct") is not None:
            note = f"machine {run['machine_busy_pct']}% busy"
            cpu, cores = run.get("gateway_cpu_ms_per_req"), os.cpu_count() or 1
            if cpu:
                conc = 64 if key == "4_slow_c64" else 256
                note += (f"; at {cpu} ms CPU per request {cores} cores carry at most {cores * 1000 / cpu:,.0f} "
                         f"req/s, the ideal {conc / 0.05:,.0f} req/s needs <= {cores * 1000 / (conc / 0.05):.2f} ms")
        if limit is not None:
            target(f"{key}_p50", f"50 ms upstream {label}: p50 within 10% of the upstream's ({d['p50_ms']} ms)",
                   run.get("p50_ms"), limit, note=note)
        else:
            target(f"{key}_p50", f"50 ms upstream {label}: p50 within 10% of the upstream's", None, 0)
        target(f"{key}_errors", f"50 ms upstream {label}: no errors", run.get("errors_total"), 0,
               unit="errors", note=errors_note(run))
    target("memory", "memory <= 150 MB resident for the whole gateway under load (RSS sum, peak)",
           get("5_memory", g, "load_peak", "rss_mb"), 150.0, unit="MB")
    s6 = get("6_1000_streams", g) or {}
    target("streams_1000", "issue 5: 1,000 concurrent streams through one worker all complete",
           s6.get("completed"), s6.get("streams") or 1000, True, "streams",
           note=(f"statuses {s6.get('statuses')}, errors {s6.get('errors')}" if s6.get("failed") else None))
    return out


# ---------------------------------------------------------------------------------------------------------------
# the report

def fmt(x, nd=2):
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def delta(x, nd=2):
    return "" if x is None else f" ({'+' if x >= 0 else ''}{x:.{nd}f})"


def markdown(res: dict) -> str:
    m, sc, gws = res["meta"], res["scenarios"], res["gateways"]
    lines = [f"# Benchmark: {', '.join(gws)} against the upstream double", "",
             f"{m['finished_utc']} · {m['mode']} run · {m['cores']} cores ({m['cpu_model']}) · "
             f"commit {m['git']['commit'][:10]}{' + uncommitted changes' if m['git']['dirty'] else ''} · "
             f"Python {m['python']} · gunicorn {m['versions'].get('gunicorn')} · gevent {m['versions'].get('gevent')}"
             f" · {m['wrk']} · node {m['node']} · {m['elapsed_s']:.0f} s", ""]
    if "switchyard" in res.get("gateway_config", {}):
        c = res["gateway_config"]["switchyard"]
        lines += [f"Switchyard: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`, {c.get('workers')} × "
                  f"`{c.get('worker_class')}` workers (worker_connections {c.get('worker_connections')}), SQLite, "
                  f"request logging on, a real key, a priced model; the double, wrk and the gateway share the "
                  f"machine's cores.", ""]
    busy = [(k, g, r.get("other_cpu_cores")) for k, v in sc.items() if isinstance(v, dict)
            for g, r in v.items() if isinstance(r, dict) and (r.get("other_cpu_cores") or 0) > 0.2]
    if busy:
        worst = max(busy, key=lambda b: b[2])
        lines += [f"**Caution:** other processes on the machine used CPU during {len(busy)} of the runs (up to "
                  f"{worst[2]} cores, in {worst[0]} / {worst[1]}); those figures understate what the gateway can do.",
                  ""]
    head = ["scenario", "metric", "direct", *gws, "target",
            *(["met"] if len(gws) == 1 else [f"met ({g})" for g in gws])]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    tmap = {g: {t["id"]: t for t in res["targets"].get(g, [])} for g in gws}

    def row(scen, metric, dval, gvals, target_text="", tid=None, nd=2):
        cells = [scen, metric, fmt(dval, nd) if not isinstance(dval, str) else dval]
        cells += [gvals.get(g, "—") if isinstance(gvals.get(g), str) else fmt(gvals.get(g), nd) for g in gws]
        cells.append(target_text)
        for g in gws:
            t = tmap[g].get(tid) if tid else None
            if t is None:
                cells.append("")
            elif t["met"]:
                cells.append("yes")
            elif t["met"] is None:
                cells.append("n/a")
            elif t["value"] is None:
                cells.append(f"**no** ({t.get('note')})")
            else:
                cells.append(f"**no** (by {t['by']:g} {t['unit']}, {t['by_pct']}%)" if t.get("by_pct") is not None
                             else f"**no** ({t['value']} {t['unit']})")
        lines.append("| " + " | ".join(cells) + " |")

    def wrk_rows(key, title, tids=None):
        s = sc.get(key) or {}
        d = s.get("direct") or {}
        tids = tids or {}
        if d.get("failed") or any((s.get(g) or {}).get("failed") for g in gws):
            row(title, "failed", d.get("failed", "ok"), {g: (s.get(g) or {}).get("failed", "ok") for g in gws})
            return
        vs = s.get("vs_direct", {})
        row(title, "requests/s", d.get("rps"),
            {g: f"{fmt((s.get(g) or {}).get('rps'), 0)} (×{fmt(vs.get(g, {}).get('rps_ratio'), 3)})" for g in gws},
            tids.get("rps_text", ""), tids.get("rps"), 0)
        row(title, "p50 latency, ms", d.get("p50_ms"),
            {g: fmt((s.get(g) or {}).get("p50_ms")) + delta(vs.get(g, {}).get("p50_added_ms")) for g in gws},
            tids.get("p50_text", ""), tids.get("p50"))
        row(title, "p99 latency, ms", d.get("p99_ms"),
            {g: fmt((s.get(g) or {}).get("p99_ms")) + delta(vs.get(g, {}).get("p99_added_ms")) for g in gws},
            tids.get("p99_text", ""), tids.get("p99"))
        row(title, "errors (non-2xx + socket)", d.get("errors_total"),
            {g: (s.get(g) or {}).get("errors_total") for g in gws}, tids.get("err_text", ""), tids.get("err"))
        if any("gateway_cpu_ms_per_req" in (s.get(g) or {}) for g in gws):
            row(title, "gateway CPU ms per request", "—",
                {g: (s.get(g) or {}).get("gateway_cpu_ms_per_req") for g in gws}, tids.get("cpu_text", ""),
                tids.get("cpu"), 3)

    wrk_rows("1_c1", "1. non-streaming, c=1", {"p50_text": "added ≤ 1.5", "p50": "c1_p50", "p99_text": "added ≤ 4",
                                               "p99": "c1_p99"})
    wrk_rows("2_c32", "2. non-streaming, c=32", {"rps_text": "≥ 1,000", "rps": "c32_rps", "cpu_text": "≤ 1.5",
                                                 "cpu": "c32_cpu", "err_text": "0", "err": "c32_errors"})
    wrk_rows("2_c128", "2. non-streaming, c=128")
    s = sc.get("3_stream_c1") or {}
    d, vs = s.get("direct") or {}, s.get("vs_direct", {})
    t3 = "3. streaming, c=1 (sequential)"
    for k, label in (("first_byte", "first byte"), ("first_data", "first SSE data event"), ("total", "whole stream")):
        for p in ("p50", "p99"):
            row(t3, f"{label} {p}, ms", d.get(f"{k}_{p}_ms"),
                {g: fmt((s.get(g) or {}).get(f"{k}_{p}_ms")) + delta(vs.get(g, {}).get(f"{k}_{p}_added_ms"))
                 for g in gws},
                "added ≤ 2" if (k, p) == ("first_data", "p50") else "",
                "stream_ttfb" if (k, p) == ("first_data", "p50") else None)
    row(t3, "failed streams", d.get("errors"), {g: (s.get(g) or {}).get("errors") for g in gws})
    ideal = "ideal 5,120 req/s at 50 ms"
    wrk_rows("4_slow_c64", "4. 50 ms upstream, c=64 (below saturation)",
             {"rps_text": "ideal 1,280 req/s at 50 ms", "p50_text": "≤ 1.1 × direct", "p50": "4_slow_c64_p50",
              "err_text": "0", "err": "4_slow_c64_errors"})
    wrk_rows("4_slow_c256", "4. 50 ms upstream, c=256", {"rps_text": ideal, "p50_text": "≤ 1.1 × direct",
                                                          "p50": "4_slow_c256_p50", "err_text": "0",
                                                          "err": "4_slow_c256_errors"})
    wrk_rows("4_slow_c256_stream", "4. 50 ms upstream, c=256, streaming",
             {"rps_text": ideal, "p50_text": "≤ 1.1 × direct", "p50": "4_slow_c256_stream_p50", "err_text": "0",
              "err": "4_slow_c256_stream_errors"})
    mem = sc.get("5_memory") or {}
    for phase, label in (("idle_cold", "idle, just started"), ("idle_warm", "idle, after warm-up"),
                         ("load_peak", "under load (peak)"), ("after", "after the load")):
        row("5. memory, all gateway processes", f"RSS sum / PSS sum, MB: {label}", "—",
            {g: (f"{fmt((mem.get(g) or {}).get(phase, {}).get('rss_mb'), 1)} / "
                 f"{fmt((mem.get(g) or {}).get(phase, {}).get('pss_mb'), 1)}") if (mem.get(g) or {}).get(phase)
             else "—" for g in gws},
            "≤ 150 (RSS)" if phase == "load_peak" else "", "memory" if phase == "load_peak" else None)
    s = sc.get("6_1000_streams") or {}
    d, vs = s.get("direct") or {}, s.get("vs_direct", {})
    t6 = (f"6. {s.get('streams', 1000):,} streams at once, a chunk every 50 ms"
          + (" (switchyard: one worker)" if "switchyard" in gws else ""))
    row(t6, "completed", d.get("completed"), {g: (s.get(g) or {}).get("completed") for g in gws},
        "all", "streams_1000")
    for k, label in (("headers", "response headers"), ("first_data", "first SSE data event"),
                     ("end", "whole stream")):
        for p in ("p50", "p99"):
            row(t6, f"{label} {p}, ms", d.get(f"{k}_{p}_ms"),
                {g: fmt((s.get(g) or {}).get(f"{k}_{p}_ms")) + delta(vs.get(g, {}).get(f"{k}_{p}_added_ms"))
                 for g in gws})
    row(t6, "worker RSS MB: idle / peak / after", "—",
        {g: " / ".join(fmt((s.get(g) or {}).get(f"worker_rss_mb_{x}"), 1) for x in ("idle", "peak", "after"))
         for g in gws})
    row(t6, "gateway CPU seconds", "—", {g: (s.get(g) or {}).get("gateway_cpu_s") for g in gws})

    lines += ["", "Values through a gateway are followed by the difference from the direct run of the same scenario "
              "(ms) or the ratio to it (×). Direct = wrk (or the stream clients) straight to the double.", ""]
    lines += ["## Targets", ""]
    for g in gws:
        for t in res["targets"].get(g, []):
            if t["value"] is None and t["met"] is None:
                verdict = f"n/a: {t.get('note')} (for a peer, --target-pid gives its CPU and memory)"
            elif t["value"] is None:
                verdict = f"**not met**: {t.get('note')}"
            elif t["met"]:
                verdict = f"met: {t['value']:g} {t['unit']}" + (f" ({t['by']:g} to spare)" if t["by"] else "")
            else:
                verdict = (f"**missed** by {t['by']:g} {t['unit']}"
                           + (f" ({t['by_pct']}%)" if t.get("by_pct") is not None else "")
                           + f": {t['value']:g} {t['unit']}")
            note = f"; {t['note']}" if t.get("note") and t["value"] is not None else ""
            lines.append(f"- {g}: {t['target']}: {verdict}{note}")
    lines += ["", "## The double and the load generator", ""]
    dd = res.get("double_alone", {})
    if dd:
        lines.append(f"- The double alone (wrk straight to it, c=32): {fmt(dd.get('plain', {}).get('rps'), 0)} "
                     f"non-streaming requests/s at {fmt(dd.get('plain', {}).get('double_cpu_ms_per_req'), 3)} ms CPU "
                     f"each; {fmt(dd.get('stream', {}).get('rps'), 0)} streams/s of {FAST['chunks']} chunks.")
    for key in ("2_c32", "2_c128", "4_slow_c256"):
        for g in gws:
            r = (sc.get(key) or {}).get(g) or {}
            if r.get("rps"):
                lines.append(f"- {key} through {g}: machine {r['machine_busy_pct']}% busy; the double "
                             f"{r['double_cpu_ms_per_req']} ms and wrk {r['wrk_cpu_ms_per_req']} ms CPU per request; "
                             f"the gateway {r.get('gateway_cpu_cores', '—')} cores; other processes "
                             f"{r.get('other_cpu_cores')} cores.")
    for g, info in res.get("gateway_checks", {}).items():
        lines.append(f"- {g} log: {info['log']['tracebacks']} tracebacks, {info['log']['error_lines']} ERROR lines, "
                     f"{info['log']['worker_timeouts']} worker timeouts; request_logs rows: "
                     f"{info['request_logs'].get('rows')} ({info['request_logs'].get('with_cost')} with a cost) for "
                     f"{info['ok_answers']} 2xx answers the clients saw"
                     + "".join(f"; {b['rows']} × status {b['status']}"
                               f"{' ' + b['error_code'] if b['error_code'] else ''}"
                               f"{' stream' if b['stream'] else ''}"
                               for b in info["request_logs"].get("by_status", [])) + ".")
    if res.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in res["notes"]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# the run

def versions() -> dict:
    out = {}
    for name in ("gunicorn", "gevent", "greenlet", "Flask", "Werkzeug", "requests", "urllib3", "orjson",
                 "marshmallow", "SQLAlchemy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name.lower()] = metadata.version(name)
    return out


def _cmd_out(cmd: list[str]) -> str:
    try:
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=10, cwd=ROOT)
        return (cp.stdout + cp.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def meta(mode: str) -> dict:
    cpu_model = ""
    with contextlib.suppress(OSError):
        cpu_model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                          if ln.startswith("model name")), "")
    try:
        porcelain = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=10,
                                   cwd=ROOT).stdout
    except (OSError, subprocess.TimeoutExpired):
        porcelain = ""
    dirty = [ln for ln in porcelain.splitlines() if ln.strip()]
    return {"mode": mode, "cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0)),
            "cpu_model": cpu_model, "kernel": platform.release(), "python": platform.python_version(),
            "versions": versions(), "node": _cmd_out(["node", "--version"]),
            "wrk": (_cmd_out(["wrk", "-v"]).splitlines() or ["wrk"])[0].split(" Copyright")[0].strip(),
            "git": {"commit": _cmd_out(["git", "rev-parse", "HEAD"]) or "unknown",
                    "dirty": bool([d for d in dirty if not d[3:].startswith("bench/")]),
                    "uncommitted": dirty[:50]},
            "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def write_results(res: dict, label: str | None) -> tuple[Path, Path]:
    """<timestamp>[-label].json and latest[-label].md; a run that did not finish leaves latest*.md alone."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    suffix = (f"-{label}" if label else "") + ("" if res["complete"] else "-incomplete")
    jpath = RESULTS / f"{stamp}{suffix}.json"
    jpath.write_text(json.dumps(res, indent=2, default=str) + "\n")
    mpath = RESULTS / (f"latest{suffix}.md")
    mpath.write_text(markdown(res) + f"\nFull figures: `bench/results/{jpath.name}`.\n")
    return jpath, mpath


def check_tools() -> None:
    missing = [t for t in ("wrk", "node") if shutil.which(t) is None]
    if missing:
        raise Abort(f"missing {', '.join(missing)}: install with `apt-get install -y "
                    f"{' '.join('nodejs' if t == 'node' else t for t in missing)}` (Debian/Ubuntu)")


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < 4500:
        say(f"warning: only {soft} file descriptors allowed; 1,000 streams need about 4,000 (ulimit -n 8192)")


def background_load(seconds: float = 1.0) -> float:
    """Cores busy on the machine over `seconds` while the harness does nothing (other people's work)."""
    m0 = machine_ticks()
    time.sleep(seconds)
    m1 = machine_ticks()
    return round((m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * (os.cpu_count() or 1), 2)


def wait_for_quiet(max_wait_s: float) -> list[float]:
    """Wait (up to max_wait_s) until the machine is nearly idle: figures taken beside a test suite mean little."""
    seen = [background_load()]
    deadline = time.monotonic() + max_wait_s
    while seen[-1] > 0.15 and time.monotonic() < deadline:
        if len(seen) == 1:
            say(f"the machine is busy ({seen[-1]} cores used by other processes); waiting up to {max_wait_s:g} s")
        seen.append(background_load())
    return seen


def scenarios(args, res: dict, double: Double, subjects: list[Subject], gateways: list[Subject],
              sy: Switchyard | None, procs: Processes) -> None:
    D = DURATIONS[res["meta"]["mode"]]
    direct = subjects[0]
    sc = res["scenarios"]
    gnames = [g.name for g in gateways]
    mem = sc.setdefault("5_memory", {})
    for g in gateways:
        res["probe"][g.name] = probe(g)
        say(f"probe {g.name}: plain {res['probe'][g.name]['plain'].get('status')}, "
            f"stream {res['probe'][g.name]['stream'].get('status')}")
        if g.root_pid:
            mem[g.name] = {"idle_cold": memory(g.pids())}
    double.mode(FAST)
    for g in gateways:                                  # warm-up: not recorded
        say(f"warm-up {g.name}: c=32 for {D['warm_s']} s")
        run_wrk(g, 32, D["warm_s"], False, double)
        ttfb.run(g.url, chat_body(g.model, True), g.headers, 20, warmup=0)
    time.sleep(1)
    for g in gateways:
        if g.root_pid:
            mem[g.name]["idle_warm"] = memory(g.pids())

    def each(key: str, fn, label: str) -> None:
        sc[key] = {}
        for s in subjects:
            say(f"{label}: {s.name}")
            sc[key][s.name] = fn(s)
            brief = {k: v for k, v in sc[key][s.name].items() if k in (
                "rps", "p50_ms", "p99_ms", "errors_total", "gateway_cpu_ms_per_req", "first_data_p50_ms",
                "total_p50_ms", "errors", "failed", "completed", "end_p50_ms")}
            say(f"  {brief}")
        compare(sc[key], gnames)

    each("1_c1", lambda s: run_wrk(s, 1, D["c1_s"], False, double), "1. non-streaming c=1")
    each("2_c32", lambda s: run_wrk(s, 32, D["load_s"], False, double), "2. non-streaming c=32")
    each("2_c128", lambda s: run_wrk(s, 128, D["load_s"], False, double), "2. non-streaming c=128")
    say("the double alone, streaming c=32")
    res["double_alone"] = {"plain": sc["2_c32"]["direct"],
                           "stream": run_wrk(direct, 32, max(2, D["load_s"] // 2), True, double)}
    each("3_stream_c1", lambda s: run_ttfb(s, D["ttfb_n"]), "3. streaming c=1")
    double.mode(SLOW)
    # c=64 offers 1,280 req/s: below what two workers carry, so it shows the latency before CPU saturation
    each("4_slow_c64", lambda s: run_wrk(s, 64, D["slow_s"], False, double), "4. 50 ms upstream c=64")
    each("4_slow_c256", lambda s: run_wrk(s, 256, D["slow_s"], False, double), "4. 50 ms upstream c=256")
    double.mode(SLOW_STREAM)
    each("4_slow_c256_stream", lambda s: run_wrk(s, 256, D["slow_s"], True, double),
         "4. 50 ms upstream c=256 streaming")
    double.mode(FAST)
    time.sleep(2)
    for g in gateways:
        if g.root_pid:
            peaks = [(sc[k].get(g.name) or {}).get("gateway_mem_peak") or {} for k in (
                "1_c1", "2_c32", "2_c128", "4_slow_c256", "4_slow_c256_stream")]
            mem[g.name]["load_peak"] = {"rss_mb": max((p.get("rss_mb", 0) for p in peaks), default=None),
                                        "pss_mb": max((p.get("pss_mb", 0) for p in peaks), default=None)}
            mem[g.name]["after"] = memory(g.pids())

    # 6: a thousand streams through ONE worker: our gateway again, with WEB_CONCURRENCY=1
    n, chunks = D["streams_n"], D["streams_chunks"]
    double.mode(TRICKLE | {"chunks": chunks})
    six = []
    for s in subjects:
        if s.name == "switchyard" and sy is not None:
            say("6. stopping the 2-worker gateway; starting one with a single worker")
            procs.stop(procs.find(s.root_pid))
            one, proc1, conf1 = sy.start("switchyard-1w", 1, args.worker_class)
            res["gateway_config"]["switchyard-1w"] = conf1
            for _ in range(5):
                request("POST", one.url, chat_body(one.model, False), one.headers)
            one.name = "switchyard"
            one.ok_answers = s.ok_answers + 5
            s.root_pid = proc1.pid
            six.append((s, one))
        else:
            six.append((s, s))
    sc["6_1000_streams"] = {"streams": n, "chunks": chunks, "chunk_every_ms": TRICKLE["chunk_delay_ms"]}
    for orig, s in six:
        say(f"6. {n} streams at once, a chunk every 50 ms: {s.name}")
        sc["6_1000_streams"][s.name] = run_streams(s, n, timeout_s=90)
        r = sc["6_1000_streams"][s.name]
        say(f"  completed {r.get('completed')} of {n}, first data p50 {r.get('first_data_p50_ms')} ms, "
            f"end p50 {r.get('end_p50_ms')} ms, worker RSS peak {r.get('worker_rss_mb_peak')} MB "
            f"{r.get('failed') if isinstance(r.get('failed'), str) else ''}")
        orig.ok_answers = s.ok_answers
    compare(sc["6_1000_streams"], gnames)


def profile(args, double: Double, gw: Subject) -> dict:
    """py-spy on one worker while wrk holds c=32: where the worker's CPU goes (own and total time per function)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise Abort("py-spy is not installed: `.venv/bin/pip install py-spy`")
    double.mode(FAST)
    run_wrk(gw, 32, 3, False, double)
    workers = [p for p in gw.pids() if p != gw.root_pid]
    worker = workers[0]
    raw = Path(tempfile.gettempdir()) / f"bench-profile-{worker}.txt"
    say(f"profiling worker {worker} for {args.profile} s under c=32")
    spy_proc = subprocess.Popen([spy, "record", "--pid", str(worker), "--duration", str(args.profile), "--rate", "250",
                                 "--format", "raw", "--nolineno", "--nonblocking", "-o", str(raw)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    load = run_wrk(gw, 32, args.profile, False, double)
    _, err = spy_proc.communicate(timeout=args.profile + 60)
    if not raw.exists():
        raise Abort(f"py-spy wrote nothing: {err[-500:]}")
    shutil.copy(raw, RESULTS / "profile-raw.txt")
    return {"worker": worker, "seconds": args.profile, "load": load, **analyse_stacks(raw, args.profile_top)}


# Each sample goes to the innermost frame that matches one of these (in a stack, from the leaf up): where the
# worker's CPU goes, summing to 100%. The needles match py-spy's "function (file)" frames.
SUBSYSTEMS = (
    ("socket send (syscall; on loopback it includes the receiver's TCP work)", ("SocketMixin.send (",
                                                                                "SocketMixin.sendall (")),
    ("socket recv (syscall)", ("SocketMixin.recv",)),
    ("http.client header parsing (email package)", ("(email/",)),
    ("sqlalchemy + sqlite3 (request-log inserts)", ("(sqlalchemy/", "sqlite3")),
    ("marshmallow (request validation)", ("(marshmallow/",)),
    ("orjson", ("orjson",)),
    ("requests + urllib3 + http.client (upstream call)", ("(requests/", "(urllib3/", "(http/client.py")),
    ("gateway code (gateway/, schemas/)", ("(gateway/", "(schemas/", "(models/")),
    ("werkzeug", ("(werkzeug/",)),
    ("flask", ("(flask/",)),
    ("gevent pywsgi (HTTP server)", ("(gevent/pywsgi.py",)),
    ("gevent hub and other gevent", ("(gevent/",)),
    ("gunicorn", ("(gunicorn/",)),
)


def _subsystem(frames: list[str]) -> str:
    for f in reversed(frames):
        for name, needles in SUBSYSTEMS:
            if any(n in f for n in needles):
                return name
    return "other (stdlib, interpreter)"


def _package(frame: str) -> str:
    m = re.search(r"\(([^)]*)\)$", frame)
    path = m.group(1) if m else "?"
    parts = path.split("/")
    if parts[0] in ("gateway", "schemas", "models", "bench"):
        return path
    if parts[0] in ("http", "email", "json", "logging", "urllib", "concurrent"):
        return "/".join(parts[:2])
    return parts[0]


def analyse_stacks(raw: Path, top_n: int) -> dict:
    """py-spy's collapsed stacks -> top functions by own and total time, own time by package, total time by
    subsystem, every gateway function's total, and who calls the most expensive leaf functions."""
    own, total, pkg, sub, callers, samples = Counter(), Counter(), Counter(), Counter(), {}, 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        c = int(count)
        frames = stack.split(";")
        samples += c
        leaf = frames[-1]
        own[leaf] += c
        pkg[_package(leaf)] += c
        callers.setdefault(leaf, Counter())[" <- ".join(f.split(" (")[0] for f in frames[-5:-1][::-1])] += c
        for f in set(frames):
            total[f] += c
        sub[_subsystem(frames)] += c

    def share(counter, n=top_n):
        return [{"function": f, "samples": c, "pct": round(100 * c / max(1, samples), 1)}
                for f, c in counter.most_common(n)]
    gateway = Counter({f: c for f, c in total.items() if re.search(r"\((gateway|schemas|models)/", f)})
    return {"samples": samples, "own": share(own), "total": share(total), "own_by_package": share(pkg, 20),
            "by_subsystem": share(sub, len(SUBSYSTEMS) + 1), "gateway_total": share(gateway, 30),
            "callers_of_top_own": {f: share(callers[f], 4) for f, _ in own.most_common(5)}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter runs (about half the time)")
    ap.add_argument("--target", help="base URL of another OpenAI-compatible gateway to measure instead of ours")
    ap.add_argument("--auth-header", help='for --target: "Name: value", or a bare token for "Authorization: Bearer"')
    ap.add_argument("--model", help="for --target: the model name the peer routes to the double (default bench/fast)")
    ap.add_argument("--label", help="for --target: its name in the results (default: its host:port)")
    ap.add_argument("--target-pid", type=int, help="for --target: its root process id, to read its CPU and memory")
    ap.add_argument("--with-switchyard", action="store_true", help="with --target: measure ours in the same run too")
    ap.add_argument("--double-port", type=int, default=0,
                    help="port of the double (default: a free one; 18091 with --target, for the peer's config)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers of ours (WEB_CONCURRENCY, default 2)")
    ap.add_argument("--worker-class", help="SWITCHYARD_WORKER_CLASS for ours (default: deploy/gunicorn.conf.py's)")
    ap.add_argument("--profile", type=int, metavar="SECONDS",
                    help="instead of the scenarios: py-spy on one worker of ours under c=32 load")
    ap.add_argument("--profile-top", type=int, default=15)
    ap.add_argument("--time-limit", type=int, default=290, help="abort (stopping everything) after this many seconds")
    ap.add_argument("--quiet-wait", type=float, default=20,
                    help="wait up to this many seconds for other processes to leave the CPU before starting")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (database, logs)")
    args = ap.parse_args(argv)

    def on_signal(signum, frame):
        raise KeyboardInterrupt if signum != signal.SIGALRM else Abort(f"time limit of {args.time_limit} s reached")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)         # also when started in the background with SIGINT ignored
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(args.time_limit)

    mode = "quick" if args.quick else "full"
    res: dict = {"meta": meta(mode), "durations": DURATIONS[mode], "gateways": [], "gateway_config": {},
                 "probe": {}, "scenarios": {}, "targets": {}, "notes": [], "complete": False}
    procs = Processes()
    tmp = Path(tempfile.mkdtemp(prefix="switchyard-bench-"))
    sy = None
    subjects: list[Subject] = []
    ran = False
    try:
        check_tools()
        raise_nofile()
        quiet = wait_for_quiet(args.quiet_wait)
        res["meta"]["background_cores_at_start"] = quiet[-1]
        if quiet[-1] > 0.15:
            res["notes"].append(f"the machine was busy with other processes at the start ({quiet[-1]} cores); "
                                f"see other_cpu_cores in each run")
        port = args.double_port or (18091 if args.target else free_port())
        double = Double(procs, tmp, port)
        say(f"double on {double.base}")
        direct = Subject("direct", chat_url(double.base), "fast", {}, None, "direct")   # the double's CPU: apart
        subjects.append(direct)
        if not args.target or args.with_switchyard:
            say("setting up switchyard: fresh SQLite database, first key, config import")
            sy = Switchyard(procs, tmp, double)
            gw, _, conf = sy.start("switchyard", args.workers, args.worker_class)
            res["gateway_config"]["switchyard"] = conf
            subjects.append(gw)
            say(f"switchyard ready on {gw.url} ({conf.get('workers')} × {conf.get('worker_class')})")
        if args.target:
            label = args.label or urlsplit(args.target).netloc.replace(":", "-")
            peer = Subject(label, chat_url(args.target), args.model or "bench/fast", parse_auth(args.auth_header),
                           args.target_pid)
            subjects.append(peer)
            res["notes"].append(f"{label}: {args.target}, model {peer.model}; its provider must point at "
                                f"{double.base}/v1 (the double)")
        gateways = [s for s in subjects if s.kind == "gateway"]
        res["gateways"] = [g.name for g in gateways]
        if args.profile:
            if sy is None:
                raise Abort("--profile profiles our gateway; do not combine it with --target")
            res["profile"] = prof = profile(args, double, gateways[0])
            RESULTS.mkdir(parents=True, exist_ok=True)
            out = RESULTS / "profile.json"
            out.write_text(json.dumps(res | {"meta": res["meta"]}, indent=2, default=str))
            print(f"\nprofile of worker {prof['worker']}, {prof['samples']} samples over {prof['seconds']} s, "
                  f"{prof['load'].get('rps')} req/s at c=32, {prof['load'].get('gateway_cpu_ms_per_req')} ms CPU/req, "
                  f"other processes {prof['load'].get('other_cpu_cores')} cores")
            for kind, title in (("own", f"top {args.profile_top} functions by own time"),
                                ("total", f"top {args.profile_top} functions by total time"),
                                ("own_by_package", "own time by package"),
                                ("by_subsystem", "by subsystem (each sample to the innermost one; sums to 100%)"),
                                ("gateway_total", "gateway code by total time")):
                print(f"\n{title}:")
                for t in prof[kind]:
                    print(f"  {t['pct']:5.1f}%  {t['function']}")
            print("\ncallers of the top leaf functions:")
            for leaf, rows in prof["callers_of_top_own"].items():
                print(f"  {leaf}")
                for t in rows:
                    print(f"    {t['pct']:5.1f}%  <- {t['function']}")
            print(f"\n{out} and {RESULTS / 'profile-raw.txt'} (collapsed stacks)")
            return 0
        ran = True
        scenarios(args, res, double, subjects, gateways, sy, procs)
        res["complete"] = True
        return 0
    except KeyboardInterrupt:
        say("interrupted: stopping everything")
        res["notes"].append("interrupted before the end: incomplete")
        return 130
    except Abort as e:
        say(f"aborted: {e}")
        res["notes"].append(f"aborted: {e}")
        return 2
    finally:
        signal.alarm(0)
        procs.stop_all()
        if sy is not None:
            checks = {"log": sy.log_summary(), "request_logs": sy.request_log_rows(),
                      "ok_answers": next((s.ok_answers for s in subjects if s.name == "switchyard"), None)}
            res["gateway_checks"] = {"switchyard": checks}
            if checks["log"]["tracebacks"] or checks["log"]["worker_timeouts"]:
                say("gateway log tail:\n  " + "\n  ".join(checks["log"]["last_lines"]))
        if ran:
            res["meta"]["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            res["meta"]["elapsed_s"] = round(time.monotonic() - T0, 1)
            for g in res["gateways"]:
                res["targets"][g] = evaluate(res["scenarios"], g)
            jpath, mpath = write_results(res, None if not args.target or args.with_switchyard else
                                         res["gateways"][-1])
            print(mpath.read_text())
            say(f"wrote {mpath.relative_to(ROOT)} and {jpath.relative_to(ROOT)} in {res['meta']['elapsed_s']} s")
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
