"""Observability through a live gateway and the provider double: the client's request id and trace context, one
WARNING per failed upstream attempt, and /metrics (bounded labels, in-flight and state gauges, the bearer token)."""
import logging
import re
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import select

from gateway import exceptions as exc
from models import RequestAttempt, RequestLog
from tests.support.double import openai_completion, openai_stream
from tests.support.logs import log_row

HELLO = [{"role": "user", "content": "Hello"}]
PROMPT = "a private prompt 0815"
E500 = {"status": 500, "body": {"error": {"message": "upstream exploded"}}}
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _post(live, api_key, body=None, headers=None, **kw) -> requests.Response:
    return requests.post(f"{live.url}/v1/chat/completions",
                         json=body or {"model": "openai/gpt-4o-mini", "messages": HELLO},
                         headers={"Authorization": f"Bearer {api_key}", **(headers or {})}, **kw)


def _header(recorded, name: str) -> str | None:
    return next((v for k, v in recorded.headers.items() if k.lower() == name), None)


def _rows_by_client_id(services, client_id: str, n: int, wait_s: float = 5.0) -> list[RequestLog]:
    deadline = time.time() + wait_s
    while True:
        services.log_writer.flush()
        with services.sessionmaker() as s:
            rows = list(s.scalars(select(RequestLog).where(RequestLog.client_request_id == client_id)))
        if len(rows) >= n or time.time() > deadline:
            return rows
        time.sleep(0.05)


def _metrics(live, **kw) -> str:
    resp = requests.get(f"{live.url}/metrics", **kw)
    assert resp.status_code == 200
    return resp.text


