"""OpenAI chat messages and content parts -> Anthropic `system` blocks and user/assistant turns."""
import base64
import binascii
import re

import orjson

from gateway.providers.base import refuse
from gateway import exceptions as exc

IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
_DATA_URL = re.compile(r"^data:([^;,]+)((?:;[^;,]*)*);base64,(.*)$", re.S)
_THINKING_KINDS = ("thinking", "redacted_thinking")


def convert(messages: list, drop: bool, send_thinking: bool) -> tuple[list[dict], list[dict]]:
    """(system blocks, Anthropic messages). System and developer messages are hoisted into `system` in
    order; consecutive same-role turns are merged (Anthropic wants tool_results first in a user turn and
    thinking blocks first in an assistant turn); empty text is dropped (Anthropic rejects empty blocks)."""
    system: list[dict] = []
    out: list[dict] = []
    for i, m in enumerate(messages):
        role = m.get("role")
        if role in ("system", "developer"):
            system.extend(_text_blocks(m.get("content")))
            continue
        if role == "user":
            turn, blocks = "user", _user_blocks(m.get("content"), i, drop)
        elif role == "assistant":
            turn, blocks = "assistant", _assistant_blocks(m, i, send_thinking, drop)
        elif role == "tool":
            turn, blocks = "user", [_tool_result(m)]
        else:
            raise exc.InvalidRequest("Legacy `function` messages cannot be sent to Anthropic; use tools and "
                                     "`tool` messages.", param=f"messages[{i}].role")
        if not blocks:
            continue
        if out and out[-1]["role"] == turn:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": turn, "content": blocks})
    for msg in out:
        first = ("tool_result",) if msg["role"] == "user" else _THINKING_KINDS
        msg["content"].sort(key=lambda b: 0 if b["type"] in first else 1)   # stable: order kept otherwise
    _strip_prefill(out)
    if not out:
        raise exc.InvalidRequest("The conversation has no user or assistant content to send.", param="messages")
    return system, out


def _text_block(text, part: dict | None = None) -> dict | None:
    if not isinstance(text, str) or not text.strip():
        return None
    block = {"type": "text", "text": text}
    if part is not None and isinstance(part.get("cache_control"), dict):
        block["cache_control"] = part["cache_control"]
    return block


def _text_blocks(content) -> list[dict]:
    if isinstance(content, str):
        block = _text_block(content)
        return [block] if block else []
    blocks = []
    for part in content or []:
        if isinstance(part, dict) and part.get("type") == "text":
            block = _text_block(part.get("text"), part)
            if block:
                blocks.append(block)
    return blocks


def _user_blocks(content, i: int, drop: bool) -> list[dict]:
    if isinstance(content, str) or content is None:
        return _text_blocks(content)
    blocks = []
    for j, part in enumerate(content):
        kind = part.get("type")
        where = f"messages[{i}].content[{j}]"
        if kind == "text":
            block = _text_block(part.get("text"), part)
        elif kind == "image_url":
            block = _image(part.get("image_url") or {}, f"{where}.image_url.url", drop)
        elif kind == "file":
            block = _file(part.get("file") or {}, f"{where}.file", drop)
        elif kind == "input_audio":
            block = refuse(drop, "Anthropic models do not accept audio input.", where)
        else:
            block = refuse(drop, f"Content parts of type '{kind}' cannot be sent to Anthropic.", f"{where}.type")
        if block:
            if isinstance(part.get("cache_control"), dict):
                block.setdefault("cache_control", part["cache_control"])
            blocks.append(block)
    return blocks


def _data_url(url: str) -> tuple[str, str] | None:
    m = _DATA_URL.match(url)
    return (m.group(1).strip().lower(), m.group(3)) if m else None


def _media_block(mime: str, data: str, param: str, drop: bool) -> dict | None:
    mime = "image/jpeg" if mime == "image/jpg" else mime
    if mime in IMAGE_TYPES:
        return {"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}}
    if mime == "application/pdf":
        return {"type": "document", "source": {"type": "base64", "media_type": mime, "data": data}}
    if mime == "text/plain":
        try:
            text = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return refuse(drop, "The text/plain data is not valid base64-encoded UTF-8.", param)
        return {"type": "document", "source": {"type": "text", "media_type": mime, "data": text}}
    return refuse(drop, f"Anthropic does not accept '{mime}' content; it takes JPEG, PNG, GIF and WebP "
                        f"images, PDF and plain-text documents.", param)


def _image(image_url: dict, param: str, drop: bool) -> dict | None:
    url = image_url.get("url") or ""
    if url.startswith("data:"):
        parsed = _data_url(url)
        if parsed is None:
            return refuse(drop, "The image data URL must be base64: data:<media type>;base64,<data>.", param)
        return _media_block(*parsed, param, drop)
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}   # Anthropic fetches it; no SSRF here
    return refuse(drop, "An image URL must be https:// or a base64 data: URL.", param)


