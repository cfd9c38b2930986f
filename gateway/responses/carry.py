"""What a `reasoning` item's `encrypted_content` carries between turns: the gateway's own chat extensions.

The chat path hands provider signatures to clients in two extensions of the canonical chat format:
  * Anthropic thinking: `thinking_blocks` on the assistant message ({type: thinking, thinking, signature} and
    {type: redacted_thinking, data}), which must come back unchanged on the next turn;
  * Gemini thought signatures: `extra_content: {"google": {"thought_signature": ...}}` on a tool call.
A Responses client hands back only the items it was given, so both ride in the reasoning item's
`encrypted_content`, as `sy1.` + base64url(JSON {"thinking_blocks": [...], "signatures": {call_id: sig}}).
It is opaque to the client, not encrypted: the provider checks its own signatures. A reasoning item whose
encrypted_content does not start with the prefix came from elsewhere (OpenAI's own blobs) and carries nothing
a translated target can use.
"""
import base64
import binascii

import orjson

from gateway import exceptions as exc

PREFIX = "sy1."


def encode(thinking_blocks: list[dict], signatures: dict[str, str]) -> str | None:
    """The encrypted_content for these extensions, or None when there is nothing to carry."""
    payload: dict = {}
    if thinking_blocks:
        payload["thinking_blocks"] = thinking_blocks
    if signatures:
        payload["signatures"] = signatures
    if not payload:
        return None
    return PREFIX + base64.urlsafe_b64encode(orjson.dumps(payload)).decode("ascii")


def decode(value, param: str) -> tuple[list[dict], dict[str, str]]:
    """(thinking_blocks, signatures by call_id) from an encrypted_content; ([], {}) when it is not ours."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return [], {}
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(value[len(PREFIX):].encode("ascii")))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise exc.InvalidRequest("This encrypted_content is damaged; send it back as the gateway returned it.",
                                 param=param) from None
    blocks = payload.get("thinking_blocks") if isinstance(payload, dict) else None
    signatures = payload.get("signatures") if isinstance(payload, dict) else None
    if not isinstance(blocks or [], list) or not isinstance(signatures or {}, dict):
        raise exc.InvalidRequest("This encrypted_content is damaged; send it back as the gateway returned it.",
                                 param=param)
    return list(blocks or []), {str(k): v for k, v in (signatures or {}).items() if isinstance(v, str)}
