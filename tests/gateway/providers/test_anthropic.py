"""Golden tests of the Anthropic adapter: recorded requests, responses and errors in tests/fixtures/anthropic."""
import ast
import copy
import json
import pathlib
import time

import orjson
import pytest

from gateway import exceptions as exc
from gateway.providers import adapter_for
from gateway.providers.anthropic import ANTHROPIC_VERSION, AnthropicAdapter
from gateway.providers.anthropic import effort as eff
from gateway.values import Target, Usage
from tests.support.openapi import assert_valid

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "anthropic"
PACKAGE = pathlib.Path(__file__).resolve().parents[3] / "gateway" / "providers" / "anthropic"
ADAPTER = AnthropicAdapter()


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def names(prefix: str) -> list[str]:
    found = sorted(p.name for p in FIXTURES.glob(f"{prefix}*.json") if p.name != "request_errors.json")
    assert found, f"no fixtures {prefix}*.json"
    return found


def target(**over) -> Target:
    upstream = over.pop("upstream_model", "claude-sonnet-4-5")
    return Target(provider="anthropic", provider_type="anthropic", base_url="https://api.anthropic.com/v1/",
                  api_key="sk-ant-test", upstream_model=upstream, slug=f"anthropic/{upstream}", **over)


def test_fixture_count():
    """The brief asks for at least 15 golden cases over both directions."""
    cases = len(names("request_")) + len(load("request_errors.json")["cases"]) + len(names("response_")) \
        + len(load("errors.json")["cases"]) + len(names("stream_"))
    assert cases >= 15


@pytest.mark.parametrize("name", names("request_"))
def test_request_golden(name):
    fx = load(name)
    client = copy.deepcopy(fx["client"])
    req = ADAPTER.build_request(client, target(**fx["target"]), stream=fx["stream"])
    assert orjson.loads(req.body) == fx["upstream"]
    assert client == fx["client"]                      # the client's body is not modified


@pytest.mark.parametrize("case", load("request_errors.json")["cases"], ids=lambda c: c["description"])
def test_request_errors_name_the_parameter(case):
    with pytest.raises(exc.InvalidRequest) as info:
        ADAPTER.build_request(case["client"], target(**case["target"]))
    assert info.value.param == case["param"]
    assert case["message_contains"] in info.value.message
    assert info.value.status == 400


def test_request_url_and_headers():
    req = ADAPTER.build_request({"model": "m", "messages": [{"role": "user", "content": "Hi"}]}, target())
    assert (req.method, req.url) == ("POST", "https://api.anthropic.com/v1/messages")
    assert req.headers == {"x-api-key": "sk-ant-test", "anthropic-version": ANTHROPIC_VERSION,
                           "content-type": "application/json", "accept": "application/json"}
    assert ANTHROPIC_VERSION == "2023-06-01"
    streaming = ADAPTER.build_request({"model": "m", "messages": [{"role": "user", "content": "Hi"}]}, target(),
                                      stream=True)
    assert streaming.headers["accept"] == "text/event-stream" and orjson.loads(streaming.body)["stream"] is True
    assert "stream" not in orjson.loads(req.body)


def test_registry_serves_the_adapter():
    assert isinstance(adapter_for("anthropic"), AnthropicAdapter)


@pytest.mark.parametrize("name", names("response_"))
def test_response_golden(name):
    fx = load(name)
    before = int(time.time())
    completion = ADAPTER.parse_response(copy.deepcopy(fx["upstream"]), target(), fx["requested_model"])
    body = completion.body
    assert before <= body["created"] <= int(time.time())      # the gateway clock: Anthropic sends none
    body["created"] = fx["client"]["created"]
    assert body == fx["client"]
    assert completion.usage == Usage(**fx["usage"])
    assert_valid(body, "CreateChatCompletionResponse")


def test_every_stop_reason_is_covered_by_a_response_fixture():
    from gateway.providers.anthropic.response import FINISH
    covered = {load(n)["upstream"]["stop_reason"] for n in names("response_")}
    assert covered == {k for k in FINISH if k is not None}
    finishes = {load(n)["client"]["choices"][0]["finish_reason"] for n in names("response_")}
    assert finishes == {"stop", "length", "tool_calls", "content_filter"}


