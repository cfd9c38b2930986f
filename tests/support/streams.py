"""Helpers for stream golden tests: decode recorded SSE bytes in any split, run a StreamState over events."""
from gateway import exceptions as exc
from gateway.chunks import ChunkEnvelope
from gateway.providers.base import StreamState
from gateway.sse import SSEDecoder, SSEEvent


def decode(raw: bytes, piece: int | None = None) -> list[SSEEvent]:
    """The events of `raw`, fed to the decoder `piece` bytes at a time (all at once when None)."""
    decoder = SSEDecoder()
    events = []
    step = piece or len(raw) or 1
    for i in range(0, len(raw), step):
        events += decoder.feed(raw[i:i + step])
    return events + decoder.close()


def envelope_of(fx: dict) -> ChunkEnvelope:
    """The envelope a golden fixture's chunks carry (its chunk_id, created, requested_model, include_usage)."""
    return ChunkEnvelope(fx["chunk_id"], fx["created"], fx["requested_model"], fx["include_usage"])


def run(state: StreamState, events: list[SSEEvent], envelope: ChunkEnvelope | None = None) -> tuple[
        list[dict], exc.GatewayError | None]:
    """Every chunk the state produces for `events` and at the end, stamped with `envelope` as the relay does
    (as they are without one: a native Responses state's events), and the error it raised (or None)."""
    bodies: list[dict] = []
    error = None
    try:
        for event in events:
            bodies += state.feed(event)
        bodies += state.finish()
    except exc.GatewayError as e:
        error = e
    return ([envelope.stamp(b) for b in bodies] if envelope is not None else bodies), error
