"""Messages as each OpenAI-compatible upstream takes them: roles, tool-call ids, history fields, strict schemas.

What can change on the way (never the text itself):
  * `developer` becomes `system` everywhere but OpenAI (the other providers document no developer role);
  * tool-call ids follow the variant's rule (Mistral: 9 alphanumerics; OpenAI: at most 40 characters), the
    same rewrite for an assistant's tool_calls[].id and the tool message answering it;
  * an assistant's `reasoning_content` (the gateway's own reasoning field, echoed back by clients) is kept,
    stripped, or kept only on tool-call turns (DeepSeek: required there, ignored elsewhere; a tool-call turn
    without one, e.g. from another provider, gets an empty one);
  * gateway extensions (`thinking_blocks` for Anthropic, `extra_content` on tool calls for Gemini) are not
    sent to providers that do not know them;
  * a strict upstream (Mistral) gets only the fields it accepts: empty ones are left out, an assistant
    `refusal` with no content becomes the content, anything else is a 400 naming the field.
"""
from gateway.providers.base import refuse

_EMPTY = (None, "", [], {}, False)
_NO_EFFECT_KEYS = ("annotations",)        # response metadata echoed back by SDK clients; no meaning upstream


def convert(messages: list, variant, drop: bool) -> list:
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            out.append(m)
            continue
        msg = _one(dict(m), i, variant, drop)
        if msg is not None:
            out.append(msg)
    return out


def _one(msg: dict, i: int, variant, drop: bool) -> dict | None:
    if msg.get("role") == "developer":
        msg["role"] = variant.developer_role
    role = msg.get("role")
    if variant.strip_extensions:
        msg.pop("thinking_blocks", None)
    tool_turn = role == "assistant" and bool(msg.get("tool_calls"))
    if "reasoning_content" in msg:
        keep = msg["reasoning_content"] is not None and role == "assistant" and (
            variant.history_reasoning == "keep" or (variant.history_reasoning == "tool_turns" and tool_turn))
        if not keep:
            del msg["reasoning_content"]
    if variant.history_reasoning == "tool_turns" and tool_turn and "reasoning_content" not in msg:
        # DeepSeek rule: a tool-call turn's reasoning_content "must be passed back" in thinking mode; a turn
        # from another provider has none, and an empty one is accepted in its place.
        msg["reasoning_content"] = ""
    if "name" in msg and not variant.message_name:
        refuse(drop, f"{variant.title} does not take a name on messages.", f"messages[{i}].name")
        del msg["name"]
    if isinstance(msg.get("tool_calls"), list):
        msg["tool_calls"] = [_tool_call(c, i, k, variant, drop) for k, c in enumerate(msg["tool_calls"])]
    if role == "tool" and isinstance(msg.get("tool_call_id"), str) and variant.tool_id:
        msg["tool_call_id"] = variant.tool_id(msg["tool_call_id"])
    if variant.message_keys is not None:
        return _strict(msg, i, variant, drop)
    return msg


def _tool_call(call, i: int, k: int, variant, drop: bool):
    if not isinstance(call, dict):
        return call
    call = dict(call)
    if variant.strip_extensions:
        call.pop("extra_content", None)
    if isinstance(call.get("id"), str) and variant.tool_id:
        call["id"] = variant.tool_id(call["id"])
    if variant.message_keys is not None:
        for key in [key for key in call if key not in ("id", "type", "function", "index")]:
            if call[key] not in _EMPTY:
                refuse(drop, f"{variant.title} does not take '{key}' on tool calls.",
                       f"messages[{i}].tool_calls[{k}].{key}")
            del call[key]
    return call


def _strict(msg: dict, i: int, variant, drop: bool) -> dict | None:
    role = msg.get("role")
    allowed = variant.message_keys.get(role)
    if allowed is None:
        refuse(drop, f"{variant.title} does not take '{role}' messages.", f"messages[{i}].role")
        return None
    if isinstance(msg.get("refusal"), str) and msg.get("content") in (None, "", []):
        msg["content"] = msg.pop("refusal")      # the refusal text was the assistant's whole answer
    for key in [key for key in msg if key not in allowed]:
        if msg[key] not in _EMPTY and key not in _NO_EFFECT_KEYS:
            refuse(drop, f"{variant.title} does not take '{key}' on {role} messages.", f"messages[{i}].{key}")
        del msg[key]
    return msg
