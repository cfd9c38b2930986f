"""`python -m bench.soak --minutes 20`: a long steady load against the gateway as deployed, with upstream faults and
client disconnects; it reports the error rate by cause, the workers' memory over the run, and that every request
left its log row.

The gateway is served as bench/run.py serves it (bench/subjects.py: gunicorn from deploy/gunicorn.conf.py, two
gevent workers sharing a private redis-server, a fresh SQLite database, request logging on, a real key). The
upstream is the Python provider double (tests/support/double.py, run alone in a process of its own), because it
has the faults (tests/support/double_faults.py): a request for `bench/fault-<name>` is served broken. The load is
open-loop: requests start at a steady rate whatever the answers take, from a pool of threads, each on a fresh
connection; a share of them are streams, a share ask for a broken upstream, a share hang up early (a stream
after its first data event, a plain call right after sending). Every request carries its own `X-Request-Id`, so
its log row is found by it once the run is over and the workers' writers flushed.

Written: bench/results/soak-<timestamp>.json (everything) and .txt (the summary), both with the command.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import random
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench.drivers import pct, r3
from bench.machine import meta, raise_nofile
from bench.procs import T0, Abort, Processes, free_port, process_tree, say, wait_until
from bench.subjects import ROOT, Redis, Switchyard, request

RESULTS = ROOT / "bench" / "results"
PLAIN_MODEL = "bench/soak.delay-20"                     # the double answers after 20 ms
STREAM_MODEL = "bench/soak.chunks-10.chunkdelay-50"      # 10 content chunks 50 ms apart: about half a second
# the faults drawn from (tests/support/double_faults.py), per kind of request
PLAIN_FAULTS = ("reset-before-headers", "close-before-headers", "bad-status-line", "no-headers", "reset-mid-body",
                "truncated-json", "invalid-json", "error-200", "no-choices", "huge", "429", "401", "500")
STREAM_FAULTS = ("reset-before-headers", "no-headers", "reset-mid-body", "truncated-json", "invalid-json",
                 "error-200", "huge", "429", "sse-garbage-data", "sse-cut", "sse-chunked-cut", "sse-stall",
                 "json-to-stream")
# the gateway's settings that differ from production's defaults, so that a silent upstream costs seconds, not minutes
GATEWAY_ENV = {"SWITCHYARD_DEFAULT_TIMEOUT_MS": "5000", "SWITCHYARD_STREAM_IDLE_TIMEOUT_S": "5",
               "SWITCHYARD_STREAM_KEEPALIVE_S": "2"}
LEVEL_OFF_PCT = 5.0          # the workers' RSS may grow at most this much over the second half of the run


@dataclass
class Sent:
    """One request of the run and what its client saw."""
    rid: str
    stream: bool
    fault: str | None
    cut: bool
    at_s: float = 0.0                 # since the load started
    status: int | None = None
    code: str | None = None           # our error code (JSON body, or the stream's error event)
    outcome: str = "pending"          # ok, error, cut, client_error
    ms: float | None = None

    @property
    def cause(self) -> str:
        if self.fault:
            return f"upstream fault {self.fault}"
        return "client disconnect" if self.cut else "none"


class PythonDouble:
    """The provider double of the tests, alone in its own process (`python -m tests.support.double`)."""

    def __init__(self, procs: Processes, tmp: Path, key: str = "bench"):
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.base = f"{self.root}/local"            # Switchyard's provider gets {base}/v1 (OpenAI paths)
        self.proc = procs.start("double", [sys.executable, "-m", "tests.support.double", "--port", str(self.port),
                                           "--openai-key", key], cwd=ROOT, log_path=tmp / "double.log")
        wait_until(lambda: self.proc.poll() is None and request("GET", self.root + "/_double/stats")[0] == 200, 20,
                   what=f"the Python double on port {self.port}")

    def stats(self) -> dict:
        return json.loads(request("GET", self.root + "/_double/stats")[2])


def _body(stream: bool, model: str) -> bytes:
    b = {"model": model, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 32}
    if stream:
        b |= {"stream": True, "stream_options": {"include_usage": True}}
    return json.dumps(b).encode()


def _code_of(raw: bytes) -> str | None:
    try:
        return json.loads(raw)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def one(port: int, key: str, s: Sent, t_load: float) -> None:
    """Send one request and read it as its client would (or hang up early); fills in what the client saw."""
    model = f"bench/fault-{s.fault}" if s.fault else (STREAM_MODEL if s.stream else PLAIN_MODEL)
    t0 = time.monotonic()
    s.at_s = round(t0 - t_load, 3)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", "/v1/chat/completions", body=_body(s.stream, model),
                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                              "X-Request-Id": s.rid})
        if s.cut and not s.stream:                # hang up before the answer
            time.sleep(0.005)
            conn.sock.shutdown(socket.SHUT_RDWR)
            s.outcome = "cut"
            return
        resp = conn.getresponse()
        s.status = resp.status
        if resp.status != 200:
            s.code, s.outcome = _code_of(resp.read()), "error"
            return
        if not s.stream:
            raw = resp.read()
            s.outcome = "ok" if b'"choices"' in raw else "error"
            return
        while True:
            line = resp.readline()
            if not line:
                s.outcome, s.code = "error", "ended without [DONE]"
                return
            if not line.startswith(b"data: "):
                continue
            if line.strip() == b"data: [DONE]":
                s.outcome = "ok"
                return
            if line.startswith(b'data: {"error"'):
                s.code, s.outcome = _code_of(line[6:]), "error"
                return
            if s.cut:
                conn.sock.shutdown(socket.SHUT_RDWR)
                s.outcome = "cut"
                return
    except Exception as e:  # noqa: BLE001 - the client's own failure, reported as such
        s.outcome, s.code = "client_error", f"{type(e).__name__}: {e}"[:200]
    finally:
        s.ms = round((time.monotonic() - t0) * 1000, 1)
        conn.close()


def worker_memory(root: int) -> dict[int, dict[str, float]]:
    """Each gunicorn worker's (the master's children) resident memory from /proc/<pid>/status, MB: VmRSS, and
    its parts RssAnon (the heap: Python objects, malloc) and RssFile + RssShmem (mapped files: code, the metrics'
    mmap files)."""
    out = {}
    for pid in process_tree(root)[1:]:
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/status") as f:
                kb = {k: int(v.split()[0]) for k, _, v in (line.partition(":") for line in f)
                      if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem")}
            out[pid] = {"rss": round(kb.get("VmRSS", 0) / 1024, 1), "anon": round(kb.get("RssAnon", 0) / 1024, 1),
                        "file": round((kb.get("RssFile", 0) + kb.get("RssShmem", 0)) / 1024, 1)}
    return out


class Sampler:
    """The workers' RSS every `every_s` seconds, in a thread, while the load runs."""

    def __init__(self, root: int, t_load: float, every_s: float):
        self.root, self.t_load, self.every_s = root, t_load, every_s
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> dict:
        mem = worker_memory(self.root)
        s = {"t_s": round(time.monotonic() - self.t_load, 1), "rss_mb": {str(k): v["rss"] for k, v in mem.items()},
             "total_mb": round(sum(v["rss"] for v in mem.values()), 1),
             "anon_mb": round(sum(v["anon"] for v in mem.values()), 1),
             "file_mb": round(sum(v["file"] for v in mem.values()), 1)}
        self.samples.append(s)
        return s

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sample()

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def run_load(port: int, key: str, args, rng: random.Random, run_id: str, sampler_every_s: float, root: int,
             res: dict) -> list[Sent]:
    total = int(args.minutes * 60 * args.rate)
    plan = []
    for i in range(total):
        stream = rng.random() < args.stream_share
        draw = rng.random()
        faults = [f for f in (STREAM_FAULTS if stream else PLAIN_FAULTS) if f not in args.without]
        fault = rng.choice(faults) if draw < args.fault_share and faults else None
        cut = fault is None and draw < args.fault_share + args.disconnect_share
        plan.append(Sent(f"soak-{run_id}-{i}", stream, fault, cut))
    say(f"load: {total} requests at {args.rate:g}/s for {args.minutes:g} min "
        f"({sum(s.stream for s in plan)} streams, {sum(bool(s.fault) for s in plan)} upstream faults, "
        f"{sum(s.cut for s in plan)} client disconnects)")
    t_load = time.monotonic()
    late = 0
    with Sampler(root, t_load, sampler_every_s) as sampler, ThreadPoolExecutor(args.threads) as pool:
        res["rss_samples"] = sampler.samples
        sampler.sample()
        next_report = 60.0
        for i, s in enumerate(plan):
            due = t_load + i / args.rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            elif wait < -1.0:
                late += 1
            pool.submit(one, port, key, s, t_load)
            if time.monotonic() - t_load >= next_report:
                done = [x for x in plan[:i] if x.outcome != "pending"]
                bad = sum(x.outcome in ("error", "client_error") and x.cause == "none" for x in done)
                say(f"  {next_report / 60:.0f} min: {i + 1} sent, {len(done)} answered, {bad} unexpected errors, "
                    f"workers {sampler.samples[-1]['rss_mb']} MB")
                next_report += 60.0
        sent_s = time.monotonic() - t_load
    sampler.sample()
    res["load"] = {"planned": total, "sent_in_s": round(sent_s, 1), "achieved_rate": round(total / sent_s, 2),
                   "started_more_than_1s_late": late, "drain_s": round(time.monotonic() - t_load - sent_s, 1)}
    return plan


