"""The report: bench/results/latest.md rendered row by row from the scenario table, and the results files."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from bench.scenarios import (ADDED, FAST, GATEWAY, LIMITS, MEMORY_PAIR, RATIO, SCENARIOS, VS_WITHOUT, WORKER_RSS,
                             WRK, Metric, Scenario)
from bench.targets import added_key, ratio_key

RESULTS = Path(__file__).resolve().parent / "results"
NO_DIRECT = (GATEWAY, MEMORY_PAIR, WORKER_RSS, VS_WITHOUT)


def fmt(x, nd=2):
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def delta(x, nd=2):
    return "" if x is None else f" ({'+' if x >= 0 else ''}{x:.{nd}f})"


def met_cell(t: dict | None) -> str:
    if t is None:
        return ""
    if t["met"]:
        return "yes"
    if t["met"] is None:
        return "n/a"
    if t["value"] is None:
        return f"**no** ({t.get('note')})"
    if t.get("by_pct") is not None:
        return f"**no** (by {t['by']:g} {t['unit']}, {t['by_pct']}%)"
    return f"**no** ({t['value']} {t['unit']})"


def gateway_cell(m: Metric, run: dict, vs: dict):
    """What a gateway's column shows on metric m's row: a string, or a number for fmt()."""
    v = run.get(m.name)
    if m.show == RATIO:
        return f"{fmt(v, m.nd)} (×{fmt(vs.get(ratio_key(m.name)), 3)})"
    if m.show == ADDED:
        return fmt(v, m.nd) + delta(vs.get(added_key(m.name)))
    if m.show == MEMORY_PAIR:
        return f"{fmt(v.get('rss_mb'), 1)} / {fmt(v.get('pss_mb'), 1)}" if v else "—"
    if m.show == WORKER_RSS:
        return " / ".join(fmt(run.get(f"worker_rss_mb_{x}"), 1) for x in ("idle", "peak", "after"))
    if m.show == VS_WITHOUT:
        base = run.get(m.of)
        if v is None or base is None or (m.as_ratio and not base):
            return fmt(v, m.nd)
        if m.as_ratio:
            return f"{fmt(v, m.nd)} (×{v / base:.3f})"
        return fmt(v, m.nd) + delta(v - base, m.nd)
    return v


def scenario_rows(scn: Scenario, entry: dict, gws: list[str], tmap: dict) -> list[list[str]]:
    """The table rows of one scenario: one per metric (a single "failed" row when a wrk run failed)."""
    title = scn.heading(entry, gws)
    d, vs = entry.get("direct") or {}, entry.get("vs_direct") or {}
    runs = {g: entry.get(g) or {} for g in gws}
    if scn.kind in (WRK, LIMITS) and (d.get("failed") or any(r.get("failed") for r in runs.values())):
        return [[title, "failed", str(d.get("failed", "ok")), *(str(r.get("failed", "ok")) for r in runs.values()),
                 "", *("" for _ in gws)]]
    rows = []
    for m in scn.metrics:
        if m.optional and not any(m.name in r for r in runs.values()):
            continue
        t = scn.target_on(m.name)
        cells = [title, m.label, "—" if m.show in NO_DIRECT else fmt(d.get(m.name), m.nd)]
        for g in gws:
            v = gateway_cell(m, runs[g], vs.get(g, {}))
            cells.append(v if isinstance(v, str) else fmt(v, m.nd))
        cells.append(t.cell if t else scn.hints.get(m.name, ""))
        cells += [met_cell(tmap[g].get(t.id)) if t else "" for g in gws]
        rows.append(cells)
    return rows


def target_line(g: str, t: dict) -> str:
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
    return f"- {g}: {t['target']}: {verdict}{note}"


def redis_text(conf: dict) -> str:
    """The report header's word on Redis: on (the workers share the limit counters) or off (so one worker)."""
    r = conf.get("redis")
    if r is None:           # results from before the limits work
        return "no Redis"
    if r.get("on"):
        return (f"Redis on (a private redis-server {r.get('version')}: the {conf.get('workers')} workers share the "
                f"limit counters there)")
    return (f"Redis off (no redis-server: {conf.get('workers')} worker of the {conf.get('workers_asked')} asked for, "
            f"limits counted in process)")


def markdown(res: dict, table: tuple[Scenario, ...] = SCENARIOS) -> str:
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
                  f"{redis_text(c)}, request logging on, a real key, a priced model; the double, wrk and the gateway "
                  f"share the machine's cores.", ""]
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
    for scn in table:
        lines += ["| " + " | ".join(cells) + " |" for cells in scenario_rows(scn, sc.get(scn.key) or {}, gws, tmap)]

    lines += ["", "Values through a gateway are followed by the difference from the direct run of the same scenario "
              "(ms) or the ratio to it (×). Direct = wrk (or the stream clients) straight to the double.", ""]
    lines += ["## Targets", ""]
    lines += [target_line(g, t) for g in gws for t in res["targets"].get(g, [])]
    lines += ["", "## The double and the load generator", ""]
    dd = res.get("double_alone", {})
    if dd:
        lines.append(f"- The double alone (wrk straight to it, c=32): {fmt(dd.get('plain', {}).get('rps'), 0)} "
                     f"non-streaming requests/s at {fmt(dd.get('plain', {}).get('double_cpu_ms_per_req'), 3)} ms CPU "
                     f"each; {fmt(dd.get('stream', {}).get('rps'), 0)} streams/s of {FAST.chunks} chunks.")
    for scn in (s for s in table if s.load_note):
        for g in gws:
            r = (sc.get(scn.key) or {}).get(g) or {}
            if r.get("rps"):
                lines.append(f"- {scn.key} through {g}: machine {r['machine_busy_pct']}% busy; the double "
                             f"{r['double_cpu_ms_per_req']} ms and wrk {r['wrk_cpu_ms_per_req']} ms CPU per request; "
                             f"the gateway {r.get('gateway_cpu_cores', '—')} cores; other processes "
                             f"{r.get('other_cpu_cores')} cores.")
    for g, info in res.get("gateway_checks", {}).items():
        unavailable = "".join(f", {n} × \"{what}\"" for what, n in info["log"].get("store_unavailable", {}).items()
                              if n)
        lines.append(f"- {g} log: {info['log']['tracebacks']} tracebacks, {info['log']['error_lines']} ERROR lines, "
                     f"{info['log']['worker_timeouts']} worker timeouts{unavailable}; request_logs rows: "
                     f"{info['request_logs'].get('rows')} ({info['request_logs'].get('with_cost')} with a cost) for "
                     f"{info['ok_answers']} 2xx answers the clients saw"
                     + "".join(f"; {b['rows']} × status {b['status']}"
                               f"{' ' + b['error_code'] if b['error_code'] else ''}"
                               f"{' stream' if b['stream'] else ''}"
                               for b in info["request_logs"].get("by_status", [])) + ".")
    counters = {k: v for k, v in res.get("redis_keys", {}).items() if "ledger:" in k or "LIMITER/" in k}
    if counters:
        lines.append("- The limit counters in Redis at the end (the limited key's; money in units of 10⁻⁸ USD): "
                     + "; ".join(f"`{k}` = {v}" for k, v in counters.items()) + ".")
    if res.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in res["notes"]]
    return "\n".join(lines) + "\n"


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
