"""Golden tests of the Gemini adapter, non-streaming: recorded requests, responses and errors in
tests/fixtures/gemini compared as whole dicts, plus the effort table and the adapter's house rules."""
import ast
import copy
import json
import pathlib

import orjson
import pytest

from gateway import exceptions as exc
from gateway.providers import adapter_for
from gateway.values import Target, Usage
from gateway.providers.gemini import GeminiAdapter
from gateway.providers.gemini.effort import thinking_config
from tests.support.openapi import assert_valid

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "gemini"
BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
ADAPTER = GeminiAdapter()


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def target(**kw) -> Target:
    model = kw.pop("upstream_model", "gemini-2.5-flash")
    return Target(provider="gemini", provider_type="gemini", base_url=BASE_URL + "/", api_key="test-gemini-key",
                  upstream_model=model, slug=f"gemini/{model}", **kw)


def error_dict(err: exc.GatewayError) -> dict:
    return {"error": type(err).__name__, "status": err.status, "code": err.code, "message": err.message,
            "param": err.param}


def cases(prefix: str) -> list:
    files = sorted(p.name for p in FIXTURES.glob(f"{prefix}*.json"))
    return [pytest.param(load(f), id=f.removesuffix(".json")) for f in files if "cases" not in load(f)]


def table(name: str) -> list:
    return [pytest.param(c, id=c["description"][:60]) for c in load(name)["cases"]]


def test_there_are_enough_golden_cases():
    count = 0
    for path in FIXTURES.glob("*.json"):
        data = json.loads(path.read_text())
        count += len(data["cases"]) if "cases" in data else 1
    assert count >= 15


def test_the_registry_serves_this_adapter():
    assert isinstance(adapter_for("gemini"), GeminiAdapter)


# -- requests ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fixture", cases("request_"))
def test_request_golden(fixture):
    body = copy.deepcopy(fixture["request"])
    req = ADAPTER.build_request(body, target(**fixture["target"]), stream=fixture["stream"])
    got = {"method": req.method, "url": req.url, "headers": req.headers, "body": orjson.loads(req.body)}
    assert got == fixture["expected"]
    assert body == fixture["request"], "the adapter must not change the client's body"


@pytest.mark.parametrize("case", table("request_errors.json"))
def test_request_errors_golden(case):
    with pytest.raises(exc.GatewayError) as info:
        ADAPTER.build_request(copy.deepcopy(case["request"]), target(**case["target"]))
    assert error_dict(info.value) == case["expected"]


def _without(request: dict, param: str) -> dict:
    """The request as if the client had not sent `param` (a top-level field or tools[i].type)."""
    out = copy.deepcopy(request)
    if param.startswith("tools["):
        del out["tools"][int(param[len("tools["):].split("]")[0])]
    else:
        out.pop(param, None)
    return out


@pytest.mark.parametrize("case", table("request_errors.json"))
def test_drop_unsupported_drops_exactly_the_parameter_but_not_broken_input(case):
    """With drop_unsupported the request is what it would be without the parameter; broken input stays a 400."""
    param = case["expected"]["param"]
    dropping = target(**case["target"], drop_unsupported=True)
    if param.startswith("messages[") or param == "tool_choice":
        with pytest.raises(exc.InvalidRequest):
            ADAPTER.build_request(copy.deepcopy(case["request"]), dropping)
        return
    dropped = ADAPTER.build_request(copy.deepcopy(case["request"]), dropping)
    plain = ADAPTER.build_request(_without(case["request"], param), target(**case["target"]))
    assert orjson.loads(dropped.body) == orjson.loads(plain.body)


# -- effort table --------------------------------------------------------------------------------------------

EFFORT_TABLE = [
    ("gemini-2.5-flash", "low", {"thinkingBudget": 1024, "includeThoughts": True}),
    ("gemini-2.5-flash", "medium", {"thinkingBudget": 8192, "includeThoughts": True}),
    ("gemini-2.5-flash", "high", {"thinkingBudget": 24576, "includeThoughts": True}),
    ("gemini-2.5-flash", "max", {"thinkingBudget": 24576, "includeThoughts": True}),
    ("gemini-2.5-flash", "minimal", {"thinkingBudget": 128, "includeThoughts": True}),
    ("gemini-2.5-flash", "none", {"thinkingBudget": 0}),
    ("gemini-2.5-flash-lite", "minimal", {"thinkingBudget": 512, "includeThoughts": True}),
    ("gemini-2.5-pro", "low", {"thinkingBudget": 1024, "includeThoughts": True}),
    ("gemini-2.5-pro", "high", {"thinkingBudget": 24576, "includeThoughts": True}),
    ("gemini-2.5-pro", "max", {"thinkingBudget": 32768, "includeThoughts": True}),
    ("gemini-2.5-pro", "xhigh", {"thinkingBudget": 32768, "includeThoughts": True}),
    ("gemini-3-pro-preview", "low", {"thinkingLevel": "low", "includeThoughts": True}),
    ("gemini-3-pro-preview", "medium", {"thinkingLevel": "high", "includeThoughts": True}),
    ("gemini-3-pro-preview", "high", {"thinkingLevel": "high", "includeThoughts": True}),
    ("gemini-3-flash-preview", "minimal", {"thinkingLevel": "minimal", "includeThoughts": True}),
    ("gemini-3-flash-preview", "medium", {"thinkingLevel": "medium", "includeThoughts": True}),
    ("gemini-3.1-pro-preview", "max", {"thinkingLevel": "high", "includeThoughts": True}),
]


