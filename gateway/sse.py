"""SSE framing, pure: bytes from the network -> events (CR, LF, CRLF; splits anywhere), chunk dicts -> bytes."""
import codecs
from dataclasses import dataclass

import orjson


@dataclass
class SSEEvent:
    data: str
    event: str | None = None
    id: str | None = None


class EventTooLarge(ValueError):
    """An upstream line or event longer than the decoder takes (a broken or hostile upstream)."""


MAX_EVENT_CHARS = 64 * 1024 * 1024


class SSEDecoder:
    """Incremental decoder per the WHATWG event-stream rules.

    Feed it whatever the socket gave (any split: mid-line, mid-CRLF, mid-UTF-8 character); it returns the
    events completed so far. Lines end at CRLF, LF or CR; a CR at the end of a read waits to see whether
    an LF follows. A line that goes on over many reads is kept in pieces and joined once, when it ends: the
    work is linear in the bytes fed, however a long event is split. A line or an event longer than
    `max_event_chars` raises EventTooLarge.
    """

    def __init__(self, max_event_chars: int | None = None):
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial: list[str] = []      # the line being received, in pieces
        self._partial_len = 0
        self._pending_cr = False
        self._data: list[str] = []
        self._data_len = 0
        self._event: str | None = None
        self._id: str | None = None
        self.max_event_chars = MAX_EVENT_CHARS if max_event_chars is None else max_event_chars

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        text = self._utf8.decode(chunk)
        if self._pending_cr and text:
            self._pending_cr = False
            if text.startswith("\n"):
                text = text[1:]
        if not text:
            return []
        if "\n" not in text and "\r" not in text:     # the line goes on
            self._partial.append(text)
            self._partial_len += len(text)
            self._check(self._partial_len)
            return []
        buf = "".join(self._partial) + text if self._partial else text
        events: list[SSEEvent] = []
        start = 0
        n = len(buf)
        i_lf, i_cr = buf.find("\n"), buf.find("\r")    # each searched again only once passed: linear
        while i_lf >= 0 or i_cr >= 0:
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
            if 0 <= i_lf < start:
                i_lf = buf.find("\n", start)
            if 0 <= i_cr < start:
                i_cr = buf.find("\r", start)
        rest = buf[start:]
        self._partial, self._partial_len = ([rest], len(rest)) if rest else ([], 0)
        self._check(self._partial_len)
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: a final event without its blank line is still delivered (lenient, like browsers' data)."""
        events: list[SSEEvent] = []
        tail = "".join(self._partial) + self._utf8.decode(b"", final=True)
        self._partial, self._partial_len = [], 0
        if tail:
            self._line(tail, events)
        if self._data:
            self._line("", events)
        return events

    def _check(self, pending: int) -> None:
        if pending + self._data_len > self.max_event_chars:
            raise EventTooLarge(f"an upstream stream event passed {self.max_event_chars} characters")

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                events.append(SSEEvent("\n".join(self._data), self._event, self._id))
            self._data, self._data_len, self._event = [], 0, None
            return
        if line[0] == ":":
            return                          # comment (keep-alive)
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._data_len += len(value)
            self._check(0)
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
