"""Golden tests of the native Responses API adapter (providers/openai/responses_api.py), from recorded OpenAI and
xAI payloads in tests/fixtures/openai/responses_*.json: the body sent upstream, the usage read, the errors raised
for failed answers, and the stream state at every event (fed from raw bytes, also split at every byte)."""
import copy
import json
import pathlib

import orjson
import pytest

from gateway import exceptions as exc
from gateway.providers.openai.responses_api import (ResponsesAPIAdapter, ResponsesAPIStreamState, build_body,
                                                    usage_from_responses)
from gateway.sse import SSEDecoder, SSEEvent
from gateway.values import Completion, Target, Usage
from tests.support.streams import decode, run

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "openai"
RESPONSES = sorted(p.name for p in FIXTURES.glob("responses_*.json")
                   if "stream" not in p.name and p.name != "responses_errors.json")
STREAMS = sorted(p.name for p in FIXTURES.glob("responses_stream_*.json"))
ADAPTER = ResponsesAPIAdapter()
OPENAI_URL, XAI_URL = "https://api.openai.com/v1", "https://api.x.ai/v1"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def target(model: str = "gpt-5.2", provider: str = "openai", **over) -> Target:
    base_url = over.pop("base_url", XAI_URL if provider == "xai" else OPENAI_URL)
    return Target(provider=provider, provider_type="openai", base_url=base_url, api_key="sk-test",
                  upstream_model=model, slug=over.pop("slug", f"{provider}/{model}"), **over)


def raw_sse(events: list[dict]) -> bytes:
    """The bytes an upstream sends for these event payloads: `event: <type>` then its data."""
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)


def test_fixture_counts():
    assert len(RESPONSES) >= 6 and len(STREAMS) >= 6
    assert len(load("responses_errors.json")["cases"]) >= 6


# ------------------------------------------------------------------------------------------------ build_body

BODY = {"model": "openai/gpt-5.2", "input": [{"role": "user", "content": "Hi"}], "instructions": "Be brief.",
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}], "store": False,
        "include": ["reasoning.encrypted_content"], "text": {"verbosity": "low"}, "max_output_tokens": 300,
        "previous_response_id": None, "metadata": {"k": "v"}, "some_future_field": {"nested": [1, 2]},
        "prompt_cache_key": "conv-1"}


def test_body_goes_upstream_unchanged_but_model_and_stream():
    body = copy.deepcopy(BODY)
    out = build_body(body, target(), stream=False)
    assert out == {**BODY, "model": "gpt-5.2"}
    assert body == BODY                                   # the client's body is not modified
    streamed = build_body({**body, "stream_options": {"include_obfuscation": False}}, target(), stream=True)
    assert streamed == {**BODY, "model": "gpt-5.2", "stream": True, "stream_options": {"include_obfuscation": False}}
    not_streamed = build_body({**body, "stream": True, "stream_options": {"include_obfuscation": False}}, target(),
                              stream=False)
    assert not_streamed == {**BODY, "model": "gpt-5.2"}


@pytest.mark.parametrize("suffix, sent", [("low", "low"), ("medium", "medium"), ("high", "high"),
                                          ("max", "xhigh")])
def test_openai_suffix_wins_over_reasoning_effort_and_keeps_summary(suffix, sent):
    body = {"model": f"openai/gpt-5.2:{suffix}", "input": "Hi", "reasoning": {"effort": "minimal", "summary": "auto"}}
    out = build_body(body, target(effort=suffix), stream=False)
    assert out["reasoning"] == {"effort": sent, "summary": "auto"}
    assert out["model"] == "gpt-5.2" and out["input"] == "Hi"


def test_openai_reasoning_effort_alone_is_sent_as_asked():
    out = build_body({"model": "m", "input": "x", "reasoning": {"effort": "minimal"}}, target("gpt-5"), False)
    assert out["reasoning"] == {"effort": "minimal"}
    out = build_body({"model": "m", "input": "x", "reasoning_effort": "low"}, target("o3"), False)
    assert out["reasoning"] == {"effort": "low"} and "reasoning_effort" not in out   # a chat field, moved


