"""An OpenAI chat body -> the Anthropic Messages request body: parameters, tools, output format, thinking."""
from gateway import exceptions as exc
from gateway.providers.anthropic import effort as eff
from gateway.providers.anthropic.messages import convert
from gateway.providers.base import refuse
from gateway.providers.base import requested_effort
from gateway.values import Target

DEFAULT_MAX_TOKENS = 1024     # Anthropic requires max_tokens; a model's capabilities.default_max_tokens wins

# OpenAI fields Anthropic has no equivalent for -> "the value asks for something" (a neutral value is fine).
UNSUPPORTED = {
    "n": lambda v: v not in (None, 1),
    "logprobs": lambda v: bool(v),
    "top_logprobs": lambda v: v not in (None, 0),
    "logit_bias": lambda v: bool(v),
    "presence_penalty": lambda v: v not in (None, 0),
    "frequency_penalty": lambda v: v not in (None, 0),
    "seed": lambda v: v is not None,
    "modalities": lambda v: bool(v) and list(v) != ["text"],
    "audio": lambda v: v is not None,
    "prediction": lambda v: v is not None,
    "store": lambda v: bool(v),
    "verbosity": lambda v: v is not None,
    "web_search_options": lambda v: v is not None,
    "functions": lambda v: bool(v),
    "function_call": lambda v: v is not None,
}

# Read by the named functions below; `metadata` (OpenAI's stored-completion tags), `prompt_cache_key` (an
# OpenAI cache-routing hint) and `stream_options` (the gateway's business) have no effect on the answer.
HANDLED = {"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "stop",
           "stream", "stream_options", "tools", "tool_choice", "parallel_tool_calls", "response_format",
           "reasoning_effort", "reasoning", "thinking", "user", "safety_identifier", "service_tier", "metadata",
           "prompt_cache_key"}

JSON_OBJECT_INSTRUCTION = ("Respond with one valid JSON object and nothing else: no prose, no Markdown "
                           "code fences.")
_SERVICE_TIER = {"auto": "auto", "default": "standard_only"}


def build_body(body: dict, target: Target, stream: bool) -> dict:
    drop = target.drop_unsupported
    _check_unsupported(body, drop)
    thinking = _thinking(body, target, drop)
    native = body.get("thinking") if isinstance(body.get("thinking"), dict) else None
    thinks = thinking is not None or (native or {}).get("type") in ("enabled", "adaptive")
    system, messages = convert(body["messages"], drop, send_thinking=thinks)
    out: dict = {"model": target.upstream_model, "max_tokens": _max_tokens(body, target, thinking)}
    _sampling(body, out, thinking, drop)
    if body.get("stop") is not None:
        out["stop_sequences"] = _stop(body["stop"], drop)
        if not out["stop_sequences"]:
            del out["stop_sequences"]
    _tools(body, out, thinking, drop)
    _response_format(body, out, system, target, drop)
    if system:
        out["system"] = system
    out["messages"] = messages
    if thinking is not None:
        out["thinking"] = thinking.thinking_param()
        if thinking.output_effort():
            out.setdefault("output_config", {})["effort"] = thinking.output_effort()
    elif native is not None:
        out["thinking"] = native                  # Anthropic-native extension, passed as it is
    user = body.get("user") or body.get("safety_identifier")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    if body.get("service_tier") is not None:
        tier = _SERVICE_TIER.get(body["service_tier"])
        if tier:
            out["service_tier"] = tier
        else:
            refuse(drop, "Anthropic's service tiers are 'auto' and 'default' (standard only).", "service_tier")
    if stream:
        out["stream"] = True
    return out      # route overrides are OpenAI-shaped: the pipeline merged them into `body` already


def _check_unsupported(body: dict, drop: bool) -> None:
    for name, value in body.items():
        if name in UNSUPPORTED:
            if UNSUPPORTED[name](value):
                refuse(drop, f"Anthropic models do not support '{name}'.", name)
        elif name not in HANDLED:
            refuse(drop, f"Unknown parameter '{name}': Anthropic would reject it.", name)


def _thinking(body: dict, target: Target, drop: bool) -> eff.Thinking | None:
    asked = requested_effort(body, target)
    if asked is None or asked[0] == "none":
        return None
    level, param = asked
    if level not in eff.ADAPTIVE_EFFORT:
        raise exc.InvalidRequest(f"Unknown reasoning effort '{level}'.", param=param)
    if not eff.can_think(target):
        refuse(drop, f"The model '{target.upstream_model}' has no extended thinking; it cannot take a "
                     f"reasoning effort.", param)
        return None
    return eff.thinking_for(level, param, target)


