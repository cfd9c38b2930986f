"""`make bench` (python -m bench.run): the command line, and the run that walks the scenario table."""
from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from bench import profile, ttfb
from bench.drivers import probe, run_limits, run_streams, run_ttfb, run_wrk
from bench.machine import check_tools, meta, raise_nofile, wait_for_quiet
from bench.procs import T0, Abort, Processes, free_port, memory, say
from bench.report import write_results
from bench.scenarios import (DURATIONS, FAST, LIMITS, MEMORY, MEMORY_SCENARIO, SCENARIOS, STREAMS, TTFB, WRK,
                             Scenario)
from bench.subjects import ROOT, Double, Redis, Subject, Switchyard, chat_body, chat_url, parse_auth, request
from bench.targets import compare, evaluate

USAGE = """Starts a Node.js provider double (bench/double.js) and the gateway as it runs in production (gunicorn with
deploy/gunicorn.conf.py, a fresh SQLite database, a private redis-server for the limit counters so it runs more than
one worker, request logging, a real key, a priced model), then measures every
scenario of bench/scenarios.py straight against the double and through the gateway, back to back. Writes
bench/results/latest.md and bench/results/<timestamp>.json; bench/README.md explains the scenarios.

    python -m bench.run                   # full run, about 2.5 minutes
    python -m bench.run --quick           # shorter runs, about 1 minute
    python -m bench.run --target http://127.0.0.1:4000 --auth-header "Authorization: Bearer sk-..." \\
        --model bench-fast --double-port 18091 --label litellm     # a peer instead of ours
    python -m bench.run --profile 15      # py-spy on one worker under c=32 load (pip install py-spy)
"""
BRIEF = ("rps", "p50_ms", "p99_ms", "errors_total", "gateway_cpu_ms_per_req", "first_data_p50_ms", "total_p50_ms",
         "errors", "failed", "completed", "end_p50_ms", "rps_without", "rps_with", "errors_text",
         "cpu_without_ms_per_req", "cpu_with_ms_per_req", "limits_cpu_ms_per_req", "redis_text")


