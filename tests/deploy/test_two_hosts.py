"""Two gateway hosts (separate gunicorn masters with two workers each, two ports) on one PostgreSQL and one Redis:
a key revoked through one is refused by the other within a second, a cooldown opened on one is seen by the other,
the log rows of both land in one table with no duplicate request ids, and a key's rate and budget are one count
over both hosts."""
import os
import threading
import time
import uuid
from decimal import Decimal

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import base_config
from gateway.admission import estimate_prompt_tokens
from tests.support.procs import Gateway, flask, fresh_database_url, gateway_env

pytestmark = pytest.mark.skipif(
    not (os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql") and os.environ.get("REDIS_URL")),
    reason="needs a shared PostgreSQL (TEST_DATABASE_URL) and Redis (REDIS_URL); .ci/run provides both")


@pytest.fixture
def hosts(tmp_path, double):
    db = fresh_database_url(tmp_path, "two_hosts")
    common = dict(SWITCHYARD_REDIS_PREFIX=f"switchyard-two-hosts:{uuid.uuid4().hex}:", SWITCHYARD_COOLDOWN_FAILURES=2,
                  SWITCHYARD_COOLDOWN_S=60, SWITCHYARD_KEY_CACHE_TTL_S=300, SWITCHYARD_LOG_FLUSH_INTERVAL_S=0.1)
    env_a = gateway_env(tmp_path / "a", db, **common)
    env_b = gateway_env(tmp_path / "b", db, **common)
    for d in ("a", "b"):
        (tmp_path / d).mkdir(exist_ok=True)
    flask(env_a, "db", "upgrade")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(base_config(double.url))
    flask(env_a, "config", "import", str(cfg))
    a = Gateway(env_a, tmp_path / "a.log", "host a").start()
    b = Gateway(env_b, tmp_path / "b.log", "host b").start()
    yield a, b, env_a, db
    for gw in (a, b):
        gw.stop(timeout_s=30)


def _chat(gw: Gateway, key: str, model: str = "openai/gpt-4o-mini") -> requests.Response:
    return requests.post(f"{gw.url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=10,
                         json={"model": model, "messages": [{"role": "user", "content": "hi"}]})


def test_two_hosts_share_revocation_cooldowns_and_one_log_table(hosts, double):
    a, b, env_a, db = hosts
    key = flask(env_a, "keys", "create", "--name", "shared").stdout.strip().splitlines()[-1]
    sent = []
    for _ in range(8):                              # every worker of both hosts caches the key (TTL 300 s)
        for gw in (a, b):
            r = _chat(gw, key)
            assert r.status_code == 200, r.text
            sent.append(r.headers["x-request-id"])

    # a cooldown opened by failures on host a is seen by host b
    double.enqueue("flaky", *[{"status": 503, "body": {"error": {"message": "overloaded"}}}] * 2)
    for _ in range(2):
        r = _chat(a, key, "guarded")
        assert r.status_code == 200 and "local/flaky:provider_unavailable" in r.headers["x-gateway-attempts"]
        sent.append(r.headers["x-request-id"])
    calls = double.calls["flaky"]
    for _ in range(4):                              # both workers of host b skip it without calling it
        r = _chat(b, key, "guarded")
        assert r.status_code == 200
        assert r.headers["x-gateway-attempts"].startswith("local/flaky:cooldown"), r.headers["x-gateway-attempts"]
        assert r.headers["x-gateway-provider"] == "local" and r.headers["x-gateway-model"] == "steady"
        sent.append(r.headers["x-request-id"])
    assert double.calls["flaky"] == calls

    # a key revoked through host a's configuration is refused by host b within a second
    prefix = flask(env_a, "keys", "list").stdout.strip().splitlines()[-1].split()[1]
    flask(env_a, "keys", "revoke", prefix)
    revoked_at = time.monotonic()
    while True:
        r = _chat(b, key)
        sent.append(r.headers["x-request-id"])
        if r.status_code == 401:
            break
        assert time.monotonic() - revoked_at < 1.0 + 0.5, "host b still serves a key revoked through host a"
        time.sleep(0.05)
    refused_after = time.monotonic() - revoked_at
    for _ in range(6):                              # every worker of both hosts now refuses it
        for gw in (a, b):
            r = _chat(gw, key)
            assert r.status_code == 401 and r.json()["error"]["code"] == "auth_invalid"
            sent.append(r.headers["x-request-id"])
    assert refused_after <= 1.2, f"refused after {refused_after:.2f} s"

    # one table, every request once
    engine = create_engine(db)
    deadline = time.time() + 10
    while True:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT request_id FROM request_logs")).scalars().all()
        if len(rows) >= len(sent) or time.time() > deadline:
            break
        time.sleep(0.1)
    engine.dispose()
    assert len(rows) == len(set(rows)) == len(sent)
    assert set(rows) == set(sent)


def test_two_hosts_count_one_combined_rate_and_budget(hosts, double):
    a, b, env_a, db = hosts
    key = flask(env_a, "keys", "create", "--name", "six", "--rpm", "6").stdout.strip().splitlines()[-1]
    codes = [_chat(gw, key).status_code for _ in range(4) for gw in (a, b)]      # 8 requests over 4 workers
    assert codes.count(200) == 6 and codes[6:] == [429, 429]

    # 40 concurrent requests over both hosts against a budget that allows 10 answers: overshoot at most one
    # reservation (the README's bound)
    cost = Decimal("0.0000048")                      # 12 x 0.15 + 5 x 0.60 per million tokens
    budget_key = flask(env_a, "keys", "create", "--name", "budget", "--budget-usd", str(cost * 10),
                       "--budget-period", "day").stdout.strip().splitlines()[-1]
    body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    results: list[int] = []

    def go(gw):
        r = requests.post(f"{gw.url}/v1/chat/completions", headers={"Authorization": f"Bearer {budget_key}"},
                          json=body, timeout=20)
        results.append(r.status_code)
    threads = [threading.Thread(target=go, args=(gw,)) for _ in range(20) for gw in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    reservation = (Decimal(estimate_prompt_tokens(body)) * Decimal("0.15") + 5 * Decimal("0.60")) / 10**6
    served = results.count(200)
    assert served + results.count(429) == 40 and served >= 1
    assert served * cost <= cost * 10 + reservation
