"""Reasoning effort -> Gemini `generationConfig.thinkingConfig`, from a per-model-family table.

Which effort wins: the slug suffix (`target.effort`: low | medium | high | max), else the body's
`reasoning_effort`, else `reasoning.effort` (none | minimal | low | medium | high | xhigh | max).

Gemini 2.5 models take a token budget (`thinkingBudget`); Gemini 3 and later take a level
(`thinkingLevel`); sending both is a 400 upstream, so exactly one is sent.

| family (upstream model id)        | none   | minimal   | low    | medium   | high   | xhigh / max |
|-----------------------------------|--------|-----------|--------|----------|--------|-------------|
| gemini-2.5-pro*    (budget)       | 400 *  | 128       | 1024   | 8192     | 24576  | 32768       |
| gemini-2.5-flash-lite* (budget)   | 0      | 512       | 1024   | 8192     | 24576  | 24576       |
| gemini-2.5-flash*  (budget)       | 0      | 128       | 1024   | 8192     | 24576  | 24576       |
| gemini-3+ *flash*  (level)        | 400 *  | minimal   | low    | medium   | high   | high        |
| gemini-3+ other, e.g. pro (level) | 400 *  | low       | low    | high     | high   | high        |
| anything else                     | 400 *  | 400 *     | 400 *  | 400 *    | 400 *  | 400 *       |

Budgets follow Google's own OpenAI-compatible endpoint (low ~1K, medium ~8K, high ~24K) and each model's
documented range (2.5 Pro 128-32768 and cannot turn thinking off; Flash 0-24576; Flash-Lite 0 or 512-24576).
Gemini 3 Pro documents only the levels low and high, so medium maps up to high; Gemini 3 Flash takes all four.
Gemini 3 cannot turn thinking off. `*` = the model cannot do it: an InvalidRequest naming the parameter, or
no thinkingConfig at all when the route sets drop_unsupported. With any effort except `none`,
`includeThoughts` is true so thought summaries come back as `reasoning_content`.
"""
import re

from gateway import exceptions as exc
from gateway.providers.base import requested_effort
from gateway.values import Target

_BUDGETS = {
    "pro": {"none": None, "minimal": 128, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768,
            "max": 32768},
    "flash-lite": {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 24576,
                   "max": 24576},
    "flash": {"none": 0, "minimal": 128, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 24576,
              "max": 24576},
}
_LEVELS = {
    "flash": {"none": None, "minimal": "minimal", "low": "low", "medium": "medium", "high": "high",
              "xhigh": "high", "max": "high"},
    "other": {"none": None, "minimal": "low", "low": "low", "medium": "high", "high": "high", "xhigh": "high",
              "max": "high"},
}
_MAJOR = re.compile(r"^(?:models/)?gemini-(\d+)(?:\.(\d+))?")


def generation(model: str) -> tuple[int, int] | None:
    """(major, minor) of a Gemini model id such as gemini-2.5-flash or models/gemini-3-pro-preview."""
    m = _MAJOR.match(model)
    return (int(m.group(1)), int(m.group(2) or 0)) if m else None


def _family(model: str) -> tuple[str, str] | None:
    """("budget" | "level", row) for a thinking model id, None for a model without thinking controls."""
    version = generation(model)
    if version is None:
        return None
    major, minor = version
    if major >= 3:
        return "level", "flash" if "flash" in model else "other"
    if (major, minor) == (2, 5):
        if "flash-lite" in model:
            return "budget", "flash-lite"
        return "budget", "flash" if "flash" in model else "pro"
    return None


def thinking_config(body: dict, target: Target) -> dict | None:
    """The thinkingConfig for this request, or None when no effort was asked for (or it was dropped)."""
    effort, param = requested_effort(body, target) or (None, "")
    if effort is None:
        return None
    family = _family(target.upstream_model)
    value = None
    if family is not None:
        kind, row = family
        value = (_BUDGETS if kind == "budget" else _LEVELS)[row].get(effort)
    if value is None:
        if target.drop_unsupported:
            return None
        what = "turn thinking off" if effort == "none" and family else f"take reasoning effort '{effort}'"
        raise exc.InvalidRequest(f"The model '{target.upstream_model}' cannot {what}.", param=param)
    if family[0] == "budget":
        config: dict = {"thinkingBudget": value}
    else:
        config = {"thinkingLevel": value}
    if effort != "none":
        config["includeThoughts"] = True
    return config
