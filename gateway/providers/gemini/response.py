"""A Gemini GenerateContentResponse -> an OpenAI chat.completion, with finish reasons and usage mapped.

finishReason -> finish_reason:
  STOP -> stop, or tool_calls when the candidate returned a function call (Gemini says STOP for both);
  MAX_TOKENS -> length;
  SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII, IMAGE_SAFETY, IMAGE_PROHIBITED_CONTENT,
  IMAGE_RECITATION -> content_filter (the answer was withheld or cut by a safety or recitation policy);
  MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, TOO_MANY_TOOL_CALLS, MISSING_THOUGHT_SIGNATURE, LANGUAGE,
  OTHER, IMAGE_OTHER, NO_IMAGE, FINISH_REASON_UNSPECIFIED and anything new -> stop (the model ended for a
  reason that is neither a length limit nor a policy filter). A prompt blocked before generation (promptFeedback.blockReason, no candidates) is one
  choice with null content and content_filter.
usageMetadata -> Usage: prompt = promptTokenCount + toolUsePromptTokenCount; cached = cachedContentTokenCount
(already inside promptTokenCount); completion = candidatesTokenCount + thoughtsTokenCount (Gemini leaves
thoughts out of candidatesTokenCount); reasoning = thoughtsTokenCount.
Parts: text -> content (concatenated), thought text -> `reasoning_content`, functionCall -> tool_calls (see
toolcalls.py); other part kinds (inline images, code execution) have no chat.completion field and are not shown.
"""
import time
from typing import Any

from gateway import exceptions as exc
from gateway.values import Completion, Usage
from gateway.providers.gemini.errors import error_of
from gateway.providers.gemini.toolcalls import tool_call

_FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
             "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"}


def finish_reason(reason: Any, called_tools: bool) -> str:
    if reason == "MAX_TOKENS":
        return "length"
    if reason in _FILTERED:
        return "content_filter"
    return "tool_calls" if called_tools and reason == "STOP" else "stop"


def usage_of(meta: Any) -> Usage | None:
    """Usage from a usageMetadata object; None when it carries no token counts (e.g. only trafficType)."""
    if not isinstance(meta, dict) or not isinstance(meta.get("promptTokenCount"), int):
        return None
    thoughts = meta.get("thoughtsTokenCount") or 0
    # promptTokensDetails counts the prompt per modality: audio input has its own rate
    audio = sum(d.get("tokenCount") or 0 for d in meta.get("promptTokensDetails") or []
                if isinstance(d, dict) and d.get("modality") == "AUDIO")
    return Usage(prompt_tokens=meta["promptTokenCount"] + (meta.get("toolUsePromptTokenCount") or 0),
                 completion_tokens=(meta.get("candidatesTokenCount") or 0) + thoughts,
                 cached_tokens=meta.get("cachedContentTokenCount") or 0,
                 reasoning_tokens=thoughts, audio_input_tokens=audio)


def _token(entry: dict) -> dict:
    token = entry.get("token") or ""
    return {"token": token, "logprob": entry.get("logProbability", -9999.0), "bytes": list(token.encode())}


def logprobs_of(result: Any) -> dict | None:
    """Gemini logprobsResult -> OpenAI choice.logprobs."""
    if not isinstance(result, dict) or not isinstance(result.get("chosenCandidates"), list):
        return None
    tops = result.get("topCandidates") or []
    content = []
    for k, chosen in enumerate(result["chosenCandidates"]):
        entry = _token(chosen)
        alternatives = tops[k].get("candidates") if k < len(tops) and isinstance(tops[k], dict) else None
        entry["top_logprobs"] = [_token(a) for a in alternatives or []]
        content.append(entry)
    return {"content": content, "refusal": None}


def _choice(candidate: dict, position: int, response_id: str) -> dict:
    index = candidate.get("index") if isinstance(candidate.get("index"), int) else position
    parts = (candidate.get("content") or {}).get("parts") or []
    text, thoughts, calls = [], [], []
    for part in parts:
        if not isinstance(part, dict):
            continue
        if "functionCall" in part:
            calls.append(tool_call(response_id, index, len(calls), part))
        elif isinstance(part.get("text"), str) and part["text"]:
            (thoughts if part.get("thought") else text).append(part["text"])
    message: dict = {"role": "assistant", "content": "".join(text) if text else None, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    return {"index": index, "message": message,
            "finish_reason": finish_reason(candidate.get("finishReason"), bool(calls)),
            "logprobs": logprobs_of(candidate.get("logprobsResult"))}


def parse_response(payload: Any, requested_model: str) -> Completion:
    if not isinstance(payload, dict):
        raise exc.ProviderUnavailable("The provider sent an answer that is not a Gemini response.")
    if isinstance(payload.get("error"), dict):
        raise error_of(payload)
    response_id = payload.get("responseId") if isinstance(payload.get("responseId"), str) else ""
    candidates = payload.get("candidates")
    if isinstance(candidates, list) and candidates:
        choices = [_choice(c if isinstance(c, dict) else {}, i, response_id) for i, c in enumerate(candidates)]
    elif (payload.get("promptFeedback") or {}).get("blockReason"):
        choices = [{"index": 0, "message": {"role": "assistant", "content": None, "refusal": None},
                    "finish_reason": "content_filter", "logprobs": None}]
    else:
        raise exc.ProviderUnavailable("The provider sent a Gemini response without candidates.")
    body = {"id": f"chatcmpl-{response_id or format(time.time_ns(), 'x')}", "object": "chat.completion",
            "created": int(time.time()), "model": requested_model, "choices": choices}
    usage = usage_of(payload.get("usageMetadata"))
    if usage is not None:
        body["usage"] = usage.as_openai()
    return Completion(body, usage)
