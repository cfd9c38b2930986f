"""Broken upstreams for the provider double: named faults, switched on per request.

A request is served broken when its reply says so (`double.enqueue(model, {"fault": "reset-mid-body"})`) or when
the upstream model's name does: `fault-<name>` (a route target `local/fault-sse-stall`, a slug
`openai/fault-429`), so that every request to it is broken whatever worker sends it and however many at once.
The fault starts from the answer the protocol's handler would have given (its body, or its stream events), so
one fault breaks OpenAI, Anthropic and Gemini answers alike. Connection refused is not a fault of a served
request: `ProviderDouble.refused_url` is an address where nothing listens.

| fault | plain answer | stream |
|---|---|---|
| reset-before-headers | the request is read, then the connection is reset (RST) | same |
| close-before-headers | the request is read, then the connection is closed (FIN), nothing sent | same |
| bad-status-line | a first line that is not HTTP, then FIN | same |
| no-headers | the request is read, then nothing, until the gateway hangs up | same |
| reset-mid-body | headers (full Content-Length), half the body, then RST | the opening, then RST |
| truncated-json | headers (full Content-Length), half the body, then FIN | the opening, then half an event, FIN |
| invalid-json | 200 with a body that is not JSON | a first event that is not JSON |
| error-200 | 200 with the protocol's error object | a first event holding the error object |
| no-choices | 200 without `choices` (`content`, `candidates`) | the events without them |
| huge | 200 with several megabytes of content (HUGE_BYTES) | the same in 64 KiB deltas (chunked coding) |
| 429 | 429 with `Retry-After: 1`, every time (a storm) | same |
| 401 | 401, as for a bad key | same |
| 500 | 500 server error | same |
| sse-garbage | (a normal answer) | the events with garbage lines between them: comments, unknown fields, bytes that are not UTF-8, lines without a colon (chunked coding) |
| sse-garbage-data | (a normal answer) | the opening, then a `data:` line that is not JSON |
| sse-no-done | (a normal answer) | every event but `data: [DONE]`, then FIN |
| sse-cut | (a normal answer) | the opening (no finish, no usage, no [DONE]), then FIN |
| sse-chunked-cut | (a normal answer) | chunked transfer coding: the opening, then half a chunk, then FIN |
| json-to-stream | (a normal answer) | 200 with a JSON error body (application/json), not an event stream |
| sse-endless | (a normal answer) | the opening, then a content event every 0.1 s, never a finish, until the gateway hangs up |
| sse-stall | (a normal answer) | the opening, then silence until the gateway hangs up |

The opening is a stream's events up to its first content (what the gateway relays at once). A fault after it waits
MID_PAUSE_S first, so the gateway has read (and relayed) what came before: the failure is one after the first
byte, never one the gateway could still fall back from.
"""
import json
import socket
import struct
import time

MID_PAUSE_S = 0.3
HUGE_BYTES = 5 * 1024 * 1024
ENDLESS_EVERY_S = 0.1
PREFIX = "fault-"

STREAM_ONLY = ("sse-garbage", "sse-garbage-data", "sse-no-done", "sse-cut", "sse-chunked-cut", "sse-endless",
               "sse-stall", "json-to-stream")
FAULTS = ("reset-before-headers", "close-before-headers", "bad-status-line", "no-headers", "reset-mid-body",
          "truncated-json",
          "invalid-json", "error-200", "no-choices", "huge", "429", "401", "500") + STREAM_ONLY

_ANSWER_KEYS = {"openai": "choices", "anthropic": "content", "gemini": "candidates", "responses": "output"}
GARBAGE = (b"this line is not server-sent events\n", b": a comment the upstream sends\n\n",
           b"event:\n", b"retry: soon\n", b"\xff\xfe\xfa not utf-8 \xc3\x28\n", b"id: 7\n",
           b"x-weird-field: 1\n\n")


def fault_of(model: str, reply: dict | None) -> str | None:
    """The fault this request is to be served with: the reply's, else the model name's, else None."""
    name = (reply or {}).get("fault")
    if name is None and model.startswith(PREFIX):
        name = model[len(PREFIX):]
    if name is not None and name not in FAULTS:
        raise ValueError(f"unknown fault {name!r} (faults: {', '.join(FAULTS)})")
    return name


def protocol_of(path: str) -> str:
    """openai (chat completions), responses (OpenAI's Responses API), anthropic or gemini."""
    if path.split("?", 1)[0].endswith("/responses"):
        return "responses"
    if path.startswith("/anthropic/"):
        return "anthropic"
    if path.startswith("/gemini/"):
        return "gemini"
    return "openai"


def error_object(protocol: str, status: int, message: str) -> dict:
    """The protocol's own error body."""
    if protocol == "anthropic":
        kind = {401: "authentication_error", 429: "rate_limit_error"}.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_double_fault"}
    if protocol == "gemini":
        name = {401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED"}.get(status, "INTERNAL")
        return {"error": {"code": status, "message": message, "status": name}}
    kind = {401: "invalid_request_error", 429: "requests"}.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None,
                      "code": "invalid_api_key" if status == 401 else None}}


