"""How a stream's chunk bodies reach the client, per ingress format (an egress).

The stream states return chunk bodies (choices and the upstream's extras). `ChunkEnvelope` stamps them as
chat.completion.chunk: the stream's id, object, created and model (what the client asked for), the `usage: null`
every chunk carries when the client asked for `stream_options.include_usage`, and the final usage chunk; it is
stamped in this one place. An egress turns those chunks into the bytes of one ingress format: `ChatEgress` for
/v1/chat/completions (data lines, the cost comment, [DONE]); gateway/responses has the Responses one. The relay
(gateway/streaming.py) calls `chunks`, then `end` or `error`, and knows no format."""
import os
import time
from dataclasses import dataclass
from decimal import Decimal

from gateway import exceptions as exc
from gateway.errors import stream_error_event
from gateway.pricing import format_cost
from gateway.sse import DONE, comment, encode_chunk
from gateway.values import Usage


@dataclass(frozen=True)
class ChunkEnvelope:
    id: str
    created: int
    model: str
    include_usage: bool = False

    @classmethod
    def new(cls, model: str, include_usage: bool) -> "ChunkEnvelope":
        """The envelope of a new stream: a fresh chatcmpl- id, created now, echoing the model the client asked for."""
        return cls(f"chatcmpl-{os.urandom(12).hex()}", int(time.time()), model, include_usage)

    def stamp(self, body: dict) -> dict:
        out = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}
        out.update(body)
        if self.include_usage:
            out["usage"] = None
        return out

    def usage_chunk(self, usage: Usage) -> dict:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [], "usage": usage.as_openai()}


class ChatEgress:
    """/v1/chat/completions: OpenAI chunk data lines, the usage chunk when asked for, a cost comment, [DONE]."""

    def __init__(self, envelope: ChunkEnvelope):
        self.envelope = envelope

    def chunks(self, bodies: list[dict]) -> bytes:
        return b"".join(encode_chunk(self.envelope.stamp(b)) for b in bodies)

    def end(self, usage: Usage | None, cost: Decimal | None, finish_reason: str | None) -> bytes:
        out = []
        if self.envelope.include_usage and usage is not None:
            out.append(encode_chunk(self.envelope.usage_chunk(usage)))
        if cost is not None:
            out.append(comment(f"x-gateway-cost-usd={format_cost(cost)}"))
        out.append(DONE)
        return b"".join(out)

    def error(self, err: exc.GatewayError) -> bytes:
        return stream_error_event(err)
