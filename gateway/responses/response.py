"""A canonical chat.completion (what the pipeline returns) + the Responses request -> a `response` object.

Output items, in order: `reasoning` (summary_text from reasoning_content; encrypted_content from
thinking_blocks, carry.py), `message` (output_text, then refusal), one `function_call` per tool call
(call_id = the tool call's id). A Gemini thought signature (the tool call's extra_content) rides in the
encrypted_content of the reasoning item right before its function call: the one already there, else a new one
with an empty summary; the call_id is the id without the signature the Gemini adapter appends to it, so it
stays within the 64 characters a function_call_output's call_id may have.
finish_reason length -> status incomplete (reason max_output_tokens), content_filter -> incomplete
(content_filter), otherwise completed; when incomplete, the last output item is marked incomplete.
`output_text` is not put on the wire: the official schema calls it an SDK-only convenience property.
Item ids derive from the response id and the output index, so a stream and a body of the same answer agree.
"""
import re
import time
import uuid

from gateway.providers.gemini.toolcalls import SEPARATOR
from gateway.responses import carry

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def new_response_id(now: float | None = None, stored: bool = True) -> str:
    """resp_ + 32 hex digits: the minting time in milliseconds (12), whether the response is stored (1: "1" or
    "0"), then 76 random bits. Time and flag let the store tell an id that may still be on its way to the
    database from one that will never be there."""
    ms = int((time.time() if now is None else now) * 1000)
    return f"resp_{ms:012x}{'1' if stored else '0'}{uuid.uuid4().hex[:19]}"


_ID = re.compile(r"resp_[0-9a-f]{32}")


def is_response_id(value) -> bool:
    """Whether `value` has the form of the ids `new_response_id` mints (any other string was never stored)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def response_time(response_id: str) -> float | None:
    """When a stored response id of ours was minted (seconds since the epoch); None for any other string,
    and for the id of a response that was not stored."""
    digits = response_id.removeprefix("resp_") if isinstance(response_id, str) else ""
    if len(digits) != 32 or not response_id.startswith("resp_") or digits[12] != "1":
        return None
    try:
        return int(digits[:12], 16) / 1000
    except ValueError:
        return None


def item_id(response_id: str, prefix: str, index: int) -> str:
    return f"{prefix}_{response_id.removeprefix('resp_')}{index:04x}"


def envelope(request: dict, response_id: str, created_at: int) -> dict:
    """The response object before any output: status in_progress, the request's settings echoed."""
    reasoning = request.get("reasoning") if isinstance(request.get("reasoning"), dict) else {}
    text = request.get("text") if isinstance(request.get("text"), dict) else {}
    out = {
        "id": response_id, "object": "response", "created_at": created_at, "status": "in_progress",
        "completed_at": None, "error": None, "incomplete_details": None,
        "instructions": request.get("instructions") if isinstance(request.get("instructions"), str) else None,
        "max_output_tokens": request.get("max_output_tokens"), "model": request.get("model"), "output": [],
        "parallel_tool_calls": request.get("parallel_tool_calls") is not False,
        "previous_response_id": request.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"),
                      "summary": reasoning.get("summary") or reasoning.get("generate_summary")},
        "store": request.get("store") is not False,
        "temperature": request.get("temperature"),
        "text": {"format": text.get("format") or {"type": "text"}, **(
            {"verbosity": text["verbosity"]} if text.get("verbosity") is not None else {})},
        "tool_choice": _tool_choice(request.get("tool_choice")),
        "tools": [_tool(t) for t in request.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"],
        "top_p": request.get("top_p"), "truncation": "disabled",
        "metadata": request.get("metadata") or {},
    }
    for name in ("user", "safety_identifier", "prompt_cache_key", "service_tier"):
        if isinstance(request.get(name), str):
            out[name] = request[name]
    return out


def _tool_choice(choice):
    if choice in ("none", "auto", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "name": choice["name"]}
    return "auto"


def _tool(tool: dict) -> dict:
    return {"type": "function", "name": tool.get("name"), "description": tool.get("description"),
            "parameters": tool.get("parameters"), "strict": tool.get("strict")}


