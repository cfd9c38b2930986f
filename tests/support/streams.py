"""Helpers for stream golden tests: decode recorded SSE bytes in any split, run a StreamState over events."""
from gateway import exceptions as exc
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


def run(state: StreamState, events: list[SSEEvent]) -> tuple[list[dict], exc.GatewayError | None]:
    """Every chunk the state produces for `events` and at the end, and the error it raised (or None)."""
    chunks: list[dict] = []
    try:
        for event in events:
            chunks += state.feed(event)
        chunks += state.finish()
    except exc.GatewayError as e:
        return chunks, e
    return chunks, None
