"""Each gateway against the direct run of the same scenario (vs_direct), and the targets of the table's rows."""
from __future__ import annotations

import os

from bench.drivers import r3
from bench.scenarios import SCENARIOS, STREAMS, TTFB, WRK, Scenario, Target

# What vs_direct holds per kind: (a field only a measured run has, "<x>_added_ms" from "<x>_ms", "<x>_ratio" of x)
VS_DIRECT = {
    WRK: ("rps", ("p50", "p99"), ("rps", "p50_ms", "p99_ms")),
    STREAMS: ("end_p50_ms", ("headers_p50", "headers_p99", "first_data_p50", "first_data_p99", "end_p50", "end_p99",
                             "end_max"), ()),
    TTFB: ("first_data_p50_ms", ("first_byte_p50", "first_byte_p99", "first_data_p50", "first_data_p99",
                                 "total_p50", "total_p99"), ()),
}


def added(direct: dict, gw: dict, key: str) -> float | None:
    if not direct or not gw or direct.get(key) is None or gw.get(key) is None:
        return None
    return r3(gw[key] - direct[key])


def ratio(direct: dict, gw: dict, key: str) -> float | None:
    if not direct or not gw or not direct.get(key) or gw.get(key) is None:
        return None
    return round(gw[key] / direct[key], 3)


def ratio_key(field: str) -> str:
    return field.removesuffix("_ms") + "_ratio"


def added_key(field: str) -> str:
    return field.removesuffix("_ms") + "_added_ms"


def compare(scn: Scenario, entry: dict, gateways: list[str]) -> None:
    """entry["vs_direct"][gateway]: the gateway's figures minus (or over) the direct run's."""
    if scn.kind not in VS_DIRECT:
        return
    marker, adds, ratios = VS_DIRECT[scn.kind]
    d = entry.get("direct") or {}
    for g in gateways:
        gw = entry.get(g) or {}
        if marker in gw:
            entry.setdefault("vs_direct", {})[g] = (
                {added_key(f"{k}_ms"): added(d, gw, f"{k}_ms") for k in adds}
                | {ratio_key(k): ratio(d, gw, k) for k in ratios})


def lookup(d, path: str):
    for p in path.split("."):
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def errors_note(scn: Scenario, run: dict) -> str | None:
    """Why a run's figure may not count: it failed, or it had errors."""
    if not run:
        return None
    if scn.kind == TTFB:
        return f"{run['errors']} of {run['requests']} streams failed (statuses {run['statuses']})" \
            if run.get("errors") else None
    if scn.kind == STREAMS:
        return f"statuses {run.get('statuses')}, errors {run.get('errors')}" if run.get("failed") else None
    if isinstance(run.get("failed"), str):
        return run["failed"]
    if run.get("errors_total"):
        return f"{run['errors_total']} errors ({run['errors_non2xx']} non-2xx, {run['errors_socket']} socket)"
    return None


def machine_note(scn: Scenario, run: dict) -> str | None:
    """How busy the machine was, and how many requests/s the gateway's CPU per request allows on it."""
    note = errors_note(scn, run) if isinstance(run.get("failed"), str) else None
    if run.get("machine_busy_pct") is not None:
        note = f"machine {run['machine_busy_pct']}% busy"
        cpu, cores, ideal = run.get("gateway_cpu_ms_per_req"), os.cpu_count() or 1, scn.ideal_rps
        if cpu and ideal:
            note += (f"; at {cpu} ms CPU per request {cores} cores carry at most {cores * 1000 / cpu:,.0f} "
                     f"req/s, the ideal {ideal:,.0f} req/s needs <= {cores * 1000 / ideal:.2f} ms")
    return note


def note_for(scn: Scenario, t: Target, run: dict) -> str | None:
    if t.note == "errors":
        return errors_note(scn, run)
    if t.note == "failed":
        return run["failed"] if isinstance(run.get("failed"), str) else None
    if t.note == "machine":
        return machine_note(scn, run)
    return None


def verdict(t: Target, text: str, value, limit, note) -> dict:
    if value is None:       # not measured (no process to read) -> n/a; failed to measure (errors) -> not met
        return {"id": t.id, "target": text, "value": None, "met": False if note else None, "by": None,
                "note": note or "not measured"}
    met = value >= limit if t.higher_is_better else value <= limit
    margin = (value - limit) if t.higher_is_better else (limit - value)
    return {"id": t.id, "target": text, "value": r3(value), "limit": limit, "unit": t.unit, "met": met,
            "by": r3(abs(margin)), "by_pct": round(100 * abs(margin) / limit, 1) if limit else None, "note": note}


def check(scn: Scenario, t: Target, entry: dict, g: str) -> dict:
    run = entry.get(g) or {}
    value = lookup((entry.get("vs_direct") or {}).get(g) if t.added else run, t.compared)
    note = note_for(scn, t, run)
    if t.of_direct is not None:
        base = lookup(entry.get("direct") or {}, t.compared)
        if not base:
            return verdict(t, t.text, None, 0, None)
        return verdict(t, f"{t.text} ({base} {t.unit})", value, round(t.of_direct * base, 3), note)
    limit = (run.get(t.limit_field) if t.limit_field else None) or t.limit
    return verdict(t, t.text, value, limit, note)


def evaluate(sc: dict, g: str, table: tuple[Scenario, ...] = SCENARIOS) -> list[dict]:
    """The targets for gateway g, in the table's order: value, limit, met, and by how much."""
    return [check(scn, t, sc.get(scn.key) or {}, g) for scn in table for t in scn.targets]