def usage_of(usage) -> dict | None:
    """Chat usage -> Responses usage (input includes cached, output includes reasoning, as on chat)."""
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    inp, out = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    return {"input_tokens": inp,
            "input_tokens_details": {"cached_tokens": int(prompt.get("cached_tokens") or 0),
                                     "cache_write_tokens": int(prompt.get("cache_write_tokens") or 0)},
            "output_tokens": out,
            "output_tokens_details": {"reasoning_tokens": int(completion.get("reasoning_tokens") or 0)},
            "total_tokens": int(usage.get("total_tokens") or inp + out)}


def signature_of(call: dict) -> str | None:
    extra = call.get("extra_content")
    google = extra.get("google") if isinstance(extra, dict) else None
    sig = google.get("thought_signature") if isinstance(google, dict) else None
    return sig if isinstance(sig, str) and sig else None


def call_id_of(call: dict) -> str:
    """The tool call's id, without the signature suffix the Gemini adapter appends (it rides in reasoning)."""
    cid = call.get("id") if isinstance(call.get("id"), str) else ""
    sig = signature_of(call)
    return cid.removesuffix(SEPARATOR + sig) if sig else cid


def reasoning_item(rid: str, summary: str, blocks: list[dict], signatures: dict[str, str]) -> dict:
    item = {"id": rid, "type": "reasoning", "summary": [{"type": "summary_text", "text": summary}] if summary else []}
    encrypted = carry.encode(blocks, signatures)
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def output_text(text: str) -> dict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def finish(body: dict, finish_reason, usage, completed_at: int) -> dict:
    """Set the final status, incomplete_details, completed_at and usage on a response object (in place)."""
    reason = _INCOMPLETE.get(finish_reason)
    body["status"] = "incomplete" if reason else "completed"
    body["incomplete_details"] = {"reason": reason} if reason else None
    body["completed_at"] = completed_at
    if reason and body["output"] and body["output"][-1]["type"] != "reasoning":
        body["output"][-1]["status"] = "incomplete"
    if usage is not None:
        body["usage"] = usage
    return body


def from_chat(completion: dict, request: dict, *, response_id: str | None = None, created_at: int | None = None,
              completed_at: int | None = None) -> dict:
    """The Responses `response` object for one chat.completion body (choice 0) answering `request`."""
    response_id = response_id or new_response_id()
    now = int(time.time())
    body = envelope(request, response_id, created_at if created_at is not None else int(completion.get("created")
                                                                                          or now))
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    output = body["output"]

    def next_id(prefix: str) -> str:
        return item_id(response_id, prefix, len(output))

    summary = message.get("reasoning_content") if isinstance(message.get("reasoning_content"), str) else ""
    blocks = [b for b in message.get("thinking_blocks") or [] if isinstance(b, dict)]
    if summary or blocks:
        output.append(reasoning_item(next_id("rs"), summary, blocks, {}))
    parts = []
    if isinstance(message.get("content"), str) and message["content"]:
        parts.append(output_text(message["content"]))
    if isinstance(message.get("refusal"), str) and message["refusal"]:
        parts.append({"type": "refusal", "refusal": message["refusal"]})
    if parts:
        output.append({"id": next_id("msg"), "type": "message", "status": "completed", "role": "assistant",
                       "content": parts})
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        cid, sig = call_id_of(call), signature_of(call)
        if sig:
            attach_signature(output, cid, sig, next_id)
        output.append({"id": next_id("fc"), "type": "function_call", "status": "completed", "call_id": cid,
                       "name": fn.get("name") or "", "arguments": fn.get("arguments") or ""})
    return finish(body, choice.get("finish_reason"), usage_of(completion.get("usage")),
                  completed_at if completed_at is not None else now)


def attach_signature(output: list[dict], call_id: str, signature: str, next_id) -> dict:
    """Put a function call's signature on the reasoning item just before it (a new one when there is none);
    return that item."""
    if output and output[-1]["type"] == "reasoning":
        item = output[-1]
        blocks, signatures = carry.decode(item.get("encrypted_content"), "output")
        item.pop("encrypted_content", None)
        item.update(reasoning_item(item["id"], "", blocks, {**signatures, call_id: signature}),
                    summary=item["summary"])
        return item
    item = reasoning_item(next_id("rs"), "", [], {call_id: signature})
    output.append(item)
    return item