def _file(file: dict, param: str, drop: bool) -> dict | None:
    data = file.get("file_data")
    if not isinstance(data, str) or not data:
        if file.get("file_id"):
            return refuse(drop, "Anthropic cannot read OpenAI file ids; send the file inline as file_data.",
                          f"{param}.file_id")
        return refuse(drop, "A file part needs file_data.", f"{param}.file_data")
    parsed = _data_url(data) if data.startswith("data:") else ("application/pdf", data)   # OpenAI: PDF only
    if parsed is None:
        return refuse(drop, "file_data must be base64: data:<media type>;base64,<data>.", f"{param}.file_data")
    block = _media_block(*parsed, f"{param}.file_data", drop)
    if block and block["type"] == "document" and isinstance(file.get("filename"), str) and file["filename"]:
        block["title"] = file["filename"]
    return block


def _thinking_blocks(raw, i: int) -> list[dict]:
    blocks = []
    for k, b in enumerate(raw if isinstance(raw, list) else []):
        param = f"messages[{i}].thinking_blocks[{k}]"
        kind = b.get("type") if isinstance(b, dict) else None
        if kind == "thinking" and isinstance(b.get("thinking"), str) and isinstance(b.get("signature"), str):
            blocks.append({"type": "thinking", "thinking": b["thinking"], "signature": b["signature"]})
        elif kind == "redacted_thinking" and isinstance(b.get("data"), str):
            blocks.append({"type": "redacted_thinking", "data": b["data"]})
        else:
            raise exc.InvalidRequest("A thinking block must be {type: thinking, thinking, signature} or "
                                     "{type: redacted_thinking, data}, as the gateway returned it.", param=param)
    return blocks


def _assistant_blocks(m: dict, i: int, send_thinking: bool, drop: bool) -> list[dict]:
    # Anthropic ignores earlier turns' thinking but rejects it in the final turn when thinking is off,
    # so thinking blocks go back only when this request thinks.
    blocks = _thinking_blocks(m.get("thinking_blocks"), i) if send_thinking else []
    content = m.get("content")
    if isinstance(content, list):
        for part in content:
            text = part.get("text") if part.get("type") == "text" else part.get("refusal")
            block = _text_block(text, part)
            if block:
                blocks.append(block)
    else:
        block = _text_block(content)
        if block is None and not m.get("tool_calls"):
            block = _text_block(m.get("refusal"))
        if block:
            blocks.append(block)
    if m.get("function_call"):
        raise exc.InvalidRequest("Legacy function_call cannot be sent to Anthropic; use tool_calls.",
                                 param=f"messages[{i}].function_call")
    for j, call in enumerate(m.get("tool_calls") or []):
        if call.get("type") != "function":
            refuse(drop, "Only function tool calls can be sent to Anthropic.", f"messages[{i}].tool_calls[{j}].type")
            continue
        blocks.append({"type": "tool_use", "id": call["id"], "name": call["function"]["name"],
                       "input": _arguments(call["function"].get("arguments"), i, j)})
    return blocks


def _arguments(raw, i: int, j: int) -> dict:
    param = f"messages[{i}].tool_calls[{j}].function.arguments"
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise exc.InvalidRequest("The tool call arguments are not valid JSON; Anthropic needs a JSON object.",
                                 param=param) from None
    if not isinstance(value, dict):
        raise exc.InvalidRequest("The tool call arguments must be a JSON object for Anthropic.", param=param)
    return value


def _tool_result(m: dict) -> dict:
    block = {"type": "tool_result", "tool_use_id": m["tool_call_id"]}
    content = m.get("content")
    if isinstance(content, str):
        if content.strip():
            block["content"] = content
    else:
        parts = _text_blocks(content)
        if parts:
            block["content"] = parts
    return block


def _strip_prefill(out: list[dict]) -> None:
    """Anthropic rejects a final assistant turn (a prefill) that ends in whitespace."""
    if not out or out[-1]["role"] != "assistant":
        return
    last = out[-1]["content"][-1]
    if last["type"] == "text":
        last["text"] = last["text"].rstrip()
