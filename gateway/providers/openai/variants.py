"""The per-provider variations of the OpenAI wire protocol, as one table of plain values (no subclasses).

A Target's provider name picks its variant (`openai`, `xai`, `deepseek`, `mistral`, `groq`, `openrouter`); a
custom provider name whose base URL is one of those providers' hosts gets that provider's variant; anything
else (vLLM, Ollama, llama.cpp, Together, Fireworks...) gets DEFAULT, a near pass-through.

  openai      reasoning models (o-series, gpt-5+): max_tokens -> max_completion_tokens, sampling parameters
              (temperature, top_p, penalties, logprobs, logit_bias; stop on o-series and gpt-5) 400 unless
              effort is none; `max` -> xhigh; tool-call ids over 40 characters rewritten; `developer` kept.
  xai         reasoning_effort per model table; penalties and stop 400 on reasoning models; answers:
              reasoning_tokens added to completion_tokens (xAI counts them apart).
  deepseek    max_completion_tokens -> max_tokens; effort high | max, none = thinking off; history
              reasoning_content only on tool-call turns; answers: prompt_cache_hit_tokens -> cached_tokens,
              finish_reason insufficient_system_resource -> 502.
  mistral     only Mistral's own fields (others 400, or left out when they change nothing); seed ->
              random_seed; max_completion_tokens -> max_tokens; tool_choice required -> any; tool-call ids ->
              9 alphanumerics; no stream_options; answers: thinking chunks -> reasoning_content,
              model_length -> length, error -> 502.
  groq        n other than 1, logprobs, top_logprobs, logit_bias and messages[].name -> 400.
  openrouter  effort sent as reasoning: {effort}; X-Title headers; answers: `reasoning` -> reasoning_content,
              usage.cost ignored (the gateway prices usage itself).
  default     pass-through, history as the client sent it.
All but openai send `developer` messages as `system`, and all but default leave out the gateway's history
extensions (reasoning_content, thinking_blocks, extra_content) where the provider does not take them.

Every variant: the gateway's `reasoning` object never goes upstream (OpenRouter's `reasoning` is its own
parameter and goes), `model` becomes the upstream model, and a stream asks for usage
(`stream_options.include_usage`) unless the variant says the provider rejects the field.
"""
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from gateway.values import Target
from gateway.providers.openai import effort, families, toolids

Check = Callable[[Any], bool]          # "this value asks for something" (a neutral value does not)


def _nonzero(v) -> bool:
    return v not in (None, 0)


def _no_renames(target: Target) -> Mapping[str, str]:
    return {}


def _openai_renames(target: Target) -> Mapping[str, str]:
    # OpenAI rule: reasoning models reject max_tokens ("Use 'max_completion_tokens' instead").
    return {"max_tokens": "max_completion_tokens"} if families.openai_reasons(target) else {}


def _const(mapping: Mapping) -> Callable[[Target], Mapping]:
    """A per-target rule that is the same for every model of the provider."""
    return lambda target: mapping


# OpenAI reasoning guide: reasoning models take no sampling controls (temperature only its default 1). Lifted
# when the client sets reasoning effort `none` ("when reasoning effort is not none, remove temperature, top_p...").
OPENAI_REASONING_REJECTS: Mapping[str, Check] = {
    "temperature": lambda v: v not in (None, 1), "top_p": lambda v: v not in (None, 1),
    "presence_penalty": _nonzero, "frequency_penalty": _nonzero, "logprobs": bool,
    "top_logprobs": _nonzero, "logit_bias": bool,
}


def _openai_sampling(target: Target) -> Mapping[str, Check]:
    if families.openai_rejects_stop(target):
        return {**OPENAI_REASONING_REJECTS, "stop": bool}
    return OPENAI_REASONING_REJECTS


# xAI reasoning guide: "presencePenalty, frequencyPenalty and stop cannot be used with reasoning models".
XAI_REASONING_REJECTS: Mapping[str, Check] = {"presence_penalty": _nonzero, "frequency_penalty": _nonzero,
                                              "stop": bool}
# Groq OpenAI-compatibility page: these fields are not supported (400), and N must be 1.
GROQ_UNSUPPORTED: Mapping[str, Check] = {"n": lambda v: v not in (None, 1), "logprobs": bool,
                                         "top_logprobs": _nonzero, "logit_bias": bool}

# Mistral's ChatCompletionRequest forbids extra fields (422 extra_forbidden), top level and in messages.
MISTRAL_FIELDS = frozenset({
    "model", "messages", "temperature", "top_p", "max_tokens", "stream", "stop", "random_seed", "response_format",
    "tools", "tool_choice", "presence_penalty", "frequency_penalty", "n", "prediction", "parallel_tool_calls",
    "safe_prompt", "prompt_mode", "reasoning_effort"})