def test_openai_max_is_xhigh_only_where_the_model_has_it():
    assert build_body({"input": "x"}, target("gpt-5.1-codex-max", effort="max"), False)["reasoning"] == \
        {"effort": "xhigh"}
    with_catalog = target("o3", effort="max", capabilities={"efforts": ["low", "medium", "high", "max"]})
    assert build_body({"input": "x"}, with_catalog, False)["reasoning"] == {"effort": "xhigh"}
    with pytest.raises(exc.InvalidRequest) as info:
        build_body({"input": "x", "reasoning": {"effort": "high"}}, target("gpt-5", effort="max"), False)
    assert info.value.status == 400 and info.value.param == "model" and "gpt-5" in info.value.message


def test_non_reasoning_model_with_an_effort_is_a_400():
    with pytest.raises(exc.InvalidRequest) as info:
        build_body({"input": "x"}, target("gpt-4.1", effort="high"), False)
    assert info.value.status == 400 and info.value.param == "model" and "does not reason" in info.value.message
    with pytest.raises(exc.InvalidRequest) as info:
        build_body({"input": "x", "reasoning": {"effort": "low"}}, target("gpt-4.1"), False)
    assert info.value.param == "reasoning.effort"


def test_an_effort_not_sent_is_left_out_of_the_body():
    """`none` on a model that does not reason, and an effort the route drops (drop_unsupported), go nowhere: the
    client's other reasoning keys stay, an empty reasoning object is left out."""
    out = build_body({"input": "x", "reasoning": {"effort": "none"}}, target("gpt-4.1"), False)
    assert "reasoning" not in out
    dropping = target("gpt-4.1", drop_unsupported=True)
    out = build_body({"input": "x", "reasoning": {"effort": "high", "summary": "auto"}}, dropping, False)
    assert out["reasoning"] == {"summary": "auto"}
    out = build_body({"input": "x"}, target("gpt-5", effort="max", drop_unsupported=True), False)
    assert "reasoning" not in out


XAI_MULTI = dict(model="grok-4.20-multi-agent-0309", provider="xai",
                 capabilities={"efforts": ["low", "medium", "high", "max"], "reasoning": True})


@pytest.mark.parametrize("suffix, sent", [("low", "low"), ("medium", "medium"), ("high", "high"), ("max", "xhigh")])
def test_xai_multi_agent_efforts(suffix, sent):
    """xAI grok-4.20-multi-agent: low/medium run 4 agents, high/xhigh 16; the gateway's max is xhigh."""
    out = build_body({"input": "x", "reasoning": {"summary": "detailed"}}, target(effort=suffix, **XAI_MULTI), True)
    assert out == {"input": "x", "reasoning": {"effort": sent, "summary": "detailed"},
                   "model": "grok-4.20-multi-agent-0309", "stream": True}


def test_xai_model_that_takes_no_effort_is_a_400():
    with pytest.raises(exc.InvalidRequest) as info:
        build_body({"input": "x"}, target("grok-4-1-fast-reasoning", "xai", effort="high"), False)
    assert info.value.param == "model" and "xAI" in info.value.message


# ------------------------------------------------------------------------------------------------ build_request

def test_build_request():
    req = ADAPTER.build_request({"model": "openai/gpt-5.2", "input": "Hi"}, target(base_url=OPENAI_URL + "/"))
    assert (req.method, req.url) == ("POST", "https://api.openai.com/v1/responses")
    assert req.headers["Authorization"] == "Bearer sk-test"
    assert req.headers["Accept"] == "application/json" and req.headers["Content-Type"] == "application/json"
    assert orjson.loads(req.body) == {"model": "gpt-5.2", "input": "Hi"}
    streamed = ADAPTER.build_request({"input": "Hi"}, target("grok-4.3", "xai"), stream=True)
    assert streamed.url == "https://api.x.ai/v1/responses" and streamed.headers["Accept"] == "text/event-stream"
    assert orjson.loads(streamed.body) == {"input": "Hi", "model": "grok-4.3", "stream": True}


