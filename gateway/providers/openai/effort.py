"""Reasoning effort for OpenAI-compatible upstreams: which one the client asked for and what each provider is sent.

Which effort wins: the slug suffix (`openai/o3:high`, in `target.effort`: low | medium | high | max), else
`reasoning_effort`, else `reasoning.effort` (none | minimal | low | medium | high | xhigh | max).

Checks, in order (each failure is a 400 naming where the effort came from, or no effort at all when the
route sets drop_unsupported):
  1. a model that does not reason takes no effort (`none` is then simply not sent);
  2. the catalog's `capabilities.efforts` lists the gateway levels (low | medium | high | max) the model takes;
  3. the provider's mapper below turns the level into what the provider is sent, or says it cannot.

What each provider is sent (`max` is the model's top level: where it has none above high, a 400, since
sending `high` would be a silent clamp):
  openai      reasoning_effort as asked (OpenAI checks the value per model); `max` -> `xhigh` on models that
              have it (gpt-5.1-codex-max, gpt-5.2 and later, gpt-6 and later, or catalog efforts with max).
  xai         reasoning_effort from the per-model table families.XAI_EFFORTS (grok-3-mini low|high; grok-4.3
              none|low|medium|high; grok-4.20-multi-agent up to xhigh; grok-3/grok-4/-fast/-1-fast/4.20/code:
              none at all); models not in the table: as asked, `max` -> 400.
  deepseek    reasoning_effort high | max; `none` -> thinking: {type: disabled}; low/medium/xhigh -> 400
              (DeepSeek itself would silently move them to high or max).
  mistral     reasoning_effort none | high (the two values Mistral documents); anything else -> 400.
  groq        reasoning_effort as asked (gpt-oss: low|medium|high; qwen3: none|default); `max` -> 400.
  openrouter  reasoning: {effort} (OpenRouter's own shape), merged with the client's other reasoning keys.
  default     reasoning_effort as asked, `max` included (vLLM, Ollama, llama.cpp, Together...).
"""
from gateway.providers.base import refuse, requested_effort
from gateway.values import Target
from gateway.providers.openai import families

GATEWAY_LEVELS = ("low", "medium", "high", "max")


def resolve(body: dict, target: Target, variant, drop: bool) -> tuple[dict, str | None]:
    """(upstream fields to set, the effort level in force or None)."""
    asked = requested_effort(body, target)
    if asked is None:
        return {}, None
    level, param = asked
    model = target.upstream_model
    if variant.reasons(target) is False:
        if level != "none":
            refuse(drop, f"The model '{model}' does not reason; it takes no reasoning effort.", param)
        return {}, None
    efforts = target.capabilities.get("efforts")
    if level in GATEWAY_LEVELS and isinstance(efforts, list) and level not in efforts:
        takes = f"it takes: {', '.join(efforts)}" if efforts else "its reasoning cannot be controlled"
        refuse(drop, f"The model '{target.slug}' does not take the reasoning effort '{level}' ({takes}).", param)
        return {}, None
    fields = variant.effort(level, target, body)
    if fields is None:
        refuse(drop, f"{variant.title} does not take the reasoning effort '{level}' for '{model}'.", param)
        return {}, None
    return fields, level


# ---- per-provider mappers: (level, target, body) -> fields to send, or None when the model cannot take it

def as_asked(level: str, target: Target, body: dict) -> dict | None:
    return {"reasoning_effort": level}


def for_openai(level: str, target: Target, body: dict) -> dict | None:
    if level == "max":
        # `max` is the model's top level; on Chat Completions that is `xhigh` where it exists. Lower would clamp.
        return {"reasoning_effort": "xhigh"} if families.openai_takes_xhigh(target) else None
    return {"reasoning_effort": level}


def for_xai(level: str, target: Target, body: dict) -> dict | None:
    accepted = families.xai_efforts(target.upstream_model)
    if accepted is None:
        return None if level == "max" else {"reasoning_effort": level}
    if level == "max":
        level = "xhigh"
    return {"reasoning_effort": level} if level in accepted else None


def for_deepseek(level: str, target: Target, body: dict) -> dict | None:
    # DeepSeek thinking mode: reasoning_effort high | max; thinking {type: disabled} turns thinking off.
    if level == "none":
        return {"thinking": {"type": "disabled"}}
    return {"reasoning_effort": level} if level in ("high", "max") else None


def for_mistral(level: str, target: Target, body: dict) -> dict | None:
    # Mistral adjustable reasoning: reasoning_effort "high" (thinking chunk) or "none".
    return {"reasoning_effort": level} if level in ("none", "high") else None


def without_max(level: str, target: Target, body: dict) -> dict | None:
    return None if level == "max" else {"reasoning_effort": level}


def for_openrouter(level: str, target: Target, body: dict) -> dict | None:
    # OpenRouter's own shape: reasoning: {effort, max_tokens?, exclude?, enabled?}.
    own = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    return {"reasoning": {**{k: v for k, v in own.items() if k != "effort"}, "effort": level}}
