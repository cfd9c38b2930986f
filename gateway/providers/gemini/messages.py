"""OpenAI messages -> Gemini `systemInstruction` and `contents` (parts, roles, merging, function responses).

Rules (each follows an upstream requirement):
  * system and developer messages, wherever they stand, become `systemInstruction` parts in order;
  * user -> role "user", assistant -> role "model"; tool (and legacy function) messages become
    `functionResponse` parts of a "user" Content, named after the assistant tool call they answer;
  * consecutive Contents of one role are merged (Gemini: turns must alternate), and the function responses
    that follow a model turn are put in the order of its calls (Gemini: same count and order as the calls);
  * empty text is skipped and a Content without parts is left out; if nothing is left, one user Content
    with a single space is sent, since Gemini needs at least one.
  * `name` on messages and assistant `reasoning_content` have no Gemini field and are not sent (thought
    summaries are only accepted back with a signature, which chat messages do not carry).
"""
import orjson

from gateway import exceptions as exc
from gateway.values import Target
from gateway.providers.gemini.effort import generation
from gateway.providers.gemini.media import audio_part, file_part, image_part
from gateway.providers.gemini.toolcalls import DUMMY_SIGNATURE, signature_of


def _text_of(content, param: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text") or p.get("refusal") or "" for p in content if isinstance(p, dict))
    raise exc.InvalidRequest("Message content must be a string or an array of content parts.", param=param)


def system_instruction(messages: list) -> dict | None:
    parts = []
    for m in messages:
        if m.get("role") in ("system", "developer"):
            content = m.get("content")
            chunks = [content] if isinstance(content, str) else [
                p.get("text", "") for p in content or [] if isinstance(p, dict)]
            parts += [{"text": t} for t in chunks if t]
    return {"parts": parts} if parts else None


def _user_parts(content, i: int) -> list[dict]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts = []
    for j, part in enumerate(content or []):
        where = f"messages[{i}].content[{j}]"
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                parts.append({"text": part["text"]})
        elif kind == "image_url":
            parts.append(image_part(part.get("image_url") or {}, f"{where}.image_url.url"))
        elif kind == "input_audio":
            parts.append(audio_part(part.get("input_audio") or {}, f"{where}.input_audio"))
        elif kind == "file":
            parts.append(file_part(part.get("file") or {}, f"{where}.file"))
        else:
            raise exc.InvalidRequest(f"Gemini cannot take a '{kind}' content part.", param=f"{where}.type")
    return parts


def _args(arguments, param: str) -> dict:
    if arguments in (None, ""):
        return {}
    try:
        args = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError:
        raise exc.InvalidRequest("The tool call arguments are not valid JSON.", param=param) from None
    if not isinstance(args, dict):
        raise exc.InvalidRequest("The tool call arguments must be a JSON object.", param=param)
    return args


def _model_parts(m: dict, i: int, calls_by_id: dict) -> list[dict]:
    text = _text_of(m.get("content"), f"messages[{i}].content")
    parts = [{"text": text}] if text else []
    for j, call in enumerate(m.get("tool_calls") or []):
        fn = call.get("function") or {}
        if call.get("type", "function") != "function":
            raise exc.InvalidRequest("Gemini takes only function tool calls.", param=f"messages[{i}].tool_calls[{j}]")
        args = _args(fn.get("arguments"), f"messages[{i}].tool_calls[{j}].function.arguments")
        part = {"functionCall": {"name": fn.get("name", ""), "args": args}}
        signature = signature_of(call)
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
        calls_by_id[call.get("id")] = (fn.get("name", ""), j)
    legacy = m.get("function_call")
    if isinstance(legacy, dict) and legacy.get("name"):
        args = _args(legacy.get("arguments"), f"messages[{i}].function_call.arguments")
        parts.append({"functionCall": {"name": legacy["name"], "args": args}})
    return parts


def _response_part(name: str, content, param: str) -> dict:
    text = _text_of(content, param)
    try:
        parsed = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        parsed = None
    response = parsed if isinstance(parsed, dict) else {"result": text}
    return {"functionResponse": {"name": name, "response": response}}


def contents(messages: list, target: Target) -> list[dict]:
    out: list[dict] = []
    calls_by_id: dict = {}      # tool-call id -> (function name, position among its message's calls)
    order: dict[int, int] = {}  # id(functionResponse part) -> position of the call it answers
    for i, m in enumerate(messages):
        role = m.get("role")
        if role in ("system", "developer"):
            continue
        if role == "user":
            parts, gemini_role = _user_parts(m.get("content"), i), "user"
        elif role == "assistant":
            parts, gemini_role = _model_parts(m, i, calls_by_id), "model"
        elif role == "tool":
            found = calls_by_id.get(m.get("tool_call_id"))
            if found is None:
                raise exc.InvalidRequest(f"No earlier assistant tool call has the id '{m.get('tool_call_id')}'.",
                                         param=f"messages[{i}].tool_call_id")
            part = _response_part(found[0], m.get("content"), f"messages[{i}].content")
            order[id(part)] = found[1]
            parts, gemini_role = [part], "user"
        elif role == "function":
            parts = [_response_part(m.get("name", ""), m.get("content"), f"messages[{i}].content")]
            gemini_role = "user"
        else:
            raise exc.InvalidRequest(f"Gemini cannot take a message with role '{role}'.", param=f"messages[{i}].role")
        if not parts:
            continue
        if out and out[-1]["role"] == gemini_role:
            out[-1]["parts"].extend(parts)
        else:
            out.append({"role": gemini_role, "parts": parts})
    for content in out:
        if content["role"] == "user":
            # function responses first, in call order (a stable sort keeps ties and other parts in place)
            content["parts"].sort(key=lambda p: (0, order[id(p)]) if id(p) in order else (
                (0, 1 << 30) if "functionResponse" in p else (1, 0)))
    version = generation(target.upstream_model)
    if version is not None and version[0] >= 3:     # Gemini 3+ validates signatures on function calls
        for content in out:
            if content["role"] == "model":
                first = next((p for p in content["parts"] if "functionCall" in p), None)
                if first is not None and "thoughtSignature" not in first:
                    first["thoughtSignature"] = DUMMY_SIGNATURE
    return out or [{"role": "user", "parts": [{"text": " "}]}]
