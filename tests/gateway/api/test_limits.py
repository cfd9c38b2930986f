"""Keys, teams and the limits that hold exactly, through the HTTP API of a live server (counters in this process,
or in Redis when REDIS_URL is set, as in CI): request rates with the x-ratelimit headers counting down, a 400 that
never counts, token limits reserved and settled to the real usage (streams too), budgets under concurrency within
the stated bound, team limits over every key of the team, quotas, rotation, expiry, revocation, and the log rows
of refused requests."""
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import openai
import pytest
import requests
from sqlalchemy import select

from gateway.admission import estimate_prompt_tokens
from gateway.keys import Limits, create_key, revoke, rotate
from models import ApiKey, Team
from tests.support.double import openai_completion, openai_stream
from tests.support.logs import log_row

HELLO = [{"role": "user", "content": "Hello"}]


def _key(services, name="limited", **limits) -> tuple[ApiKey, str]:
    extra = {k: limits.pop(k) for k in ("team_id", "allowed_models", "expires_at") if k in limits}
    return create_key(services.sessionmaker, name, limits=Limits(**limits, extra=extra))


def _team(services, name, **limits) -> int:
    with services.sessionmaker() as s, s.begin():
        row = Team(name=f"{name}-{time.time_ns()}", budget_period="month")
        Limits(**limits).apply(row)
        s.add(row)
        s.flush()
        return row.id


def _chat(live, secret, body=None, **headers) -> requests.Response:
    return requests.post(f"{live.url}/v1/chat/completions", timeout=20,
                         headers={"Authorization": f"Bearer {secret}", **headers},
                         json=body or {"model": "openai/gpt-4o-mini", "messages": HELLO})


def _counter(services, prefix: str) -> int:
    """The value of the one ledger counter whose name starts with `prefix` (memory or Redis)."""
    counters = services.admission.ledger.counters
    if hasattr(counters, "_values"):
        names = [n for n in counters._values if n.startswith(prefix)]
        assert len(names) == 1, names
        return counters._values[names[0]]
    names = [n for n in services.redis.scan_iter(f"{counters._prefix}{prefix}*")]
    assert len(names) == 1, names
    return int(services.redis.get(names[0]))


def test_a_request_rate_is_exact_and_its_headers_count_down(live, services):
    _, secret = _key(services, rpm_limit=5)
    answers = [_chat(live, secret) for _ in range(6)]
    assert [r.status_code for r in answers] == [200] * 5 + [429]
    assert [r.headers["x-ratelimit-remaining-requests"] for r in answers] == ["4", "3", "2", "1", "0", "0"]
    assert all(r.headers["x-ratelimit-limit-requests"] == "5" for r in answers)
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "rate_limited" and "requests per minute" in refused.json()["error"]["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-reset-requests"].endswith("s")


def test_a_400_or_a_401_never_counts(live, services):
    _, secret = _key(services, rpm_limit=2, request_quota=2)
    for bad in ({"model": "openai/gpt-4o-mini"}, {"model": "nowhere/x", "messages": HELLO},
                {"model": "openai/gpt-4o-mini", "messages": "not a list"}):
        assert _chat(live, secret, bad).status_code in (400, 404)
    assert _chat(live, "sk-sy-not-a-key").status_code == 401
    assert [_chat(live, secret).status_code for _ in range(3)] == [200, 200, 429]


def test_tokens_are_reserved_then_settled_to_the_real_usage(live, services, double):
    row, secret = _key(services, tpm_limit=100_000)
    double.enqueue("gpt-4o-mini", {"body": openai_completion("gpt-4o-mini", prompt_tokens=30, completion_tokens=20)})
    r = _chat(live, secret, {"model": "openai/gpt-4o-mini", "messages": HELLO, "max_tokens": 500})
    assert r.status_code == 200
    reserved = 100_000 - int(r.headers["x-ratelimit-remaining-tokens"])
    assert reserved > 500                                     # the prompt's estimate plus max_tokens
    assert r.headers["x-ratelimit-limit-tokens"] == "100000"
    deadline = time.time() + 5
    while _counter(services, f"tpm:key:{row.id}:") != 50 and time.time() < deadline:
        time.sleep(0.02)                                      # settled when the response closed
    assert _counter(services, f"tpm:key:{row.id}:") == 50


def test_a_stream_settles_at_its_end(live, services, double):
    row, secret = _key(services, tpm_limit=100_000)
    gate = threading.Event()
    pieces = openai_stream(openai_completion("gpt-4o-mini", "Hello there"), include_usage=True)
    double.enqueue("gpt-4o-mini", {"stream": pieces[:2] + [gate] + pieces[2:]})
    with requests.post(f"{live.url}/v1/chat/completions", stream=True, timeout=20,
                       headers={"Authorization": f"Bearer {secret}"},
                       json={"model": "openai/gpt-4o-mini", "messages": HELLO, "stream": True, "max_tokens": 300}) as r:
        assert r.status_code == 200
        during = _counter(services, f"tpm:key:{row.id}:")     # the upstream holds the rest of the stream
        gate.set()
        body = b"".join(r.iter_content(None))
    assert b"[DONE]" in body and during > 300
    deadline = time.time() + 5
    while _counter(services, f"tpm:key:{row.id}:") != 17 and time.time() < deadline:
        time.sleep(0.02)
    assert _counter(services, f"tpm:key:{row.id}:") == 17    # the double's usage: 12 + 5


def test_a_request_bigger_than_the_token_limit_is_refused_naming_it(live, services, double):
    _, secret = _key(services, tpm_limit=1000)
    calls = len(double.requests)
    r = _chat(live, secret, {"model": "openai/gpt-4o-mini", "messages": HELLO, "max_tokens": 5000})
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert "token limit per minute is 1000" in r.json()["error"]["message"]
    assert len(double.requests) == calls


