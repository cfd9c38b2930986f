"""Hostile request bodies over HTTP to /v1/chat/completions and /v1/responses on the live gateway: every answer is
a success or a 4xx in our envelope naming the field at fault, never a 5xx, and the server still answers after.

Generated (hypothesis): valid bodies with one to three nodes replaced by values of the wrong type (at every level:
a role that is a list, a content part that is a number, tools that are strings...), and bodies of random JSON.
By hand: raw JSON tokens NaN and Infinity, numbers past any range, invalid UTF-8, lone surrogates, duplicate keys,
empty and non-object bodies, wrong content types, nesting past what the gateway can pass on, megabyte strings and
20,000 messages. One test per bug class found here pins its fix."""
import copy
import json
import os

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import exceptions as exc
from tests.support.openapi import assert_valid

TIMEOUT_S = 30            # a worker that hangs fails the test instead of the suite
STATUS = {cls.code: cls.status for cls in vars(exc).values() if isinstance(cls, type) and issubclass(cls, exc.GatewayError)}
MODELS = ("openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash")
# SWITCHYARD_FUZZ_EXAMPLES=5000 digs deeper (and draws new cases each run) than the fixed cases CI runs
DEEPER = int(os.environ.get("SWITCHYARD_FUZZ_EXAMPLES") or 0)
FUZZ = settings(max_examples=DEEPER or 150, deadline=None, database=None, derandomize=not DEEPER,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

CHAT = {"model": "openai/gpt-4o-mini", "messages": [
    {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
    {"role": "user", "content": [{"type": "text", "text": "hi"},
                                 {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}}],
     "name": "bob"},
    {"role": "assistant", "content": "calling", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
    {"role": "tool", "content": "18C", "tool_call_id": "call_1"},
    {"role": "user", "content": "and now?"}],
    "tools": [{"type": "function", "function": {"name": "f", "description": "d",
                                                "parameters": {"type": "object", "properties": {}}}}],
    "tool_choice": "auto", "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {}}},
    "stop": ["END"], "temperature": 0.5, "max_tokens": 50, "metadata": {"k": "v"}, "logit_bias": {"12": 1}}
RESPONSES = {"model": "openai/gpt-4o-mini", "instructions": "Be brief.", "input": [
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
    {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking"}]},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "calling"}]},
    {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
    {"role": "user", "content": "and now?"}],
    "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}], "tool_choice": "auto",
    "text": {"format": {"type": "json_schema", "name": "n", "schema": {}}}, "reasoning": {"summary": "auto"},
    "include": ["reasoning.encrypted_content"], "max_output_tokens": 50, "temperature": 0.5, "store": False}

_LEAF = (st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False)
         | st.text(max_size=8) | st.sampled_from(["user", "assistant", "function", "text", "auto", "", "\x00",
                                                   "{1}", "sy1.!!", "data:x", "resp_" + "0" * 32]))
JUNK = st.recursive(_LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["type", "role", "content", "text", "name", "id", "function"]) | st.text(max_size=4), inner,
    max_size=3), max_leaves=8)
_KEYS = ["type", "role", "content", "text", "name", "tool_calls", "function", "id", "image_url", "url", "summary",
         "output", "call_id", "parameters", "format", "schema", "json_schema", "arguments"]


def _paths(node, at=()):
    yield at
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, at + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, at + (i,))


@st.composite
def mutated(draw, seed: dict):
    """`seed` with one to three nodes replaced by junk, or a known key added with a junk value."""
    body = copy.deepcopy(seed)
    body["model"] = draw(st.sampled_from(MODELS))
    places = list(_paths(body))[1:]
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.sampled_from(places))
        node = body
        try:
            for k in at[:-1]:
                node = node[k]
            if isinstance(node, dict) and draw(st.booleans()):
                node[draw(st.sampled_from(_KEYS))] = draw(JUNK)
            else:
                node[at[-1]] = draw(JUNK)
        except (KeyError, IndexError, TypeError):
            pass                                   # an earlier change removed that place
    return body


