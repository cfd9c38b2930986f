"""Responses `input` items -> canonical chat messages (the OpenAI chat shape every adapter translates).

  message (user, system, developer)   -> a message of that role; input_text -> text part, input_image ->
                                         image_url part (a file_id alone -> a file part), input_file -> file part
  message (assistant), function_call,  -> one assistant message per run of adjacent items: output_text and
  reasoning                              refusal parts as content, function calls as tool_calls (call_id -> id),
                                         a reasoning item's summary as reasoning_content and what its
                                         encrypted_content carries (carry.py) as thinking_blocks and as each
                                         tool call's extra_content
  function_call_output                -> a tool message (call_id -> tool_call_id)
Every other item (item_reference, built-in tool calls and outputs...) is a 400 naming `input[i].type`, or
left out when the route drops unsupported parameters (an item_reference passes through only to a native target).
"""
from gateway import exceptions as exc
from gateway.providers.base import refuse
from gateway.responses import carry

_ROLES = ("user", "system", "developer", "assistant")


def to_messages(items: list, drop: bool, where: str = "input", sources: list | None = None) -> list[dict]:
    """`sources`, when given, gets one entry per message: where in the request it came from (params.py)."""
    messages: list[dict] = []
    sources = [] if sources is None else sources
    turn: _Turn | None = None
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise exc.InvalidRequest("An input item must be an object.", param=at)
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind in ("reasoning", "function_call") or (kind == "message" and item.get("role") == "assistant"):
            if turn is None:
                turn = _Turn(at)
                messages.append(turn.message)
                sources.append(turn.source)
            getattr(turn, "add_" + kind)(item, at, drop)
            continue
        if turn is not None:
            turn.close(messages, sources)
            turn = None
        if kind == "message":
            messages.append(_message(item, at, drop))
            sources.append({"at": at, "content": "content"})
        elif kind == "function_call_output":
            messages.append(_tool_output(item, at, drop))
            sources.append({"at": at, "content": "output"})
        else:
            refuse(drop, f"Input items of type '{kind}' cannot be translated for this model; it takes messages, "
                         f"function_call, function_call_output and reasoning items.", f"{at}.type")
    if turn is not None:
        turn.close(messages, sources)
    return messages


class _Turn:
    """One assistant message assembled from adjacent assistant-side items."""

    def __init__(self, at: str):
        self.message: dict = {"role": "assistant", "content": None}
        self.source: dict = {"at": at, "calls": [], "reasoning": None}
        self.parts: list[dict] = []
        self.reasoning: list[str] = []
        self.signatures: dict[str, str] = {}

    def add_reasoning(self, item: dict, at: str, drop: bool) -> None:
        summary = item.get("summary") or []
        if not isinstance(summary, list):
            raise exc.InvalidRequest("A reasoning item's summary is a list of summary_text parts.",
                                     param=f"{at}.summary")
        for part in summary:
            if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]:
                self.reasoning.append(part["text"])
        blocks, signatures = carry.decode(item.get("encrypted_content"), f"{at}.encrypted_content")
        if blocks or signatures:
            self.source["reasoning"] = self.source["reasoning"] or f"{at}.encrypted_content"
        if blocks:
            self.message.setdefault("thinking_blocks", []).extend(blocks)
        self.signatures.update(signatures)

    def add_message(self, item: dict, at: str, drop: bool) -> None:
        content = item.get("content")
        if isinstance(content, str):
            if content:
                self.parts.append({"type": "text", "text": content})
            return
        if not isinstance(content, list):
            raise exc.InvalidRequest("A message's content must be a string or a list of parts.",
                                     param=f"{at}.content")
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind in ("output_text", "input_text"):
                self.parts.append({"type": "text", "text": _text(part, "text", f"{at}.content[{j}]")})
            elif kind == "refusal":
                self.parts.append({"type": "refusal", "refusal": _text(part, "refusal", f"{at}.content[{j}]")})
            else:
                refuse(drop, f"An assistant message cannot carry '{kind}' parts.", f"{at}.content[{j}].type")

    def add_function_call(self, item: dict, at: str, drop: bool) -> None:
        call_id, name = item.get("call_id"), item.get("name")
        if not isinstance(call_id, str) or not call_id:
            raise exc.InvalidRequest("A function_call item needs its call_id.", param=f"{at}.call_id")
        if not isinstance(name, str) or not name:
            raise exc.InvalidRequest("A function_call item needs the function's name.", param=f"{at}.name")
        arguments = item.get("arguments")
        call = {"id": call_id, "type": "function",
                "function": {"name": name, "arguments": arguments if isinstance(arguments, str) else "{}"}}
        self.message.setdefault("tool_calls", []).append(call)
        self.source["calls"].append(at)

    def close(self, messages: list[dict], sources: list[dict]) -> None:
        """Finish the message; one left with nothing to send (a foreign reasoning item alone) is taken out."""
        for call in self.message.get("tool_calls") or []:
            signature = self.signatures.get(call["id"])
            if signature:
                call["extra_content"] = {"google": {"thought_signature": signature}}
        texts = [p for p in self.parts if p["type"] == "text"]
        if len(self.parts) == 1 and texts:
            self.message["content"] = texts[0]["text"]
        elif self.parts:
            self.message["content"] = self.parts
        if self.reasoning:
            self.message["reasoning_content"] = "\n\n".join(self.reasoning)
        m = self.message
        if m["content"] is None and not m.get("tool_calls") and not m.get("thinking_blocks"):
            messages.pop()       # it is the last one: a turn ends before the next message is added
            sources.pop()