MISTRAL_NO_EFFECT: Mapping[str, Check] = {        # outside MISTRAL_FIELDS, true when the value changes nothing
    "user": lambda v: True, "safety_identifier": lambda v: True, "prompt_cache_key": lambda v: True,
    "prompt_cache_retention": lambda v: True, "metadata": lambda v: True, "stream_options": lambda v: True,
    "store": lambda v: not v, "service_tier": lambda v: v in (None, "auto", "default"),
    "logprobs": lambda v: not v, "top_logprobs": lambda v: v in (None, 0), "logit_bias": lambda v: not v,
    "modalities": lambda v: v in (None, ["text"]),
}
MISTRAL_MESSAGE_KEYS: Mapping[str, frozenset] = {
    "system": frozenset({"role", "content"}), "user": frozenset({"role", "content"}),
    "assistant": frozenset({"role", "content", "tool_calls", "prefix"}),
    "tool": frozenset({"role", "content", "tool_call_id", "name"}),
}


@dataclass(frozen=True)
class Variant:
    name: str
    title: str                                              # how error messages name the provider
    reasons: Callable[[Target], bool | None]                # does the model reason (None: unknown)
    effort: Callable[[str, Target, dict], dict | None]      # effort level -> upstream fields (effort.py)
    renames: Callable[[Target], Mapping[str, str]] = _no_renames      # plain renames: client name -> upstream
    unsupported: Mapping[str, Check] = field(default_factory=dict)    # never sent; asking for it is a 400
    sampling: Callable[[Target], Mapping[str, Check]] | None = None  # like `unsupported`, while the model reasons
    allowed: frozenset | None = None                        # strict allow-list of upstream fields
    no_effect: Mapping[str, Check] = field(default_factory=dict)      # outside `allowed`: not sent when true
    tool_choice: Mapping[str, str] = field(default_factory=dict)      # tool_choice string renames
    tool_types: frozenset | None = None                     # tool / tool_choice object types taken (None: all)
    tool_id: Callable[[str], str] | None = None             # tool-call id rule (toolids.py)
    developer_role: str = "system"                          # what a `developer` message is sent as
    history_reasoning: str = "strip"                        # assistant reasoning_content: keep | strip | tool_turns
    strip_extensions: bool = True                           # thinking_blocks, tool_calls[].extra_content
    message_keys: Mapping[str, frozenset] | None = None     # strict allow-list of message fields per role
    message_name: bool = True                               # messages[].name accepted
    passes_reasoning: bool = False                          # the client's `reasoning` object is the provider's own
    stream_usage: bool = True                               # send stream_options.include_usage on streams
    finish: Mapping[str, str] = field(default_factory=dict)           # provider finish_reason -> OpenAI's
    finish_errors: frozenset = frozenset()                  # finish reasons meaning the answer failed (502)
    completion_excludes_reasoning: bool = False             # completion_tokens leaves reasoning_tokens out
    headers: Mapping[str, str] = field(default_factory=dict)


VARIANTS: dict[str, Variant] = {
    "openai": Variant(
        "openai", "OpenAI", reasons=families.openai_reasons, effort=effort.for_openai, renames=_openai_renames,
        sampling=_openai_sampling, tool_id=toolids.openai, developer_role="developer"),
    "xai": Variant(
        "xai", "xAI", reasons=families.xai_reasons, effort=effort.for_xai,
        # xAI: reasoning tokens are "counted separately from completion_tokens, but ... in the total_tokens"
        sampling=_const(XAI_REASONING_REJECTS), completion_excludes_reasoning=True),
    "deepseek": Variant(
        "deepseek", "DeepSeek", reasons=families.catalog_reasoning, effort=effort.for_deepseek,
        renames=_const({"max_completion_tokens": "max_tokens"}), history_reasoning="tool_turns",
        finish_errors=frozenset({"insufficient_system_resource"})),
    "mistral": Variant(
        "mistral", "Mistral", reasons=families.catalog_reasoning, effort=effort.for_mistral,
        renames=_const({"max_completion_tokens": "max_tokens", "seed": "random_seed"}), allowed=MISTRAL_FIELDS,
        no_effect=MISTRAL_NO_EFFECT, tool_choice={"required": "any"}, tool_types=frozenset({"function"}),
        tool_id=toolids.mistral, message_keys=MISTRAL_MESSAGE_KEYS, stream_usage=False,
        finish={"model_length": "length"}, finish_errors=frozenset({"error"})),
    "groq": Variant(
        "groq", "Groq", reasons=families.catalog_reasoning, effort=effort.without_max,
        unsupported=GROQ_UNSUPPORTED, message_name=False),
    "openrouter": Variant(
        "openrouter", "OpenRouter", reasons=families.catalog_reasoning, effort=effort.for_openrouter,
        passes_reasoning=True,
        # OpenRouter app attribution (optional): X-Title, now also documented as X-OpenRouter-Title.
        headers={"X-Title": "Switchyard", "X-OpenRouter-Title": "Switchyard"}),
}
DEFAULT = Variant("default", "The upstream server", reasons=families.catalog_reasoning, effort=effort.as_asked,
                  history_reasoning="keep", strip_extensions=False)

_HOSTS = {"api.openai.com": "openai", "api.x.ai": "xai", "api.deepseek.com": "deepseek",
          "api.mistral.ai": "mistral", "api.groq.com": "groq", "openrouter.ai": "openrouter"}


def variant_for(target: Target) -> Variant:
    found = VARIANTS.get(target.provider)
    if found is not None:
        return found
    host = urlsplit(target.base_url or "").hostname or ""
    return VARIANTS.get(_HOSTS.get(host, ""), DEFAULT)