def _series(text: str) -> list[tuple[str, dict, float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name, _, labels = head.partition("{")
        out.append((name, dict(_LABEL.findall(labels)), float(value)))
    return out


def _sample(text: str, name: str, **labels) -> float:
    return sum(v for n, ls, v in _series(text) if n == name and ls == labels)


# -- the client's request id --------------------------------------------------------------------------------------

def test_a_client_request_id_is_echoed_and_kept_with_the_log_row(live, api_key, services):
    client_id = f"client-{uuid.uuid4().hex}.a:b_c"
    resp = _post(live, api_key, headers={"X-Request-Id": client_id})
    assert resp.status_code == 200 and resp.headers["x-request-id"] == client_id
    [row] = _rows_by_client_id(services, client_id, 1)
    assert row.request_id.startswith("req_") and row.status == 200


def test_a_repeated_client_id_keeps_every_log_row(live, api_key, services):
    client_id = f"repeat-{uuid.uuid4().hex}"
    for _ in range(3):
        assert _post(live, api_key, headers={"X-Request-Id": client_id}).headers["x-request-id"] == client_id
    rows = _rows_by_client_id(services, client_id, 3)
    assert len(rows) == 3 and len({r.request_id for r in rows}) == 3
    with services.sessionmaker() as s:
        attempts = s.scalars(select(RequestAttempt).where(RequestAttempt.request_id.in_([r.request_id for r in rows])))
        assert len(list(attempts)) == 3


@pytest.mark.parametrize("unsafe", ["has space", "a" * 129, "semi;colon", "new\tline", "ünïcode", "quote\"d"])
def test_an_unsafe_client_id_is_replaced_by_ours(live, api_key, services, unsafe):
    resp = _post(live, api_key, headers={"X-Request-Id": unsafe})
    rid = resp.headers["x-request-id"]
    assert rid != unsafe and re.fullmatch(r"req_[0-9a-f]{24}", rid)
    assert log_row(services, rid).client_request_id is None


def test_without_a_client_id_our_own_is_the_log_rows(live, api_key, services):
    rid = _post(live, api_key).headers["x-request-id"]
    row = log_row(services, rid)
    assert rid.startswith("req_") and row.client_request_id is None


@pytest.mark.parametrize("length, status", [(250, 200), (1000, 400)])
def test_a_model_name_longer_than_its_column_still_leaves_its_log_row(live, api_key, services, length, status):
    model = "gpt-" + "y" * (length - 4)            # a bare gpt-* id: served, or refused by the schema
    resp = _post(live, api_key, {"model": model, "messages": HELLO})
    assert resp.status_code == status
    row = log_row(services, resp.headers["x-request-id"])
    assert row.requested_model == model[:200] and row.status == status


# -- trace context -------------------------------------------------------------------------------------------------

def test_traceparent_and_tracestate_reach_every_attempt_and_the_log_row(live, api_key, services, double):
    double.enqueue("gpt-4o-mini", E500)                            # one retry: two upstream requests
    resp = _post(live, api_key, headers={"traceparent": TRACEPARENT, "tracestate": "vendor=abc,other=x1"})
    assert resp.status_code == 200 and double.calls["gpt-4o-mini"] == 2
    assert [_header(r, "traceparent") for r in double.requests] == [TRACEPARENT, TRACEPARENT]
    assert [_header(r, "tracestate") for r in double.requests] == ["vendor=abc,other=x1"] * 2
    assert all(_header(r, "authorization") == "Bearer test-openai-key" for r in double.requests)   # not replaced
    assert log_row(services, resp.headers["x-request-id"]).traceparent == TRACEPARENT


def test_traceparent_reaches_a_streaming_upstream_and_another_wire_protocol(live, api_key, double):
    resp = _post(live, api_key, {"model": "openai/gpt-4o-mini", "stream": True, "messages": HELLO},
                 headers={"traceparent": TRACEPARENT})
    assert resp.status_code == 200 and "[DONE]" in resp.text
    assert _header(double.last(), "traceparent") == TRACEPARENT
    resp = _post(live, api_key, {"model": "anthropic/claude-sonnet-4-5", "messages": HELLO},
                 headers={"traceparent": TRACEPARENT})
    assert resp.status_code == 200 and double.last().path.startswith("/anthropic/")
    assert _header(double.last(), "traceparent") == TRACEPARENT


@pytest.mark.parametrize("bad", [
    TRACEPARENT.upper(), "00-" + "0" * 32 + "-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16
    + "-01", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", TRACEPARENT[:-1], TRACEPARENT + "-extra",
    "not a traceparent",
])
def test_a_malformed_traceparent_is_not_passed_on(live, api_key, services, double, bad):
    resp = _post(live, api_key, headers={"traceparent": bad, "tracestate": "vendor=abc"})
    assert resp.status_code == 200
    assert _header(double.last(), "traceparent") is None and _header(double.last(), "tracestate") is None
    assert log_row(services, resp.headers["x-request-id"]).traceparent is None


def test_without_trace_context_nothing_is_added(live, api_key, double):
    assert _post(live, api_key).status_code == 200
    assert _header(double.last(), "traceparent") is None and _header(double.last(), "tracestate") is None


# -- the failed-attempt warning ------------------------------------------------------------------------------------

def _upstream_warnings(caplog, request_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "switchyard.upstream" and request_id in r.getMessage()]


def test_a_failed_attempt_logs_exactly_one_warning_with_its_fields(live, api_key, double, caplog):
    caplog.set_level(logging.WARNING, logger="switchyard.upstream")
    double.enqueue("gpt-4o-mini", E500)
    resp = _post(live, api_key, {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]})
    assert resp.status_code == 200
    rid = resp.headers["x-request-id"]
    [line] = _upstream_warnings(caplog, rid)
    message = line.getMessage()
    assert line.levelno == logging.WARNING
    assert f"request_id={rid} target=openai/gpt-4o-mini status=500 code=provider_unavailable latency_ms=" in message
    assert float(message.rsplit("latency_ms=", 1)[1]) >= 0
    assert (line.target, line.upstream_status, line.error_code) == ("openai/gpt-4o-mini", 500, "provider_unavailable")
    for secret in (PROMPT, api_key, "test-openai-key", "upstream exploded"):
        assert secret not in message


def test_every_failed_attempt_of_a_request_logs_its_own_line_and_a_success_none(live, api_key, double, caplog):
    caplog.set_level(logging.WARNING, logger="switchyard.upstream")
    double.enqueue("gpt-4o-mini", E500, {"status": 429, "body": {"error": {"message": "slow"}}})
    resp = _post(live, api_key, headers={"X-Request-Id": f"mine-{uuid.uuid4().hex}"})
    assert resp.status_code == 429
    lines = [r.getMessage() for r in _upstream_warnings(caplog, resp.headers["x-request-id"])]
    assert len(lines) == 2 and "code=provider_unavailable" in lines[0] and "status=429 code=rate_limited" in lines[1]
    ok = _post(live, api_key)
    assert ok.status_code == 200 and _upstream_warnings(caplog, ok.headers["x-request-id"]) == []


def test_an_unreachable_provider_logs_a_warning_without_a_status(live, api_key, double, caplog):
    caplog.set_level(logging.WARNING, logger="switchyard.upstream")
    double.enqueue("slow-a", {"delay": 1.5})
    resp = _post(live, api_key, {"model": "quick", "messages": HELLO})
    assert resp.status_code == 200
    [line] = _upstream_warnings(caplog, resp.headers["x-request-id"])
    assert "target=local/slow-a status=- code=timeout" in line.getMessage()


# -- /metrics: labels ----------------------------------------------------------------------------------------------

def test_a_made_up_model_name_adds_no_label_value(live, api_key, double):
    made_up = uuid.uuid4().hex
    before = _metrics(live)
    for model in (f"openai/made-up-{made_up}", f"gpt-{made_up}"):
        assert _post(live, api_key, {"model": model, "messages": HELLO}).status_code == 200
    double.enqueue(f"other-{made_up}", E500, E500)
    assert _post(live, api_key, {"model": f"openai/other-{made_up}", "messages": HELLO}).status_code == 502
    after = _metrics(live)
    assert made_up not in after
    prompt = dict(provider="openai", model="other", kind="prompt")
    assert _sample(after, "switchyard_tokens_total", **prompt) - _sample(before, "switchyard_tokens_total", **prompt) \
        == 24
    for code, n in (("ok", 2), ("provider_unavailable", 2)):
        assert _sample(after, "switchyard_upstream_attempts_total", target="other", code=code) \
            - _sample(before, "switchyard_upstream_attempts_total", target="other", code=code) == n


def test_a_failed_request_counts_under_the_provider_that_failed_and_none_when_nothing_was_tried(live, api_key,
                                                                                                double):
    before = _metrics(live)
    double.enqueue("gpt-4o-mini", E500, E500)
    assert _post(live, api_key).status_code == 502
    assert _post(live, "sk-sy-not-a-key").status_code == 401
    assert _post(live, api_key, {"model": "nowhere/x", "messages": HELLO}).status_code == 400
    after = _metrics(live)

    def grew(provider, code):
        labels = dict(endpoint="chat.completions", provider=provider, code=code, stream="false")
        return _sample(after, "switchyard_requests_total", **labels) - \
            _sample(before, "switchyard_requests_total", **labels)
    assert grew("openai", "provider_unavailable") == 1 and grew("none", "provider_unavailable") == 0
    assert grew("none", "auth_invalid") == 1 and grew("none", "model_not_supported") == 1


def _endpoints() -> set[str]:
    """The endpoint names the blueprints give their records (a label value set by our code, never by a client)."""
    import pathlib
    import re
    api = pathlib.Path(__file__).resolve().parents[3] / "gateway" / "api"
    found = {m for f in api.glob("*.py") for m in re.findall(r'start_record\("([^"]+)"', f.read_text())}
    assert "chat.completions" in found and "responses" in found
    return found


def test_every_label_value_comes_from_the_configuration(live, api_key, services, double):
    for model in ("openai/we!rd \"name\"", "gpt-" + "x" * 300, "anthropic/claude-made-up", "local/any thing"):
        _post(live, api_key, {"model": model, "messages": HELLO})
    _post(live, api_key, {"model": "smart", "messages": HELLO}, headers={"X-Request-Id": "lbl"})
    snap = services.catalog.snapshot
    providers = set(snap.providers) | {"none", "other"}
    targets = {f"{slug.split('/')[0]}/{m.upstream}" for slug, m in snap.models.items()} \
        | {t.model for r in snap.routes.values() for t in r.targets}
    models = {t.split("/", 1)[1] for t in targets} | {"other"}
    targets |= {"other"}
    codes = {cls.code for cls in vars(exc).values() if isinstance(cls, type) and issubclass(cls, exc.GatewayError)}
    codes |= {"ok", "client_closed", "cooldown"}
    allowed = {"provider": providers, "model": models, "target": targets, "code": codes,
               "endpoint": _endpoints(), "stream": {"true", "false"},
               "kind": {"prompt", "completion", "cached", "reasoning"}}
    seen = 0
    for name, labels, _ in _series(_metrics(live)):
        for label, value in labels.items():
            if label in ("le", "quantile"):
                continue
            assert value in allowed[label], f"{name}: {label}={value!r} is not from the configuration"
            seen += 1
    assert seen > 20


# -- /metrics: gauges ----------------------------------------------------------------------------------------------

def _gauges(live) -> tuple[float, float]:
    text = _metrics(live)
    return _sample(text, "switchyard_requests_in_flight"), _sample(text, "switchyard_streams_in_flight")


def _wait_for(fn, expected, wait_s: float = 5.0):
    deadline = time.time() + wait_s
    while (got := fn()) != expected and time.time() < deadline:
        time.sleep(0.05)
    return got


def _idle_gauges(live) -> tuple[float, float]:
    """The gauges with nothing in flight; earlier tests' requests must all have been handed over by now (one left
    in flight is a leak: it was one, in the Flask test client, until it closed its responses)."""
    base = _wait_for(lambda: _gauges(live), (0.0, 0.0))
    assert base == (0.0, 0.0), f"requests of earlier tests are still in flight: {base}"
    return base


def _held_stream(double, model: str) -> threading.Event:
    """The upstream sends its first chunks, then is silent until the returned Event is set."""
    chunks = openai_stream(openai_completion(model, "Hello there, my friend."), include_usage=True)
    go_on = threading.Event()
    double.enqueue(model, {"stream": chunks[:2] + [go_on] + chunks[2:]})
    return go_on


@pytest.mark.parametrize("leave_early", [False, True])
def test_in_flight_gauges_count_a_stream_until_its_end(live, api_key, double, leave_early):
    base = _idle_gauges(live)
    go_on = _held_stream(double, "gpt-4o-mini")
    resp = _post(live, api_key, {"model": "openai/gpt-4o-mini", "stream": True, "messages": HELLO}, stream=True)
    body = resp.iter_content(chunk_size=None)
    assert b"data: " in next(body)                                 # relaying, the upstream is silent
    assert _gauges(live) == (base[0] + 1, base[1] + 1)
    if leave_early:
        resp.close()                                               # the client goes: the end hook still runs
        go_on.set()                                                # (the relay sees it at its next write)
    else:
        go_on.set()
        assert b"[DONE]" in b"".join(body)
    assert _wait_for(lambda: _gauges(live), base) == base


def test_a_non_streaming_request_is_in_flight_while_it_waits_for_the_provider(live, api_key, double):
    base = _idle_gauges(live)
    answer = threading.Event()
    double.enqueue("gpt-4o-mini", {"hold": answer})
    t = threading.Thread(target=_post, args=(live, api_key))
    t.start()
    assert _wait_for(lambda: _gauges(live), (base[0] + 1, base[1])) == (base[0] + 1, base[1])
    answer.set()
    t.join(timeout=20)
    assert _wait_for(lambda: _gauges(live), base) == base


@pytest.fixture
def touchy_breaker(use_breaker):
    """Opens on the first failure."""
    return use_breaker(threshold=1, cooldown_s=30)


def test_targets_cooling_down_are_counted_at_scrape_time(live, api_key, double, touchy_breaker):
    assert _sample(_metrics(live), "switchyard_targets_cooling_down") == 0
    double.enqueue("flaky", E500)
    resp = _post(live, api_key, {"model": "guarded", "messages": HELLO})
    assert resp.headers["x-gateway-attempts"] == "local/flaky:provider_unavailable,local/steady:ok"
    assert _sample(_metrics(live), "switchyard_targets_cooling_down") == 1
    touchy_breaker.success("local/flaky")
    assert _sample(_metrics(live), "switchyard_targets_cooling_down") == 0


def test_spilled_rows_are_counted_until_replayed(live, services, monkeypatch):
    monkeypatch.setattr(services.log_writer, "REPLAY_EVERY_S", 1e9)   # these made-up rows are not for replaying
    path = services.log_writer.spill_path
    before = _sample(_metrics(live), "switchyard_log_spilled_rows")
    with open(path, "a") as f:
        f.write('{"request_id": "req_spilled_1"}\n{"request_id": "req_spilled_2"}\n')
    try:
        assert _sample(_metrics(live), "switchyard_log_spilled_rows") == before + 2
    finally:
        with open(path) as f:
            kept = [line for line in f if "req_spilled_" not in line]
        with open(path, "w") as f:
            f.writelines(kept)
    assert _sample(_metrics(live), "switchyard_log_spilled_rows") == before


# -- /metrics: the token -------------------------------------------------------------------------------------------

def test_metrics_with_a_token_set_need_it_as_bearer(live, services, monkeypatch):
    monkeypatch.setattr(services.settings, "METRICS_TOKEN", "scrape-secret-1")
    missing = requests.get(f"{live.url}/metrics")
    wrong = requests.get(f"{live.url}/metrics", headers={"Authorization": "Bearer scrape-secret-2"})
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "auth_missing")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "auth_invalid")
    assert set(wrong.json()["error"]) == {"message", "type", "code", "param"} and "switchyard_" not in wrong.text
    assert "switchyard_requests_total" in _metrics(live, headers={"Authorization": "Bearer scrape-secret-1"})


def test_metrics_without_a_token_stay_open(live, services):
    assert services.settings.METRICS_TOKEN is None
    assert "switchyard_requests_in_flight" in _metrics(live)
