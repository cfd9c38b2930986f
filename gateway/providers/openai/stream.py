"""OpenAI-compatible SSE chunks -> OpenAI chunk bodies, one per upstream chunk that has choices.

The envelope (the stream's id, created and model) is stamped by gateway/chunks.py; `usage` is kept aside
(from any chunk: xAI sends it on the finish chunk, Groq inside `x_groq`) and the usage-only chunk is not
passed on: the pipeline sends its own when the client asked for it. Deltas are normalised like answers
(response.py): `reasoning` -> `reasoning_content`, Mistral thinking chunks -> `reasoning_content`, finish
reasons mapped. Tool-call `index` is renumbered per stream and choice by tool-call id, so servers that send
every parallel call with index 0 still give clients distinct calls. finish() raises ProviderUnavailable
when a choice never got its finish_reason (the stream was cut).
"""
import orjson

from gateway import exceptions as exc
from gateway.providers.base import StreamState, error_in_body
from gateway.providers.openai import response
from gateway.providers.openai.variants import DEFAULT
from gateway.sse import SSEEvent


class _ToolIndexes:
    """Upstream tool-call deltas -> the position of the call in the final tool_calls array."""

    def __init__(self):
        self.by_id: dict[str, int] = {}
        self.by_upstream: dict = {}
        self.count = 0
        self.last: int | None = None

    def index_of(self, call: dict) -> int:
        call_id, upstream = call.get("id"), call.get("index")
        if call_id and call_id in self.by_id:
            ours = self.by_id[call_id]
        elif call_id:
            ours = self.by_id[call_id] = self._next()
        elif upstream in self.by_upstream:
            ours = self.by_upstream[upstream]
        elif upstream is None and self.last is not None:
            ours = self.last
        else:
            ours = self._next()
        self.by_upstream[upstream] = self.last = ours
        return ours

    def _next(self) -> int:
        self.count += 1
        return self.count - 1


class OpenAIStreamState(StreamState):
    def __init__(self, variant=None):
        super().__init__()
        self.variant = variant or DEFAULT
        self._open: set[int] = set()          # choices seen without their finish_reason yet
        self._done: set[int] = set()          # choices whose finish_reason was sent
        self._seen = False
        self._tools: dict[int, _ToolIndexes] = {}

    def feed(self, event: SSEEvent) -> list[dict]:
        data = event.data.strip()
        if data == "[DONE]" or not data:
            return []
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise exc.ProviderUnavailable("The provider sent a stream event that is not JSON.") from None
        if not isinstance(chunk, dict):
            return []
        err = error_in_body(chunk)
        if err is not None:
            raise err
        groq = chunk.get("x_groq") if isinstance(chunk.get("x_groq"), dict) else {}
        usage = response.usage_from_openai(chunk.get("usage") or groq.get("usage"), self.variant)
        if usage is not None:
            self.usage = usage
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices:
            return []                          # the usage chunk: the pipeline sends its own when asked
        out: dict = {}
        response.copy_extras(chunk, out)
        out["choices"] = [c for c in (self._choice(c, i) for i, c in enumerate(choices) if isinstance(c, dict))
                          if c is not None]
        if not out["choices"]:
            return []
        return [out]

    def _choice(self, raw: dict, i: int) -> dict | None:
        index = raw.get("index") if isinstance(raw.get("index"), int) else i
        delta = dict(raw["delta"]) if isinstance(raw.get("delta"), dict) else {}
        if index in self._done and raw.get("finish_reason") is None and not any(
                v not in (None, "") for v in delta.values()):
            return None                        # an empty trailer after the finish chunk (xAI usage chunk)
        response.reasoning_fields(delta)
        if isinstance(delta.get("tool_calls"), list):
            indexes = self._tools.setdefault(index, _ToolIndexes())
            calls = []
            for call in delta["tool_calls"]:
                call = dict(call) if isinstance(call, dict) else {}
                call["index"] = indexes.index_of(call)
                if call.get("id"):
                    call.setdefault("type", "function")
                calls.append(call)
            delta["tool_calls"] = calls
        finish = raw.get("finish_reason")
        self._seen = True
        if finish is None:
            if index not in self._done:
                self._open.add(index)
        else:
            finish = response.finish_reason(finish, index in self._tools, self.variant)
            self._open.discard(index)
            self._done.add(index)
            self.finish_reason = finish
        return {"index": index, "delta": delta, "finish_reason": finish, "logprobs": raw.get("logprobs")}

    def finish(self) -> list[dict]:
        if not self._seen or self._open or self.finish_reason is None:
            raise exc.ProviderUnavailable("The provider's stream ended before the answer was finished.")
        return []
