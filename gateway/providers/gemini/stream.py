"""Gemini `streamGenerateContent?alt=sse` events -> OpenAI chat.completion.chunk dicts.

Each Gemini event is a delta GenerateContentResponse. Per candidate: the first chunk carries the role; text
parts become `content` deltas and thought parts `reasoning_content` deltas (empty text, such as Gemini 3's
trailing signature-only part, is not sent); a functionCall part arrives whole, so it becomes one complete
tool_calls delta (id, type, name, full arguments) with a per-candidate index counted across the stream; the
event with finishReason closes the candidate with the finish chunk (STOP after a function call ->
tool_calls, see response.py for the table). A blocked prompt (promptFeedback.blockReason, no candidates) is
a role chunk then content_filter. Usage is the last usageMetadata with token counts (Vertex sends
trafficType-only ones in between); it is kept in `self.usage`, never sent as a chunk here. An error event
raises its GatewayError; a stream that ends before every started candidate finished raises
ProviderUnavailable rather than passing a truncation off as a stop.
"""
import orjson

from gateway import exceptions as exc
from gateway.providers.base import StreamState
from gateway.providers.gemini.errors import error_of
from gateway.providers.gemini.response import finish_reason, usage_of
from gateway.providers.gemini.toolcalls import tool_call
from gateway.sse import SSEEvent


class _Candidate:
    __slots__ = ("tools", "finished")

    def __init__(self):
        self.tools = 0          # function calls sent so far: the next tool_calls index
        self.finished = False


class GeminiStreamState(StreamState):
    def __init__(self):
        super().__init__()
        self._candidates: dict[int, _Candidate] = {}
        self._response_id = ""

    def feed(self, event: SSEEvent) -> list[dict]:
        data = event.data.strip()
        if not data:
            return []
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise exc.ProviderUnavailable("The provider sent a stream event that is not JSON.") from None
        out: list[dict] = []
        for item in payload if isinstance(payload, list) else [payload]:
            if isinstance(item, dict):
                out += self._response(item)
        return out

    def _candidate(self, index: int, out: list[dict]) -> _Candidate:
        cand = self._candidates.get(index)
        if cand is None:
            cand = self._candidates[index] = _Candidate()
            out.append(self.chunk({"role": "assistant", "content": ""}, index=index))
        return cand

    def _response(self, payload: dict) -> list[dict]:
        if isinstance(payload.get("error"), dict):
            raise error_of(payload)
        if not self._response_id and isinstance(payload.get("responseId"), str):
            self._response_id = payload["responseId"]
        usage = usage_of(payload.get("usageMetadata"))
        if usage is not None:
            self.usage = usage
        out: list[dict] = []
        candidates = payload.get("candidates")
        if not candidates and (payload.get("promptFeedback") or {}).get("blockReason"):
            cand = self._candidate(0, out)
            if not cand.finished:
                cand.finished = True
                self.finish_reason = "content_filter"
                out.append(self.chunk({}, "content_filter"))
            return out
        for position, candidate in enumerate(candidates or []):
            if isinstance(candidate, dict):
                out += self._parts(candidate, position)
        return out

    def _parts(self, candidate: dict, position: int) -> list[dict]:
        index = candidate.get("index") if isinstance(candidate.get("index"), int) else position
        out: list[dict] = []
        cand = self._candidate(index, out)
        for part in (candidate.get("content") or {}).get("parts") or []:
            if not isinstance(part, dict):
                continue
            if "functionCall" in part:
                call = tool_call(self._response_id, index, cand.tools, part)
                out.append(self.chunk({"tool_calls": [{"index": cand.tools, **call}]}, index=index))
                cand.tools += 1
            elif isinstance(part.get("text"), str) and part["text"]:
                key = "reasoning_content" if part.get("thought") else "content"
                out.append(self.chunk({key: part["text"]}, index=index))
        reason = candidate.get("finishReason")
        if reason and not cand.finished:
            cand.finished = True
            mapped = finish_reason(reason, cand.tools > 0)
            if index == 0 or self.finish_reason is None:
                self.finish_reason = mapped     # the log reports candidate 0's reason
            out.append(self.chunk({}, mapped, index=index))
        return out

    def finish(self) -> list[dict]:
        if not self._candidates or not all(c.finished for c in self._candidates.values()):
            raise exc.ProviderUnavailable("The provider's stream ended before the answer was complete.")
        return []
