"""Metrics on hand-built records and snapshots: labels only from the catalog, the provider of a failure, the
in-flight gauges, the scrape-time counts (cooling targets, spilled rows) and the Prometheus names."""
import os
import time

import pytest

from gateway.catalog import ModelConf, ProviderConf, RouteConf, RouteTargetConf, Snapshot
from gateway.cooldown import LocalBreaker
from gateway.log_writer import LogWriter
from gateway.values import Usage
from gateway.record import Attempt, RequestRecord
from gateway.routing import resolve
from gateway.telemetry import Metrics, SpillCounter, cooling_count, target_labels

SNAP = Snapshot(
    providers={"openai": ProviderConf("openai", "openai", "http://o", "k"),
               "ollama": ProviderConf("ollama", "openai", "http://l", "k")},
    models={"openai/gpt-4o": ModelConf("openai/gpt-4o", "openai", "gpt-4o-2024-08-06", None),
            "openai/gpt-4o-mini": ModelConf("openai/gpt-4o-mini", "openai", "gpt-4o-mini", None)},
    routes={"r": RouteConf("r", (RouteTargetConf("openai/gpt-4o:high", 0), RouteTargetConf("ollama/llama3:8b", 1),
                                 RouteTargetConf("gpt-4.1", 2)))},
    loaded_at=0)


def _rec(**kw) -> RequestRecord:
    rec = RequestRecord("req_1", "chat.completions")
    for k, v in kw.items():
        setattr(rec, k, v)
    return rec


def _value(m: Metrics, name: str, **labels) -> float:
    return m.registry.get_sample_value(name, labels) or 0.0


def test_the_catalog_labels_are_what_routing_resolves_configured_names_to():
    labels = target_labels(SNAP)
    assert labels == {"openai/gpt-4o-2024-08-06", "openai/gpt-4o-mini", "ollama/llama3:8b", "openai/gpt-4.1"}
    for name in ("r", "openai/gpt-4o", "gpt-4o-mini", "openai/gpt-4o:low"):
        assert {t.label for t in resolve(name, SNAP).targets} <= labels
    assert resolve("openai/made-up-1", SNAP).targets[0].label not in labels   # resolvable, but not configured


def test_a_made_up_model_counts_under_other():
    m = Metrics()
    for name in ("openai/made-up-1", "openai/made-up-2", "gpt-made-up-3"):
        target = resolve(name, SNAP).targets[0]
        m.observe(_rec(provider="openai", upstream_model=target.upstream_model, usage=Usage(10, 2),
                       attempts=[Attempt(target.label, 200)]), 0.1, 0.001, SNAP)
    m.observe(_rec(provider="openai", upstream_model="gpt-4o-mini", usage=Usage(1, 1),
                   attempts=[Attempt("openai/gpt-4o-mini", 200)]), 0.1, 0.001, SNAP)
    text = m.exposition(LogWriter(None, "/nonexistent"), LocalBreaker()).decode()
    assert "made-up" not in text
    assert _value(m, "switchyard_tokens_total", provider="openai", model="other", kind="prompt") == 30
    assert _value(m, "switchyard_tokens_total", provider="openai", model="gpt-4o-mini", kind="prompt") == 1
    assert _value(m, "switchyard_upstream_attempts_total", target="other", code="ok") == 3
    assert _value(m, "switchyard_unpriced_requests_total", provider="openai", model="other") == 3


def test_a_failure_counts_under_the_provider_last_tried_and_none_when_nothing_was_tried():
    m = Metrics()
    m.observe(_rec(status=502, error_code="provider_unavailable", attempts=[
        Attempt("ollama/llama3:8b", None, "cooldown"),
        Attempt("openai/gpt-4o-2024-08-06", 500, "provider_unavailable"),
        Attempt("ollama/llama3:8b", 503, "provider_unavailable")]), 0.1, 0.001, SNAP)
    m.observe(_rec(status=502, error_code="provider_unavailable", attempts=[
        Attempt("openai/gpt-4o-2024-08-06", 500, "provider_unavailable"), Attempt("ollama/llama3:8b", None, "cooldown")]),
        0.1, 0.001, SNAP)
    m.observe(_rec(status=401, error_code="auth_invalid"), 0.1, 0.001, SNAP)
    code = dict(endpoint="chat.completions", code="provider_unavailable", stream="false")
    assert _value(m, "switchyard_requests_total", provider="ollama", **code) == 1
    assert _value(m, "switchyard_requests_total", provider="openai", **code) == 1     # a cooldown skip is no try
    assert _value(m, "switchyard_requests_total", endpoint="chat.completions", provider="none",
                  code="auth_invalid", stream="false") == 1
    assert _value(m, "switchyard_upstream_attempts_total", target="ollama/llama3:8b", code="cooldown") == 2