def test_build_request_without_key_sends_no_authorization():
    local = Target(provider="local", provider_type="openai", base_url="http://127.0.0.1:8000/v1", api_key=None,
                   upstream_model="qwen3", slug="local/qwen3")
    req = ADAPTER.build_request({"input": "Hi"}, local)
    assert req.url == "http://127.0.0.1:8000/v1/responses" and "Authorization" not in req.headers


# ------------------------------------------------------------------------------------------------ usage

@pytest.mark.parametrize("raw, want", [
    # OpenAI: cached inside input, reasoning inside output, total = input + output
    ({"input_tokens": 312, "input_tokens_details": {"cached_tokens": 256}, "output_tokens": 151,
      "output_tokens_details": {"reasoning_tokens": 128}, "total_tokens": 463},
     Usage(prompt_tokens=312, completion_tokens=151, cached_tokens=256, reasoning_tokens=128)),
    # a total that shows reasoning on top of output_tokens: 187 + 42 + 310 = 539 -> completion 352
    ({"input_tokens": 187, "input_tokens_details": {"cached_tokens": 160}, "output_tokens": 42,
      "output_tokens_details": {"reasoning_tokens": 310}, "total_tokens": 539, "cost_in_usd_ticks": 61425000},
     Usage(prompt_tokens=187, completion_tokens=352, cached_tokens=160, reasoning_tokens=310)),
    # no total: OpenAI's rule (reasoning inside output)
    ({"input_tokens": 10, "output_tokens": 30, "output_tokens_details": {"reasoning_tokens": 20}},
     Usage(prompt_tokens=10, completion_tokens=30, reasoning_tokens=20)),
    # cache writes inside input
    ({"input_tokens": 2000, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 1800},
      "output_tokens": 5, "total_tokens": 2005},
     Usage(prompt_tokens=2000, completion_tokens=5, cache_write_tokens=1800)),
    # lax: no details at all, no output_tokens
    ({"input_tokens": 11}, Usage(prompt_tokens=11)),
    # junk in the details is not a count
    ({"input_tokens": 5, "output_tokens": 2, "input_tokens_details": {"cached_tokens": -1},
      "output_tokens_details": {"reasoning_tokens": "7"}}, Usage(prompt_tokens=5, completion_tokens=2)),
])
def test_usage_from_responses(raw, want):
    assert usage_from_responses(raw) == want


@pytest.mark.parametrize("raw", [None, {}, [], "12", {"output_tokens": 3, "total_tokens": 3},
                                 {"input_tokens": None, "output_tokens": 3}, {"input_tokens": True},
                                 {"input_tokens": -1}])
def test_missing_usage_is_none_never_zeros(raw):
    assert usage_from_responses(raw) is None


# ------------------------------------------------------------------------------------------------ parse_response

@pytest.mark.parametrize("name", RESPONSES)
def test_parse_response_golden(name):
    fx = load(name)
    payload = copy.deepcopy(fx["response"])
    t = target("grok-4.20-multi-agent-0309", "xai") if "xai" in name else target("gpt-4.1")
    if "error" in fx:
        with pytest.raises(exc.GatewayError) as info:
            ADAPTER.parse_response(payload, t, fx["request"]["model"])
        want = fx["error"]
        e = info.value
        assert (type(e).__name__, e.status, e.code, e.retryable) == \
            (want["class"], want["status"], want["code"], want["retryable"])
        assert fx["response"]["error"]["message"] in e.message
        return
    completion = ADAPTER.parse_response(payload, t, fx["request"]["model"])
    assert isinstance(completion, Completion)
    assert completion.body == fx["response"]               # the upstream object as it came (the egress stamps it)
    want = fx["usage"]
    assert completion.usage == (Usage(**want) if want is not None else None)


