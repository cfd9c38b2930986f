"""Chat-side parameter names (as an adapter's 400 names them) -> the names of the Responses request they came from.

An adapter refuses what its provider cannot take naming the chat body's field (`max_completion_tokens`,
`messages[3].content[1].file.file_id`, `tools[0].function.strict`); a Responses client sent other names.
`responses_param` rewrites the name for the error it gets back: plain renames, `messages[i]` -> the input item
it came from (`input[j]`, `instructions`), `tools[k]` -> the tool's own index in the request;
an item of a stored chain -> `previous_response_id`. Anything else is returned as it is.
"""
import re

_RENAMES = {"max_completion_tokens": "max_output_tokens", "max_tokens": "max_output_tokens",
            "reasoning_effort": "reasoning.effort", "response_format": "text.format", "verbosity": "text.verbosity"}
_MESSAGE = re.compile(r"^messages\[(\d+)\](.*)$")
_TOOL = re.compile(r"^tools\[(\d+)\](?:\.function)?(.*)$")
_CALL = re.compile(r"^\.tool_calls\[(\d+)\](?:\.function)?(.*)$")


def responses_param(param: str | None, sources: tuple, tool_sources: tuple) -> str | None:
    if not param:
        return param
    for chat, ours in _RENAMES.items():
        if param == chat or param.startswith(chat + "."):
            return ours + param[len(chat):]
    m = _TOOL.match(param)
    if m and int(m.group(1)) < len(tool_sources):
        return f"tools[{tool_sources[int(m.group(1))]}]{m.group(2)}"
    m = _MESSAGE.match(param)
    if not m or int(m.group(1)) >= len(sources):
        return param
    source, rest = sources[int(m.group(1))], m.group(2)
    if source["at"].startswith("previous_response_id"):        # a stored item: the chain the client named
        return "previous_response_id"
    if "calls" not in source:                                   # one item -> one message
        content = source.get("content")
        if content and rest.startswith(".content"):
            return source["at"] + "." + content + _part(rest[len(".content"):])
        return source["at"]
    call = _CALL.match(rest)
    if call and int(call.group(1)) < len(source["calls"]):
        return source["calls"][int(call.group(1))] + call.group(2)
    if rest.startswith(".thinking_blocks") and source["reasoning"]:
        return source["reasoning"]
    return source["at"]


def _part(rest: str) -> str:
    """`[1].file.file_id` -> `[1].file_id`: a chat part nests its fields one level deeper than an input part."""
    m = re.match(r"^(\[\d+\])\.(?:file|image_url)(\..*)?$", rest)
    if m:
        return m.group(1) + ({".url": ".image_url"}.get(m.group(2) or "", m.group(2) or ""))
    return rest
