"""The stream half of the pipeline: open the upstream stream (retries and fallback up to the first chunk), then
relay it as OpenAI SSE, with keep-alives, idle and total deadlines, usage, cost and the log row at the end."""
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from gateway import drain
from gateway import exceptions as exc
from gateway.errors import stream_error_event, to_gateway_error
from gateway.pricing import cost_of, format_cost
from gateway.pipeline import Pipeline, json_or_bytes, request_builder
from gateway.providers.base import Adapter, StreamState
from gateway.values import Target
from gateway.record import RequestRecord
from gateway.routing import RoutePlan
from gateway.sse import DONE, SSEDecoder, comment, encode_chunk
from gateway.transport import UpstreamStream

_END = object()


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


def _feed(session: StreamSession, data: bytes) -> list[dict]:
    out: list[dict] = []
    for event in session.decoder.feed(data):
        out.extend(session.state.feed(event))
    return out


def _finish(session: StreamSession) -> list[dict]:
    out: list[dict] = []
    for event in session.decoder.close():
        out.extend(session.state.feed(event))
    out.extend(session.state.finish())
    return out


def open_stream(pipeline: Pipeline, body: dict, plan: RoutePlan, rec: RequestRecord, include_usage: bool,
                timings: StreamTimings) -> StreamSession:
    """Run the plan until one target has produced its first chunk (or stayed silent past the keep-alive
    interval). Every failure before that point is retried or falls back like a non-streaming call."""
    chunk_id = f"chatcmpl-{os.urandom(12).hex()}"
    created = int(time.time())

    build = request_builder(body, stream=True)

    def attempt(adapter: Adapter, target: Target, timeout_s: float):
        t0 = time.perf_counter()
        upstream = pipeline.transport.open_stream(build(adapter, target), timeout_s)
        if upstream.status >= 400:
            raise adapter.parse_error(upstream.status, json_or_bytes(upstream.read_all()), upstream.retry_after)
        session = StreamSession(target, UpstreamPump(upstream), SSEDecoder(),
                                adapter.stream_state(target, chunk_id, created, plan.requested, include_usage))
        try:
            _prefetch(session, min(timings.keepalive_s, timeout_s))
        except BaseException:
            session.pump.close()
            raise
        session.opened_at = time.perf_counter()   # the relay adds the rest of the stream's time
        return session, (time.perf_counter() - t0) * 1000, upstream.status

    session, _ = pipeline.run(plan, rec, attempt)
    return session


def _prefetch(session: StreamSession, commit_after_s: float) -> None:
    """Read until the first chunk to send exists. Silence past `commit_after_s` commits to this stream
    (the relay then sends keep-alives and applies the idle deadline)."""
    start = time.monotonic()
    while not session.first:
        waited = time.monotonic() - start
        try:
            item = session.pump.get(commit_after_s - waited)
        except queue.Empty:
            return
        if item is _END:
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
    before the first byte was iterated) makes sure the upstream is closed and the log row handed over once."""

    def __init__(self, session: StreamSession, rec: RequestRecord, include_usage: bool, timings: StreamTimings,
                 on_done: Callable[[RequestRecord], None]):
        self._session, self._rec, self._on_done = session, rec, on_done
        rec.relaying = True
        self._gen = _relay(session, rec, include_usage, timings, on_done)

    def __iter__(self) -> Iterator[bytes]:
        return self._gen

    def close(self) -> None:
        self._gen.close()
        if not self._rec.logged:               # never iterated: the generator's finally did not run
            self._session.pump.close()
            self._rec.status, self._rec.error_code = 499, "client_closed"
            self._on_done(self._rec)


def _relay(session: StreamSession, rec: RequestRecord, include_usage: bool, timings: StreamTimings,
           on_done: Callable[[RequestRecord], None]) -> Iterator[bytes]:
    """The response body: OpenAI chunks, the usage chunk when asked for, a cost comment, then [DONE].
    An error after the first byte becomes one in-stream error event. The log row is handed over in `finally`,
    which runs on normal end, error and client disconnect alike."""
    state = session.state
    start = time.monotonic()
    drain.register(session.pump)
    try:
        if session.first:
            yield b"".join(encode_chunk(c) for c in session.first)
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
                    yield b"".join(encode_chunk(c) for c in out)
            tail = _finish(session)
            if tail:
                yield b"".join(encode_chunk(c) for c in tail)
        if include_usage and state.usage is not None:
            yield encode_chunk({"id": state.id, "object": "chat.completion.chunk", "created": state.created,
                                "model": state.model, "choices": [], "usage": state.usage.as_openai()})
        cost = cost_of(state.usage, session.target.price)
        if cost is not None:
            yield comment(f"x-gateway-cost-usd={format_cost(cost)}")
        yield DONE
    except GeneratorExit:
        rec.status, rec.error_code = 499, "client_closed"
        raise
    except Exception as e:  # noqa: BLE001 - after the first byte every failure is an in-stream event
        err = to_gateway_error(e)
        rec.error_code = err.code
        yield stream_error_event(err)
    finally:
        drain.unregister(session.pump)
        session.pump.close()
        rec.usage = state.usage
        rec.cost = cost_of(state.usage, session.target.price)
        rec.upstream_ms += (time.perf_counter() - session.opened_at) * 1000
        on_done(rec)
