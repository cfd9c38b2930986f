"""The rules a configuration change follows wherever it is made (gateway/config_rules.py): one function per rule,
returning its problems as sentences, so the config import and the admin forms refuse the same things."""
import pytest

from gateway.config_rules import base_url_problems, builtin_provider_types, target_problems

PROVIDERS = {**builtin_provider_types(), "acme": "openai", "claude-eu": "anthropic"}
MODELS = {"openai/gpt-4o": {}, "acme/big": {"efforts": ["low", "high"]}, "acme/odd:v2": {}}


@pytest.mark.parametrize("target", [
    "openai/gpt-4o", "openai/gpt-4o:low", "openai/gpt-4o:max", "acme/big:high", "acme/odd:v2", "gpt-4o-mini",
    "claude-sonnet-4-5:medium", "acme/llama3:8b", "acme/ft:gpt-4o-mini:org::id", "openrouter/meta/llama:free",
    "xai/grok-4", "claude-eu/claude-opus-4-1:high",
])
def test_what_routing_can_serve_is_accepted(target):
    assert target_problems(target, PROVIDERS, MODELS) == []


@pytest.mark.parametrize("target, words", [
    ("nosuchprovider/foo", ["names the provider 'nosuchprovider', which does not exist", "known: acme, anthropic"]),
    ("openai/gpt-4o:ultra", ["':ultra' is not a reasoning effort", "sent upstream as the model 'gpt-4o:ultra'"]),
    ("claude-eu/claude-x:turbo", ["':turbo' is not a reasoning effort"]),       # an Anthropic id holds no ':'
    ("acme/big:medium", ["does not take the effort ':medium' (it takes: low, high)"]),
    ("openai/gpt-4o:High", ["written in lowercase (:high)"]),
    ("openai/gpt-4o:", ["ends with ':'"]),
    ("llama3", ["neither provider/model nor a model id the gateway maps to a provider"]),
    ("openai/", ["is not provider/model"]),
    ("/gpt-4o", ["is not provider/model"]),
    ("openai/gpt 4o", ["holds whitespace"]),
    ("", ["must name a model"]),
])
def test_what_routing_would_refuse_or_misroute_is_a_problem_naming_the_target(target, words):
    problems = target_problems(target, PROVIDERS, MODELS)
    assert len(problems) == 1
    assert all(w in problems[0] for w in words), problems[0]
    if target:
        assert f"'{target}'" in problems[0]


def test_models_may_be_given_as_plain_slugs():
    assert target_problems("acme/big:ultra", PROVIDERS, ["acme/big"]) != []
    assert target_problems("acme/big:ultra", PROVIDERS, []) == []         # an unknown model: its id may hold ':'


@pytest.mark.parametrize("url", ["https://api.openai.com/v1", "http://127.0.0.1:11434/v1", "http://[::1]:8000/v1",
                                 "https://llm.internal"])
def test_plain_http_urls_are_base_urls(url):
    assert base_url_problems(url) == []


@pytest.mark.parametrize("url, words", [
    ("https://bob:hunter2@api.example.com/v1", "must not hold credentials"),
    ("https://sk-only@api.example.com/v1", "must not hold credentials"),
    ("https://api.example.com/v1?key=sk-123", "must not have a query"),
    ("https://api.example.com/v1?", "must not have a query"),
    ("https://api.example.com/v1#x", "must not have a fragment"),
    ("file:///etc/passwd", "must start with http:// or https://"),
    ("gopher://api.example.com/", "must start with http:// or https://"),
    ("https://", "names no host"),
    ("https://api.example.com:0/v1", "names port 0"),
    ("https://api.example.com:http/v1", "port that is not a number"),
    (" https://api.example.com/v1", "holds whitespace"),
    ("", "must be a URL"),
])
def test_a_base_url_with_another_scheme_no_host_credentials_query_or_fragment_is_refused(url, words):
    problems = base_url_problems(url)
    assert any(words in p for p in problems), problems
    joined = " ".join(problems)
    assert "hunter2" not in joined and "sk-123" not in joined and "sk-only" not in joined
