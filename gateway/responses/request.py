"""A `POST /v1/responses` body -> the canonical chat-completions body the pipeline takes (PROTOCOLS.md 5.5).

Plain renames are `_RENAMES`; input items (items.py), tools, tool_choice, text.format and reasoning are named
functions. `store`, `previous_response_id` and `include` are the storage step's business: they are returned
beside the chat body, never put in it. What the chat pipeline cannot express (built-in tools, `background`,
`conversation`, `prompt`, `truncation: auto`...) is a 400 naming the field, unless `drop_unsupported` says
to leave it out; a field this module does not know is refused the same way (a translated target would
otherwise silently ignore it).
"""
from dataclasses import dataclass, field

from gateway import exceptions as exc
from gateway.providers.base import refuse
from gateway.responses.items import to_messages
from gateway.responses.params import responses_param

# Responses name -> chat name, values unchanged.
_RENAMES = {"model": "model", "temperature": "temperature", "top_p": "top_p", "max_output_tokens":
            "max_completion_tokens", "parallel_tool_calls": "parallel_tool_calls", "metadata": "metadata",
            "user": "user", "safety_identifier": "safety_identifier", "prompt_cache_key": "prompt_cache_key",
            "prompt_cache_retention": "prompt_cache_retention", "service_tier": "service_tier"}
# Read by the named functions below, or returned beside the chat body.
_HANDLED = {"input", "instructions", "tools", "tool_choice", "text", "reasoning", "stream", "stream_options",
            "store", "previous_response_id", "include"}
# Fields the chat pipeline cannot express -> "the value asks for something" (a neutral value is fine).
_UNSUPPORTED = {
    "background": lambda v: bool(v),
    "conversation": lambda v: v is not None,
    "prompt": lambda v: v is not None,
    "max_tool_calls": lambda v: v is not None,
    "top_logprobs": lambda v: v not in (None, 0),
    "truncation": lambda v: v not in (None, "disabled"),
    "context_management": lambda v: bool(v),
    "moderation": lambda v: v is not None,
    "prompt_cache_options": lambda v: v is not None,
}
# `include` values that ask for something no translated answer has (the others name items never produced).
_UNSUPPORTED_INCLUDE = {"message.output_text.logprobs"}
_TOOL_KEYS = {"type", "name", "description", "parameters", "strict"}


@dataclass(frozen=True)
class ChatRequest:
    """The chat body for the pipeline, and the storage step's three fields."""
    chat: dict
    store: bool = True
    previous_response_id: str | None = None
    include: list[str] = field(default_factory=list)
    sources: tuple = field(default=(), compare=False, repr=False)        # per chat message: where it came from
    tool_sources: tuple = field(default=(), compare=False, repr=False)   # per chat tool: its index in `tools`

    def responses_param(self, param: str | None) -> str | None:
        """The request's own name for a chat field an adapter's InvalidRequest names (params.py)."""
        return responses_param(param, self.sources, self.tool_sources)


