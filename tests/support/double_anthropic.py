"""The Anthropic lookalike of the provider double: POST /anthropic/v1/messages, as a body or as an SSE stream."""
import json

SIGNATURE = "EqQBCkYIBxgCKkBkb3VibGVfc2lnbmF0dXJl"
THOUGHT = "The user wants an answer; think briefly first."


def model_of(path: str, body: dict) -> str:
    return body.get("model", "")


def error_body(kind: str, message: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_double_err"}


def message(model: str, content: list[dict], stop_reason: str = "end_turn", input_tokens: int = 12,
            output_tokens: int = 5, cache_read: int = 0, cache_write: int = 0, msg_id: str = "msg_double_1") -> dict:
    """An Anthropic Message as the API returns it."""
    return {"id": msg_id, "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop_reason, "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": cache_write,
                      "cache_read_input_tokens": cache_read, "output_tokens": output_tokens,
                      "service_tier": "standard"}}


def default_reply(double, path: str, headers: dict, body: dict) -> dict:
    """Check the key and version like Anthropic, then answer like a model (as a stream when asked)."""
    if not path.rstrip("/").endswith("/v1/messages"):
        return {"status": 404, "body": error_body("not_found_error", f"Not found: {path}")}
    lower = {k.lower(): v for k, v in headers.items()}
    if lower.get("x-api-key") != "test-anthropic-key":
        return {"status": 401, "body": error_body("authentication_error", "invalid x-api-key")}
    if not lower.get("anthropic-version"):     # (the real API answers 400 here; 401 keeps the double strict)
        return {"status": 401, "body": error_body("authentication_error", "anthropic-version: header is required")}
    answer = answer_for(body)
    if body.get("stream"):
        return {"stream": anthropic_stream(answer)}
    return {"body": answer}


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if block.get("type") == "text":
            parts.append(block.get("text", ""))
        elif block.get("type") == "tool_result":
            parts.append(_text_of(block.get("content")))
    return " ".join(p for p in parts if p)


def answer_for(body: dict) -> dict:
    """Call the first tool when tools are offered and the user spoke last; read back a tool result; else echo.
    With thinking on, a signed thinking block comes first."""
    model = body.get("model", "unknown")
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    content = last.get("content")
    blocks = content if isinstance(content, list) else []
    results = [b for b in blocks if b.get("type") == "tool_result"]
    tools = body.get("tools") or []
    out: list[dict] = []
    if (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
        out.append({"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE})
    stop = "end_turn"
    if results:
        out.append({"type": "text", "text": f"The tool said: {_text_of(results[-1].get('content'))}"})
    elif tools and last.get("role") == "user" and (body.get("tool_choice") or {}).get("type") != "none":
        out.append({"type": "tool_use", "id": "toolu_double_1", "name": tools[0]["name"],
                    "input": {"city": "Paris"}})
        stop = "tool_use"
    else:
        out.append({"type": "text", "text": f"Echo: {_text_of(content)}"})
    return message(model, out, stop)


def _event(kind: str, data: dict) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


def _pieces(text: str, n: int = 3) -> list[str]:
    step = max(1, -(-len(text) // n))
    return [text[i:i + step] for i in range(0, len(text), step)]


def anthropic_stream(msg: dict) -> list[bytes]:
    """A Message re-told as the SSE events Anthropic would send for it (text in several deltas, tool input
    as input_json_delta pieces, usage in message_start and message_delta)."""
    usage = msg["usage"]
    start = {**msg, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**usage, "output_tokens": 1}}
    events = [_event("message_start", {"message": start}), _event("ping", {})]
    for i, block in enumerate(msg["content"]):
        kind = block["type"]
        if kind == "text":
            events.append(_event("content_block_start", {"index": i, "content_block": {"type": "text", "text": ""}}))
            events += [_event("content_block_delta", {"index": i, "delta": {"type": "text_delta", "text": p}})
                       for p in _pieces(block["text"])]
        elif kind == "thinking":
            events.append(_event("content_block_start", {"index": i, "content_block": {
                "type": "thinking", "thinking": "", "signature": ""}}))
            events += [_event("content_block_delta", {"index": i, "delta": {"type": "thinking_delta", "thinking": p}})
                       for p in _pieces(block["thinking"])]
            events.append(_event("content_block_delta", {"index": i, "delta": {
                "type": "signature_delta", "signature": block["signature"]}}))
        elif kind == "tool_use":
            events.append(_event("content_block_start", {"index": i, "content_block": {
                "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}))
            events += [_event("content_block_delta", {"index": i, "delta": {"type": "input_json_delta",
                                                                            "partial_json": p}})
                       for p in [""] + _pieces(json.dumps(block["input"]))]
        events.append(_event("content_block_stop", {"index": i}))
    events.append(_event("message_delta", {"delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
                                           "usage": {"output_tokens": usage["output_tokens"]}}))
    events.append(_event("message_stop", {}))
    return events
