"""Reasoning effort -> Anthropic `thinking` (and `output_config.effort`), from a per-model table.

Where the effort comes from, first match wins: the slug suffix (`anthropic/claude-sonnet-4-5:low`, in
`target.effort`), then `reasoning_effort`, then `reasoning.effort`. `none` means no thinking.

THINKING_BUDGETS maps an upstream-model prefix (longest match wins, "*" is the fallback) to the
`thinking.budget_tokens` of each effort level:

    level     default ("*")   claude-opus-4 / 4.1 (32,000 output tokens at most, default_max_tokens included)
    minimal   1024            1024      (Anthropic's smallest budget is 1024)
    low       1024            1024
    medium    4096            4096
    high      16384           16384
    xhigh     24576           20480
    max       32000           23552     (+ the catalog's default_max_tokens 8192 = 31744)

Models in BUDGET_MODELS (Sonnet 3.7 to the 4.5 generation) take `thinking: {type: enabled, budget_tokens}`.
Every other model (Opus/Sonnet 4.6 and later, where fixed budgets are deprecated or gone) gets
`thinking: {type: adaptive}` plus `output_config.effort` (ADAPTIVE_EFFORT); there the table's budget only
sizes a default `max_tokens`. Models in NO_THINKING cannot think at all. The catalog's capabilities win
over the names: `thinking: "adaptive" | "budget"`, `reasoning: false` (no thinking) and
`thinking_budgets: {level: tokens}` (a row of this table for one model).
"""
from dataclasses import dataclass

from gateway.values import Target

MIN_BUDGET = 1024   # Anthropic rule: budget_tokens >= 1024 and < max_tokens

THINKING_BUDGETS: dict[str, dict[str, int]] = {
    "*": {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 24576, "max": 32000},
    "claude-opus-4-0": {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 20480,
                        "max": 23552},
    "claude-opus-4-1": {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 20480,
                        "max": 23552},
    "claude-opus-4-2025": {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 20480,
                           "max": 23552},
}

BUDGET_MODELS = ("claude-3-7-sonnet", "claude-sonnet-4-0", "claude-sonnet-4-2025", "claude-sonnet-4-5",
                 "claude-opus-4-0", "claude-opus-4-1", "claude-opus-4-2025", "claude-opus-4-5", "claude-haiku-4-5")
ADAPTIVE_EFFORT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh",
                   "max": "max"}
NO_THINKING = ("claude-3-5-", "claude-3-haiku", "claude-3-opus", "claude-3-sonnet", "claude-instant")


@dataclass(frozen=True)
class Thinking:
    """What an effort level asks of this model: the `thinking` object, the budget, an output_config effort."""
    level: str
    param: str                  # where the client asked for it (named in errors)
    budget: int                 # thinking budget_tokens (adaptive: only sizes the default max_tokens)
    adaptive: bool = False

    def thinking_param(self) -> dict:
        if self.adaptive:
            return {"type": "adaptive"}
        return {"type": "enabled", "budget_tokens": self.budget}

    def output_effort(self) -> str | None:
        return ADAPTIVE_EFFORT[self.level] if self.adaptive else None


def _longest_prefix(model: str, table) -> str | None:
    hits = [p for p in table if p != "*" and model.startswith(p)]
    return max(hits, key=len) if hits else None


def can_think(target: Target) -> bool:
    caps = target.capabilities
    if caps.get("reasoning") is False or caps.get("thinking") is False:
        return False
    return bool(caps.get("reasoning") or caps.get("thinking")) or not target.upstream_model.startswith(NO_THINKING)


def thinking_for(level: str, param: str, target: Target) -> Thinking:
    """The thinking settings of one effort level on this target's model (level is not "none")."""
    model = target.upstream_model
    budgets = dict(THINKING_BUDGETS[_longest_prefix(model, THINKING_BUDGETS) or "*"])
    budgets.update(target.capabilities.get("thinking_budgets") or {})
    mode = target.capabilities.get("thinking")
    adaptive = mode == "adaptive" or (mode != "budget" and not model.startswith(BUDGET_MODELS))
    return Thinking(level, param, max(MIN_BUDGET, int(budgets[level])), adaptive)
