"""Google Gemini generateContent / streamGenerateContent: the adapter, assembled from its modules."""
from typing import Any

from gateway import exceptions as exc
from gateway.providers.base import Adapter, StreamState
from gateway.values import Completion, Target, UpstreamRequest
from gateway.providers.gemini import errors, request, response
from gateway.providers.gemini.stream import GeminiStreamState


class GeminiAdapter(Adapter):
    """Pure translation between the OpenAI chat shape and Gemini's REST API (v1beta, camelCase JSON)."""

    def build_request(self, body: dict, target: Target, stream: bool = False) -> UpstreamRequest:
        return request.build_request(body, target, stream)

    def parse_response(self, payload: Any, target: Target, requested_model: str) -> Completion:
        return response.parse_response(payload, requested_model)

    def parse_error(self, status: int, payload: Any, retry_after: float | None) -> exc.GatewayError:
        return errors.parse_error(status, payload, retry_after)

    def stream_state(self, target: Target) -> StreamState:
        return GeminiStreamState()


__all__ = ["GeminiAdapter"]