def rows_of(db_path: Path, run_id: str) -> dict[str, list[tuple]]:
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)) as c:
        rows = c.execute("SELECT client_request_id, status, error_code, stream FROM request_logs "
                         "WHERE client_request_id LIKE ?", (f"soak-{run_id}-%",)).fetchall()
    out: dict[str, list[tuple]] = defaultdict(list)
    for rid, status, code, stream in rows:
        out[rid].append((status, code, bool(stream)))
    return out


def wait_for_rows(db_path: Path, run_id: str, expected: int, limit_s: float = 90) -> dict[str, list[tuple]]:
    """The run's rows once every expected one is there, or when their count has not moved for 10 s."""
    deadline, last, still_since = time.monotonic() + limit_s, -1, time.monotonic()
    while True:
        rows = rows_of(db_path, run_id)
        n = sum(len(v) for v in rows.values())
        if n != last:
            last, still_since = n, time.monotonic()
        if n >= expected or time.monotonic() > deadline or time.monotonic() - still_since > 10:
            return rows
        time.sleep(1)


def check_rows(plan: list[Sent], rows: dict[str, list[tuple]]) -> dict:
    """Every request has exactly one row, and the row says what its client saw."""
    missing = [s.rid for s in plan if s.rid not in rows]
    doubled = [rid for rid, v in rows.items() if len(v) > 1]
    disagree = []
    for s in plan:
        got = rows.get(s.rid)
        if not got:
            continue
        status, code, stream = got[0]
        if s.outcome == "cut":
            want = {(499, "client_closed")} if s.stream else {(200, None), (499, "client_closed")}
        elif s.outcome == "ok":
            want = {(200, None)}
        elif s.outcome == "error":
            want = {(s.status, s.code)}
        else:
            continue
        if (status, code) not in want or stream != s.stream:
            disagree.append({"rid": s.rid, "client": [s.status, s.code, s.outcome], "row": [status, code, stream]})
    return {"sent": len(plan), "rows": sum(len(v) for v in rows.values()), "requests_with_a_row": len(rows),
            "missing": len(missing), "missing_first": missing[:20], "doubled": len(doubled),
            "row_disagrees_with_client": len(disagree), "disagree_first": disagree[:20]}


