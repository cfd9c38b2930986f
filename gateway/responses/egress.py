"""The Responses API egresses of a stream: typed SSE events (`event: <type>` and its data; no [DONE]).

`ResponsesEgress` (a target translated onto chat): the relay's chat chunk bodies, stamped, through a
ResponsesStream into events, ending with response.completed / .incomplete, or the error event and
response.failed after the first byte. `NativeEgress` (a target served by its own Responses API): the upstream's
events, stamped by NativeEvents (our id, the model asked for, our sequence numbers). Both call `on_final` with
the final response object (completed, incomplete or failed) before its event is sent: the endpoint stores it."""
from decimal import Decimal
from typing import Callable

from gateway import exceptions as exc
from gateway.chunks import ChunkEnvelope
from gateway.responses.native import NativeEvents, failed_events
from gateway.responses.stream import ResponsesStream
from gateway.sse import encode_event
from gateway.values import Usage

OnFinal = Callable[[dict], None]


def _encode(events: list[dict]) -> bytes:
    return b"".join(encode_event(e) for e in events)


def _final_of(events: list[dict]) -> dict | None:
    for e in reversed(events):
        if e["type"] in ("response.completed", "response.incomplete", "response.failed"):
            return e["response"]
    return None


class ResponsesEgress:
    def __init__(self, request: dict, envelope: ChunkEnvelope, response_id: str | None = None,
                 on_final: OnFinal | None = None):
        self.envelope = envelope
        self.stream = ResponsesStream(request, response_id=response_id)
        self._on_final = on_final

    def _done(self, events: list[dict]) -> bytes:
        final = _final_of(events)
        if final is not None and self._on_final is not None:
            self._on_final(final)
        return _encode(events)

    def chunks(self, bodies: list[dict]) -> bytes:
        events: list[dict] = []
        for body in bodies:
            events += self.stream.feed(self.envelope.stamp(body))
        return _encode(events)

    def end(self, usage: Usage | None, cost: Decimal | None, finish_reason: str | None) -> bytes:
        events = self.stream.feed(self.envelope.usage_chunk(usage)) if usage is not None else []
        return self._done(events + self.stream.finish())

    def error(self, err: exc.GatewayError) -> bytes:
        return self._done(self.stream.fail(err))


class NativeEgress:
    def __init__(self, request: dict, response_id: str, model: str, on_final: OnFinal | None = None):
        self.events = NativeEvents(request, response_id, model)
        self._on_final = on_final

    def chunks(self, events: list[dict]) -> bytes:
        out = [self.events.stamp(e) for e in events]
        final = _final_of(out)
        if final is not None and self._on_final is not None:
            self._on_final(final)
        return _encode(out)

    def end(self, usage: Usage | None, cost: Decimal | None, finish_reason: str | None) -> bytes:
        return b""                                # the upstream's terminal event has been sent

    def error(self, err: exc.GatewayError) -> bytes:
        out = failed_events(self.events, err)
        if self._on_final is not None:
            self._on_final(out[-1]["response"])
        return _encode(out)
