"""The stream half of a request, once the pipeline has an upstream stream open: read it in a pump, wait for its
first chunk (the pipeline retries or falls back while none came), then relay it with keep-alives and idle and
total deadlines, written by the ingress format's egress (gateway/chunks.py). It knows no pipeline, provider or
format: the pipeline hands it a stream state and an egress; the record is told what happened; the response's
close hands the log row over."""
import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import orjson

from gateway import drain
from gateway import exceptions as exc
from gateway.errors import to_gateway_error
from gateway.pricing import cost_of
from gateway.providers.base import StreamState, error_in_body, untranslatable
from gateway.record import RequestRecord
from gateway.scrub import scrub_error
from gateway.sse import SSEDecoder, comment
from gateway.transport import UpstreamStream, seconds
from gateway.values import Target

_END = object()
HEAD_BYTES = 65536          # what is kept of a stream's first bytes while no event has come (a JSON answer instead)


@dataclass(frozen=True)
class StreamTimings:
    keepalive_s: float = 15.0
    idle_timeout_s: float = 120.0
    max_s: float = 900.0


class UpstreamPump:
    """Reads the upstream in its own (green) thread into a bounded queue, so the relay can wait with a timeout
    (keep-alives, idle deadline) and a cut client can close the upstream at once."""

    def __init__(self, upstream: UpstreamStream, maxsize: int = 256):
        self.upstream = upstream
        self._q: queue.Queue = queue.Queue(maxsize)
        self._closed = False
        self._interrupt: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="upstream-pump", daemon=True)
        self._thread.start()

    def _put(self, item) -> None:
        while not self._closed:
            try:
                self._q.put(item, timeout=1.0)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        try:
            for data in self.upstream.chunks():
                if self._closed:
                    return
                self._put(data)
            self._put(_END)
        except Exception as e:  # noqa: BLE001 - handed to the relay, which renders it
            if not self._closed:
                self._put(e)

    def get(self, timeout: float):
        """Next bytes, `_END`, or an exception; raises queue.Empty after `timeout` seconds of silence, and the
        interrupting error once `interrupt()` was called."""
        if self._interrupt is None:
            item = self._q.get(timeout=max(0.0, timeout))
            if self._interrupt is None:
                return item
        raise self._interrupt

    def interrupt(self, err: Exception) -> None:
        """End the relay now with `err` (a worker's grace period ran out): wakes a relay waiting in `get()`."""
        self._interrupt = err
        try:
            self._q.put_nowait(_END)
        except queue.Full:          # the relay is busy reading: it sees the interrupt at its next get()
            pass

    def close(self) -> None:
        self._closed = True
        self.upstream.close()


@dataclass
class StreamSession:
    target: Target
    pump: UpstreamPump
    decoder: SSEDecoder
    state: StreamState
    first: list[dict] = field(default_factory=list)
    ended: bool = False
    opened_at: float = field(default_factory=time.perf_counter)
    events: int = 0                                    # SSE events decoded so far
    head: bytearray = field(default_factory=bytearray)  # the first bytes, while no event has come


@contextmanager
def _provider_fault():
    """A failure to translate what the provider sent is that provider's fault (502 provider_unavailable, naming
    what broke), never a gateway 500."""
    try:
        yield
    except exc.GatewayError:
        raise
    except Exception as e:  # noqa: BLE001 - a malformed upstream event
        raise untranslatable(e) from e


def _feed(session: StreamSession, data: bytes) -> list[dict]:
    out: list[dict] = []
    if not session.events and len(session.head) < HEAD_BYTES:
        session.head += data[:HEAD_BYTES - len(session.head)]
    with _provider_fault():
        for event in session.decoder.feed(data):
            session.events += 1
            out.extend(session.state.feed(event))
    return out


def _json_instead_of_events(session: StreamSession) -> exc.GatewayError | None:
    """A stream request the provider answered with a JSON body instead of events (some servers and proxies send
    their error so, with status 200): the error it holds, so the client gets the provider's message rather than
    "the stream ended"; None when the body was not JSON."""
    if session.events or session.head.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        payload = orjson.loads(session.head)
    except orjson.JSONDecodeError:
        return None
    return error_in_body(payload) or exc.ProviderUnavailable(
        "The provider answered the stream request with a JSON body, not an event stream.")


def _finish(session: StreamSession) -> list[dict]:
    out: list[dict] = []
    with _provider_fault():
        for event in session.decoder.close():
            out.extend(session.state.feed(event))
        out.extend(session.state.finish())
    return out