@pytest.mark.parametrize("case", load("responses_errors.json")["cases"], ids=lambda c: c["name"])
def test_parse_response_errors(case):
    with pytest.raises(exc.GatewayError) as info:
        ADAPTER.parse_response(copy.deepcopy(case["body"]), target("gpt-4.1"), "openai/gpt-4.1")
    want, e = case["error"], info.value
    assert type(e).__name__ == want["class"] and e.status == want["status"]
    assert want["message_contains"] in e.message
    if "param" in want:
        assert e.param == want["param"]


@pytest.mark.parametrize("err, cls", [
    ({"code": "server_error", "message": "m"}, exc.ProviderUnavailable),
    ({"code": "rate_limit_exceeded", "message": "m"}, exc.RateLimited),
    ({"code": "invalid_prompt", "message": "m"}, exc.InvalidRequest),
    ({"code": "invalid_image_url", "message": "m"}, exc.InvalidRequest),
    ({"code": "vector_store_timeout", "message": "m"}, exc.ProviderUnavailable),
    ({"code": "something_new", "message": "m"}, exc.ProviderUnavailable),
    ({"message": "m"}, exc.ProviderUnavailable),
])
def test_failed_response_by_error_code(err, cls):
    body = {**load("responses_failed.json")["response"], "error": err}
    with pytest.raises(cls):
        ADAPTER.parse_response(body, target("gpt-4.1"), "openai/gpt-4.1")