class Run:
    """One pass over the scenario table: every subject in turn on each row, in the double mode the row asks for."""

    def __init__(self, args, res: dict, double: Double, subjects: list[Subject], sy: Switchyard | None,
                 procs: Processes):
        self.args, self.res, self.double, self.subjects, self.sy, self.procs = args, res, double, subjects, sy, procs
        self.D = DURATIONS[res["meta"]["mode"]]
        self.sc = res["scenarios"]
        self.gateways = [s for s in subjects if s.kind == "gateway"]
        self.current_mode: dict | None = None

    def upstream(self, mode: dict) -> None:
        if mode != self.current_mode:
            self.double.mode(mode)
            self.current_mode = mode

    def prelude(self) -> None:
        """Probe each gateway, read its memory cold, warm it up (not recorded), read its memory warm."""
        mem = self.sc.setdefault(MEMORY_SCENARIO.key, {})
        for g in self.gateways:
            self.res["probe"][g.name] = p = probe(g)
            say(f"probe {g.name}: plain {p['plain'].get('status')}, stream {p['stream'].get('status')}")
            if g.root_pid:
                mem[g.name] = {"idle_cold": memory(g.pids())}
        self.upstream(FAST.mode())
        for g in self.gateways:
            say(f"warm-up {g.name}: c=32 for {self.D['warm_s']} s")
            run_wrk(g, 32, self.D["warm_s"], False, self.double)
            ttfb.run(g.url, chat_body(g.model, True), g.headers, 20, warmup=0)
        time.sleep(1)
        for g in self.gateways:
            if g.root_pid:
                mem[g.name]["idle_warm"] = memory(g.pids())

    def each(self, scn: Scenario, fn, subjects: list[Subject] | None = None) -> None:
        entry = self.sc.setdefault(scn.key, {})
        for s in subjects or self.subjects:
            say(f"{scn.heading(entry, [])}: {s.name}")
            entry[s.name] = fn(s)
            say(f"  {({k: v for k, v in entry[s.name].items() if k in BRIEF})}")
        compare(scn, entry, [g.name for g in self.gateways])

    def all(self) -> None:
        self.prelude()
        for scn in SCENARIOS:
            if scn.kind == WRK:
                self.upstream(scn.upstream.mode())
                self.each(scn, lambda s: run_wrk(s, scn.concurrency, self.D[scn.length], scn.stream, self.double))
                if scn.double_alone:
                    say(f"the double alone, streaming c={scn.concurrency}")
                    self.res["double_alone"] = {"plain": self.sc[scn.key]["direct"], "stream": run_wrk(
                        self.subjects[0], scn.concurrency, max(2, self.D[scn.length] // 2), True, self.double)}
            elif scn.kind == TTFB:
                self.upstream(scn.upstream.mode())
                self.each(scn, lambda s: run_ttfb(s, self.D[scn.length]))
            elif scn.kind == MEMORY:
                self.upstream(scn.upstream.mode())
                time.sleep(2)
                self.memory_after(scn)
            elif scn.kind == STREAMS:
                self.streams(scn)
            elif scn.kind == LIMITS:
                self.upstream(scn.upstream.mode())
                ours = [g for g in self.gateways if g.limited_headers]       # a peer has no key with our limits
                if ours:
                    self.each(scn, lambda s: run_limits(s, scn.concurrency, self.D[scn.length], self.double), ours)

    def memory_after(self, scn: Scenario) -> None:
        peak_keys = [s.key for s in SCENARIOS if s.memory_peak]
        for g in self.gateways:
            if g.root_pid:
                peaks = [(self.sc.get(k, {}).get(g.name) or {}).get("gateway_mem_peak") or {} for k in peak_keys]
                self.sc[scn.key][g.name] |= {
                    "load_peak": {"rss_mb": max((p.get("rss_mb", 0) for p in peaks), default=None),
                                  "pss_mb": max((p.get("pss_mb", 0) for p in peaks), default=None)},
                    "after": memory(g.pids())}

    def streams(self, scn: Scenario) -> None:
        """N streams at once; with one_worker, ours is first restarted with WEB_CONCURRENCY=1 (issue 5)."""
        n, chunks = self.D[scn.length], self.D["streams_chunks"]
        self.upstream(replace(scn.upstream, chunks=chunks).mode())
        pairs = []                      # (the subject as named in the results, the one measured)
        for s in self.subjects:
            if scn.one_worker and s.name == "switchyard" and self.sy is not None:
                say(f"{scn.key}: stopping the {self.args.workers}-worker gateway; starting one with a single worker")
                self.procs.stop(self.procs.find(s.root_pid))
                one, proc1, conf1 = self.sy.start("switchyard-1w", 1, self.args.worker_class)
                self.res["gateway_config"]["switchyard-1w"] = conf1
                for _ in range(5):
                    request("POST", one.url, chat_body(one.model, False), one.headers)
                one.name, one.ok_answers, s.root_pid = "switchyard", s.ok_answers + 5, proc1.pid
                pairs.append((s, one))
            else:
                pairs.append((s, s))
        self.sc[scn.key] = {"streams": n, "chunks": chunks, "chunk_every_ms": scn.upstream.chunk_delay_ms}

        def measure(s: Subject) -> dict:
            r = run_streams(s, n, timeout_s=90)
            orig = next(o for o, m in pairs if m is s)
            orig.ok_answers = s.ok_answers
            return r
        self.each(scn, measure, [m for _, m in pairs])


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=USAGE,
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
    ap.add_argument("--no-redis", action="store_true",
                    help="ours without REDIS_URL (limits counted in process, so the conf runs one worker)")
    ap.add_argument("--profile", type=int, metavar="SECONDS",
                    help="instead of the scenarios: py-spy on one worker of ours under c=32 load")
    ap.add_argument("--profile-key", choices=("usual", "limited"), default="usual",
                    help="for --profile: the usual key (no limits) or scenario 7's key with an rpm, a tpm and a budget")
    ap.add_argument("--profile-top", type=int, default=15)
    ap.add_argument("--time-limit", type=int, default=290, help="abort (stopping everything) after this many seconds")
    ap.add_argument("--quiet-wait", type=float, default=20,
                    help="wait up to this many seconds for other processes to leave the CPU before starting")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (database, logs)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

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
    redis = None
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
        subjects.append(Subject("direct", chat_url(double.base), "fast", {}, None, "direct"))  # double's CPU: apart
        if not args.target or args.with_switchyard:
            if not args.no_redis:
                redis = Redis.start(procs, tmp)
                if redis is None:
                    res["notes"].append("redis-server is not installed (apt-get install -y redis-server): ours ran "
                                        "without REDIS_URL, so with one worker (limits counted in process)")
                    say("redis-server not found: switchyard runs without Redis, one worker")
                else:
                    say(f"redis-server {redis.version} on 127.0.0.1:{redis.port}, prefix {redis.prefix}")
            else:
                res["notes"].append("--no-redis: ours ran without REDIS_URL, so with one worker")
            say("setting up switchyard: fresh SQLite database, first key, a key with limits, config import")
            sy = Switchyard(procs, tmp, double, redis)
            gw, _, conf = sy.start("switchyard", args.workers, args.worker_class)
            res["gateway_config"]["switchyard"] = conf
            subjects.append(gw)
            say(f"switchyard ready on {gw.url} ({conf.get('workers')} × {conf.get('worker_class')}, "
                f"Redis {'on' if redis else 'off'})")
        if args.target:
            label = args.label or urlsplit(args.target).netloc.replace(":", "-")
            peer = Subject(label, chat_url(args.target), args.model or "bench/fast", parse_auth(args.auth_header),
                           args.target_pid)
            subjects.append(peer)
            res["notes"].append(f"{label}: {args.target}, model {peer.model}; its provider must point at "
                                f"{double.base}/v1 (the double)")
        res["gateways"] = [s.name for s in subjects if s.kind == "gateway"]
        if args.profile:
            if sy is None:
                raise Abort("--profile profiles our gateway; do not combine it with --target")
            profile.run_and_print(args, res, double, subjects[1])
            return 0
        ran = True
        Run(args, res, double, subjects, sy, procs).all()
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
        if redis is not None and sy is not None:
            res["redis_keys"] = redis.keys()         # what the limits counted (read before it stops)
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