def _message(item: dict, at: str, drop: bool) -> dict:
    role = item.get("role")
    if role not in _ROLES:
        raise exc.InvalidRequest(f"A message's role is one of {', '.join(_ROLES)}.", param=f"{at}.role")
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise exc.InvalidRequest("A message's content must be a string or a list of parts.", param=f"{at}.content")
    parts = []
    for j, part in enumerate(content):
        converted = _part(part, f"{at}.content[{j}]", drop, text_only=role != "user")
        if converted is not None:
            parts.append(converted)
    return {"role": role, "content": parts}


def _part(part, at: str, drop: bool, text_only: bool = False) -> dict | None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": _text(part, "text", at)}
    if text_only:
        return refuse(drop, f"This message can only carry text; '{kind}' parts go in a user message.", f"{at}.type")
    if kind == "input_image":
        return _image(part, at, drop)
    if kind == "input_file":
        return _file(part, at, drop)
    return refuse(drop, f"Content parts of type '{kind}' cannot be translated for this model.", f"{at}.type")


def _text(part: dict, name: str, at: str) -> str:
    """A text part's text (or a refusal's): a string, or nothing."""
    value = part.get(name)
    if value is not None and not isinstance(value, str):
        raise exc.InvalidRequest(f"A part's {name} must be a string.", param=f"{at}.{name}")
    return value or ""


def _image(part: dict, at: str, drop: bool) -> dict | None:
    url = part.get("image_url")
    if isinstance(url, str) and url:
        image = {"url": url}
        if part.get("detail") in ("low", "high", "auto"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if isinstance(part.get("file_id"), str) and part["file_id"]:
        return {"type": "file", "file": {"file_id": part["file_id"]}}      # the adapter says whose files it reads
    return refuse(drop, "An input_image needs image_url or file_id.", f"{at}.image_url")


def _file(part: dict, at: str, drop: bool) -> dict | None:
    file = {k: part[k] for k in ("file_data", "file_id", "filename") if isinstance(part.get(k), str) and part[k]}
    if part.get("file_url") is not None:
        return refuse(drop, "Files given by URL (file_url) cannot be translated for this model; send file_data.",
                      f"{at}.file_url")
    if "file_data" not in file and "file_id" not in file:
        return refuse(drop, "An input_file needs file_data or file_id.", f"{at}.file_data")
    return {"type": "file", "file": file}


def _tool_output(item: dict, at: str, drop: bool) -> dict:
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise exc.InvalidRequest("A function_call_output item needs the call_id it answers.", param=f"{at}.call_id")
    output = item.get("output")
    if isinstance(output, str):
        return {"role": "tool", "tool_call_id": call_id, "content": output}
    if not isinstance(output, list):
        raise exc.InvalidRequest("A function_call_output's output is a string or a list of parts.",
                                 param=f"{at}.output")
    parts = [c for j, part in enumerate(output)
             if (c := _part(part, f"{at}.output[{j}]", drop, text_only=True)) is not None]
    return {"role": "tool", "tool_call_id": call_id, "content": parts}