def test_parse_error_is_the_openai_table():
    e = ADAPTER.parse_error(429, {"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}},
                            2.0)
    assert isinstance(e, exc.RateLimited) and e.retry_after == 2.0 and "slow down" in e.message
    e = ADAPTER.parse_error(400, {"error": {"message": "Unknown parameter: 'foo'.", "param": "foo"}}, None)
    assert isinstance(e, exc.InvalidRequest) and e.param == "foo"


# ------------------------------------------------------------------------------------------------ streams

@pytest.mark.parametrize("name", STREAMS)
def test_stream_golden(name):
    """Every upstream event comes out as it went in, in order, one per SSE event; usage and finish_reason from the
    terminal event; a failed stream raises the error it stands for, after the events before it."""
    fx = load(name)
    raw = fx["upstream_sse"].encode() if "upstream_sse" in fx else raw_sse(fx["events"])
    events = decode(raw)
    assert [e.event for e in events] == [e["type"] for e in fx["events"]]
    state = ADAPTER.stream_state(target("gpt-4.1"))
    assert isinstance(state, ResponsesAPIStreamState)
    out, error = run(state, events)
    want_usage = Usage(**fx["usage"]) if fx["usage"] is not None else None
    assert state.usage == want_usage
    if "error" in fx:
        want = fx["error"]
        assert error is not None, "the stream should have failed"
        assert (type(error).__name__, error.status, error.code) == (want["class"], want["status"], want["code"])
        assert want["message_contains"] in error.message
        failing = fx["events"][-1]["type"] in ("error", "response.failed")
        assert out == fx["events"][:-1] if failing else out == fx["events"]
        assert state.terminal is None and state.finish_reason is None
    else:
        assert error is None
        assert out == fx["events"]
        assert state.terminal == fx["events"][-1]["response"]
        assert state.finish_reason == fx["finish_reason"]


@pytest.mark.parametrize("name", STREAMS)
def test_stream_state_at_every_event(name):
    """Before the terminal event nothing is known (no usage, no finish_reason); each event gives exactly itself."""
    fx = load(name)
    state = ResponsesAPIStreamState()
    for i, event in enumerate(fx["events"]):
        kind = event["type"]
        sse = SSEEvent(json.dumps(event), kind)
        if kind in ("error", "response.failed"):
            with pytest.raises(exc.GatewayError):
                state.feed(sse)
            assert i == len(fx["events"]) - 1
            return
        assert state.feed(sse) == [event], (i, kind)
        terminal = kind in ("response.completed", "response.incomplete")
        assert (state.terminal is not None) == terminal, (i, kind)
        assert (state.finish_reason is not None) == terminal, (i, kind)
        if not terminal:
            assert state.usage is None, (i, kind)
    if fx.get("error"):
        with pytest.raises(exc.ProviderUnavailable):
            state.finish()
    else:
        assert state.finish() == []


def test_small_stream_split_at_every_byte_boundary():
    """The raw xAI recording (CRLF, a comment, multibyte characters): any two-piece split, and one byte at a time,
    give the same events and the same state."""
    fx = load("responses_stream_xai_incomplete.json")
    raw = fx["upstream_sse"].encode()
    whole = [(e.event, e.data) for e in decode(raw)]
    assert [json.loads(d) for _, d in whole] == fx["events"]
    for cut in range(1, len(raw)):
        d = SSEDecoder()
        got = d.feed(raw[:cut]) + d.feed(raw[cut:]) + d.close()
        assert [(e.event, e.data) for e in got] == whole, cut
    events = decode(raw, piece=1)
    assert [(e.event, e.data) for e in events] == whole
    state = ResponsesAPIStreamState()
    out, error = run(state, events)
    assert error is None and out == fx["events"]
    assert state.finish_reason == "length" and state.usage == Usage(**fx["usage"])


def test_stream_ignores_done_and_blank_data():
    state = ResponsesAPIStreamState()
    assert state.feed(SSEEvent("[DONE]")) == [] and state.feed(SSEEvent("  ")) == []


@pytest.mark.parametrize("data", ['{"no": "type"}', '[1, 2]', '{"type": 3}'])
def test_event_without_a_type_is_provider_unavailable(data):
    with pytest.raises(exc.ProviderUnavailable):
        ResponsesAPIStreamState().feed(SSEEvent(data))


def test_undecodable_event_raises_for_the_relay_to_name():
    """Not JSON: the relay turns it into ProviderUnavailable via providers.base.untranslatable."""
    with pytest.raises(ValueError):
        ResponsesAPIStreamState().feed(SSEEvent("not json"))


@pytest.mark.parametrize("event, cls, message", [
    # the documented shape: code, message, param at the top level
    ({"type": "error", "code": "server_error", "message": "Something went wrong", "param": None, "sequence_number": 3},
     exc.ProviderUnavailable, "Something went wrong"),
    ({"type": "error", "code": "rate_limit_exceeded", "message": "Rate limit reached", "param": None,
      "sequence_number": 1}, exc.RateLimited, "Rate limit reached"),
    # the shape OpenAI sends: nested under `error`
    ({"type": "error", "sequence_number": 2, "error": {"type": "invalid_request_error", "code":
      "context_length_exceeded", "message": "Your input exceeds the context window of this model.",
      "param": "input"}}, exc.InvalidRequest, "exceeds the context window"),
    ({"type": "error", "sequence_number": 2, "error": {"type": "server_error", "code": None,
      "message": "The server had an error.", "param": None}}, exc.ProviderUnavailable, "The server had an error."),
])
def test_error_event_shapes(event, cls, message):
    with pytest.raises(cls) as info:
        ResponsesAPIStreamState().feed(SSEEvent(json.dumps(event), "error"))
    assert message in info.value.message
    if cls is exc.InvalidRequest:
        assert info.value.param == "input"


def test_response_failed_without_error_object():
    state = ResponsesAPIStreamState()
    with pytest.raises(exc.ProviderUnavailable) as info:
        state.feed(SSEEvent(json.dumps({"type": "response.failed", "sequence_number": 0,
                                        "response": {"object": "response", "status": "failed", "output": []}})))
    assert "failed" in info.value.message and state.usage is None


def test_content_filter_incomplete_is_content_filter():
    state = ResponsesAPIStreamState()
    state.feed(SSEEvent(json.dumps({"type": "response.incomplete", "sequence_number": 0, "response": {
        "object": "response", "status": "incomplete", "output": [],
        "incomplete_details": {"reason": "content_filter"}}})))
    assert state.finish_reason == "content_filter" and state.usage is None and state.finish() == []
