"""Broken providers, through a real gunicorn: every fault of tests/support/double_faults.py (and a refused
connection), plain and streamed, through a route with a fallback and through a provider/model without one.

For each case: the status and error code the client sees (our envelope, valid against OpenAI's schema; after the
first byte of a stream, an error event the OpenAI SDK raises as an APIError), the log row (status, code, attempts,
fallback), that the fallback serves where the route has one (and only before the first byte), and that no worker
was lost (the same gunicorn worker pids after, and they answer). Upstream misbehaviour checked in-process (a
dribbling answer, malformed tool calls, key scrubbing in a 401) is in test_broken_upstreams.py."""
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import openai
import pytest
import requests

from tests.support.double_faults import FAULTS, HUGE_BYTES, STREAM_ONLY
from tests.support.openapi import assert_valid
from tests.support.workers import Served

HELLO = [{"role": "user", "content": "Hello"}]
TIMEOUT_MS = 1500              # a route's and a bare slug's per-call timeout here
IDLE_S, MAX_S = 1.5, 3.0       # a stream's longest silence after its first chunk, and its whole length


def _routes(double_url: str, refused_url: str) -> str:
    """A provider whose address refuses connections, and per fault a route `fb-<fault>`: the broken target,
    then a healthy fallback (no retries)."""
    routes = "\n".join(f"  - alias: fb-{f}\n    targets: [local/fault-{f}, local/backup]\n    retries: 0\n"
                       f"    timeout_ms: {TIMEOUT_MS}" for f in FAULTS)
    return f"""providers:
  - name: local
    type: openai
    base_url: {double_url}/local/v1
    api_key: test-openai-key
  - name: dead
    type: openai
    base_url: {refused_url}/v1
    api_key: test-openai-key
routes:
{routes}
  - alias: fb-refused
    targets: [dead/model-x, local/backup]
    retries: 0
    timeout_ms: {TIMEOUT_MS}
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory, double):
    server = Served(tmp_path_factory.mktemp("broken"), double.url, _routes(double.url, double.refused_url),
                    SWITCHYARD_DEFAULT_TIMEOUT_MS=TIMEOUT_MS, SWITCHYARD_STREAM_KEEPALIVE_S=0.5,
                    SWITCHYARD_STREAM_IDLE_TIMEOUT_S=IDLE_S, SWITCHYARD_STREAM_MAX_S=MAX_S,
                    SWITCHYARD_COOLDOWN_FAILURES=10**6, SWITCHYARD_LOG_FLUSH_INTERVAL_S=0.05)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def no_worker_lost(served):
    """Around every case: the same worker processes before and after, and they still serve."""
    before = served.worker_pids()
    assert before, "gunicorn has no workers"
    yield
    assert served.worker_pids() == before, f"a worker was lost:\n{served.output()[-3000:]}"
    assert requests.get(f"{served.url}/healthz", timeout=10).status_code == 200
    ok = _post(served, {"model": "local/backup", "messages": HELLO})
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] == "Echo: Hello"


def _post(served, body: dict, **kw) -> requests.Response:
    return requests.post(f"{served.url}/v1/chat/completions", json=body, timeout=60,
                         headers={"Authorization": f"Bearer {served.key}"}, **kw)


@dataclass(frozen=True)
class Outcome:
    status: int                 # what the client gets (a stream that broke after its first byte: 200)
    code: str | None            # our error code (None: an answer)
    mid_stream: bool = False    # the error came as an event after the first byte


OK = Outcome(200, None)
UNAVAILABLE = Outcome(502, "provider_unavailable")
MID_UNAVAILABLE = Outcome(200, "provider_unavailable", mid_stream=True)

# fault -> (plain outcome, stream outcome) without a fallback; None: no such case
DIRECT = {
    "refused": (UNAVAILABLE, UNAVAILABLE),
    "reset-before-headers": (UNAVAILABLE, UNAVAILABLE),
    "close-before-headers": (UNAVAILABLE, UNAVAILABLE),
    "bad-status-line": (UNAVAILABLE, UNAVAILABLE),
    "no-headers": (Outcome(504, "timeout"), Outcome(504, "timeout")),
    "reset-mid-body": (UNAVAILABLE, MID_UNAVAILABLE),
    "truncated-json": (UNAVAILABLE, MID_UNAVAILABLE),
    "invalid-json": (UNAVAILABLE, UNAVAILABLE),
    "error-200": (UNAVAILABLE, UNAVAILABLE),
    "no-choices": (UNAVAILABLE, UNAVAILABLE),
    "huge": (OK, OK),
    "429": (Outcome(429, "rate_limited"), Outcome(429, "rate_limited")),
    "401": (Outcome(502, "provider_auth"), Outcome(502, "provider_auth")),
    "500": (UNAVAILABLE, UNAVAILABLE),
    "sse-garbage": (None, OK),
    "sse-garbage-data": (None, MID_UNAVAILABLE),
    "sse-no-done": (None, OK),
    "sse-cut": (None, MID_UNAVAILABLE),
    "sse-chunked-cut": (None, MID_UNAVAILABLE),
    "json-to-stream": (None, UNAVAILABLE),
    "sse-endless": (None, Outcome(200, "timeout", mid_stream=True)),
    "sse-stall": (None, Outcome(200, "timeout", mid_stream=True)),
}
assert set(DIRECT) == set(FAULTS) | {"refused"} and all(DIRECT[f][0] is None for f in STREAM_ONLY)
# what the message the client gets says (the provider's own words where it sent any)
MESSAGES = {"refused": "Could not reach the provider: the connection was refused.",
            "reset-before-headers": "The provider reset the connection before its answer.",
            "close-before-headers": "The provider closed the connection without an answer.",
            "bad-status-line": "The provider's answer is not HTTP.",
            "reset-mid-body": ("closed the connection mid-answer", "stream broke off"),
            "truncated-json": ("closed the connection mid-answer", "not JSON"),
            "sse-chunked-cut": "stream broke off", "no-headers": f"within {TIMEOUT_MS / 1000:g} s",
            "error-200": "The server is overloaded", "json-to-stream": "it answered with JSON",
            "429": "Rate limit reached", "401": "Incorrect API key provided", "500": "The server had an error",
            "invalid-json": ("not a chat completion", "not JSON"),
            "no-choices": ("not a chat completion", "ended before the answer was finished"),
            "sse-endless": f"total deadline of {MAX_S:g} s", "sse-stall": f"sent nothing for {IDLE_S:g} s",
            "sse-garbage-data": "not JSON", "sse-cut": "ended before the answer was finished"}
NOT_RETRIED = {"401"}             # returned to the client at once: no retry, no fallback
# what breaks the primary's stream after its first byte, or a healthy answer: the fallback never serves
NO_FALLBACK = NOT_RETRIED | {"huge", "sse-garbage", "sse-no-done"}

# the slow ones (they wait for a deadline) and broken after the first byte either way: no fallback case of their own
DIRECT_ONLY = {"sse-endless", "sse-stall"}
CASES = [pytest.param(fault, stream, route, id=f"{fault}-{'stream' if stream else 'plain'}-{route}")
         for fault, outcomes in DIRECT.items() for stream, outcome in zip((False, True), outcomes)
         if outcome is not None for route in ("direct", "fallback") if route == "direct" or fault not in DIRECT_ONLY]


def _expected(fault: str, stream: bool, route: str) -> Outcome:
    outcome = DIRECT[fault][stream]
    if route == "fallback" and fault not in NO_FALLBACK and not outcome.mid_stream:
        return OK
    return outcome


def _primary(fault: str) -> str:
    return "dead/model-x" if fault == "refused" else f"local/fault-{fault}"


def _model(fault: str, route: str) -> str:
    return f"fb-{fault}" if route == "fallback" else _primary(fault)


def _expected_attempts(fault: str, stream: bool, route: str, outcome: Outcome) -> list[str]:
    """x-gateway-attempts: the primary once (a route here has no retries) or twice (a bare slug: one retry),
    then the fallback."""
    first = DIRECT[fault][stream]
    primary = _primary(fault)
    if first.code is None or first.mid_stream:
        return [f"{primary}:ok"]
    tries = 1 if route == "fallback" or fault in NOT_RETRIED else 2
    out = [f"{primary}:{first.code}"] * tries
    return out + ["local/backup:ok"] if route == "fallback" and outcome.code is None else out


@pytest.mark.parametrize("fault,stream,route", CASES)
def test_a_broken_provider(served, double, fault, stream, route):
    body = {"model": _model(fault, route), "messages": HELLO, "stream": stream}
    outcome = _expected(fault, stream, route)
    message = None
    if stream and outcome.mid_stream:
        request_id, content, headers, message = _sdk_stream_that_breaks(served, body, outcome)
    else:
        resp = _post(served, body, stream=stream)
        request_id, headers = resp.headers["x-request-id"], resp.headers
        assert resp.status_code == outcome.status, resp.text[:500]
        if outcome.code is None:
            content = _stream_text(resp) if stream else resp.json()["choices"][0]["message"]["content"]
        else:
            assert resp.headers["content-type"].startswith("application/json")
            err = resp.json()
            assert_valid(err, "ErrorResponse")
            assert err["error"]["code"] == err["error"]["type"] == outcome.code, err
            message = err["error"]["message"]
            if outcome.code == "rate_limited":
                assert resp.headers["retry-after"] == "1"          # the upstream's Retry-After, passed on
            content = None
    if outcome.code is None:
        served_by_fallback = route == "fallback" and fault not in NO_FALLBACK
        want = "Echo: Hello" if served_by_fallback or fault in ("sse-garbage", "sse-no-done") else None
        if fault == "huge":
            assert len(content) == HUGE_BYTES and content.startswith("All work and no play")
        else:
            assert content == want
    attempts = _expected_attempts(fault, stream, route, outcome)
    assert headers["x-gateway-attempts"].split(",") == attempts
    row = served.log_row(request_id)
    assert (row.status, row.error_code, row.stream) == (outcome.status, outcome.code, stream)
    assert row.attempts == len(attempts)
    assert row.fallback_used is (attempts[-1] == "local/backup:ok" and len(attempts) > 1)
    assert [f"{a.target}:{a.error_code or 'ok'}" for a in served.attempts(row.request_id)] == attempts
    if outcome.code is not None:
        assert row.error_message == message                     # the row keeps what the client was told
        said = MESSAGES.get(fault, "")
        assert (said[stream] if isinstance(said, tuple) else said) in message, message
    if fault in ("sse-endless", "sse-stall"):          # the gateway let the upstream go when it gave up
        _wait_until(lambda: double.stats().get("streams_cut", 0) >= 1, "the upstream stream was never let go")


def _wait_until(check, what: str, limit_s: float = 10.0) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _stream_text(resp: requests.Response) -> str:
    """The content of a stream that ended well (ending with [DONE], each chunk valid)."""
    assert resp.headers["content-type"].startswith("text/event-stream")
    lines = [line for line in resp.content.decode().split("\n") if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]", lines[-3:]
    text = []
    for line in lines[:-1]:
        chunk = json.loads(line[6:])
        assert "error" not in chunk, chunk
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
        text += [c["delta"].get("content") or "" for c in chunk["choices"]]
    return "".join(text)


def _sdk_stream_that_breaks(served, body: dict, outcome: Outcome):
    """Read the stream with the OpenAI SDK: some content, then the error event, raised as an APIError with our
    code. The request id, the content before the error, the response headers and the error's message."""
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key=served.key, max_retries=0, timeout=30)
    raw = client.chat.completions.with_raw_response.create(**body)
    assert raw.http_response.status_code == 200
    text = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in raw.parse():
            text += [c.delta.content or "" for c in chunk.choices]
    err = caught.value
    assert not isinstance(err, openai.APIStatusError)
    assert err.code == outcome.code and err.body["type"] == outcome.code, err.body
    assert_valid({"error": err.body}, "ErrorResponse")
    assert "".join(text)                       # the error came after the first byte
    headers = raw.http_response.headers
    assert headers["x-gateway-fallback-used"] == "false"
    return headers["x-request-id"], "".join(text), headers, err.message


