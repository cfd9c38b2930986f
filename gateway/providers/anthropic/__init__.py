"""The Anthropic Messages API adapter: pure translation to and from POST {base_url}/messages."""
from typing import Any

import orjson

from gateway import exceptions as exc
from gateway.providers.anthropic import errors, response
from gateway.providers.anthropic.request import build_body
from gateway.providers.anthropic.stream import AnthropicStreamState
from gateway.providers.base import Adapter, StreamState
from gateway.values import Completion, Target, UpstreamRequest

ANTHROPIC_VERSION = "2023-06-01"

__all__ = ["AnthropicAdapter", "AnthropicStreamState", "ANTHROPIC_VERSION"]


class AnthropicAdapter(Adapter):
    def build_request(self, body: dict, target: Target, stream: bool = False) -> UpstreamRequest:
        headers = {"anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json",
                   "accept": "text/event-stream" if stream else "application/json"}
        if target.api_key:
            headers["x-api-key"] = target.api_key
        url = f"{target.base_url.rstrip('/')}/messages"
        return UpstreamRequest("POST", url, headers, orjson.dumps(build_body(body, target, stream)))

    def parse_response(self, payload: Any, target: Target, requested_model: str) -> Completion:
        if errors.error_type(payload) is not None and payload.get("type") == "error":
            raise errors.from_event(payload)      # an error body that came with HTTP 200
        return response.parse(payload, requested_model)

    def stream_state(self, target: Target) -> StreamState:
        return AnthropicStreamState()

    def parse_error(self, status: int, payload: Any, retry_after: float | None) -> exc.GatewayError:
        return errors.from_answer(status, payload, retry_after)
