"""Processes the harness starts (and always stops), what /proc says about CPU time and memory, and its log line."""
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1
T0 = time.monotonic()


def say(msg: str) -> None:
    print(f"[bench {time.monotonic() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


class Abort(Exception):
    """The run cannot go on (a tool missing, a process that would not start): stop everything, keep the notes."""


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the harness dies without cleaning up (kill -9, crash)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class Processes:
    """Every long-lived process the harness starts, each in its own process group; stop() or stop_all() ends them."""

    def __init__(self) -> None:
        self._procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], *, cwd, env: dict | None = None, log_path=None,
              stdin_pipe: bool = False) -> subprocess.Popen:
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL
        try:
            p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                                 start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            if log_path:
                out.close()
        self._procs.append((name, p))
        return p

    def find(self, pid: int) -> subprocess.Popen:
        return next(p for _, p in self._procs if p.pid == pid)

    def stop(self, p: subprocess.Popen, grace_s: float = 15.0) -> None:
        """SIGTERM to the process (gunicorn's master stops its workers), then SIGKILL to what is left of its group."""
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
            try:
                p.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
                p.wait(5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)       # the group is ours: start_new_session gave it the pid as id
        if p.stdin:
            with contextlib.suppress(OSError):
                p.stdin.close()
        self._procs = [(n, q) for n, q in self._procs if q is not p]

    def stop_all(self) -> None:
        for _, p in reversed(list(self._procs)):
            with contextlib.suppress(Exception):
                self.stop(p)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()     # fields from the 3rd (state) on


def process_tree(root: int | None) -> list[int]:
    """root and all its descendants that are alive now."""
    if not root or not os.path.exists(f"/proc/{root}"):
        return []
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                children.setdefault(int(_stat(int(d))[1]), []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, stack = [root], [root]
    while stack:
        for c in children.get(stack.pop(), ()):
            out.append(c)
            stack.append(c)
    return out


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    """pid -> utime + stime in clock ticks (all threads of the process)."""
    out = {}
    for pid in pids:
        try:
            f = _stat(pid)
            out[pid] = int(f[11]) + int(f[12])
        except (OSError, IndexError, ValueError):
            pass
    return out


def cpu_ms(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU used between two cpu_ticks() samples; a process born in between counts from zero."""
    return sum(t - before.get(pid, 0) for pid, t in after.items()) * 1000.0 / CLK_TCK


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    total = sum(v[:8])
    return total - idle, total


def _kb(path: str, field: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(pids: list[int]) -> dict:
    """Resident memory of the processes: the plain sum of RSS (shared pages counted in each process, the
    conservative figure) and the sum of PSS (shared pages divided among their users: what they really hold)."""
    each = {pid: _kb(f"/proc/{pid}/status", "VmRSS:") for pid in pids}
    pss = sum(_kb(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in pids)
    return {"rss_mb": round(sum(each.values()) / 1024, 1), "pss_mb": round(pss / 1024, 1),
            "processes": len(pids), "rss_mb_each": {str(p): round(k / 1024, 1) for p, k in each.items()}}


class MemSampler:
    """Samples memory(pids_fn()) every interval in a thread while in the `with` block; keeps the peaks."""

    def __init__(self, pids_fn, interval_s: float = 0.3):
        self._pids_fn = pids_fn
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mem-sampler", daemon=True)
        self.peak = {"rss_mb": 0.0, "pss_mb": 0.0, "processes": 0, "rss_mb_each": {}}
        self.samples = 0

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval)

    def sample(self) -> None:
        m = memory(self._pids_fn())
        self.samples += 1
        for k in ("rss_mb", "pss_mb", "processes"):
            self.peak[k] = max(self.peak[k], m[k])
        for pid, mb in m["rss_mb_each"].items():
            self.peak["rss_mb_each"][pid] = max(self.peak["rss_mb_each"].get(pid, 0.0), mb)

    def __enter__(self) -> "MemSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sample()


def wait_until(check, timeout_s: float, interval_s: float = 0.1, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    last_error = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as e:  # noqa: BLE001 - keep polling until the deadline
            last_error = e
        time.sleep(interval_s)
    raise TimeoutError(f"{what} not reached within {timeout_s:g} s" + (f" (last error: {last_error})"
                                                                        if last_error else ""))
