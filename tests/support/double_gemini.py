"""The Gemini lookalike of the provider double: /gemini/v1beta/models/{model}:generateContent and
:streamGenerateContent?alt=sse, with Google's key check, error shape and (for gemini-3 models) the
thought-signature check on function calls."""
import json

KEY = "test-gemini-key"
RESPONSE_ID = "dblResp123"
SIGNATURE = "c2lnLWRvdWJsZQ=="   # what the double signs gemini-3 function calls with
USAGE = {"promptTokenCount": 12, "candidatesTokenCount": 5, "totalTokenCount": 17}


def _error(code: int, status: str, message: str, details: list | None = None) -> dict:
    err = {"code": code, "message": message, "status": status}
    if details:
        err["details"] = details
    return {"status": code, "body": {"error": err}}


def _split(path: str) -> tuple[str, str]:
    """(model, action) from /gemini/v1beta/models/{model}:{action}[?query]."""
    tail = path.split("?", 1)[0].split("/models/", 1)[-1]
    model, _, action = tail.partition(":")
    return model, action


def model_of(path: str, body: dict) -> str:
    return _split(path)[0]


def _header(headers: dict, name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _check_history(model: str, contents: list) -> dict | None:
    """Google's checks on a conversation: responses match calls; gemini-3 calls carry signatures."""
    for k, content in enumerate(contents):
        calls = [p for p in content.get("parts") or [] if "functionCall" in p]
        if not calls:
            continue
        if model.startswith("gemini-3") and "thoughtSignature" not in calls[0]:
            return _error(400, "INVALID_ARGUMENT", "Function call is missing a thought_signature in functionCall "
                          f"parts. Additional data, function call `{calls[0]['functionCall']['name']}`, position "
                          f"{k + 1}.")
        following = contents[k + 1] if k + 1 < len(contents) else None
        answers = [p for p in (following or {}).get("parts") or [] if "functionResponse" in p]
        if following is not None and len(answers) != len(calls):
            return _error(400, "INVALID_ARGUMENT", "Please ensure that the number of function response parts is "
                          "equal to the number of function call parts of the function call turn.")
    return None


def _parts(model: str, body: dict) -> list[dict]:
    """Answer like a model: call the first function, report a tool result, or echo the user."""
    contents = body.get("contents") or []
    last = contents[-1] if contents else {}
    last_parts = last.get("parts") or []
    declarations = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    mode = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode")
    thinking = ((body.get("generationConfig") or {}).get("thinkingConfig") or {}).get("includeThoughts")
    parts = [{"text": "Thinking about the question.", "thought": True}] if thinking else []
    answers = [p["functionResponse"] for p in last_parts if "functionResponse" in p]
    if answers:
        resp = answers[-1].get("response") or {}
        said = resp["result"] if set(resp) == {"result"} else json.dumps(resp)
        return parts + [{"text": f"The tool said: {said}"}]
    if declarations and last.get("role", "user") == "user" and mode != "NONE":
        call = {"functionCall": {"name": declarations[0]["name"], "args": {"city": "Paris"}}}
        if model.startswith("gemini-3"):
            call["thoughtSignature"] = SIGNATURE
        return parts + [call]
    text = "".join(p.get("text", "") for p in last_parts if not p.get("thought"))
    return parts + [{"text": f"Echo: {text}"}]


def _response(model: str, parts: list[dict], finish: str | None, usage: dict | None) -> dict:
    candidate = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    out = {"candidates": [candidate], "modelVersion": model, "responseId": RESPONSE_ID}
    if usage:
        out["usageMetadata"] = usage
    return out


def sse_stream(model: str, parts: list[dict], pieces: int = 3) -> list[bytes]:
    """A reply re-told as Gemini's SSE events: text split in pieces, finishReason and usage on the last."""
    events: list[list[dict]] = []
    for part in parts:
        text = part.get("text")
        if text and not part.get("thought"):
            step = max(1, -(-len(text) // pieces))
            events += [[{"text": text[j:j + step]}] for j in range(0, len(text), step)]
        else:
            events.append([part])
    out = []
    for k, event_parts in enumerate(events):
        final = k == len(events) - 1
        payload = _response(model, event_parts, "STOP" if final else None, USAGE if final else None)
        out.append(b"data: " + json.dumps(payload).encode() + b"\r\n\r\n")
    return out


def default_reply(double, path: str, headers: dict, body: dict) -> dict:
    model, action = _split(path)
    key = _header(headers, "x-goog-api-key")
    if key is None:
        return _error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without "
                      "established identity). Please use API Key or other form of API consumer identity to call "
                      "this API.")
    if key != KEY:
        return _error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
             "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}])
    if action not in ("generateContent", "streamGenerateContent"):
        return _error(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta, or is not "
                      "supported for this method.")
    if not body.get("contents"):
        return _error(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified\n")
    problem = _check_history(model, body["contents"])
    if problem is not None:
        return problem
    parts = _parts(model, body)
    if action == "streamGenerateContent":
        return {"stream": sse_stream(model, parts)}
    return {"body": _response(model, parts, "STOP", USAGE)}