def summarize(plan: list[Sent]) -> dict:
    by_cause: dict[str, Counter] = defaultdict(Counter)
    for s in plan:
        what = "ok" if s.outcome == "ok" else ("cut by the client" if s.outcome == "cut" else
                                              f"{s.outcome}: {s.status} {s.code}")
        by_cause[s.cause][what] += 1
    errors = [s for s in plan if s.outcome in ("error", "client_error")]
    causes = {}
    for cause, counts in sorted(by_cause.items()):
        n = sum(counts.values())
        bad = sum(v for k, v in counts.items() if k.startswith(("error", "client_error")))
        causes[cause] = {"requests": n, "errors": bad, "error_rate": round(bad / n, 4), "outcomes": dict(counts)}
    ok_ms = {kind: [s.ms for s in plan if s.outcome == "ok" and s.stream == (kind == "stream") and not s.fault]
             for kind in ("plain", "stream")}
    return {"requests": len(plan), "streams": sum(s.stream for s in plan), "errors": len(errors),
            "error_rate": round(len(errors) / max(1, len(plan)), 4),
            "unexpected_errors": sum(1 for s in errors if s.cause == "none"),
            "unexpected_first": [asdict(s) for s in errors if s.cause == "none"][:10],
            "by_cause": causes,
            "latency_ms_of_healthy": {k: {"p50": r3(pct(v, 50)), "p99": r3(pct(v, 99)), "n": len(v)}
                                      for k, v in ok_ms.items()}}


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return round((xs[n // 2] + xs[(n - 1) // 2]) / 2, 1)


def _window(samples: list[dict], lo: float, hi: float) -> dict:
    """The samples in [lo, hi] as one figure: the median of their totals (and of each worker's RSS)."""
    inside = [s for s in samples if lo <= s["t_s"] <= hi] or [min(samples, key=lambda s: abs(s["t_s"] - lo))]
    pids = sorted({p for s in inside for p in s["rss_mb"]})
    return {"from_s": inside[0]["t_s"], "to_s": inside[-1]["t_s"], "samples": len(inside),
            "total_mb": _median([s["total_mb"] for s in inside]),
            "anon_mb": _median([s.get("anon_mb", 0.0) for s in inside]),
            "rss_mb": {p: _median([s["rss_mb"][p] for s in inside if p in s["rss_mb"]]) for p in pids}}


def memory_verdict(samples: list[dict], warmup_s: float) -> dict:
    """The workers' RSS at the start (after the warm-up), in the middle and at the end of the load, each the median
    of a window of samples (a tenth of the run, at least three samples): one sample lands as easily on a moment
    a 5 MiB answer is held as between two, and the allocator keeps such memory for a while. It levels off when
    the second half grew by at most LEVEL_OFF_PCT of the middle."""
    if not samples:
        return {"levels_off": False, "why": "no samples"}
    end_t = samples[-1]["t_s"]
    every = samples[1]["t_s"] - samples[0]["t_s"] if len(samples) > 1 else 1.0
    width = max(3 * every, (end_t - warmup_s) / 10)
    start = _window(samples, warmup_s, warmup_s + width)
    end = _window(samples, end_t - width, end_t)
    mid_t = (warmup_s + width / 2 + end_t - width / 2) / 2
    middle = _window(samples, mid_t - width / 2, mid_t + width / 2)
    grew_pct = round((end["total_mb"] - middle["total_mb"]) / max(1.0, middle["total_mb"]) * 100, 2)
    return {"cold_mb": samples[0]["total_mb"], "window_s": round(width, 1), "start": start, "middle": middle,
            "end": end, "first_half_growth_mb": round(middle["total_mb"] - start["total_mb"], 1),
            "second_half_growth_mb": round(end["total_mb"] - middle["total_mb"], 1),
            "second_half_growth_pct": grew_pct, "bound_pct": LEVEL_OFF_PCT,
            "peak_total_mb": max(s["total_mb"] for s in samples),
            "range_after_warmup_mb": [min(s["total_mb"] for s in samples if s["t_s"] >= warmup_s),
                                      max(s["total_mb"] for s in samples if s["t_s"] >= warmup_s)],
            "levels_off": grew_pct <= LEVEL_OFF_PCT}


def text_report(res: dict) -> str:
    m, s, rows, mem = res["meta"], res["summary"], res["log_rows"], res["memory"]
    lines = [f"Soak {m['started_utc']} · {res['args']['minutes']:g} min · commit {m['git']['commit'][:10]}"
             f"{' (dirty)' if m['git']['dirty'] else ''} · {m['cores']} cores · Python {m['python']}",
             f"command: {res['command']}",
             f"gateway: {res['gateway_config'].get('workers')} × {res['gateway_config'].get('worker_class')}, "
             f"Redis {'on' if res['gateway_config'].get('redis', {}).get('on') else 'off'}, SQLite, "
             f"settings changed: {GATEWAY_ENV}",
             f"load: {res['load']['achieved_rate']} req/s for {res['load']['sent_in_s']} s "
             f"({s['requests']} requests, {s['streams']} streams), "
             f"{res['load']['started_more_than_1s_late']} started late",
             f"errors: {s['errors']} ({s['error_rate'] * 100:.2f}%), of which without an injected cause: "
             f"{s['unexpected_errors']}", "by cause:"]
    for cause, c in s["by_cause"].items():
        outs = ", ".join(f"{k} ×{v}" for k, v in sorted(c["outcomes"].items(), key=lambda kv: -kv[1]))
        lines.append(f"  {cause}: {c['requests']} requests, {c['errors']} errors ({c['error_rate'] * 100:.2f}%): "
                     f"{outs}")
    lines += [f"worker RSS (MB, all workers; each figure the median of {mem['window_s']:g} s of samples): "
              f"cold {mem['cold_mb']} · start {mem['start']['total_mb']} ({mem['start']['from_s']:g}-"
              f"{mem['start']['to_s']:g} s) · middle {mem['middle']['total_mb']} ({mem['middle']['from_s']:g}-"
              f"{mem['middle']['to_s']:g} s) · end {mem['end']['total_mb']} ({mem['end']['from_s']:g}-"
              f"{mem['end']['to_s']:g} s); after the warm-up between {mem['range_after_warmup_mb'][0]} and "
              f"{mem['range_after_warmup_mb'][1]}; second half {mem['second_half_growth_mb']:+} MB "
              f"({mem['second_half_growth_pct']:+}%, bound {mem['bound_pct']}%): "
              f"{'levels off' if mem['levels_off'] else 'DOES NOT level off'}",
              f"per worker: start {mem['start']['rss_mb']} · middle {mem['middle']['rss_mb']} · "
              f"end {mem['end']['rss_mb']}",
              f"log rows: {rows['rows']} rows for {rows['sent']} requests sent; missing {rows['missing']}, "
              f"doubled {rows['doubled']}, row disagrees with its client {rows['row_disagrees_with_client']}",
              f"workers: {res['workers']['same'] and 'the same pids from start to end' or 'CHANGED'} "
              f"({res['workers']['start']} -> {res['workers']['end']}); gateway log: "
              f"{res['gateway_log']['tracebacks']} tracebacks, {res['gateway_log']['error_lines']} ERROR lines, "
              f"{res['gateway_log']['worker_timeouts']} worker timeouts",
              f"double at the end: {res['double_end']}",
              f"verdict: {'PASS' if res['passed'] else 'FAIL'} ({'; '.join(res['failures']) or 'every check holds'})"]
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=20.0, help="how long the load runs (default 20)")
    ap.add_argument("--rate", type=float, default=30.0, help="requests started per second (default 30)")
    ap.add_argument("--stream-share", type=float, default=0.5, help="share of streams (default 0.5)")
    ap.add_argument("--fault-share", type=float, default=0.01, help="share asking for a broken upstream (0.01)")
    ap.add_argument("--disconnect-share", type=float, default=0.01, help="share hanging up early (0.01)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY, default 2)")
    ap.add_argument("--threads", type=int, default=128, help="client threads (default 128)")
    ap.add_argument("--sample-s", type=float, default=10.0, help="seconds between RSS samples (default 10)")
    ap.add_argument("--warmup-s", type=float, default=None,
                    help="the RSS 'start' is the first sample after this (default: a tenth of the run, 10-60 s)")
    ap.add_argument("--without", action="append", default=[], metavar="FAULT",
                    help="leave this fault out of the draw (repeatable), e.g. --without huge")
    ap.add_argument("--seed", type=int, default=15, help="the random draw of kinds, faults and cuts")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (database, logs)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    command = "python -m bench.soak " + " ".join(sys.argv[1:] if argv is None else argv)

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    raise_nofile()
    run_id = uuid.uuid4().hex[:8]
    res: dict = {"command": command.strip(), "args": vars(args), "meta": meta("soak"), "run_id": run_id,
                 "gateway_env": GATEWAY_ENV, "plain_faults": PLAIN_FAULTS, "stream_faults": STREAM_FAULTS,
                 "complete": False}
    procs = Processes()
    tmp = Path(tempfile.mkdtemp(prefix="switchyard-soak-"))
    sy = None
    code = 1
    try:
        double = PythonDouble(procs, tmp)
        redis = Redis.start(procs, tmp)
        if redis is None:
            say("redis-server not found: the gateway runs one worker")
        sy = Switchyard(procs, tmp, double, redis)
        sy.env |= GATEWAY_ENV
        gw, proc, conf = sy.start("switchyard", args.workers, None)
        res["gateway_config"] = conf
        port = conf["port"]
        key = gw.headers["Authorization"].split(" ", 1)[1]
        say(f"gateway on {port} ({conf.get('workers')} workers), double on {double.port}")
        workers_start = sorted(process_tree(proc.pid)[1:])
        warmup = args.warmup_s if args.warmup_s is not None else min(60.0, max(10.0, args.minutes * 6))
        plan = run_load(port, key, args, random.Random(args.seed), run_id, args.sample_s, proc.pid, res)
        say("load over: waiting for the log rows")
        rows = wait_for_rows(sy.db_path, run_id, len(plan))
        workers_end = sorted(process_tree(proc.pid)[1:])
        res["workers"] = {"start": workers_start, "end": workers_end, "same": workers_start == workers_end}
        res["double_end"] = double.stats()
        res["summary"] = summarize(plan)
        res["log_rows"] = check_rows(plan, rows)
        res["memory"] = memory_verdict(res["rss_samples"], warmup)
        res["gateway_log"] = {k: v for k, v in sy.log_summary().items() if k != "last_lines"}
        failures = []
        if res["summary"]["unexpected_errors"]:
            failures.append(f"{res['summary']['unexpected_errors']} errors without an injected cause")
        if res["log_rows"]["missing"] or res["log_rows"]["doubled"]:
            failures.append(f"log rows: {res['log_rows']['missing']} missing, {res['log_rows']['doubled']} doubled")
        if res["log_rows"]["row_disagrees_with_client"]:
            failures.append(f"{res['log_rows']['row_disagrees_with_client']} rows disagree with their client")
        if not res["memory"]["levels_off"]:
            failures.append("worker memory does not level off")
        if not res["workers"]["same"]:
            failures.append("a worker was replaced")
        if res["gateway_log"]["tracebacks"] or res["gateway_log"]["worker_timeouts"]:
            failures.append("tracebacks or worker timeouts in the gateway log")
        res["failures"], res["passed"], res["complete"] = failures, not failures, True
        code = 0 if not failures else 1
    except KeyboardInterrupt:
        say("interrupted: stopping everything")
        code = 130
    except Abort as e:
        say(f"aborted: {e}")
        res["aborted"] = str(e)
        code = 2
    finally:
        procs.stop_all()
        res["meta"]["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        res["meta"]["elapsed_s"] = round(time.monotonic() - T0, 1)
        if res["complete"]:
            RESULTS.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            jpath, tpath = RESULTS / f"soak-{stamp}.json", RESULTS / f"soak-{stamp}.txt"
            jpath.write_text(json.dumps(res, indent=2, default=str) + "\n")
            text = text_report(res)
            tpath.write_text(text + f"Full figures: bench/results/{jpath.name}\n")
            print(text)
            say(f"wrote {tpath.relative_to(ROOT)} and {jpath.relative_to(ROOT)}")
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