@pytest.mark.parametrize("model,effort,expected", EFFORT_TABLE)
def test_effort_table(model, effort, expected):
    assert thinking_config({"reasoning_effort": effort}, target(upstream_model=model)) == expected


def test_effort_precedence_slug_then_reasoning_effort_then_reasoning():
    t = target(upstream_model="gemini-2.5-pro")
    both = {"reasoning_effort": "low", "reasoning": {"effort": "high"}}
    assert thinking_config(both, t)["thinkingBudget"] == 1024
    assert thinking_config({"reasoning": {"effort": "high"}}, t)["thinkingBudget"] == 24576
    assert thinking_config(both, target(upstream_model="gemini-2.5-pro", effort="max"))["thinkingBudget"] == 32768
    assert thinking_config({}, t) is None


@pytest.mark.parametrize("model", ["gemini-3-pro-preview", "gemini-3-flash-preview", "gemini-2.5-pro"])
def test_models_that_cannot_stop_thinking_say_so(model):
    with pytest.raises(exc.InvalidRequest) as info:
        thinking_config({"reasoning_effort": "none"}, target(upstream_model=model))
    assert info.value.param == "reasoning_effort"
    assert thinking_config({"reasoning_effort": "none"}, target(upstream_model=model, drop_unsupported=True)) is None


def test_slug_effort_on_a_model_without_thinking_names_the_model():
    with pytest.raises(exc.InvalidRequest) as info:
        thinking_config({}, target(upstream_model="gemini-2.0-flash", effort="low"))
    assert info.value.param == "model"


# -- responses -----------------------------------------------------------------------------------------------

def check_completion(fixture: dict) -> None:
    completion = ADAPTER.parse_response(copy.deepcopy(fixture["response"]), target(), fixture["requested_model"])
    body = copy.deepcopy(completion.body)
    created = body.pop("created")
    assert isinstance(created, int) and created > 1_700_000_000
    assert body == fixture["expected"]
    expected_usage = fixture["expected"].get("usage")
    if expected_usage is None:
        assert completion.usage is None
    else:
        assert isinstance(completion.usage, Usage)
        assert completion.usage.as_openai() == expected_usage and completion.usage.cache_write_tokens == 0
    assert_valid(completion.body, "CreateChatCompletionResponse")


@pytest.mark.parametrize("fixture", cases("response_"))
def test_response_golden(fixture):
    check_completion(fixture)


@pytest.mark.parametrize("case", table("response_finish_reasons.json"))
def test_every_finish_reason(case):
    check_completion(case)


def test_a_response_without_candidates_or_block_reason_is_a_provider_failure():
    with pytest.raises(exc.ProviderUnavailable):
        ADAPTER.parse_response({"usageMetadata": {"promptTokenCount": 1}}, target(), "gemini/gemini-2.5-flash")
    with pytest.raises(exc.ProviderUnavailable):
        ADAPTER.parse_response(b"<html>", target(), "gemini/gemini-2.5-flash")


def test_tool_call_ids_are_stable_and_round_trip_the_signature():
    """The ids minted for an answer are the same each time, and sending them back restores name and signature."""
    fixture = load("response_tool_calls_thoughts.json")
    first = ADAPTER.parse_response(copy.deepcopy(fixture["response"]), target(), "m").body
    again = ADAPTER.parse_response(copy.deepcopy(fixture["response"]), target(), "m").body
    calls = first["choices"][0]["message"]["tool_calls"]
    assert calls == again["choices"][0]["message"]["tool_calls"]
    assert len({c["id"] for c in calls}) == 2
    for carry_extra in (True, False):   # clients that keep extra_content and clients that only keep the id
        sent_calls = [c if carry_extra else {k: v for k, v in c.items() if k != "extra_content"} for c in calls]
        follow_up = {"model": "m", "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": sent_calls},
            *[{"role": "tool", "tool_call_id": c["id"], "content": f"result {k}"} for k, c in enumerate(calls)]]}
        contents = orjson.loads(ADAPTER.build_request(follow_up, target()).body)["contents"]
        model_parts = contents[1]["parts"]
        assert model_parts == [part for part in fixture["response"]["candidates"][0]["content"]["parts"]
                               if "functionCall" in part]
        assert [p["functionResponse"]["name"] for p in contents[2]["parts"]] == ["get_weather", "get_weather"]


# -- errors --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", table("errors.json"))
def test_errors_golden(case):
    err = ADAPTER.parse_error(case["status"], copy.deepcopy(case["body"]), case["retry_after"])
    assert {**error_dict(err), "retry_after": err.retry_after, "upstream_status": err.upstream_status} == \
        case["expected"]


def test_an_error_object_inside_a_200_answer_raises_it():
    with pytest.raises(exc.RateLimited):
        ADAPTER.parse_response({"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}},
                               target(), "m")


# -- house rules ---------------------------------------------------------------------------------------------

PACKAGE = pathlib.Path(__file__).resolve().parents[3] / "gateway" / "providers" / "gemini"


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_modules_are_small_documented_and_import_no_io(path):
    source = path.read_text()
    tree = ast.parse(source)
    doc = ast.get_docstring(tree)
    assert doc and doc.strip(), f"{path.name} needs a module docstring"
    assert len(source.splitlines()) <= 300
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"flask", "requests", "sqlalchemy", "socket", "urllib3", "http"}
