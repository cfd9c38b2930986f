"""Tool-call ids for Gemini function calls, and the thoughtSignature carried inside them across turns.

Gemini's functionCall usually has no id, so one is derived from the answer itself:
`call_` + 24 hex digits of sha256(responseId, candidate index, call position, name, canonical args). The same
upstream answer always yields the same id (streamed or not), so ids are stable across retries and turns.
When Gemini does send `functionCall.id`, that id is used instead.

Gemini 3 requires the `thoughtSignature` of a functionCall part to come back on the same part in the next
request. It travels to the client in two places:
  * inside the id: `<id>__thought__<signature>` (survives every client, since clients echo tool-call ids);
  * as `extra_content: {"google": {"thought_signature": <signature>}}` on the tool call, the field Google's
    own OpenAI-compatible endpoint uses.
On the way back the extra field wins, then the id suffix.
"""
import hashlib

import orjson

SEPARATOR = "__thought__"
# Google's documented placeholder for a functionCall whose signature was lost (e.g. history from another
# model): Gemini 3 skips the signature check for it instead of answering 400.
DUMMY_SIGNATURE = "skip_thought_signature_validator"


def call_id(response_id: str, candidate: int, position: int, name: str, args: dict,
            given_id: str | None = None, signature: str | None = None) -> str:
    if given_id:
        base = given_id
    else:
        seed = orjson.dumps([response_id, candidate, position, name, args], option=orjson.OPT_SORT_KEYS)
        base = "call_" + hashlib.sha256(seed).hexdigest()[:24]
    return f"{base}{SEPARATOR}{signature}" if signature else base


def tool_call(response_id: str, candidate: int, position: int, part: dict) -> dict:
    """The OpenAI tool call for one Gemini functionCall part (arguments as a JSON string)."""
    fc = part.get("functionCall") or {}
    name = fc.get("name") or ""
    args = fc.get("args") if isinstance(fc.get("args"), dict) else {}
    signature = part.get("thoughtSignature") if isinstance(part.get("thoughtSignature"), str) else None
    call = {"id": call_id(response_id, candidate, position, name, args, fc.get("id"), signature),
            "type": "function",
            "function": {"name": name, "arguments": orjson.dumps(args).decode()}}
    if signature:
        call["extra_content"] = {"google": {"thought_signature": signature}}
    return call


def signature_of(call: dict) -> str | None:
    """The thoughtSignature a client sent back with a tool call, if any."""
    extra = call.get("extra_content")
    if isinstance(extra, dict) and isinstance(extra.get("google"), dict):
        sig = extra["google"].get("thought_signature")
        if isinstance(sig, str) and sig:
            return sig
    cid = call.get("id")
    if isinstance(cid, str) and SEPARATOR in cid:
        sig = cid.split(SEPARATOR, 1)[1]
        return sig or None
    return None
