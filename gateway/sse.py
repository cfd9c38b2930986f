"""SSE framing, pure: bytes from the network -> events (CR, LF, CRLF; splits anywhere), chunk dicts -> bytes."""
import codecs
from dataclasses import dataclass

import orjson


@dataclass
class SSEEvent:
    data: str
    event: str | None = None
    id: str | None = None


class SSEDecoder:
    """Incremental decoder per the WHATWG event-stream rules.

    Feed it whatever the socket gave (any split: mid-line, mid-CRLF, mid-UTF-8 character); it returns the
    events completed so far. Lines end at CRLF, LF or CR; a CR at the end of a read waits to see whether
    an LF follows.
    """

    def __init__(self):
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._pending_cr = False
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        text = self._utf8.decode(chunk)
        if not text:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if text.startswith("\n"):
                text = text[1:]
        buf = self._buf + text
        events: list[SSEEvent] = []
        start = 0
        n = len(buf)
        while True:
            i_lf = buf.find("\n", start)
            i_cr = buf.find("\r", start)
            if i_lf < 0 and i_cr < 0:
                break
            if i_cr < 0 or (0 <= i_lf < i_cr):
                end, nxt = i_lf, i_lf + 1
            else:
                end = i_cr
                if i_cr + 1 < n:
                    nxt = i_cr + 2 if buf[i_cr + 1] == "\n" else i_cr + 1
                else:
                    nxt = i_cr + 1
                    self._pending_cr = True   # an LF may arrive in the next read
            self._line(buf[start:end], events)
            start = nxt
        self._buf = buf[start:]
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: a final event without its blank line is still delivered (lenient, like browsers' data)."""
        events: list[SSEEvent] = []
        tail = self._utf8.decode(b"", final=True)
        if self._buf or tail:
            self._line(self._buf + tail, events)
            self._buf = ""
        if self._data:
            self._line("", events)
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                events.append(SSEEvent("\n".join(self._data), self._event, self._id))
            self._data, self._event = [], None
            return
        if line[0] == ":":
            return                          # comment (keep-alive)
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value


def encode_chunk(chunk: dict) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def encode_event(event: dict) -> bytes:
    """A typed event (`event: <type>` then its data), as the Responses API streams them."""
    return b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


DONE = b"data: [DONE]\n\n"


def comment(text: str) -> bytes:
    return b": " + text.encode() + b"\n\n"
