"""Routes that survive provider failures: fallback, retries, timeouts, pauses, weights, cooldowns, through HTTP."""
import time

import openai
import pytest
import requests

from tests.support.logs import log_row as wait_row
from tests.support.openapi import assert_valid

HELLO = [{"role": "user", "content": "Hello"}]
E500 = {"status": 500, "body": {"error": {"message": "upstream exploded"}}}


def _raw(client, model, **kw):
    return client.chat.completions.with_raw_response.create(model=model, messages=HELLO, **kw)


def test_primary_429_then_fallback_serves(client, double):
    double.enqueue("gpt-4o-2024-08-06", {"status": 429, "body": {"error": {"message": "slow down"}}})
    raw = _raw(client, "smart")
    assert raw.parse().model == "smart"
    assert raw.headers["x-gateway-fallback-used"] == "true"
    assert raw.headers["x-gateway-model"] == "gpt-4o-mini"
    assert raw.headers["x-gateway-attempts"] == "openai/gpt-4o-2024-08-06:rate_limited,openai/gpt-4o-mini:ok"


def test_retries_are_used_up_before_falling_back(client, double):
    double.enqueue("gpt-4o-2024-08-06", E500, E500, E500)
    raw = _raw(client, "sturdy")
    assert double.calls["gpt-4o-2024-08-06"] == 3                 # first try + 2 retries
    assert double.calls["backup-a"] == 1 and raw.headers["x-gateway-fallback-used"] == "true"
    assert double.last().body["max_tokens"] == 7                   # the fallback target's own override
    assert raw.headers["x-gateway-attempts"].count("provider_unavailable") == 3


def test_retry_then_success_on_the_same_target(client, double):
    double.enqueue("gpt-4o-2024-08-06", E500)
    raw = _raw(client, "sturdy")
    assert double.calls["gpt-4o-2024-08-06"] == 2 and double.calls["backup-a"] == 0
    assert raw.headers["x-gateway-fallback-used"] == "false"


def test_non_retryable_error_does_not_fall_back(client, double):
    double.enqueue("gpt-4o-2024-08-06", {"status": 400, "body": {"error": {"message": "bad prompt"}}})
    with pytest.raises(openai.BadRequestError) as info:
        _raw(client, "sturdy")
    assert info.value.code == "invalid_request" and "bad prompt" in info.value.body["message"]
    assert double.calls["gpt-4o-2024-08-06"] == 1 and double.calls["backup-a"] == 0


def test_timeout_falls_back_within_the_route_timeout(client, double):
    double.enqueue("slow-a", {"delay": 2.5})
    t0 = time.monotonic()
    raw = _raw(client, "quick")
    elapsed = time.monotonic() - t0
    assert raw.headers["x-gateway-model"] == "fast-a" and raw.headers["x-gateway-fallback-used"] == "true"
    assert raw.headers["x-gateway-attempts"].startswith("local/slow-a:timeout,")
    assert elapsed < 2.0                                           # the 1 s route timeout cut the slow target


def test_all_targets_fail_returns_the_last_error_with_attempts(live, api_key, double):
    double.enqueue("gpt-4o-2024-08-06", E500)
    double.enqueue("gpt-4o-mini", {"status": 429, "body": {"error": {"message": "quota"}}, "headers": {"retry-after": "7"}})
    resp = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {api_key}"},
                         json={"model": "smart", "messages": HELLO})
    assert resp.status_code == 429 and resp.json()["error"]["code"] == "rate_limited"
    assert resp.headers["retry-after"] == "7"
    assert resp.headers["x-gateway-attempts"] == \
        "openai/gpt-4o-2024-08-06:provider_unavailable,openai/gpt-4o-mini:rate_limited"
    assert_valid(resp.json(), "ErrorResponse")


def test_paused_route_and_broken_route(client):
    with pytest.raises(openai.NotFoundError) as info:
        _raw(client, "paused")
    assert info.value.code == "route_disabled"
    with pytest.raises(openai.BadRequestError) as info:
        _raw(client, "broken")
    assert info.value.code == "route_not_found"


def test_endpoint_mismatch_retired_model_and_effort_outside_the_table(client):
    with pytest.raises(openai.BadRequestError) as info:
        _raw(client, "openai/o3-pro")
    assert info.value.code == "endpoint_mismatch" and "/v1/responses" in info.value.body["message"]
    with pytest.raises(openai.APIStatusError) as info:
        _raw(client, "openai/gpt-old")
    assert info.value.status_code == 410 and info.value.code == "model_retired"
    assert "openai/gpt-4o-mini" in info.value.body["message"]
    with pytest.raises(openai.BadRequestError) as info:
        _raw(client, "local/tuned:medium")
    assert info.value.body["param"] == "model" and "low, high" in info.value.body["message"]