def test_concurrent_requests_overshoot_a_budget_by_at_most_one_reservation(live, services, double):
    # each answer costs (12 x 0.15 + 5 x 0.60) / 1e6 = $0.0000048; the budget allows 10 of them
    cost = Decimal("0.0000048")
    row, secret = _key(services, budget_usd=cost * 10, budget_period="day")
    body = {"model": "openai/gpt-4o-mini", "messages": HELLO, "max_tokens": 5}
    gate = threading.Event()
    for _ in range(50):
        double.enqueue("gpt-4o-mini", {"hold": gate})
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(_chat(live, secret, body).status_code)) for _ in range(50)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    gate.set()
    for t in threads:
        t.join(30)
    served = results.count(200)
    assert served + results.count(429) == 50 and 1 <= served
    # a reservation: the prompt's estimate plus max_tokens at gpt-4o-mini's prices
    reservation = (Decimal(estimate_prompt_tokens(body)) * Decimal("0.15") + 5 * Decimal("0.60")) / 10**6
    assert served * cost <= cost * 10 + reservation            # the README's bound
    services.log_writer.flush()
    with services.sessionmaker() as s:
        from models import RequestLog
        rows = s.scalars(select(RequestLog).where(RequestLog.key_id == row.id)).all()
    assert sum((r.cost_usd or 0) for r in rows) <= cost * 10 + reservation
    refused = [r for r in rows if r.error_code == "quota_exceeded"]
    assert refused and all(r.requested_model == "openai/gpt-4o-mini" and r.key_id == row.id for r in refused)


def test_a_team_budget_stops_every_key_of_the_team(live, services):
    team = _team(services, "team-budget", budget_usd=Decimal("0.000001"))
    _, first = _key(services, "first", team_id=team)
    _, second = _key(services, "second", team_id=team)
    assert _chat(live, first).status_code == 200              # spends the team's budget
    for secret in (first, second):
        r = _chat(live, secret)
        assert r.status_code == 429 and r.json()["error"]["code"] == "quota_exceeded"
        message = r.json()["error"]["message"]
        assert message.startswith("Team team-budget-") and "monthly budget" in message and "resets at" in message
        assert r.headers["x-should-retry"] == "false"


def test_a_team_rate_is_shared_by_its_keys(live, services):
    team = _team(services, "team-rate", rpm_limit=3)
    _, a = _key(services, "a", team_id=team)
    _, b = _key(services, "b", team_id=team)
    codes = [_chat(live, k).status_code for k in (a, b, a, b)]
    assert codes == [200, 200, 200, 429]


def test_a_monthly_quota_gives_back_what_ended_400(live, services, double):
    _, secret = _key(services, request_quota=2)
    double.enqueue("gpt-4o-mini", {"status": 400, "body": {"error": {"message": "bad", "type": "invalid_request_error"}}})
    assert _chat(live, secret).status_code == 400              # the provider refused it: not counted
    assert [_chat(live, secret).status_code for _ in range(3)] == [200, 200, 429]


def test_an_over_budget_key_still_lists_models(live, services):
    _, secret = _key(services, budget_usd=Decimal(0))
    assert _chat(live, secret).status_code == 429
    assert requests.get(f"{live.url}/v1/models", headers={"Authorization": f"Bearer {secret}"}, timeout=10).status_code == 200


def test_a_rotated_secret_works_through_its_grace_only(live, services):
    row, old = _key(services)
    with services.sessionmaker() as s, s.begin():
        new = rotate(s, s.get(ApiKey, row.id), grace_s=1)
    services.keys.invalidate()
    assert _chat(live, new).status_code == 200 and _chat(live, old).status_code == 200
    time.sleep(1.1)
    r = _chat(live, old)
    assert r.status_code == 401 and "rotated" in r.json()["error"]["message"]
    assert _chat(live, new).status_code == 200


def test_an_expired_key_is_refused_saying_so(live, services):
    _, secret = _key(services, expires_at=datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=1))
    r = _chat(live, secret)
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth_invalid"
    assert "expired" in r.json()["error"]["message"]


def test_a_disallowed_model_is_a_403(client, live, services):
    _, secret = _key(services, allowed_models="anthropic/*")
    r = _chat(live, secret)
    assert r.status_code == 403 and r.json()["error"]["code"] == "model_not_allowed"


def test_a_key_revoked_in_the_database_is_refused_within_2_s(live, services):
    row, secret = _key(services)
    assert _chat(live, secret).status_code == 200              # cached now (TTL 30 s)
    with services.sessionmaker() as s, s.begin():
        revoke(s, [row.id])                                    # no invalidate(): another host or worker did it
    t0 = time.monotonic()
    while _chat(live, secret).status_code == 200:
        assert time.monotonic() - t0 < 2.0, "a revoked key was still served after 2 s"
        time.sleep(0.05)


def test_a_refusal_at_the_gate_logs_the_key_and_model(live, services):
    row, secret = _key(services, rpm_limit=1)
    _chat(live, secret)
    r = _chat(live, secret)
    assert r.status_code == 429
    logged = log_row(services, r.headers["x-request-id"])
    assert logged.key_id == row.id and logged.requested_model == "openai/gpt-4o-mini" and logged.status == 429


def test_the_sdk_sees_openai_shaped_limits(live, services):
    _, secret = _key(services, rpm_limit=1)
    sdk = openai.OpenAI(base_url=f"{live.url}/v1", api_key=secret, max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(model="openai/gpt-4o-mini", messages=HELLO)
    assert raw.headers["x-ratelimit-remaining-requests"] == "0"
    with pytest.raises(openai.RateLimitError) as info:
        sdk.chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO)
    assert info.value.code == "rate_limited"