def test_in_flight_gauges_go_up_at_the_start_and_down_once_at_the_end():
    m = Metrics()
    plain, stream = _rec(), _rec(stream=True)
    m.request_started(plain)
    m.request_started(stream)
    m.stream_started(stream)
    m.stream_started(stream)                       # idempotent
    assert (_value(m, "switchyard_requests_in_flight"), _value(m, "switchyard_streams_in_flight")) == (2, 1)
    m.observe(plain, 0.1, 0.001, SNAP)
    assert (_value(m, "switchyard_requests_in_flight"), _value(m, "switchyard_streams_in_flight")) == (1, 1)
    m.observe(stream, 0.1, 0.001, SNAP)
    m.observe(_rec(), 0.1, 0.001, SNAP)            # a record never counted as started takes nothing away
    assert (_value(m, "switchyard_requests_in_flight"), _value(m, "switchyard_streams_in_flight")) == (0, 0)


def test_durations_follow_the_prometheus_names():
    m = Metrics()
    m.observe(_rec(), 0.2, 0.001, SNAP)
    text = m.exposition(LogWriter(None, "/nonexistent"), LocalBreaker()).decode()
    for name in ("switchyard_request_duration_seconds_bucket", "switchyard_overhead_duration_seconds_bucket",
                 "switchyard_requests_total", "switchyard_requests_in_flight", "switchyard_streams_in_flight",
                 "switchyard_log_queue_rows", "switchyard_targets_cooling_down", "switchyard_log_spilled_rows"):
        assert f"\n{name}" in text
    assert "switchyard_request_seconds" not in text and "switchyard_overhead_seconds" not in text


def test_cooling_targets_are_counted_until_their_cooldown_ends():
    breaker = LocalBreaker(threshold=1, window_s=60, cooldown_s=30)
    assert cooling_count(breaker) == 0
    breaker.failure("openai/a")
    breaker.failure("openai/b")
    assert cooling_count(breaker) == 2
    assert cooling_count(breaker, now=time.time() + 31) == 0
    breaker.success("openai/a")
    assert cooling_count(breaker) == 1


def test_spilled_rows_are_counted_as_appended_and_start_over_when_a_replay_claims_the_file(tmp_path):
    path = tmp_path / "unwritten-logs.jsonl"
    counter = SpillCounter(str(path))
    assert counter.count() == 0
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n')
    assert counter.count() == 2
    with open(path, "ab") as f:
        f.write(b'{"a": 3}\n{"a": 4')                   # the last row is still being written
    assert counter.count() == 3
    with open(path, "ab") as f:
        f.write(b'}\n')
    assert counter.count() == 4
    os.replace(path, str(path) + ".replaying.123.ab")   # replay claimed them: not in the database yet
    path.write_bytes(b'{"b": 1}\n')
    assert counter.count() == 5
    os.remove(str(path) + ".replaying.123.ab")          # replayed
    assert counter.count() == 1


@pytest.mark.parametrize("rows", [0, 3])
def test_the_scrape_reports_spilled_rows_and_the_backlog(tmp_path, rows):
    writer = LogWriter(None, str(tmp_path))
    (tmp_path / "unwritten-logs.jsonl").write_text('{"x": 1}\n' * rows)
    for _ in range(rows):
        writer._q.put({"request_id": "queued"})          # queued, not written (the writer thread never started)
    m = Metrics()
    text = m.exposition(writer, LocalBreaker()).decode()
    assert f"switchyard_log_spilled_rows {float(rows)}" in text
    assert f"switchyard_log_queue_rows {float(rows)}" in text