_STATUS_FAULTS = {"429": (429, "Rate limit reached for requests. Please try again in 1s."),
                  "401": (401, "Incorrect API key provided."),
                  "500": (500, "The server had an error while processing your request.")}


def serve(h, double, name: str, model: str, good: dict, stream: bool) -> None:
    """Answer the request held by handler `h` with fault `name`; `good` is the protocol's normal reply for it."""
    protocol = protocol_of(h.path)
    double.count_fault(name)
    if name == "reset-before-headers":
        return _reset(h)
    if name == "close-before-headers":
        h.close_connection = True
        return None
    if name == "bad-status-line":
        h.close_connection = True
        h.wfile.write(b"SSH-2.0-OpenSSH_9.6 this is not HTTP\r\n\r\n")
        return None
    if name == "no-headers":
        return _wait_for_hangup(h, double, model)
    if name in _STATUS_FAULTS:
        status, message = _STATUS_FAULTS[name]
        headers = {"Retry-After": "1", "x-ratelimit-remaining-requests": "0"} if status == 429 else {}
        return h._send(status, error_object(protocol, status, message), headers)
    if stream:
        return _stream_fault(h, double, name, model, protocol, good)
    if name in STREAM_ONLY:
        return h._send(200, good.get("body", {}))
    return _plain_fault(h, name, protocol, good)