def open_session(upstream: UpstreamStream, state: StreamState, target: Target, first_chunk_s: float,
                 idle_timeout_s: float) -> StreamSession:
    """Pump `upstream` and wait up to `first_chunk_s` (the route's timeout) for the first chunk to send: an
    upstream that sends its headers and then nothing is a timeout of this attempt (retried, or the fallback),
    not a 200 with an error in it. After the first chunk, reads may be silent for up to `idle_timeout_s`."""
    upstream.set_read_timeout(max(first_chunk_s, idle_timeout_s) + 1.0)
    session = StreamSession(target, UpstreamPump(upstream), SSEDecoder(), state)
    try:
        _prefetch(session, first_chunk_s)
    except BaseException:
        session.pump.close()
        raise
    session.opened_at = time.perf_counter()   # the relay adds the rest of the stream's time
    return session


def _prefetch(session: StreamSession, first_chunk_s: float) -> None:
    """Read until the first chunk to send exists, for at most `first_chunk_s`."""
    start = time.monotonic()
    while not session.first:
        waited = time.monotonic() - start
        try:
            item = session.pump.get(first_chunk_s - waited)
        except queue.Empty:
            raise exc.Timeout(f"The provider sent no stream data within {seconds(first_chunk_s)} s.") from None
        if item is _END:
            err = _json_instead_of_events(session)
            if err is not None:
                raise err
            session.first = _finish(session)
            session.ended = True
            if not session.first:
                raise exc.ProviderUnavailable("The provider's stream ended without an answer.")
            return
        if isinstance(item, Exception):
            raise to_gateway_error(item)
        session.first = _feed(session, item)


class RelayBody:
    """The WSGI body of a stream. Its `close()` (called by the server on every ending, also when the client left
    before the first byte was iterated) makes sure the upstream is closed and the record says how it ended; the
    response's close then hands the log row over (gateway/api)."""

    def __init__(self, session: StreamSession, rec: RequestRecord, egress, timings: StreamTimings):
        self._session, self._rec = session, rec
        self._started = False
        self._gen = self._run(egress, timings)

    def _run(self, egress, timings: StreamTimings) -> Iterator[bytes]:
        self._started = True
        yield from _relay(self._session, self._rec, egress, timings)

    def __iter__(self) -> Iterator[bytes]:
        return self._gen

    def close(self) -> None:
        self._gen.close()
        if not self._started:                  # never iterated: the relay's finally did not run
            self._session.pump.close()
            self._rec.client_closed()
            self._rec.charged(self._session.state.usage, cost_of(self._session.state.usage,
                                                                   self._session.target.price))


def _relay(session: StreamSession, rec: RequestRecord, egress, timings: StreamTimings) -> Iterator[bytes]:
    """The response body, written by the ingress format's `egress` (gateway/chunks.py): its chunks, then its end
    (usage, cost) or, after the first byte, its error event. The record learns the usage and cost in `finally`,
    which runs on normal end, error and client disconnect alike."""
    state = session.state
    start = time.monotonic()
    priced: list = []                          # the cost, computed once at the end
    drain.register(session.pump)
    try:
        if session.first:
            yield egress.chunks(session.first)
        if not session.ended:
            idle_deadline = time.monotonic() + timings.idle_timeout_s
            total_deadline = start + timings.max_s
            while True:
                now = time.monotonic()
                try:
                    item = session.pump.get(min(timings.keepalive_s, idle_deadline - now, total_deadline - now))
                except queue.Empty:
                    now = time.monotonic()
                    if now >= total_deadline:
                        raise exc.Timeout(f"The stream passed its total deadline of {timings.max_s:g} s.") from None
                    if now >= idle_deadline:
                        raise exc.Timeout(f"The provider sent nothing for {timings.idle_timeout_s:g} s.") from None
                    yield comment("keep-alive")
                    continue
                if item is _END:
                    break
                if isinstance(item, Exception):
                    raise item
                idle_deadline = time.monotonic() + timings.idle_timeout_s
                out = _feed(session, item)
                if out:
                    yield egress.chunks(out)
            tail = _finish(session)
            if tail:
                yield egress.chunks(tail)
        priced.append(cost_of(state.usage, session.target.price))
        yield egress.end(state.usage, priced[0], state.finish_reason)
    except GeneratorExit:
        rec.client_closed()
        raise
    except Exception as e:  # noqa: BLE001 - after the first byte every failure is an in-stream event
        err = scrub_error(to_gateway_error(e), session.target.api_key)
        rec.failed(err.code, message=err.message)
        yield egress.error(err)
    finally:
        drain.unregister(session.pump)
        session.pump.close()
        rec.charged(state.usage, priced[0] if priced else cost_of(state.usage, session.target.price))
        rec.streamed((time.perf_counter() - session.opened_at) * 1000)
