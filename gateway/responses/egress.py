"""The Responses API egress of a stream: the relay's chat chunk bodies, stamped, through a ResponsesStream into
typed SSE events (`event: <type>` and its data; no [DONE]), ending with response.completed / .incomplete, or the
error event and response.failed after the first byte."""
from decimal import Decimal

from gateway import exceptions as exc
from gateway.chunks import ChunkEnvelope
from gateway.responses.stream import ResponsesStream
from gateway.sse import encode_event
from gateway.values import Usage


class ResponsesEgress:
    def __init__(self, request: dict, envelope: ChunkEnvelope, response_id: str | None = None):
        self.envelope = envelope
        self.stream = ResponsesStream(request, response_id=response_id)

    def _encode(self, events: list[dict]) -> bytes:
        return b"".join(encode_event(e) for e in events)

    def chunks(self, bodies: list[dict]) -> bytes:
        events: list[dict] = []
        for body in bodies:
            events += self.stream.feed(self.envelope.stamp(body))
        return self._encode(events)

    def end(self, usage: Usage | None, cost: Decimal | None, finish_reason: str | None) -> bytes:
        events = self.stream.feed(self.envelope.usage_chunk(usage)) if usage is not None else []
        return self._encode(events + self.stream.finish())

    def error(self, err: exc.GatewayError) -> bytes:
        return self._encode(self.stream.fail(err))