def _deep(levels: int) -> dict:
    node: dict = {}
    for _ in range(levels):
        node = {"a": node}
    return node


def _h(key: str, **extra) -> dict:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json", **extra}


def _post(live, path: str, key: str, body=None, data: bytes | None = None, headers: dict | None = None):
    raw = data if data is not None else json.dumps(body).encode()
    return requests.post(f"{live.url}{path}", data=raw, headers=headers or _h(key), timeout=TIMEOUT_S)


def assert_sane(resp: requests.Response) -> dict | None:
    """A success, or a 4xx in our envelope whose status is its code's and which names the field at fault."""
    assert resp.status_code < 500, f"{resp.status_code}: {resp.text[:500]}"
    if resp.status_code < 400:
        return None
    assert resp.headers["content-type"] == "application/json", resp.text[:200]
    body = resp.json()
    assert_valid(body, "ErrorResponse")
    error = body["error"]
    assert error["code"] == error["type"] and STATUS[error["code"]] == resp.status_code, error
    if error["code"] == "invalid_request":         # `param` names the field (or the body as a whole is at fault)
        assert error["param"] or error["message"].startswith("The request body"), error
    return error


def assert_alive(live) -> None:
    assert requests.get(f"{live.url}/healthz", timeout=5).json() == {"status": "ok"}


# ---- generated

def test_generated_chat_bodies(live, api_key):
    @FUZZ
    @given(st.one_of(mutated(CHAT), st.dictionaries(st.sampled_from(list(CHAT)), JUNK, max_size=6)))
    def run(body):
        assert_sane(_post(live, "/v1/chat/completions", api_key, body))
    run()
    assert_alive(live)


def test_generated_responses_bodies(live, api_key):
    @FUZZ
    @given(st.one_of(mutated(RESPONSES), st.dictionaries(st.sampled_from(list(RESPONSES)), JUNK, max_size=6)))
    def run(body):
        assert_sane(_post(live, "/v1/responses", api_key, body))
    run()
    assert_alive(live)


# ---- by hand: bytes no JSON library would write

HELLO = b'"messages": [{"role": "user", "content": "hi"}]'


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
@pytest.mark.parametrize("raw, needle", [
    (b"", "The request body is empty"),
    (b"   ", "not valid JSON"),
    (b"null", "must be a JSON object"),
    (b"[]", "must be a JSON object"),
    (b'"x"', "must be a JSON object"),
    (b"{", "not valid JSON"),
    (b'{"model": "openai/gpt-4o-mini", "temperature": NaN, ' + HELLO + b', "input": "x"}', "not valid JSON"),
    (b'{"model": "openai/gpt-4o-mini", "temperature": Infinity, ' + HELLO + b', "input": "x"}', "not valid JSON"),
    (b'{"model": "openai/gpt-4o-mini", "temperature": -Infinity, ' + HELLO + b', "input": "x"}', "not valid JSON"),
    (b'{"model": "openai/gpt-4o-mini", "temperature": 1e400, ' + HELLO + b', "input": "x"}', "not valid JSON"),
    (b'{"model": "\xff\xfe", ' + HELLO + b', "input": "x"}', "not valid JSON"),
    (b'{"model": "openai/gpt-4o-mini", "input": "\\ud800", ' + HELLO + b'}', "not valid JSON"),
    (b'{"model": "openai/gpt-4o-mini", "x": ' + b"[" * 1100 + b"]" * 1100 + b"}", "not valid JSON"),
])
def test_bytes_that_are_no_json_object_are_400(live, api_key, path, raw, needle):
    error = assert_sane(_post(live, path, api_key, data=raw))
    assert error["code"] == "invalid_request" and needle in error["message"]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
