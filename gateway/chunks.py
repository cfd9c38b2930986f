"""The chat.completion.chunk envelope, stamped in one place: the stream states return chunk bodies (choices and
the upstream's extras); this adds the stream's id, object, created and model (what the client asked for), the
`usage: null` every chunk carries when the client asked for `stream_options.include_usage`, and builds the final
usage chunk."""
from dataclasses import dataclass

from gateway.values import Usage


@dataclass(frozen=True)
class ChunkEnvelope:
    id: str
    created: int
    model: str
    include_usage: bool = False

    def stamp(self, body: dict) -> dict:
        out = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}
        out.update(body)
        if self.include_usage:
            out["usage"] = None
        return out

    def usage_chunk(self, usage: Usage) -> dict:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [], "usage": usage.as_openai()}