def _max_tokens(body: dict, target: Target, thinking: eff.Thinking | None) -> int:
    param = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    asked = body.get(param)
    default = int(target.capabilities.get("default_max_tokens") or DEFAULT_MAX_TOKENS)
    if asked is None:
        return default + thinking.budget if thinking else default
    if thinking and not thinking.adaptive and asked <= thinking.budget:
        # Anthropic rule: max_tokens > budget_tokens (thinking counts against max_tokens, as in OpenAI).
        raise exc.InvalidRequest(
            f"Reasoning effort '{thinking.level}' gives '{target.upstream_model}' a thinking budget of "
            f"{thinking.budget} tokens; {param} must be above it (or leave it out).", param=param)
    return asked


def _sampling(body: dict, out: dict, thinking: eff.Thinking | None, drop: bool) -> None:
    temperature, top_p, top_k = body.get("temperature"), body.get("top_p"), body.get("top_k")
    if thinking is not None:
        # Anthropic rule: thinking is incompatible with temperature/top_k changes; top_p only 0.95-1.
        if temperature is not None and temperature != 1:
            refuse(drop, "Anthropic does not allow temperature with extended thinking (reasoning effort).",
                   "temperature")
        temperature = None
        if top_p is not None and not 0.95 <= top_p <= 1:
            refuse(drop, "With extended thinking Anthropic only allows top_p between 0.95 and 1.", "top_p")
            top_p = None
        if top_k is not None:
            refuse(drop, "Anthropic does not allow top_k with extended thinking (reasoning effort).", "top_k")
            top_k = None
    if temperature is not None and temperature > 1:
        refuse(drop, "Anthropic's temperature goes from 0 to 1.", "temperature")
        temperature = None
    for name, value in (("temperature", temperature), ("top_p", top_p), ("top_k", top_k)):
        if value is not None:
            out[name] = value


def _stop(stop, drop: bool) -> list[str]:
    sequences = [stop] if isinstance(stop, str) else list(stop)
    kept = [s for s in sequences if s.strip()]
    if len(kept) != len(sequences):
        refuse(drop, "Anthropic rejects empty or whitespace-only stop sequences.", "stop")
    return kept


def _tools(body: dict, out: dict, thinking: eff.Thinking | None, drop: bool) -> None:
    tools = []
    for k, tool in enumerate(body.get("tools") or []):
        if tool.get("type") != "function":
            refuse(drop, "Only function tools can be sent to Anthropic.", f"tools[{k}].type")
            continue
        fn = tool["function"]
        entry = {"name": fn["name"]}
        if fn.get("description"):
            entry["description"] = fn["description"]
        entry["input_schema"] = fn.get("parameters") or {"type": "object", "properties": {}}
        if fn.get("strict") is True:
            entry["strict"] = True
        tools.append(entry)
    choice = _tool_choice(body.get("tool_choice"), drop)
    if thinking is not None and choice and choice["type"] in ("any", "tool"):
        # Anthropic rule: "Thinking may not be enabled when tool_choice forces tool use."
        refuse(drop, "Anthropic cannot force a tool call while extended thinking (reasoning effort) is on.",
               "tool_choice")
        choice = {"type": "auto"}
    if body.get("parallel_tool_calls") is False and tools and (choice or {}).get("type") != "none":
        choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    if tools:
        out["tools"] = tools
        if choice:
            out["tool_choice"] = choice
    elif choice and choice["type"] in ("any", "tool"):
        raise exc.InvalidRequest("tool_choice asks for a tool call but no tools were given.", param="tool_choice")


def _tool_choice(choice, drop: bool) -> dict | None:
    if choice is None:
        return None
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "tool", "name": choice["function"]["name"]}
    refuse(drop, "Anthropic takes tool_choice auto, none, required or one named function.", "tool_choice")
    return None


def _response_format(body: dict, out: dict, system: list[dict], target: Target, drop: bool) -> None:
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_schema":
        if target.capabilities.get("json_schema") is False:
            refuse(drop, f"The model '{target.upstream_model}' has no structured outputs.", "response_format")
            return
        schema = fmt["json_schema"].get("schema") or {"type": "object"}
        # Anthropic structured outputs (GA): output_config.format, the answer is JSON text in a text block.
        out.setdefault("output_config", {})["format"] = {"type": "json_schema", "schema": schema}
    elif kind == "json_object":
        system.append({"type": "text", "text": JSON_OBJECT_INSTRUCTION})
