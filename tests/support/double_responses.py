"""The OpenAI Responses lookalike of the provider double: POST .../v1/responses, as a body or as an SSE stream.

It answers like a model, deterministically, from the LAST input item (item references, which point at stored items
the double does not have, are skipped when looking for it):
  - function tools offered, the last item a user message, tool_choice not "none" -> one function_call item (the
    function tool_choice names, else the first function tool; arguments {"city": "Paris"}, call_id call_double_1);
  - the last item a function_call_output -> a message "The tool said: <its output>";
  - otherwise -> a message "Echo: <text of the last user message>" (a string input is that message; parts give
    their input_text texts concatenated).
text.format json_schema -> the message is a JSON instance of the schema (`instance_of`); json_object ->
{"echo": <the user text>} ({"echo": "The tool said: ..."} after a function_call_output).
reasoning.effort set (not "none") -> a reasoning item first, with a summary "Thinking about: <user text>" when
reasoning.summary is set, encrypted_content when `include` asks for it, and REASONING_TOKENS in usage.
max_output_tokens below 5 -> status incomplete (max_output_tokens): the reasoning spends the budget first (no message
then, as OpenAI does), else the last item's text is cut to the budget (TOKEN_CHARS characters a token).
Token counts: ceil(characters / TOKEN_CHARS) of the input (input + instructions + tools as JSON) and of the output.
"""
import copy
import json
import time
import uuid

TOKEN_CHARS = 4
REASONING_TOKENS = 7
MIN_OUTPUT_TOKENS = 5
CALL_ID = "call_double_1"
ARGUMENTS = json.dumps({"city": "Paris"})
ENCRYPTED = "gAAAAABdouble-encrypted-reasoning=="


def model_of(path: str, body: dict) -> str:
    return body.get("model", "")


def error_body(message: str, kind: str = "invalid_request_error", param=None, code=None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def default_reply(double, path: str, headers: dict, body: dict) -> dict:
    """Check the key like OpenAI, then answer like a model (as a stream when asked)."""
    if headers.get("Authorization") != "Bearer test-openai-key":
        return {"status": 401, "body": error_body("Incorrect API key provided.", code="invalid_api_key")}
    if not isinstance(body.get("model"), str) or not body["model"]:
        return {"status": 400, "body": error_body("Missing required parameter: 'model'.", param="model",
                                                  code="missing_required_parameter")}
    response = responses_body(body)
    if body.get("stream"):
        return {"stream": responses_stream(response)}
    return {"body": response}


# ---- reading the input

def _text(content) -> str:
    """A message's (or a function_call_output's) text: the string, or its text parts concatenated."""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or []
                   if isinstance(p, dict) and p.get("type") in ("input_text", "output_text"))


def _items(body: dict) -> list[dict]:
    given = body.get("input")
    if isinstance(given, str):
        return [{"type": "message", "role": "user", "content": given}]
    return [i for i in given or [] if isinstance(i, dict)]


def _kind(item: dict) -> str:
    if item.get("type") == "item_reference" or (set(item) == {"id"}):
        return "item_reference"
    return item.get("type") or ("message" if "role" in item else "unknown")


def _user_text(items: list[dict]) -> str:
    for item in reversed(items):
        if _kind(item) == "message" and item.get("role") == "user":
            return _text(item.get("content"))
    return ""


