"""--profile: py-spy on one worker of ours under c=32 load, and where its CPU goes (functions, packages, subsystems)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from bench.drivers import run_wrk
from bench.procs import Abort, say
from bench.report import RESULTS
from bench.scenarios import FAST
from bench.subjects import Double, Subject


def _suffix(args) -> str:
    """profile.json for the usual key, profile-limited.json for the limited one."""
    return "" if args.profile_key == "usual" else f"-{args.profile_key}"


def profile(args, double: Double, gw: Subject) -> dict:
    """py-spy on one worker while wrk holds c=32: where the worker's CPU goes (own and total time per function)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise Abort("py-spy is not installed: `.venv/bin/pip install py-spy`")
    if args.profile_key == "limited":                   # the key of scenario 7: an rpm, a tpm and a budget
        gw = replace(gw, headers=gw.limited_headers)
    double.mode(FAST.mode())
    run_wrk(gw, 32, 3, False, double)
    workers = [p for p in gw.pids() if p != gw.root_pid]
    worker = workers[0]
    raw = Path(tempfile.gettempdir()) / f"bench-profile-{worker}.txt"
    say(f"profiling worker {worker} for {args.profile} s under c=32 ({args.profile_key} key)")
    spy_proc = subprocess.Popen([spy, "record", "--pid", str(worker), "--duration", str(args.profile), "--rate", "250",
                                 "--format", "raw", "--nolineno", "--nonblocking", "-o", str(raw)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    load = run_wrk(gw, 32, args.profile, False, double)
    _, err = spy_proc.communicate(timeout=args.profile + 60)
    if not raw.exists():
        raise Abort(f"py-spy wrote nothing: {err[-500:]}")
    shutil.copy(raw, RESULTS / f"profile{_suffix(args)}-raw.txt")
    return {"worker": worker, "seconds": args.profile, "key": args.profile_key, "load": load,
            **analyse_stacks(raw, args.profile_top)}


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


# A sample anywhere under these goes to them, its socket calls included: what the limit counters cost in Redis.
REDIS_CLIENTS = ("redis-py, limits, flask-limiter (limit counters in Redis, their socket calls included)",
                 ("(redis/", "(limits/", "(flask_limiter/"))


def _subsystem(frames: list[str]) -> str:
    if any(n in f for f in frames for n in REDIS_CLIENTS[1]):
        return REDIS_CLIENTS[0]
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
            "by_subsystem": share(sub, len(SUBSYSTEMS) + 2), "gateway_total": share(gateway, 30),
            "callers_of_top_own": {f: share(callers[f], 4) for f, _ in own.most_common(5)}}


def run_and_print(args, res: dict, double: Double, gw: Subject) -> None:
    """Profile gw, write bench/results/profile.json (and profile-raw.txt), print the tables."""
    res["profile"] = prof = profile(args, double, gw)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"profile{_suffix(args)}.json"
    out.write_text(json.dumps(res, indent=2, default=str))
    print(f"\nprofile of worker {prof['worker']} ({prof['key']} key), {prof['samples']} samples over "
          f"{prof['seconds']} s, "
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
    print(f"\n{out} and {RESULTS / f'profile{_suffix(args)}-raw.txt'} (collapsed stacks)")