@pytest.mark.parametrize("route", ["direct", "fallback"])
def test_a_429_storm_with_retry_after(served, double, route):
    """Twenty requests at once into an upstream that answers every one 429 with Retry-After: 1. Each one
    retried once after the Retry-After (a bare slug) or served by the fallback (the route); none lost."""
    model = "local/fault-429" if route == "direct" else "fb-429"

    def one(i: int) -> requests.Response:
        return _post(served, {"model": model, "messages": HELLO})
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(one, range(20)))
    if route == "direct":
        assert {a.status_code for a in answers} == {429}
        assert all(a.json()["error"]["code"] == "rate_limited" and a.headers["retry-after"] == "1"
                   for a in answers)
        assert double.calls["fault-429"] == 40                     # every one tried, then retried once
        for a in answers:
            attempts = served.attempts(served.log_row(a.headers["x-request-id"]).request_id)
            assert [x.error_code for x in attempts] == ["rate_limited"] * 2
    else:
        assert {a.status_code for a in answers} == {200}
        assert all(a.headers["x-gateway-fallback-used"] == "true" for a in answers)
        assert double.calls["fault-429"] == 20 and double.calls["backup"] == 20
    rows = [served.log_row(a.headers["x-request-id"]) for a in answers]
    assert len({r.request_id for r in rows}) == 20
    assert double.stats()["faults"]["429"] == double.calls["fault-429"]


