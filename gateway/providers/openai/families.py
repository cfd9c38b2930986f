"""Model-family rules read from upstream model ids, for when the catalog's capabilities do not say.

The catalog wins: `capabilities.reasoning` (true/false) and `capabilities.efforts` are read first by the
callers; these name rules only fill in for models the catalog does not list (custom slugs, new snapshots).
"""
import re

from gateway.values import Target

# OpenAI reasoning models: the o-series and gpt-5 and later ("-chat" snapshots are the non-reasoning chat models).
_OPENAI_REASONING = re.compile(r"^(?:o\d+|gpt-(?:[5-9]|[1-9]\d+))(?:[.\-]|$)")
# OpenAI: "xhigh is supported for all models after gpt-5.1-codex-max" (reasoning guide / ReasoningEffort docs).
_OPENAI_XHIGH = re.compile(r"^(?:gpt-5\.1-codex-max|gpt-5\.(?:[2-9]|[1-9]\d+)|gpt-(?:[6-9]|[1-9]\d+))(?:[.\-]|$)")

# OpenAI: stop is "not supported with latest reasoning models o3 and o4-mini" (API reference), and gpt-5, gpt-5-mini
# and gpt-5-nano answer "Unsupported parameter: 'stop'"; later models are not known to reject it.
_OPENAI_NO_STOP = re.compile(r"^(?:o\d+|gpt-5(?:-mini|-nano)?)(?:-\d{4}-\d{2}-\d{2}|-mini|-pro)?$")

# xAI reasoning guide: which values `reasoning_effort` takes, per model family. An empty tuple: the model
# reasons but any reasoning_effort is an error ("reasoning_effort is not supported by grok-3, grok-4 and
# grok-4-fast-reasoning ... Specifying reasoning_effort parameter will get an error response"; grok-4.20 and
# grok-4-1-fast likewise). First match wins.
XAI_EFFORTS: tuple[tuple[re.Pattern, tuple[str, ...]], ...] = (
    (re.compile(r"^grok-3-mini"), ("low", "high")),
    (re.compile(r"^grok-4\.20-multi-agent"), ("low", "medium", "high", "xhigh")),   # agent count, not depth
    (re.compile(r"^grok-4\.3(?:[.\-]|$)"), ("none", "low", "medium", "high")),
    (re.compile(r"^grok-(?:3|4)(?:-\d{4})?(?:-latest)?$|^grok-3-fast|^grok-4-fast|^grok-4-1-fast"
                r"|^grok-4\.20-(?:\d{4}-)?(?:non-)?reasoning|^grok-code-fast"), ()),
)
_XAI_NON_REASONING = re.compile(r"non-reasoning|^grok-(?:2|3)(?:-\d{4})?(?:-latest)?$|^grok-2|^grok-3-fast")


def catalog_reasoning(target: Target) -> bool | None:
    value = target.capabilities.get("reasoning")
    return value if isinstance(value, bool) else None


def openai_reasons(target: Target) -> bool:
    known = catalog_reasoning(target)
    if known is not None:
        return known
    model = target.upstream_model
    return bool(_OPENAI_REASONING.match(model)) and "-chat" not in model


def openai_takes_xhigh(target: Target) -> bool:
    """A level above `high` exists on this model: by name, or because the catalog lists `max` for it."""
    return bool(_OPENAI_XHIGH.match(target.upstream_model)) or "max" in (target.capabilities.get("efforts") or ())


def openai_rejects_stop(target: Target) -> bool:
    return bool(_OPENAI_NO_STOP.match(target.upstream_model))


def xai_reasons(target: Target) -> bool:
    known = catalog_reasoning(target)
    if known is not None:
        return known
    return not _XAI_NON_REASONING.search(target.upstream_model)


def xai_efforts(model: str) -> tuple[str, ...] | None:
    """The reasoning_effort values xAI documents for this model, or None when the table does not know it."""
    for pattern, values in XAI_EFFORTS:
        if pattern.search(model):
            return values
    return None