def test_weighted_split_serves_both_equal_priority_targets_and_never_the_fallback(live, api_key, double, services):
    """Weights 3:1 among equal priority, then a lower priority. The split's statistics are proven on resolve() in
    tests/gateway/test_routing_unit.py; here, that the stored route reaches it with its weights and priorities,
    and that over HTTP both equal-priority targets take turns (50 requests: one of them never served has a
    chance of 0.75**50, below 1e-6) while the lower priority is never called."""
    route = services.catalog.snapshot.routes["split"]
    assert [(t.model, t.priority, t.weight) for t in route.targets] == [
        ("local/heavy", 0, 3), ("local/light", 0, 1), ("openai/gpt-4o-mini", 1, 1)]
    session = requests.Session()
    served = {"heavy": 0, "light": 0}
    for _ in range(50):
        resp = session.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {api_key}"},
                            json={"model": "split", "messages": HELLO})
        assert resp.status_code == 200 and resp.headers["x-gateway-fallback-used"] == "false"
        served[resp.headers["x-gateway-model"]] += 1
    assert served["heavy"] > 0 and served["light"] > 0, served
    assert (double.calls["heavy"], double.calls["light"]) == (served["heavy"], served["light"])
    assert double.calls["gpt-4o-mini"] == 0                        # the lower priority is only a fallback


@pytest.fixture
def fast_breaker(use_breaker):
    return use_breaker(threshold=2, cooldown_s=0.4)


def test_cooldown_after_repeated_failures_then_one_probe(client, double, fast_breaker, services):
    double.enqueue("flaky", E500, E500)
    for _ in range(2):                                             # two failures: the threshold
        assert _raw(client, "guarded").headers["x-gateway-model"] == "steady"
    assert double.calls["flaky"] == 2
    skipped = _raw(client, "guarded")                              # cooling down: not even tried
    assert double.calls["flaky"] == 2 and skipped.headers["x-gateway-model"] == "steady"
    assert skipped.headers["x-gateway-attempts"].startswith("local/flaky:cooldown,")
    # while it cools down, check() only tells when that ends (it claims the probe only after): wait for that
    until = fast_breaker.check("local/flaky")
    assert until is not None and until > time.time()
    time.sleep(until - time.time() + 0.02)
    probe = _raw(client, "guarded")                                # cooldown over: one probe, which succeeds
    assert double.calls["flaky"] == 3 and probe.headers["x-gateway-model"] == "flaky"
    assert probe.headers["x-gateway-fallback-used"] == "false"
    assert _raw(client, "guarded").headers["x-gateway-model"] == "flaky"


def test_when_every_target_cools_down_the_first_to_recover_is_tried(client, double, fast_breaker):
    for label in ("local/flaky", "local/steady"):
        fast_breaker.failure(label)
        fast_breaker.failure(label)
    raw = _raw(client, "guarded")
    assert raw.headers["x-gateway-model"] in ("flaky", "steady")   # a call is made rather than failing outright
    assert double.calls["flaky"] + double.calls["steady"] == 1


def test_every_attempt_is_recorded_with_the_log_row(client, double, services):
    from sqlalchemy import select

    from models import RequestAttempt, RequestLog
    double.enqueue("gpt-4o-2024-08-06", E500, E500, E500)
    raw = _raw(client, "sturdy")
    rid = raw.headers["x-request-id"]
    wait_row(services, rid)
    with services.sessionmaker() as s:
        log_row = s.scalar(select(RequestLog).where(RequestLog.request_id == rid))
        attempts = s.scalars(select(RequestAttempt).where(RequestAttempt.request_id == rid)
                             .order_by(RequestAttempt.position)).all()
    assert (log_row.route, log_row.attempts, log_row.fallback_used, log_row.upstream_model) == \
        ("sturdy", 4, True, "backup-a")
    assert [(a.target, a.status, a.error_code) for a in attempts] == [
        ("openai/gpt-4o-2024-08-06", 500, "provider_unavailable")] * 3 + [("local/backup-a", 200, None)]
    assert all(a.latency_ms is not None and a.latency_ms >= 0 for a in attempts)
    assert "upstream exploded" in attempts[0].error_message


def test_a_request_the_adapter_cannot_build_is_our_fault_and_the_next_target_serves(client, double, services,
                                                                                     monkeypatch):
    """A translation bug for one target is `internal` on its attempt (never provider_unavailable, never retried,
    no cooldown), and the route's next target serves; without another target the client gets 500 internal."""
    from gateway.providers.openai import OpenAIAdapter
    real = OpenAIAdapter.build_request

    def broken(self, body, target, stream=False):
        if target.upstream_model == "gpt-4o-2024-08-06":
            raise TypeError("unsupported operand")
        return real(self, body, target, stream)
    monkeypatch.setattr(OpenAIAdapter, "build_request", broken)
    resp = _raw(client, "smart")
    assert resp.http_response.status_code == 200
    row = wait_row(services, resp.headers["x-request-id"])
    assert row.fallback_used and row.provider == "openai" and row.upstream_model == "gpt-4o-mini"
    assert double.calls.get("gpt-4o-2024-08-06", 0) == 0           # nothing was sent for the broken one
    with pytest.raises(openai.InternalServerError) as e:
        _raw(client, "openai/gpt-4o")
    assert e.value.status_code == 500 and e.value.body["code"] == "internal"
    assert "could not translate this request for openai/gpt-4o-2024-08-06 (TypeError)" in e.value.body["message"]