@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
@pytest.mark.parametrize("fault,stream,outcome", [
    ("invalid-json", False, UNAVAILABLE), ("truncated-json", False, UNAVAILABLE),
    ("error-200", False, UNAVAILABLE), ("no-choices", False, UNAVAILABLE), ("huge", False, OK),
    ("invalid-json", True, UNAVAILABLE), ("error-200", True, UNAVAILABLE),
    ("reset-mid-body", True, MID_UNAVAILABLE), ("sse-garbage-data", True, MID_UNAVAILABLE),
    ("sse-cut", True, MID_UNAVAILABLE), ("sse-garbage", True, OK), ("huge", True, OK),
])
def test_other_protocols_break_the_same_way(served, provider, fault, stream, outcome):
    """The same faults on Anthropic's and Gemini's wire: a provider's fault (502 provider_unavailable, or an
    error event after the first byte), never a gateway 500."""
    body = {"model": f"{provider}/fault-{fault}", "messages": HELLO, "stream": stream}
    if outcome.mid_stream:
        request_id = _sdk_stream_that_breaks(served, body, outcome)[0]
    else:
        resp = _post(served, body, stream=stream)
        request_id = resp.headers["x-request-id"]
        assert resp.status_code == outcome.status, resp.text[:500]
        if outcome.code is not None:
            assert_valid(resp.json(), "ErrorResponse")
            assert resp.json()["error"]["code"] == outcome.code
        elif fault == "huge":
            content = _stream_text(resp) if stream else resp.json()["choices"][0]["message"]["content"]
            assert len(content) == HUGE_BYTES
        else:
            assert _stream_text(resp)
    row = served.log_row(request_id)
    assert (row.status, row.error_code) == (outcome.status, outcome.code)