def test_duplicate_keys_take_the_last(live, api_key, path):
    raw = b'{"model": 5, "model": "openai/gpt-4o-mini", "input": "hi", ' + HELLO + b'}'
    resp = _post(live, path, api_key, data=raw)
    assert resp.status_code == 200 and resp.json()["model"] == "openai/gpt-4o-mini"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/json; charset=latin-1"])
def test_any_content_type_is_read_as_json(live, api_key, path, content_type):
    raw = b'{"model": "openai/gpt-4o-mini", "input": "hi", ' + HELLO + b'}'
    headers = {"Authorization": f"Bearer {api_key}"} | ({"Content-Type": content_type} if content_type else {})
    assert _post(live, path, api_key, data=raw, headers=headers).status_code == 200
    form = _post(live, path, api_key, data=b"model=x&input=y", headers=headers)
    assert assert_sane(form)["message"].startswith("The request body is not valid JSON")


# ---- one per bug class found by the generated suites (each was a 500 `internal`)

@pytest.mark.parametrize("change, param", [
    ({"messages": [{"role": ["user"], "content": "x"}]}, "messages[0].role"),            # unhashable role
    ({"messages": [{"role": {"r": 1}, "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": [{"type": {}}]}]}, "messages[0].content[0].type"),   # part type
    ({"messages": [{"role": "user", "content": [{"type": ["text"], "text": "x"}]}]}, "messages[0].content[0].type"),
    ({"messages": [{"role": "user", "content": [5]}]}, "messages[0].content[0]"),        # a part that is a number
    ({"tools": [{"type": "function", "function": {"name": "no spaces"}}]}, "tools[0].function.name"),  # {1,64}
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "a.b"}}},
     "response_format.json_schema.name"),
    ({"tools": "f"}, "tools"), ({"tools": [5]}, "tools[0]"), ({"tool_choice": [1]}, "tool_choice"),
    ({"stream": "false"}, "stream"), ({"logprobs": 1}, "logprobs"),                     # a truthy "false"
    ({"deep": _deep(200)}, "deep"), ({"deep": _deep(300)}, "deep"),     # nested past what can be passed on
])
def test_chat_bug_classes_are_400_naming_the_field(live, api_key, change, param):
    error = assert_sane(_post(live, "/v1/chat/completions", api_key, {**CHAT, **change}))
    assert error["code"] == "invalid_request" and error["param"] == param, error


@pytest.mark.parametrize("change, param", [
    ({"include": [["x"]]}, "include[0]"),                                                 # unhashable include
    ({"include": [{"a": 1}]}, "include[0]"),
    ({"model": "anthropic/claude-sonnet-4-5", "input": [{"type": "reasoning", "summary": 5}]},
     "input[0].summary"),                                                                # summary not a list
    ({"model": "anthropic/claude-sonnet-4-5", "input": [{"role": "assistant", "content": [
        {"type": "output_text", "text": [[]]}]}]}, "input[0].content[0].text"),               # a text that is a list
    ({"model": "gemini/gemini-2.5-flash", "input": [{"role": "user", "content": [{"type": "input_text", "text": 5}]}]},
     "input[0].content[0].text"),
    ({"input": 5}, "input"), ({"temperature": "hot"}, "temperature"), ({"tools": 5}, "tools"),
    ({"store": "yes"}, "store"), ({"max_output_tokens": 1.5}, "max_output_tokens"), ({"model": "m" * 300}, "model"),
    ({"text": _deep(300)}, "text"),
])
def test_responses_bug_classes_are_400_naming_the_field(live, api_key, change, param):
    error = assert_sane(_post(live, "/v1/responses", api_key, {**RESPONSES, **change}))
    assert error["code"] == "invalid_request" and error["param"] == param, error