@pytest.mark.parametrize("payload", [b"<html>oops</html>", {"type": "message"}, {"choices": []}, None])
def test_a_non_message_answer_is_provider_unavailable(payload):
    with pytest.raises(exc.ProviderUnavailable):
        ADAPTER.parse_response(payload, target(), "anthropic/claude-sonnet-4-5")


def test_an_error_body_with_http_200_raises_its_error():
    payload = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(exc.ProviderUnavailable, match="Overloaded"):
        ADAPTER.parse_response(payload, target(), "anthropic/claude-sonnet-4-5")


def test_missing_usage_is_unknown_not_zero():
    fx = load("response_text.json")["upstream"]
    completion = ADAPTER.parse_response({k: v for k, v in fx.items() if k != "usage"}, target(), "m")
    assert completion.usage is None and "usage" not in completion.body


@pytest.mark.parametrize("case", load("errors.json")["cases"], ids=lambda c: f"{c['status']}")
def test_error_golden(case):
    payload = case["upstream"].encode() if isinstance(case["upstream"], str) else case["upstream"]
    err = ADAPTER.parse_error(case["status"], payload, case["retry_after"])
    want = case["expected"]
    assert type(err).__name__ == want["class"]
    got = {"class": type(err).__name__, "status": err.status, "code": err.code, "message": err.message,
           "retryable": err.retryable, "retry_after": err.retry_after}
    assert got == want
    assert err.upstream_status == case["status"]


def test_effort_table_rows_are_complete_and_valid():
    levels = set(eff.ADAPTIVE_EFFORT)
    for prefix, row in eff.THINKING_BUDGETS.items():
        assert set(row) == levels, prefix
        assert all(v >= eff.MIN_BUDGET for v in row.values()), prefix
        assert [row[k] for k in ("low", "medium", "high", "max")] == sorted(row[k] for k in ("low", "medium",
                                                                                            "high", "max"))


def test_effort_capability_overrides():
    adaptive = target(upstream_model="claude-sonnet-4-6")
    assert eff.thinking_for("high", "model", adaptive).thinking_param() == {"type": "adaptive"}
    forced = target(upstream_model="claude-sonnet-4-6", capabilities={"thinking": "budget",
                                                                      "thinking_budgets": {"high": 9000}})
    assert eff.thinking_for("high", "model", forced).thinking_param() == {"type": "enabled", "budget_tokens": 9000}
    assert eff.thinking_for("low", "model", target(upstream_model="claude-opus-9")).adaptive   # newer: adaptive
    assert not eff.thinking_for("low", "model", target(upstream_model="claude-haiku-4-5-20251001")).adaptive
    assert not eff.can_think(target(capabilities={"thinking": False}))
    assert not eff.can_think(target(capabilities={"reasoning": False}))
    assert eff.can_think(target(upstream_model="claude-3-5-sonnet-x", capabilities={"reasoning": True}))
    assert eff.can_think(target(upstream_model="claude-3-7-sonnet-20250219"))
    assert not eff.can_think(target(upstream_model="claude-3-5-haiku-20241022"))


def test_effort_none_sends_no_thinking():
    body = {"model": "m", "reasoning_effort": "none", "messages": [{"role": "user", "content": "Hi"}]}
    sent = orjson.loads(ADAPTER.build_request(body, target()).body)
    assert "thinking" not in sent and sent["max_tokens"] == 1024


def test_drop_unsupported_downgrades_forced_tool_use_under_thinking():
    body = {"model": "m", "reasoning_effort": "low", "temperature": 0.2, "tool_choice": "required",
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "messages": [{"role": "user", "content": "Hi"}]}
    sent = orjson.loads(ADAPTER.build_request(body, target(drop_unsupported=True)).body)
    assert sent["tool_choice"] == {"type": "auto"} and "temperature" not in sent
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_package_rules():
    """No Flask, requests or SQLAlchemy in providers; each module has a one-line docstring and stays small."""
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not imported & {"flask", "requests", "sqlalchemy"}, path.name
        doc = ast.get_docstring(tree)
        assert doc and doc.splitlines()[0].strip(), path.name
        assert len(path.read_text().splitlines()) <= 300, path.name
