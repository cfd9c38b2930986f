"""Tool-call id rules of upstreams that restrict them, applied to ids from other providers' history.

The rewrite is a pure function of the id, so an assistant's tool_calls[].id and the tool message's
tool_call_id that answers it always map to the same new id, on every turn, with no table kept.
Ids that already follow the rule are sent unchanged (so an upstream's own ids round-trip as they are).
"""
import hashlib
import re
import string

_ALPHABET = string.ascii_letters + string.digits
_MISTRAL_ID = re.compile(r"^[A-Za-z0-9]{9}$")
OPENAI_MAX_ID = 40


def _digest(call_id: str) -> int:
    return int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:16], "big")


def mistral(call_id: str) -> str:
    """Mistral rule: "Tool call id ... must be a-z, A-Z, 0-9, with a length of 9"."""
    if _MISTRAL_ID.match(call_id):
        return call_id
    n = _digest(call_id)
    return "".join(_ALPHABET[(n // 62 ** i) % 62] for i in range(9))


def openai(call_id: str) -> str:
    """OpenAI rule: tool_calls[].id is at most 40 characters (`string_above_max_length`), e.g. Gemini ids that
    carry a thought signature."""
    if len(call_id) <= OPENAI_MAX_ID:
        return call_id
    return "call_" + hashlib.sha256(call_id.encode()).hexdigest()[:32]