def to_chat(body: dict, *, drop_unsupported: bool = False, history: list | None = None) -> ChatRequest:
    """`history`: the items a stored response chain contributes (its input and output items, oldest first),
    put before this request's `input`; its own `instructions` are not carried over (OpenAI's rule)."""
    drop = drop_unsupported
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise exc.InvalidRequest("model is required.", param="model")
    for name, value in body.items():
        if name in _UNSUPPORTED:
            if _UNSUPPORTED[name](value):
                refuse(drop, f"'{name}' cannot be translated for this model.", name)
        elif name not in _HANDLED and name not in _RENAMES:
            refuse(drop, f"Unknown parameter '{name}': it cannot be translated for this model.", name)
    chat: dict = {new: body[old] for old, new in _RENAMES.items() if body.get(old) is not None}
    sources: list = []
    tool_sources: list = []
    chat["messages"] = _messages(body, history or [], drop, sources)
    _tools(body, chat, drop, tool_sources)
    _text(body.get("text"), chat, drop)
    _reasoning(body.get("reasoning"), chat, drop)
    if body.get("stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}   # response.completed always carries usage
    include = body.get("include") or []
    if not isinstance(include, list):
        raise exc.InvalidRequest("include must be a list.", param="include")
    for k, name in enumerate(include):
        if not isinstance(name, str):
            raise exc.InvalidRequest("include is a list of strings.", param=f"include[{k}]")
        if name in _UNSUPPORTED_INCLUDE:
            refuse(drop, f"'{name}' cannot be included for this model.", f"include[{k}]")
    store = body.get("store")
    previous = body.get("previous_response_id")
    return ChatRequest(chat=chat, store=True if store is None else bool(store),
                       previous_response_id=previous if isinstance(previous, str) and previous else None,
                       include=[n for n in include if n not in _UNSUPPORTED_INCLUDE], sources=tuple(sources),
                       tool_sources=tuple(tool_sources))


def _messages(body: dict, history: list, drop: bool, sources: list) -> list[dict]:
    messages: list[dict] = []
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise exc.InvalidRequest("instructions must be a string.", param="instructions")
        if instructions:
            messages.append({"role": "system", "content": instructions})
            sources.append({"at": "instructions"})
    messages += to_messages(history, drop, "previous_response_id", sources)
    given = body.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
        sources.append({"at": "input"})
    elif isinstance(given, list):
        messages += to_messages(given, drop, "input", sources)
    elif given is not None:
        raise exc.InvalidRequest("input must be a string or a list of items.", param="input")
    if not any(m["role"] != "system" for m in messages):
        raise exc.InvalidRequest("input is required (or previous_response_id).", param="input")
    return messages


def _tools(body: dict, chat: dict, drop: bool, sources: list) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise exc.InvalidRequest("tools must be a list.", param="tools")
        out = []
        for k, tool in enumerate(tools):
            kind = tool.get("type") if isinstance(tool, dict) else None
            if kind != "function":
                refuse(drop, f"The built-in tool '{kind}' cannot be translated for this model; it takes function "
                             f"tools only.", f"tools[{k}].type")
                continue
            out.append(_function_tool(tool, k, drop))
            sources.append(k)
        if out:
            chat["tools"] = out
    choice = body.get("tool_choice")
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise exc.InvalidRequest("tool_choice is none, auto, required or {type: function, name}.",
                                     param="tool_choice")
        chat["tool_choice"] = choice
    elif isinstance(choice, dict):
        if choice.get("type") == "function" and isinstance(choice.get("name"), str):
            chat["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
        else:
            refuse(drop, f"tool_choice of type '{choice.get('type')}' cannot be translated for this model.",
                   "tool_choice.type")
    elif choice is not None:
        raise exc.InvalidRequest("tool_choice is none, auto, required or {type: function, name}.",
                                 param="tool_choice")


def _function_tool(tool: dict, k: int, drop: bool) -> dict:
    if not isinstance(tool.get("name"), str) or not tool["name"]:
        raise exc.InvalidRequest("A function tool needs a name.", param=f"tools[{k}].name")
    for key, value in tool.items():
        if key not in _TOOL_KEYS and value not in (None, False, []):
            refuse(drop, f"The function tool field '{key}' cannot be translated for this model.", f"tools[{k}].{key}")
    function = {"name": tool["name"]}
    for key in ("description", "parameters", "strict"):
        if tool.get(key) is not None:
            function[key] = tool[key]
    return {"type": "function", "function": function}


def _text(text, chat: dict, drop: bool) -> None:
    if text is None:
        return
    if not isinstance(text, dict):
        raise exc.InvalidRequest("text must be an object.", param="text")
    fmt = text.get("format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_object":
        chat["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        if not isinstance(fmt.get("name"), str) or not isinstance(fmt.get("schema"), dict):
            raise exc.InvalidRequest("A json_schema format needs name and schema.", param="text.format")
        spec = {"name": fmt["name"], "schema": fmt["schema"]}
        for key in ("strict", "description"):
            if fmt.get(key) is not None:
                spec[key] = fmt[key]
        chat["response_format"] = {"type": "json_schema", "json_schema": spec}
    elif fmt is not None and kind != "text":
        raise exc.InvalidRequest("text.format is text, json_object or json_schema.", param="text.format.type")
    if text.get("verbosity") is not None:
        chat["verbosity"] = text["verbosity"]


def _reasoning(reasoning, chat: dict, drop: bool) -> None:
    """effort -> reasoning_effort; summary stays as `reasoning.summary`, a gateway field (every adapter takes
    the `reasoning` object: OpenAI-compatible ones strip it unless the provider's own, see openai/request.py)."""
    if reasoning is None:
        return
    if not isinstance(reasoning, dict):
        raise exc.InvalidRequest("reasoning must be an object.", param="reasoning")
    for key, value in reasoning.items():
        if key not in ("effort", "summary", "generate_summary") and value is not None:
            refuse(drop, f"reasoning.{key} cannot be translated for this model.", f"reasoning.{key}")
    if reasoning.get("effort") is not None:
        chat["reasoning_effort"] = reasoning["effort"]
    summary = reasoning.get("summary") or reasoning.get("generate_summary")   # generate_summary: deprecated name
    if summary is not None:
        chat["reasoning"] = {"summary": summary}
