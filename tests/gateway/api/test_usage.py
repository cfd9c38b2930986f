"""The usage API over known requests: rows page by page and sum exactly, the summary (from the daily rollups)
agrees with the raw rows per model and per day, a key sees only its own unless it has the admin scope, and bad
parameters are a 400 naming the parameter."""
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select

from gateway.keys import create_key
from models import ApiKey, RequestLog, UsageRollup
from tests.support.openapi import assert_valid

HELLO = [{"role": "user", "content": "Hello"}]


def _get(live, secret, path, **params):
    return requests.get(f"{live.url}{path}", params=params, timeout=10, headers={"Authorization": f"Bearer {secret}"})


@pytest.fixture(scope="module")
def spent(live, services):
    """Key a: 3 x gpt-4o-mini and 2 x claude-sonnet-4-5 (one of them a 400 of ours); key b: 1 x gpt-4o-mini."""
    a, secret_a = create_key(services.sessionmaker, "usage-a")
    b, secret_b = create_key(services.sessionmaker, "usage-b")
    sent = []
    for model, secret in [("openai/gpt-4o-mini", secret_a)] * 3 + [("anthropic/claude-sonnet-4-5", secret_a)] * 2 + \
            [("openai/gpt-4o-mini", secret_b)]:
        r = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {secret}"},
                          json={"model": model, "messages": HELLO}, timeout=10)
        assert r.status_code == 200
        sent.append(r.headers["x-request-id"])
    bad = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {secret_a}"},
                        json={"model": "anthropic/claude-sonnet-4-5", "messages": [{"role": "x"}]}, timeout=10)
    assert bad.status_code == 400
    services.log_writer.flush()
    return {"a": a.id, "b": b.id, "secret_a": secret_a, "secret_b": secret_b, "sent": sent,
            "bad": bad.headers["x-request-id"]}


def test_rows_page_and_sum_exactly(live, spent):
    seen, costs = [], Decimal(0)
    for page in (1, 2, 3, 4):
        r = _get(live, spent["secret_a"], "/v1/usage", page=page, per_page=2)
        assert r.status_code == 200
        body = r.json()
        assert body["meta"] == {"page": page, "per_page": 2, "total": 6}
        assert len(body["data"]) == [2, 2, 2, 0][page - 1]
        for row in body["data"]:
            seen.append(row["request_id"])
            costs += Decimal(row["cost_usd"]) if row["cost_usd"] is not None else 0
    assert set(seen) == set(spent["sent"][:5]) | {spent["bad"]} and len(seen) == 6
    mini = (12 * Decimal("0.15") + 5 * Decimal("0.60")) / 10**6           # the double's usage, hand-computed
    rows = _get(live, spent["secret_a"], "/v1/usage", per_page=10).json()["data"]
    assert [Decimal(x["cost_usd"]) for x in rows if x["model"] == "openai/gpt-4o-mini"] == [mini] * 3
    bad = [x for x in rows if x["request_id"] == spent["bad"]][0]
    assert bad["status_code"] == 400 and bad["error_code"] == "invalid_request" and bad["cost_usd"] is None
    ok = [x for x in rows if x["status_code"] == 200][0]
    assert ok["total_tokens"] == ok["input_tokens"] + ok["output_tokens"] and ok["latency_ms"] > 0
    assert ok["timestamp"].endswith("Z") and ok["endpoint"] == "chat.completions"
    summary = _get(live, spent["secret_a"], "/v1/usage/summary").json()
    assert Decimal(summary["total"]["cost_usd"]) == costs


def test_the_summary_from_the_rollups_agrees_with_the_raw_rows(live, spent, services):
    by_model = _get(live, spent["secret_a"], "/v1/usage/summary", group_by="model").json()
    groups = {g["group"]: g for g in by_model["data"]}
    assert groups["openai/gpt-4o-mini"]["requests"] == 3 and groups["anthropic/claude-sonnet-4-5"]["requests"] == 3
    assert groups["anthropic/claude-sonnet-4-5"]["errors"] == 1
    assert by_model["total"]["requests"] == 6 and by_model["total"]["errors"] == 1
    with services.sessionmaker() as s:
        raw = s.execute(select(func.count(), func.sum(RequestLog.prompt_tokens), func.sum(RequestLog.completion_tokens),
                               func.sum(RequestLog.cost_usd)).where(RequestLog.key_id == spent["a"])).one()
        rolled = s.execute(select(func.sum(UsageRollup.requests), func.sum(UsageRollup.prompt_tokens),
                                  func.sum(UsageRollup.completion_tokens), func.sum(UsageRollup.cost_usd))
                           .where(UsageRollup.key_id == spent["a"])).one()
    assert raw[0] == rolled[0] == 6 and raw[1] == rolled[1] == by_model["total"]["input_tokens"]
    assert raw[2] == rolled[2] and Decimal(str(raw[3])) == Decimal(str(rolled[3])) == Decimal(by_model["total"]["cost_usd"])
    by_day = _get(live, spent["secret_a"], "/v1/usage/summary", group_by="day").json()
    assert len(by_day["data"]) == 1 and by_day["data"][0]["requests"] == 6
    assert by_day["data"][0]["latency_ms_p50_at_most"] is not None


def test_a_key_sees_only_its_own_unless_it_has_the_admin_scope(live, spent, services):
    own = _get(live, spent["secret_b"], "/v1/usage").json()
    assert own["meta"]["total"] == 1 and own["data"][0]["request_id"] == spent["sent"][5]
    refused = _get(live, spent["secret_b"], "/v1/usage", key=spent["a"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert refused.json()["error"]["param"] == "key"
    assert_valid(refused.json(), "ErrorResponse")
    admin, secret = create_key(services.sessionmaker, "usage-admin")
    with services.sessionmaker() as s, s.begin():
        s.get(ApiKey, admin.id).admin_scope = True
    services.keys.invalidate()
    other = _get(live, secret, "/v1/usage", key=spent["a"]).json()
    assert other["meta"]["total"] == 6
    assert _get(live, secret, "/v1/usage/summary", key=spent["b"]).json()["total"]["requests"] == 1


@pytest.mark.parametrize("params, param", [
    ({"from": "2026-13-01"}, "from"), ({"to": "yesterday"}, "to"), ({"from": "2026-12-02", "to": "2026-12-01"}, "from"),
    ({"from": "2025-01-01", "to": "2026-06-01"}, "to"), ({"per_page": "501"}, "per_page"), ({"page": "0"}, "page"),
])
def test_bad_parameters_are_a_400_naming_them(live, spent, params, param):
    r = _get(live, spent["secret_a"], "/v1/usage", **params)
    assert r.status_code == 400 and r.json()["error"]["param"] == param, r.text
    bad_group = _get(live, spent["secret_a"], "/v1/usage/summary", group_by="week")
    assert bad_group.status_code == 400 and bad_group.json()["error"]["param"] == "group_by"