def _function_tools(body: dict) -> list[dict]:
    return [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"]


# ---- the answer

def instance_of(schema: dict, root: dict | None = None):
    """A deterministic value that validates against a JSON schema: objects with every listed property, strings
    "Paris", integers 1, numbers 1.5, booleans true, arrays of one item (or minItems), enums their first value."""
    root = root if root is not None else schema
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:                                  # local refs only: #/$defs/x, #/definitions/x
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part] if part else target
        return instance_of(target, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return instance_of(next((s for s in schema[key] if s.get("type") != "null"), schema[key][0]), root)
    if schema.get("allOf"):
        merged: dict = {}
        for part in schema["allOf"]:
            merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
            merged.setdefault("properties", {}).update(part.get("properties") or {})
            merged["required"] = merged.get("required", []) + (part.get("required") or [])
        return instance_of({**{k: v for k, v in schema.items() if k != "allOf"}, **merged}, root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        props = dict(schema.get("properties") or {})
        for name in schema.get("required") or []:
            props.setdefault(name, {})
        return {name: instance_of(sub, root) for name, sub in props.items()}
    if kind == "array":
        return [instance_of(schema.get("items") or {}, root)] * max(1, schema.get("minItems", 1))
    if kind in ("integer", "number"):
        value = 1 if kind == "integer" else 1.5
        if "minimum" in schema and value < schema["minimum"]:
            value = schema["minimum"]
        if "maximum" in schema and value > schema["maximum"]:
            value = schema["maximum"]
        return value
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    value = "Paris"
    if schema.get("minLength", 0) > len(value):
        value = value.ljust(schema["minLength"], "s")
    return value[:schema["maxLength"]] if "maxLength" in schema else value


def _tokens(text: str) -> int:
    return max(1, -(-len(text) // TOKEN_CHARS))


def _message_text(body: dict, items: list[dict], last: dict) -> str:
    fmt = ((body.get("text") or {}).get("format") or {})
    if _kind(last) == "function_call_output":
        said = f"The tool said: {_text(last.get('output'))}"
        subject = said
    else:
        said, subject = f"Echo: {_user_text(items)}", _user_text(items)
    if fmt.get("type") == "json_schema":
        return json.dumps(instance_of(fmt.get("schema") or {}))
    if fmt.get("type") == "json_object":
        return json.dumps({"echo": subject})
    return said


def _echo_tool(tool: dict) -> dict:
    if tool.get("type") != "function":
        return tool
    return {"type": "function", "name": tool.get("name"), "description": tool.get("description"),
            "parameters": tool.get("parameters"), "strict": tool.get("strict", True)}


def _envelope(body: dict, response_id: str, created_at: int) -> dict:
    """The response object with the request's settings echoed, before any output (status in_progress)."""
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    text = body.get("text") if isinstance(body.get("text"), dict) else {}
    out = {"id": response_id, "object": "response", "created_at": created_at, "status": "in_progress",
           "background": bool(body.get("background")), "completed_at": None, "error": None,
           "incomplete_details": None, "instructions": body.get("instructions"),
           "max_output_tokens": body.get("max_output_tokens"), "max_tool_calls": body.get("max_tool_calls"),
           "model": body.get("model"), "output": [], "parallel_tool_calls": body.get("parallel_tool_calls", True),
           "previous_response_id": body.get("previous_response_id"),
           "prompt_cache_key": body.get("prompt_cache_key"),
           "reasoning": {"effort": reasoning.get("effort"),
                         "summary": reasoning.get("summary", reasoning.get("generate_summary"))},
           "safety_identifier": body.get("safety_identifier"), "service_tier": body.get("service_tier") or "default",
           "store": body.get("store", True),
           "temperature": body.get("temperature", 1.0),
           "text": {"format": text.get("format") or {"type": "text"}, "verbosity": text.get("verbosity", "medium")},
           "tool_choice": body.get("tool_choice", "auto"),
           "tools": [_echo_tool(t) for t in body.get("tools") or [] if isinstance(t, dict)],
           "top_logprobs": body.get("top_logprobs", 0), "top_p": body.get("top_p", 1.0),
           "truncation": body.get("truncation", "disabled"), "metadata": body.get("metadata") or {}}
    if isinstance(body.get("user"), str):
        out["user"] = body["user"]
    return out


def responses_body(request_body: dict) -> dict:
    """The response object the double answers `request_body` with (status completed or incomplete, usage set)."""
    response_id = f"resp_{uuid.uuid4().hex}"
    now = int(time.time())
    out = _envelope(request_body, response_id, now)
    items = _items(request_body)
    real = [i for i in items if _kind(i) != "item_reference"]
    last = real[-1] if real else {}
    user = _user_text(items)
    output = out["output"]

    def next_id(prefix: str) -> str:
        return f"{prefix}_{response_id.removeprefix('resp_')}{len(output):04x}"

    reasoning = request_body.get("reasoning") if isinstance(request_body.get("reasoning"), dict) else {}
    thinks = reasoning.get("effort") not in (None, "none")
    if thinks:
        item = {"id": next_id("rs"), "type": "reasoning", "summary": []}
        if reasoning.get("summary") or reasoning.get("generate_summary"):
            item["summary"] = [{"type": "summary_text", "text": f"Thinking about: {user}"}]
        if "reasoning.encrypted_content" in (request_body.get("include") or []):
            item["encrypted_content"] = ENCRYPTED
        output.append(item)
    tools = _function_tools(request_body)
    choice = request_body.get("tool_choice")
    named = choice.get("name") if isinstance(choice, dict) and choice.get("type") == "function" else None
    if tools and _kind(last) == "message" and last.get("role") == "user" and choice != "none":
        output.append({"id": next_id("fc"), "type": "function_call", "status": "completed",
                       "arguments": ARGUMENTS, "call_id": CALL_ID, "name": named or tools[0]["name"]})
    else:
        output.append({"id": next_id("msg"), "type": "message", "status": "completed", "role": "assistant",
                       "content": [{"type": "output_text", "text": _message_text(request_body, items, last),
                                    "annotations": [], "logprobs": []}]})
    reasoning_tokens = REASONING_TOKENS if thinks else 0
    answer_tokens = _tokens(_answer_of(output[-1]))
    budget = request_body.get("max_output_tokens")
    if isinstance(budget, int) and budget < MIN_OUTPUT_TOKENS:
        reasoning_tokens = min(reasoning_tokens, budget)
        answer_tokens = min(answer_tokens, budget - reasoning_tokens)
        if answer_tokens <= 0 and thinks:
            output.pop()                                  # the budget went on thinking
        else:
            _cut(output[-1], answer_tokens * TOKEN_CHARS)
        out["status"], out["incomplete_details"] = "incomplete", {"reason": "max_output_tokens"}
    else:
        out["status"] = "completed"
    out["completed_at"] = now
    input_tokens = _tokens(json.dumps([request_body.get("input"), request_body.get("instructions"),
                                       request_body.get("tools")]))
    output_tokens = reasoning_tokens + max(answer_tokens, 0)
    out["usage"] = {"input_tokens": input_tokens,
                    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                    "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
                    "total_tokens": input_tokens + output_tokens}
    return out


def _answer_of(item: dict) -> str:
    return item["arguments"] if item["type"] == "function_call" else item["content"][0]["text"]


def _cut(item: dict, chars: int) -> None:
    item["status"] = "incomplete"
    if item["type"] == "function_call":
        item["arguments"] = item["arguments"][:chars]
    else:
        item["content"][0]["text"] = item["content"][0]["text"][:chars]


# ---- the stream

def _pieces(text: str, n: int = 3) -> list[str]:
    step = max(1, -(-len(text) // n))
    return [text[i:i + step] for i in range(0, len(text), step)]


def responses_stream(response: dict) -> list[bytes]:
    """A response object re-told as the SSE events OpenAI sends for it (`event: <type>` and `data: <json>` each,
    sequence_number from 0, no [DONE]); drop the tail to simulate a cut stream."""
    events: list[dict] = []

    def emit(kind: str, **fields) -> None:
        events.append({"type": kind, "sequence_number": len(events), **fields})

    start = {k: copy.deepcopy(v) for k, v in response.items() if k != "usage"}   # usage is not nullable
    start.update(status="in_progress", output=[], incomplete_details=None, completed_at=None)
    emit("response.created", response=start)
    emit("response.in_progress", response=start)
    for index, item in enumerate(response.get("output") or []):
        where = {"item_id": item.get("id", ""), "output_index": index}
        if item["type"] == "reasoning":
            emit("response.output_item.added", output_index=index, item={
                "id": item["id"], "type": "reasoning", "summary": []})
            for s, part in enumerate(item.get("summary") or []):
                emit("response.reasoning_summary_part.added", **where, summary_index=s,
                     part={"type": "summary_text", "text": ""})
                for piece in _pieces(part["text"]):
                    emit("response.reasoning_summary_text.delta", **where, summary_index=s, delta=piece)
                emit("response.reasoning_summary_text.done", **where, summary_index=s, text=part["text"])
                emit("response.reasoning_summary_part.done", **where, summary_index=s, part=copy.deepcopy(part))
        elif item["type"] == "message":
            emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress",
                                                                          "content": []})
            for c, part in enumerate(item["content"]):
                if part["type"] != "output_text":
                    emit("response.content_part.added", **where, content_index=c, part=copy.deepcopy(part))
                else:
                    emit("response.content_part.added", **where, content_index=c, part={**part, "text": ""})
                    for piece in _pieces(part["text"]):
                        emit("response.output_text.delta", **where, content_index=c, delta=piece, logprobs=[])
                    emit("response.output_text.done", **where, content_index=c, text=part["text"], logprobs=[])
                emit("response.content_part.done", **where, content_index=c, part=copy.deepcopy(part))
        elif item["type"] == "function_call":
            emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress",
                                                                          "arguments": ""})
            for piece in _pieces(item["arguments"]):
                emit("response.function_call_arguments.delta", **where, delta=piece)
            emit("response.function_call_arguments.done", **where, name=item["name"], arguments=item["arguments"])
        else:
            emit("response.output_item.added", output_index=index, item=copy.deepcopy(item))
        emit("response.output_item.done", output_index=index, item=copy.deepcopy(item))
    final = "response.incomplete" if response.get("status") == "incomplete" else (
        "response.failed" if response.get("status") == "failed" else "response.completed")
    emit(final, response=copy.deepcopy(response))
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]
