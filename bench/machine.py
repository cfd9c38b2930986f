"""The machine a run is on: versions, commit and tools, file descriptors, and other processes' CPU use."""
from __future__ import annotations

import contextlib
import os
import platform
import resource
import shutil
import subprocess
import time
from datetime import datetime, timezone
from importlib import metadata

from bench.procs import Abort, machine_ticks, say
from bench.subjects import ROOT


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
