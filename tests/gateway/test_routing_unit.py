"""resolve() on a hand-built snapshot: aliases, slugs, bare ids, effort suffixes, weights."""
import random
from collections import Counter

import pytest

from gateway import exceptions as exc
from gateway import routing
from gateway.catalog import ModelConf, ProviderConf, RouteConf, RouteTargetConf, Snapshot
from gateway.routing import resolve, split_effort, weighted_order

SNAP = Snapshot(
    providers={"openai": ProviderConf("openai", "openai", "http://o", "k"),
               "ollama": ProviderConf("ollama", "openai", "http://l", "k"),
               "anthropic": ProviderConf("anthropic", "anthropic", "http://a", None),
               "off": ProviderConf("off", "openai", "http://x", "k", enabled=False)},
    models={"openai/gpt-4o": ModelConf("openai/gpt-4o", "openai", "gpt-4o-2024-08-06", None)},
    routes={"r": RouteConf("r", (RouteTargetConf("openai/gpt-4o", 0), RouteTargetConf("ollama/llama3:8b", 1)),
                           retries=2, timeout_ms=2000)},
    loaded_at=0)


@pytest.mark.parametrize("name, expected", [
    ("openai/o3:high", ("openai/o3", "high")), ("ollama/llama3:8b", ("ollama/llama3:8b", None)),
    ("x:max", ("x", "max")), (":low", (":low", None)), ("plain", ("plain", None)),
])
def test_split_effort(name, expected):
    assert split_effort(name) == expected


def test_alias_slug_and_bare_id():
    plan = resolve("r", SNAP)
    assert [t.label for t in plan.targets] == ["openai/gpt-4o-2024-08-06", "ollama/llama3:8b"]
    assert (plan.route, plan.retries, plan.timeout_s) == ("r", 2, 2.0)
    assert resolve("gpt-4o", SNAP).targets[0].upstream_model == "gpt-4o-2024-08-06"
    t = resolve("openai/o3:max", SNAP).targets[0]
    assert (t.upstream_model, t.effort, t.price) == ("o3", "max", None)
    assert resolve("claude-sonnet-4-5", SNAP).targets[0].api_key is None   # resolved; the key is checked later


@pytest.mark.parametrize("name", ["off/model", "unknown/model", "mystery-model", ""])
def test_unresolvable_names(name):
    with pytest.raises(exc.ModelNotSupported):
        resolve(name, SNAP)


def test_weighted_order_follows_weights():
    group = [RouteTargetConf("a", 0, 3), RouteTargetConf("b", 0, 1), RouteTargetConf("c", 0, 0)]
    rng = random.Random(7)
    firsts = Counter(weighted_order(group, rng)[0].model for _ in range(4000))
    assert abs(firsts["a"] / 4000 - 0.75) < 0.04 and firsts["c"] == 0
    assert sorted(t.model for t in weighted_order(group, rng)) == ["a", "b", "c"]   # nobody is lost


SPLIT = Snapshot(
    providers={"local": ProviderConf("local", "openai", "http://l", "k"),
               "openai": ProviderConf("openai", "openai", "http://o", "k")},
    models={},
    routes={"split": RouteConf("split", (RouteTargetConf("local/heavy", 0, 3), RouteTargetConf("local/light", 0, 1),
                                         RouteTargetConf("openai/gpt-4o-mini", 1, 1)), retries=0)},
    loaded_at=0)


def test_a_route_splits_its_first_target_by_weight_within_a_priority_and_keeps_the_lower_one_last(monkeypatch):
    """The route of the API test tests/gateway/api/test_routing.py (3:1 at priority 0, a fallback at priority 1),
    resolved 1000 times as requests resolve it. Tolerance: 5 standard deviations of the binomial (about ±0.069);
    the generator is seeded, so the test does not flake."""
    monkeypatch.setattr(routing, "random", random.Random(11))
    plans = [resolve("split", SPLIT) for _ in range(1000)]
    firsts = Counter(p.targets[0].upstream_model for p in plans)
    assert set(firsts) == {"heavy", "light"}
    assert abs(firsts["heavy"] / 1000 - 0.75) <= 5 * (0.75 * 0.25 / 1000) ** 0.5, firsts
    assert all(p.targets[-1].upstream_model == "gpt-4o-mini" and len(p.targets) == 3 for p in plans)


def _responses_snap(openai_mode: str) -> Snapshot:
    caps = {"both": {"endpoints": ["chat", "responses"]}, "native-only": {"endpoints": ["responses"]},
            "chat-only": {"endpoints": ["chat"]}, "xai-native": {"endpoints": ["responses"], "responses": "native"},
            "embed": {"endpoints": ["embeddings"]}}
    models = {f"{p}/{name}": ModelConf(f"{p}/{name}", p, name, None, capabilities=c)
              for p in ("openai", "xai") for name, c in caps.items()}
    return Snapshot(providers={"openai": ProviderConf("openai", "openai", "http://o", "k", responses=openai_mode),
                               "xai": ProviderConf("xai", "openai", "http://x", "k")},
                    models=models, routes={}, loaded_at=0)


@pytest.mark.parametrize("mode, model, expected", [
    ("native", "openai/both", True), ("native", "openai/native-only", True), ("native", "openai/chat-only", False),
    ("native", "openai/unlisted", True),
    ("translate", "openai/both", False), ("translate", "openai/native-only", "endpoint_mismatch"),
    ("translate", "xai/both", False), ("translate", "xai/xai-native", True), ("translate", "xai/unlisted", False),
    ("native", "openai/embed", "endpoint_mismatch"),
])
def test_which_targets_serve_responses_natively(mode, model, expected):
    snap = _responses_snap(mode)
    if expected == "endpoint_mismatch":
        with pytest.raises(exc.EndpointMismatch):
            resolve(model, snap, endpoint="responses")
        return
    assert resolve(model, snap, endpoint="responses").targets[0].responses_native is expected
    if "native-only" not in model and "xai-native" not in model and "embed" not in model:
        assert resolve(model, snap).targets[0].responses_native is False        # chat is chat


def test_a_responses_only_model_on_chat_names_the_responses_endpoint():
    with pytest.raises(exc.EndpointMismatch, match="/v1/responses"):
        resolve("xai/xai-native", _responses_snap("native"))
