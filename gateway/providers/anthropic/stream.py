"""Anthropic Messages stream events -> OpenAI chat.completion.chunk dicts (PROTOCOLS.md 5.10.1)."""
import orjson

from gateway import exceptions as exc
from gateway.providers.anthropic import errors
from gateway.providers.anthropic.response import finish_reason, refusal_text, usage_from
from gateway.providers.base import StreamState
from gateway.sse import SSEEvent


class AnthropicStreamState(StreamState):
    """One stream's translation state.

    The role chunk waits for the first content block: content "" when text comes first, null otherwise (as
    OpenAI sends it before tool calls), so that a stream folds into the same message as the body would, and
    an error event before any content can still be retried. OpenAI tool-call indexes count tool_use blocks
    only (0, 1, ...), not Anthropic's block indexes, which also count text and thinking blocks. A tool block
    with no argument deltas gets arguments "{}". A finished thinking block is sent once, whole, with its
    signature, as the `thinking_blocks` extension so that clients can hand it back.
    """

    def __init__(self):
        super().__init__()
        self._role_sent = False
        self._blocks: dict[int, dict] = {}     # Anthropic block index -> {kind, tool index, text, signature}
        self._tools = 0
        self._done = False

    def feed(self, event: SSEEvent) -> list[dict]:
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise exc.ProviderUnavailable("The provider sent a stream event that is not JSON.") from None
        if not isinstance(data, dict):
            raise exc.ProviderUnavailable("The provider sent a stream event that is not a JSON object.")
        kind = data.get("type") or event.event
        handler = getattr(self, f"_on_{kind}", None) if isinstance(kind, str) else None
        return handler(data) if handler else []          # ping and unknown events: nothing to send

    def finish(self) -> list[dict]:
        if not self._done:
            raise exc.ProviderUnavailable("The provider's stream ended before the message was complete.")
        return []

    def _role(self, content: str | None) -> list[dict]:
        if self._role_sent:
            return []
        self._role_sent = True
        return [self.chunk({"role": "assistant", "content": content})]

    def _on_error(self, data: dict) -> list[dict]:
        raise errors.from_event(data)

    def _on_message_start(self, data: dict) -> list[dict]:
        message = data.get("message") if isinstance(data.get("message"), dict) else {}
        self.usage = usage_from(message.get("usage"))
        return []

    def _on_content_block_start(self, data: dict) -> list[dict]:
        block = data.get("content_block") if isinstance(data.get("content_block"), dict) else {}
        kind = block.get("type")
        state = {"kind": kind, "text": "", "signature": "", "args": False}
        self._blocks[data.get("index")] = state
        if kind == "text":
            out = self._role("")
            if block.get("text"):
                out.append(self.chunk({"content": block["text"]}))
            return out
        if kind == "thinking":
            out = self._role(None)
            state["text"] = block.get("thinking") or ""
            state["signature"] = block.get("signature") or ""
            if state["text"]:
                out.append(self.chunk({"reasoning_content": state["text"]}))
            return out
        if kind == "redacted_thinking":
            return self._role(None) + [self.chunk(
                {"thinking_blocks": [{"type": "redacted_thinking", "data": block.get("data") or ""}]})]
        if kind == "tool_use":
            state["tool"] = self._tools
            self._tools += 1
            return self._role(None) + [self.chunk({"tool_calls": [{
                "index": state["tool"], "id": block.get("id"), "type": "function",
                "function": {"name": block.get("name"), "arguments": ""}}]})]
        return []                                        # server-tool blocks: the gateway offers none

    def _on_content_block_delta(self, data: dict) -> list[dict]:
        state = self._blocks.get(data.get("index"))
        delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
        kind = delta.get("type")
        if state is None:
            return []
        if kind == "text_delta" and delta.get("text"):
            return [self.chunk({"content": delta["text"]})]
        if kind == "thinking_delta" and delta.get("thinking"):
            state["text"] += delta["thinking"]
            return [self.chunk({"reasoning_content": delta["thinking"]})]
        if kind == "signature_delta":
            state["signature"] += delta.get("signature") or ""
            return []
        if kind == "input_json_delta" and state["kind"] == "tool_use" and delta.get("partial_json"):
            state["args"] = True
            return [self.chunk({"tool_calls": [{"index": state["tool"],
                                                "function": {"arguments": delta["partial_json"]}}]})]
        return []                                        # citations_delta and empty pieces

    def _on_content_block_stop(self, data: dict) -> list[dict]:
        state = self._blocks.get(data.get("index"))
        if state is None:
            return []
        if state["kind"] == "tool_use" and not state["args"]:
            # A tool called without arguments streams no input_json_delta: send "{}" so clients can parse it.
            return [self.chunk({"tool_calls": [{"index": state["tool"], "function": {"arguments": "{}"}}]})]
        if state["kind"] == "thinking":
            return [self.chunk({"thinking_blocks": [{"type": "thinking", "thinking": state["text"],
                                                     "signature": state["signature"]}]})]
        return []

    def _on_message_delta(self, data: dict) -> list[dict]:
        delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
        self.usage = usage_from(data.get("usage"), self.usage)
        self.finish_reason = finish_reason(delta.get("stop_reason"))
        self._done = True
        out = self._role(None)
        refusal = refusal_text(delta.get("stop_reason"), delta.get("stop_details"))
        out.append(self.chunk({"refusal": refusal} if refusal else {}, self.finish_reason))
        return out

    def _on_message_stop(self, data: dict) -> list[dict]:
        return []