def _responses_events(resp: requests.Response) -> list[dict]:
    assert resp.headers["content-type"].startswith("text/event-stream")
    return [json.loads(line[6:]) for line in resp.content.decode().split("\n") if line.startswith("data: ")]


RESPONSES_CASES = [
    ("reset-before-headers", False, UNAVAILABLE), ("invalid-json", False, UNAVAILABLE),
    ("truncated-json", False, UNAVAILABLE), ("error-200", False, UNAVAILABLE),
    ("no-choices", False, UNAVAILABLE), ("huge", False, OK), ("429", False, Outcome(429, "rate_limited")),
    ("invalid-json", True, UNAVAILABLE), ("error-200", True, UNAVAILABLE), ("no-choices", True, UNAVAILABLE),
    ("reset-mid-body", True, MID_UNAVAILABLE), ("truncated-json", True, MID_UNAVAILABLE),
    ("sse-garbage-data", True, MID_UNAVAILABLE), ("sse-cut", True, MID_UNAVAILABLE),
    ("sse-stall", True, Outcome(200, "timeout", mid_stream=True)), ("sse-garbage", True, OK), ("huge", True, OK),
]


# a native stream without `output` in its response objects still streams its text events: no fault there
@pytest.mark.parametrize("model,fault,stream,outcome", [
    pytest.param(model, *case, id=f"{case[0]}-{'stream' if case[1] else 'plain'}-{name}")
    for model, name in (("openai", "native"), ("local", "translated")) for case in RESPONSES_CASES
    if not (name == "native" and case[:2] == ("no-choices", True))])
def test_responses_api_breaks_the_same_way(served, model, fault, stream, outcome):
    """/v1/responses on a native target (the provider's own Responses API) and a translated one (onto chat):
    our envelope before the first byte; after it, an `error` event and then `response.failed`."""
    resp = requests.post(f"{served.url}/v1/responses", timeout=60, headers={"Authorization": f"Bearer {served.key}"},
                         json={"model": f"{model}/fault-{fault}", "input": "Hello", "stream": stream})
    assert resp.status_code == outcome.status, resp.text[:500]
    if not stream or not outcome.mid_stream and outcome.code is not None:
        body = resp.json()
        if outcome.code is None:
            assert_valid(body, "Response")
            assert body["status"] == "completed"
            if fault == "huge":
                assert len(body["output"][-1]["content"][0]["text"]) == HUGE_BYTES
        else:
            assert_valid(body, "ErrorResponse")
            assert body["error"]["code"] == outcome.code, body
    else:
        events = _responses_events(resp)
        assert [e["sequence_number"] for e in events] == list(range(len(events)))
        for e in events:
            assert_valid(e, "ResponseStreamEvent")
        if outcome.code is None:
            assert events[-1]["type"] == "response.completed"
            text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
            assert len(text) == HUGE_BYTES if fault == "huge" else text
        else:
            assert [e["type"] for e in events[-2:]] == ["error", "response.failed"], events[-3:]
            assert events[-2]["code"] == outcome.code
            assert any(e["type"] == "response.output_text.delta" for e in events)    # after the first byte
    row = served.log_row(resp.headers["x-request-id"])
    assert (row.endpoint, row.status, row.error_code) == ("responses", outcome.status, outcome.code)