@pytest.mark.parametrize("model", MODELS)
def test_nesting_just_inside_the_bound_is_passed_on(live, api_key, model):
    schema: dict = {"type": "object"}
    for _ in range(60):                              # 60 x 2 levels under tools[0].function.parameters
        schema = {"type": "object", "properties": {"a": schema}}
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": schema}}]}
    resp = _post(live, "/v1/chat/completions", api_key, body)
    assert resp.status_code == 200, resp.text[:300]


# ---- size

@pytest.mark.parametrize("model", MODELS)
def test_megabyte_strings_and_twenty_thousand_messages(live, api_key, model):
    big = "x" * (1 << 20)
    resp = _post(live, "/v1/chat/completions", api_key, {"model": model, "messages": [{"role": "user", "content": big}]})
    assert resp.status_code == 200 and resp.json()["choices"]
    many = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(20_000)]
    assert _post(live, "/v1/chat/completions", api_key, {"model": model, "messages": many}).status_code == 200
    items = [{"role": "user", "content": f"m{i}"} for i in range(20_000)]
    assert _post(live, "/v1/responses", api_key, {"model": model, "input": items, "store": False}).status_code == 200
    error = assert_sane(_post(live, "/v1/chat/completions", api_key, {"model": big, "messages": many}))
    assert error["param"] == "model"
    assert_alive(live)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("change", [
    {"max_tokens": 2**64 - 1}, {"max_completion_tokens": 2**63}, {"seed": -2**63}, {"seed": 2**64 - 1},
    {"n": 2**64 - 1}, {"temperature": 1e308}, {"top_p": -1e308}, {"logit_bias": {"1": 2**63}},
    {"max_tokens": 1.8446744073709552e19}, {"reasoning_effort": "max", "max_tokens": 2**64 - 1},
])
def test_numbers_past_any_range(live, api_key, model, change):
    assert_sane(_post(live, "/v1/chat/completions", api_key, {**CHAT, "model": model, **change}))


# ---- what is stored: a NUL (PostgreSQL refuses it in text) or an id we never mint reaches no SQL statement

def test_a_nul_in_the_model_name_still_leaves_its_log_row(live, api_key, services):
    from tests.support.logs import log_row
    for model in ("no-such\x00model", "openai/gpt\x00x"):
        resp = _post(live, "/v1/chat/completions", api_key, {"model": model, "messages": [{"role": "user",
                                                                                           "content": "hi"}]})
        assert_sane(resp)
        row = log_row(services, resp.headers["x-request-id"])
        assert row.requested_model == model.replace("\x00", "\ufffd")


def test_a_nul_in_the_model_name_of_a_stored_response_is_stored(live, api_key, services):
    from sqlalchemy import select

    from models import StoredResponse
    resp = _post(live, "/v1/responses", api_key, {"model": "openai/gpt\x00x", "input": "hi"})
    assert resp.status_code == 200 and resp.json()["model"] == "openai/gpt\x00x"
    store = services.responses.store
    store.flush()
    with services.sessionmaker() as s:
        row = s.scalar(select(StoredResponse).where(StoredResponse.id == resp.json()["id"]))
    assert row is not None and row.model == "openai/gpt\ufffdx"


@pytest.mark.parametrize("rid", ["resp_%00", "resp_" + "0" * 32 + "%00", "x" * 300, "resp_%F0%9F%92%A5"])
def test_ids_never_minted_are_404_without_a_query(live, api_key, rid):
    for method, path in (("GET", f"/v1/responses/{rid}"), ("DELETE", f"/v1/responses/{rid}"),
                         ("GET", f"/v1/responses/{rid}/input_items")):
        resp = requests.request(method, f"{live.url}{path}", headers={"Authorization": f"Bearer {api_key}"},
                                timeout=TIMEOUT_S)
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found", (method, path, resp.text)
    chained = _post(live, "/v1/responses", api_key, {"model": "anthropic/claude-sonnet-4-5", "input": "hi",
                                                     "previous_response_id": requests.utils.unquote(rid)})
    assert assert_sane(chained)["param"] == "previous_response_id"
