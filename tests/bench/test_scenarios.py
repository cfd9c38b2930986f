"""The benchmark's scenario table holds together (no load is run): keys, metrics, targets, and the report from it."""
import json
import pathlib
import re
from dataclasses import replace

import pytest

from bench import report, targets
from bench.scenarios import (ADDED, DURATIONS, KINDS, LIMITS, MEMORY, MEMORY_PAIR, MEMORY_SCENARIO, NOTES, RATIO,
                             SCENARIOS, SHOWS, STREAMS, VS_WITHOUT, WORKER_RSS, Target)

RESULTS = pathlib.Path(__file__).resolve().parents[2] / "bench" / "results"
OLDER_RUN = RESULTS / "20261201T092840Z.json"     # older results are compared with new ones by these keys


def problems(table) -> list[str]:
    """What is wrong with a scenario table; empty when nothing is."""
    out = []
    keys = [s.key for s in table]
    out += [f"scenario key {k} twice" for k in sorted({k for k in keys if keys.count(k) > 1})]
    ids = [t.id for s in table for t in s.targets]
    out += [f"target id {i} twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    if [s for s in table if s.kind == MEMORY] != [MEMORY_SCENARIO]:
        out.append("the memory scenario is not MEMORY_SCENARIO, once")
    for s in table:
        names = [m.name for m in s.metrics]
        if s.kind not in KINDS:
            out.append(f"{s.key}: kind {s.kind!r}")
        if not s.metrics or len(set(names)) != len(names):
            out.append(f"{s.key}: no metrics, or one twice")
        if s.kind != MEMORY and any(s.length not in DURATIONS[mode] for mode in DURATIONS):
            out.append(f"{s.key}: length {s.length!r} is not in DURATIONS")
        vs = targets.VS_DIRECT.get(s.kind, ("", (), ()))
        vs_keys = {targets.added_key(f"{k}_ms") for k in vs[1]} | {targets.ratio_key(k) for k in vs[2]}
        for m in s.metrics:
            if m.show not in SHOWS:
                out.append(f"{s.key}/{m.name}: show {m.show!r}")
            want = {ADDED: targets.added_key(m.name), RATIO: targets.ratio_key(m.name)}.get(m.show)
            if want and want not in vs_keys:
                out.append(f"{s.key}/{m.name}: vs_direct has no {want}")
            if (m.show == VS_WITHOUT) != (m.of is not None) or (m.of is not None and m.of not in names):
                out.append(f"{s.key}/{m.name}: of {m.of!r} with show {m.show!r}")
            if m.show == VS_WITHOUT and s.kind != LIMITS:
                out.append(f"{s.key}/{m.name}: show {m.show!r} is for {LIMITS} scenarios")
        out += [f"{s.key}: a hint for {h}, which it does not report" for h in s.hints if h not in names]
        on = [t.metric for t in s.targets]
        out += [f"{s.key}: two targets on {m}" for m in sorted({m for m in on if on.count(m) > 1})]
        for t in s.targets:
            if t.metric not in names:
                out.append(f"{s.key}/{t.id}: on metric {t.metric}, which the scenario does not report")
            if (t.limit is None) == (t.of_direct is None):
                out.append(f"{s.key}/{t.id}: needs exactly one of limit and of_direct")
            if t.note not in NOTES:
                out.append(f"{s.key}/{t.id}: note {t.note!r}")
            if t.added and t.compared not in vs_keys:
                out.append(f"{s.key}/{t.id}: vs_direct has no {t.compared}")
    return out


def test_the_table_has_no_problems():
    assert problems(SCENARIOS) == []


@pytest.mark.parametrize("break_it, found", [
    (lambda t: t + (t[0],), "scenario key 1_c1 twice"),
    (lambda t: (replace(t[0], targets=(replace(t[0].targets[0], metric="p75_ms"),)),) + t[1:],
     "1_c1/c1_p50: on metric p75_ms, which the scenario does not report"),
    (lambda t: (replace(t[0], targets=t[0].targets + t[1].targets[:1]),) + t[1:], "target id c32_rps twice"),
    (lambda t: (replace(t[0], length="slow"),) + t[1:], "1_c1: length 'slow' is not in DURATIONS"),
    (lambda t: (replace(t[0], hints={"rps_text": "x"}),) + t[1:], "1_c1: a hint for rps_text"),
    (lambda t: (replace(t[1], targets=(Target("x", "x", "rps", "x", limit=1, of_direct=1.1),)),) + t[2:],
     "2_c32/x: needs exactly one of limit and of_direct"),
    (lambda t: tuple(replace(s, metrics=tuple(replace(m, of="rps") if m.of else m for m in s.metrics))
                     for s in t), "7_limits_c32/rps_with: of 'rps'"),
])
def test_the_checks_catch_a_broken_table(break_it, found):
    assert any(p.startswith(found) for p in problems(break_it(SCENARIOS))), problems(break_it(SCENARIOS))


def test_older_results_keep_their_keys():
    old = json.loads(OLDER_RUN.read_text())
    assert set(old["scenarios"]) <= {s.key for s in SCENARIOS}
    old_ids = [t["id"] for t in old["targets"]["switchyard"]]
    assert [i for i in (t.id for s in SCENARIOS for t in s.targets) if i in old_ids] == old_ids   # same order too


def test_every_mode_sets_all_of_the_doubles_mode():
    """Else a field (delay_max_ms after the 20-80 ms scenarios) would carry over into the next scenario."""
    js = (RESULTS.parent / "double.js").read_text()
    fields = set(re.findall(r"(\w+):", re.search(r"const mode = \{([^}]*)\}", js).group(1)))
    assert fields and all(set(s.upstream.mode()) == fields for s in SCENARIOS)


def fake_run(s, gateway: bool) -> dict:
    """A measured run of scenario s with every figure the table's metrics, targets and vs_direct read."""
    if s.kind == MEMORY:
        return {m.name: {"rss_mb": 120.0, "pss_mb": 90.0} for m in s.metrics}
    if s.kind == LIMITS:
        run = {m.name: (1.25 if m.name.endswith("_with") or "_with_" in m.name else 1.2) for m in s.metrics}
        return run | {"limits_cpu_ms_per_req": 0.05, "errors_total": 0, "errors_non2xx": 0, "errors_socket": 0,
                      "errors_text": "0 / 0", "redis_text": "0.001 / 0.030"}
    run = {"failed": 0, "streams": 1000, "requests": 100, "statuses": {"200": 100}, "machine_busy_pct": 50.0}
    marker, adds, ratios = targets.VS_DIRECT[s.kind]
    for name in [marker, *(f"{k}_ms" for k in adds), *ratios, *(m.name for m in s.metrics)]:
        run[name] = (12.5 if gateway else 10.0) if name.endswith("_ms") or name in ("rps", marker) else 0
    run |= {f"worker_rss_mb_{x}": 80.0 for x in ("idle", "peak", "after")} if s.kind == STREAMS else {}
    run |= {"completed": 1000, "ok_rps": run.get("rps"), "errors_non2xx": 0, "errors_socket": 0,
            "double_cpu_ms_per_req": 0.1, "wrk_cpu_ms_per_req": 0.05, "other_cpu_cores": 0.0}
    if gateway:
        run |= {"gateway_cpu_ms_per_req": 1.2, "gateway_cpu_s": 3.0, "gateway_cpu_cores": 1.5}
    else:
        run = {k: v for k, v in run.items() if not k.startswith("gateway_")}
    return run


def fake_results() -> dict:
    sc = {}
    for s in SCENARIOS:
        sc[s.key] = {"switchyard": fake_run(s, True)} | ({} if s.kind in (MEMORY, LIMITS)
                                                         else {"direct": fake_run(s, False)})
        targets.compare(s, sc[s.key], ["switchyard"])
    return {"meta": {"finished_utc": "2026-12-01T00:00:00+00:00", "mode": "quick", "cores": 2, "cpu_model": "test",
                     "git": {"commit": "0" * 40, "dirty": False}, "python": "3.11", "versions": {}, "wrk": "wrk",
                     "node": "v20", "elapsed_s": 60.0},
            "gateways": ["switchyard"], "gateway_config": {}, "scenarios": sc,
            "targets": {"switchyard": targets.evaluate(sc, "switchyard")}, "notes": [], "complete": True}


def test_the_report_renders_every_scenario_and_target_from_the_table():
    res = fake_results()
    md = report.markdown(res)
    rows = [line.split(" | ") for line in md.splitlines() if line.startswith("| ")]
    for s in SCENARIOS:
        heading = s.heading(res["scenarios"][s.key], ["switchyard"])
        mine = {r[1]: r for r in rows if r[0] == f"| {heading}"}
        assert list(mine) == [m.label for m in s.metrics], heading
        for m in s.metrics:
            if m.show in (MEMORY_PAIR, WORKER_RSS):
                assert "/" in mine[m.label][3]
        for t in s.targets:
            met = mine[s.metric(t.metric).label][-1].removesuffix(" |")
            assert met == "yes" or met.startswith("**no** (by"), (t.id, met)    # evaluated, not n/a
    listed = [line for line in md.splitlines() if line.startswith("- switchyard: ")]
    assert len(listed) == sum(len(s.targets) for s in SCENARIOS)
    assert not any("n/a" in line or "not met" in line for line in listed), listed


def test_the_report_says_whether_redis_was_on_and_how_many_workers_ran():
    res = fake_results()
    res["gateway_config"]["switchyard"] = {"workers": 2, "workers_asked": 2, "worker_class": "w",
                                           "redis": {"on": True, "version": "7.0.15"}}
    md = report.markdown(res)
    assert "2 × `w` workers" in md and "Redis on (a private redis-server 7.0.15" in md
    res["gateway_config"]["switchyard"] = {"workers": 1, "workers_asked": 2, "worker_class": "w",
                                           "redis": {"on": False}}
    assert "1 × `w` workers" in report.markdown(res) and "Redis off (no redis-server: 1 worker of the 2 asked for" \
        in report.markdown(res)


def test_the_limits_rows_compare_with_limits_to_without():
    res = fake_results()
    rows = {r.split(" | ")[1]: r for r in report.markdown(res).splitlines() if r.startswith("| 7. limits cost")}
    assert "1 (×1.042)" in rows["requests/s, with limits (rpm + tpm + monthly budget)"]
    assert "1.250 (+0.050)" in rows["gateway CPU ms per request, with limits"]
    assert rows["what the limits add: gateway CPU ms per request"].endswith("| 0.050 | ≤ 0.1 | yes |")
    res["scenarios"]["7_limits_c32"]["switchyard"] |= {"errors_total": 3, "errors_non2xx": 3, "limits_cpu_ms_per_req":
                                                       None}
    t = {t["id"]: t for t in targets.evaluate(res["scenarios"], "switchyard")}
    assert t["limits_errors"]["met"] is False and t["limits_cpu"]["met"] is False     # errors: the cost does not count
    assert "3 non-2xx" in t["limits_cpu"]["note"]
