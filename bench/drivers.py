"""The load drivers: wrk (bench/chat.lua), the sequential streaming client (bench/ttfb.py), bench/streams.js."""
from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import subprocess
import time
from collections import Counter
from dataclasses import replace

from bench import ttfb
from bench.procs import CLK_TCK, MemSampler, cpu_ms, cpu_ticks, machine_ticks, memory
from bench.subjects import BENCH, Double, Subject, chat_body, request

SETTLE_S = 0.6        # after a run, before reading the gateway's CPU: the log writer flushes every 0.25 s


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
    aux = [subj.redis_pid] if subj.redis_pid else []
    g0, d0, x0 = cpu_ticks(subj.pids()), cpu_ticks([double.proc.pid]), cpu_ticks(aux)
    m0, r0, s0 = machine_ticks(), resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    sampler = MemSampler(subj.pids) if subj.root_pid else contextlib.nullcontext()
    with sampler:
        cp = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    m1, r1 = machine_ticks(), resource.getrusage(resource.RUSAGE_CHILDREN)
    if subj.root_pid:
        time.sleep(SETTLE_S)
    g1, d1, x1 = cpu_ticks(subj.pids()), cpu_ticks([double.proc.pid]), cpu_ticks(aux)
    m2, s1 = machine_ticks(), resource.getrusage(resource.RUSAGE_SELF)
    wrk_ms = ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) * 1000
    own_ms = ((s1.ru_utime - s0.ru_utime) + (s1.ru_stime - s0.ru_stime)) * 1000
    gw_ms, dbl_ms, redis_ms = cpu_ms(g0, g1), cpu_ms(d0, d1), cpu_ms(x0, x1)
    # CPU of everything else on the machine meanwhile (other people's processes; a peer without --target-pid)
    span_ms = (m2[1] - m0[1]) * 1000 / CLK_TCK / max(1, os.cpu_count() or 1)
    other_cores = ((m2[0] - m0[0]) * 1000 / CLK_TCK - gw_ms - dbl_ms - redis_ms - wrk_ms - own_ms) / max(1.0, span_ms)
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
    if aux:
        res["redis_cpu_ms_per_req"] = r3(redis_ms / max(1, n))
    return res


def run_limits(subj: Subject, conc: int, seconds: float, double: Double) -> dict:
    """Scenario 7: the same wrk run twice, back to back, with the usual key (no limits) and then with the limited
    one (an rpm, a tpm and a budget: every request counted on flask-limiter's window and reserved and settled on the
    ledger); what the limits cost is the difference in the gateway's CPU per request. Any error counts, a 429 (the
    limits refused) first of all. A probe with the limited key first checks its limits apply (x-ratelimit-*)."""
    limited = replace(subj, headers=subj.limited_headers, ok_answers=0)
    status, headers, body = request("POST", subj.url, chat_body(subj.model, False), limited.headers)
    limited.ok_answers += status == 200
    applied = {k: v for k, v in headers.items() if k.startswith("x-ratelimit-")}
    probe_ = {"status": status, "ratelimit_headers": applied, "body_start": body[:200].decode(errors="replace")}
    if status != 200 or "x-ratelimit-limit-requests" not in applied or "x-ratelimit-limit-tokens" not in applied:
        subj.ok_answers += limited.ok_answers
        return {"failed": f"the limited key's probe: status {status}, headers {applied}", "probe": probe_}
    plain = run_wrk(subj, conc, seconds, False, double)
    with_limits = run_wrk(limited, conc, seconds, False, double)
    subj.ok_answers += limited.ok_answers
    out = {"concurrency": conc, "probe": probe_, "without": plain, "with": with_limits}
    for arm, run in (("without", plain), ("with", with_limits)):
        if isinstance(run.get("failed"), str):
            return out | {"failed": f"{arm} limits: {run['failed']}"}
    arms = (plain, with_limits)
    errors = {k: sum(r[k] for r in arms) for k in ("errors_total", "errors_non2xx", "errors_socket")}
    cpu0, cpu1 = plain.get("gateway_cpu_ms_per_req"), with_limits.get("gateway_cpu_ms_per_req")
    cost = r3(cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None
    out |= errors | {
        "rps_without": plain["rps"], "rps_with": with_limits["rps"],
        "rps_with_ratio": round(with_limits["rps"] / plain["rps"], 3) if plain["rps"] else None,
        "p50_without_ms": plain["p50_ms"], "p50_with_ms": with_limits["p50_ms"],
        "p99_without_ms": plain["p99_ms"], "p99_with_ms": with_limits["p99_ms"],
        "errors_text": f"{plain['errors_total']} / {with_limits['errors_total']}",
        "cpu_without_ms_per_req": cpu0, "cpu_with_ms_per_req": cpu1,
        # with an error in either arm the difference does not count (a refused request costs less)
        "limits_cpu_ms_per_req": None if errors["errors_total"] else cost, "limits_cpu_ms_per_req_measured": cost,
        "other_cpu_cores": max(r["other_cpu_cores"] for r in arms),
        "machine_busy_pct": with_limits["machine_busy_pct"]}
    if "redis_cpu_ms_per_req" in with_limits:
        out |= {"redis_cpu_without_ms_per_req": plain["redis_cpu_ms_per_req"],
                "redis_cpu_with_ms_per_req": with_limits["redis_cpu_ms_per_req"],
                "redis_text": f"{plain['redis_cpu_ms_per_req']:.3f} / {with_limits['redis_cpu_ms_per_req']:.3f}"}
    return out


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