def _plain_fault(h, name: str, protocol: str, good: dict) -> None:
    body = good.get("body", {})
    data = json.dumps(body).encode()
    if name in ("reset-mid-body", "truncated-json"):
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[:len(data) // 2])
        h.wfile.flush()
        time.sleep(MID_PAUSE_S)
        if name == "reset-mid-body":
            return _reset(h)
        h.close_connection = True
        return None
    if name == "invalid-json":
        return h._send(200, b'{"id": "chatcmpl-double", "object": chat.completion, "choices": [oops]}')
    if name == "error-200":
        return h._send(200, error_object(protocol, 500, "The server is overloaded; the answer is an error."))
    if name == "no-choices":
        return h._send(200, {k: v for k, v in body.items() if k != _ANSWER_KEYS[protocol]})
    if name == "huge":
        return h._send(200, huge_body(protocol, body))
    raise ValueError(f"fault {name!r} has no plain form")


def huge_body(protocol: str, body: dict) -> dict:
    """The answer with HUGE_BYTES of text in it."""
    text = _huge_text()
    if protocol == "openai":
        body["choices"][0]["message"]["content"] = text
    elif protocol == "responses":
        body["output"][-1]["content"][0]["text"] = text
    elif protocol == "anthropic":
        body["content"] = [{"type": "text", "text": text}]
    else:
        body["candidates"][0]["content"]["parts"] = [{"text": text}]
    return body


def _huge_text() -> str:
    line = "All work and no play makes the double a dull boy. "
    return (line * (HUGE_BYTES // len(line) + 1))[:HUGE_BYTES]


def _stream_fault(h, double, name: str, model: str, protocol: str, good: dict) -> None:
    pieces = list(good.get("stream") or [])
    pieces = [p for p in pieces if isinstance(p, bytes)]
    head, done = _split_done(pieces)
    if name == "invalid-json":
        return h._stream({"stream": [b"data: {\"id\": oops, not json\n\n", *pieces]}, model)
    if name == "error-200":
        err = json.dumps(error_object(protocol, 500, "The server is overloaded; the stream is an error.")).encode()
        prefix = b"event: error\n" if protocol in ("anthropic", "responses") else b""
        return h._stream({"stream": [prefix + b"data: " + err + b"\n\n"]}, model)
    if name == "no-choices":
        return h._stream({"stream": [_without(p, _ANSWER_KEYS[protocol]) for p in pieces]}, model)
    if name == "huge":
        return h._stream({"stream": huge_stream(protocol, model), "chunked": True}, model)
    if name == "sse-garbage":
        mixed: list = []
        for i, p in enumerate(pieces):
            mixed += [GARBAGE[i % len(GARBAGE)], p]
        return h._stream({"stream": mixed, "chunked": True}, model)
    if name == "json-to-stream":
        return h._send(200, error_object(protocol, 500, "The server is overloaded; it answered with JSON."))
    if name == "sse-no-done":
        return h._stream({"stream": head}, model)
    if name == "sse-endless":
        return h._stream({"stream": _opening(head, protocol), "endless": ENDLESS_EVERY_S, "protocol": protocol},
                         model)
    two = _opening(head, protocol)
    rest = head[len(two):]
    if name == "sse-stall":
        return h._stream({"stream": two, "until_hangup": True}, model)
    if name == "sse-cut":
        return h._stream({"stream": two}, model)
    if name == "sse-chunked-cut":
        third = rest[0] if rest else head[-1]
        return h._stream({"stream": [*two, MID_PAUSE_S, ("raw", b"%x\r\n%s" % (len(third), third[:len(third) // 2]))],
                          "chunked": True}, model)
    if name == "sse-garbage-data":
        return h._stream({"stream": [*two, MID_PAUSE_S, b"data: @@ garbage, not json @@\n\n", *rest, *done]},
                         model)
    if name == "truncated-json":
        third = rest[0] if rest else head[-1]
        return h._stream({"stream": [*two, MID_PAUSE_S, third[:len(third) // 2]]}, model)
    if name == "reset-mid-body":
        return h._stream({"stream": [*two, MID_PAUSE_S], "reset": True}, model)
    raise ValueError(f"fault {name!r} has no stream form")


def _opening(pieces: list[bytes], protocol: str) -> list[bytes]:
    """The first events of a stream, up to and including its first content (what the gateway relays at once)."""
    for i, p in enumerate(pieces):
        if _has_content(_data_of(p), protocol):
            return pieces[:i + 1]
    return pieces[:2]


def _data_of(piece: bytes):
    for line in piece.splitlines():
        if line.startswith(b"data: "):
            try:
                return json.loads(line[6:])
            except ValueError:
                return None
    return None


def _has_content(data, protocol: str) -> bool:
    if not isinstance(data, dict):
        return False
    if protocol == "anthropic":
        return data.get("type") == "content_block_delta"
    if protocol == "gemini":
        return any(part.get("text") for c in data.get("candidates") or []
                   for part in (c.get("content") or {}).get("parts") or [])
    if protocol == "responses":
        return data.get("type") == "response.output_text.delta"
    return any((c.get("delta") or {}).get("content") for c in data.get("choices") or [])


def _split_done(pieces: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(the events, the trailing `data: [DONE]` if any)."""
    if pieces and pieces[-1].strip() == b"data: [DONE]":
        return pieces[:-1], pieces[-1:]
    return pieces, []


def _without(piece: bytes, key: str) -> bytes:
    """An SSE event with `key` taken out of its JSON data (left as it is when it holds none)."""
    lines = piece.split(b"\n")
    for i, line in enumerate(lines):
        if line.startswith(b"data: ") and line[6:].strip() not in (b"", b"[DONE]"):
            try:
                data = json.loads(line[6:])
            except ValueError:
                continue
            if isinstance(data, dict):
                data.pop(key, None)
                if isinstance(data.get("message"), dict):        # Anthropic's message_start
                    data["message"].pop(key, None)
                lines[i] = b"data: " + json.dumps(data).encode()
    return b"\n".join(lines)


def huge_stream(protocol: str, model: str, piece: int = 65536) -> list[bytes]:
    """HUGE_BYTES of text as the protocol's stream events, `piece` characters a delta."""
    text = _huge_text()
    parts = [text[i:i + piece] for i in range(0, len(text), piece)]
    if protocol == "responses":
        from tests.support.double_responses import responses_body, responses_stream
        events = responses_stream(huge_body(protocol, responses_body({"model": model, "input": "huge"})))
        return events
    if protocol == "openai":
        from tests.support.double import openai_completion, openai_stream
        return openai_stream(openai_completion(model, text), include_usage=True, pieces=len(parts))
    if protocol == "anthropic":
        from tests.support.double_anthropic import anthropic_stream, message
        events = anthropic_stream(message(model, [{"type": "text", "text": ""}]))
        deltas = [b"event: content_block_delta\ndata: " + json.dumps(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}).encode()
            + b"\n\n" for p in parts]
        return events[:3] + deltas + events[3:]
    from tests.support.double_gemini import sse_stream
    return sse_stream(model, [{"text": text}], pieces=len(parts))


def endless_piece(protocol: str, model: str) -> bytes:
    """One more content event of a stream that never ends."""
    if protocol == "anthropic":
        return (b"event: content_block_delta\ndata: " + json.dumps(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "."}}).encode()
            + b"\n\n")
    if protocol == "responses":
        return b"event: response.output_text.delta\ndata: " + json.dumps({
            "type": "response.output_text.delta", "sequence_number": 1000, "item_id": "msg_double",
            "output_index": 0, "content_index": 0, "delta": ".", "logprobs": []}).encode() + b"\n\n"
    if protocol == "gemini":
        return b"data: " + json.dumps({"candidates": [{"content": {"role": "model", "parts": [{"text": "."}]},
                                                       "index": 0}], "modelVersion": model}).encode() + b"\r\n\r\n"
    return b"data: " + json.dumps({"id": "chatcmpl-double123", "object": "chat.completion.chunk",
                                   "created": 1732000000, "model": model, "choices": [
                                       {"index": 0, "delta": {"content": "."}, "logprobs": None,
                                        "finish_reason": None}]}).encode() + b"\n\n"


def _reset(h) -> None:
    """Reset the connection (RST, not FIN): SO_LINGER with a zero timeout, then close."""
    h.close_connection = True
    try:
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
    except OSError:
        pass


def _wait_for_hangup(h, double, model: str) -> None:
    """Send nothing; read until the gateway closes the connection (its time goes to `double.hung_up`), for at most
    the double's HOLD_MAX_S."""
    h.close_connection = True
    double.wait_for_hangup(h.connection, model)
