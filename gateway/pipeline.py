"""The one orchestrator: resolve, then attempts with retries and fallback, timing and pricing; no provider ifs.

`chat` and `stream` share one attempt loop (`run`). What each target is sent is its `Leg`: the adapter that
translates for it, the body that adapter is given and (streams) the egress that writes its answer. Chat
Completions gives every target the same body and the provider type's adapter; /v1/responses picks per target
(the provider's own Responses API, or translated onto chat), so one route may mix both."""
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import orjson

from gateway import exceptions as exc
from gateway.catalog import Catalog
from gateway.cooldown import LocalBreaker
from gateway.pricing import cost_of
from gateway.providers import adapter_for
from gateway.providers.base import Adapter, untranslatable
from gateway.record import RequestRecord
from gateway.routing import RoutePlan, resolve
from gateway.scrub import scrub_error
from gateway.streaming import RelayBody, StreamTimings, open_session
from gateway.transport import Transport
from gateway.values import Completion, Target, UpstreamRequest

BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 2.0
RETRY_AFTER_CAP_S = 5.0
T = TypeVar("T")
log = logging.getLogger("switchyard.upstream")


def backoff_s(attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter; an upstream Retry-After is honoured up to a cap."""
    if retry_after is not None:
        return min(retry_after, RETRY_AFTER_CAP_S)
    return random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2 ** attempt)))


def json_or_bytes(content: bytes):
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content


def with_overrides(body: dict, target: Target) -> dict:
    """The body as this target receives it: a route target's parameter overrides win."""
    return {**body, **target.overrides} if target.overrides else body


@dataclass(frozen=True)
class Leg:
    """How one target serves this request: its adapter, the body the adapter builds from, and for a stream the
    egress that writes the answer (gateway/chunks.py)."""
    adapter: Adapter
    body: dict
    egress: Any = None


Legs = Callable[[Target], "Leg | None"]


def same_body(body: dict, egress=None) -> Legs:
    """Every target gets `body` through its provider type's adapter (Chat Completions); None for an unknown type."""
    def leg(target: Target) -> Leg | None:
        adapter = adapter_for(target.provider_type)
        return None if adapter is None else Leg(adapter, body, egress)
    return leg


def request_builder(stream: bool = False):
    """build(leg, target) -> the upstream request, translated once per target (retries reuse it)."""
    built: dict = {}

    def build(leg: Leg, target: Target):
        key = id(target)
        if key not in built:
            try:
                built[key] = leg.adapter.build_request(with_overrides(leg.body, target), target, stream=stream)
            except exc.GatewayError:
                raise
            except Exception as e:  # noqa: BLE001 - a translation bug: ours, named, never blamed on the provider
                log.error("building the request for %s failed", _printable(target.label), exc_info=True)
                raise exc.RequestUntranslatable(
                    f"The gateway could not translate this request for {target.label} ({type(e).__name__}); "
                    f"the next target, if any, was tried.") from e
        return built[key]
    return build


class TracedAdapter:
    """An adapter whose requests also carry the client's trace context (traceparent, tracestate): the adapter only
    translates; what every upstream call carries is the pipeline's business."""

    def __init__(self, adapter: Adapter, headers: dict[str, str]):
        self._adapter, self._headers = adapter, headers

    def build_request(self, body: dict, target: Target, stream: bool = False) -> UpstreamRequest:
        req = self._adapter.build_request(body, target, stream=stream)
        return UpstreamRequest(req.method, req.url, {**req.headers, **self._headers}, req.body)

    def __getattr__(self, name: str):
        return getattr(self._adapter, name)


def _printable(text: str) -> str:
    """A value for a key=value log line (a made-up model name may hold spaces or line breaks)."""
    return text if text.isprintable() and " " not in text else repr(text)


class Pipeline:
    def __init__(self, catalog: Catalog, transport: Transport, default_timeout_ms: int, default_retries: int,
                 breaker: LocalBreaker | None = None, total_deadline_s: float = 300.0,
                 timings: StreamTimings | None = None):
        self.catalog = catalog
        self.transport = transport
        self.default_timeout_ms = default_timeout_ms
        self.default_retries = default_retries
        self.breaker = breaker or LocalBreaker()
        self.total_deadline_s = total_deadline_s
        self.timings = timings or StreamTimings()

    def plan(self, model: str, endpoint: str = "chat") -> RoutePlan:
        return resolve(model, self.catalog.snapshot, self.default_timeout_ms, self.default_retries, endpoint)

    def run(self, plan: RoutePlan, rec: RequestRecord, legs: Legs,
            attempt_fn: Callable[[Leg, Target, float], tuple[T, float, int]]) -> tuple[T, Target]:
        """Try the plan's targets in order, each with its retries, until `attempt_fn` succeeds.

        `attempt_fn(leg, target, timeout_s)` returns (result, upstream ms, upstream status) or raises a
        GatewayError. Retryable errors use up the target's retries with backoff, then move to the next
        target; `no_provider_key` (and a stored key that cannot be decrypted, and a request the adapter could not
        build: the gateway's fault, not the provider's) moves on at once; any other error
        is returned to the client at once. When every attempt fails the last error is raised.
        """
        rec.routed(plan.route)
        last: exc.GatewayError | None = None
        # every attempt may use its whole timeout; the backoff between retries (at most RETRY_AFTER_CAP_S each) is
        # on top, so that it never cuts the last attempt short
        retries = len(plan.targets) * plan.retries
        deadline = time.monotonic() + min(self.total_deadline_s, plan.timeout_s * (len(plan.targets) + retries)
                                          + RETRY_AFTER_CAP_S * retries)
        for position, target in self._order(plan, rec):
            try:
                result = self._try_target(target, rec, deadline, legs, attempt_fn)
            except exc.GatewayError as e:
                last = e
                if e.retryable or isinstance(e, (exc.NoProviderKey, exc.ProviderKeyUnreadable,
                                                 exc.RequestUntranslatable)):
                    continue
                raise
            rec.served_by(target, position)
            return result, target
        raise last if last is not None else exc.Internal()

    def _order(self, plan: RoutePlan, rec: RequestRecord) -> list[tuple[int, Target]]:
        """The plan's targets minus those cooling down; when all are, the one whose cooldown ends first."""
        ready, cooling = [], []
        for position, target in enumerate(plan.targets):
            until = self.breaker.check(target.label)
            if until is None:
                ready.append((position, target))
            else:
                cooling.append((until, position, target))
        for until, _, target in cooling:
            rec.attempt_skipped(target.label, "cooldown",
                                f"skipped: cooling down until {time.strftime('%H:%M:%S', time.gmtime(until))}")
        if not ready and cooling:
            _, position, target = min(cooling, key=lambda c: c[0])
            ready.append((position, target))
        return ready

    def _try_target(self, target: Target, rec: RequestRecord, deadline: float, legs: Legs, attempt_fn):
        if not target.api_key:
            provider = self.catalog.snapshot.providers.get(target.provider)
            if provider is not None and provider.key_unreadable:
                err = exc.ProviderKeyUnreadable(
                    f"The stored API key of the provider '{target.provider}' cannot be decrypted with the gateway's "
                    f"SWITCHYARD_SECRET_KEY; an operator must configure the key it was stored with, or store it "
                    f"again.")
            else:
                err = exc.NoProviderKey(f"No API key is configured for the provider '{target.provider}'.")
            rec.attempt_skipped(target.label, err.code, err.message)
            raise err
        leg = legs(target)
        if leg is None:
            err = exc.NotImplementedYet(f"The provider type '{target.provider_type}' is not supported.")
            rec.attempt_skipped(target.label, err.code, err.message)
            raise err
        trace = rec.trace_headers()
        if trace is not None:
            leg = Leg(TracedAdapter(leg.adapter, trace), leg.body, leg.egress)
        for attempt in range(target.retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise exc.Timeout("The request's total deadline passed before an answer.")
            t0 = time.perf_counter()
            try:
                result, upstream_ms, status = attempt_fn(leg, target, min(target.timeout_s, remaining))
            except Exception as raised:  # noqa: BLE001 - a GatewayError, or an answer that could not be translated
                e = raised if isinstance(raised, exc.GatewayError) else untranslatable(raised)
                if e is not raised:
                    e.__cause__ = raised
                ms = (time.perf_counter() - t0) * 1000
                scrub_error(e, target.api_key)
                rec.attempt_failed(target.label, e.upstream_status, e.code, e.message, ms)
                log.warning("upstream attempt failed: request_id=%s target=%s status=%s code=%s latency_ms=%.1f",
                            rec.public_id, _printable(target.label), e.upstream_status or "-", e.code, ms,
                            extra={"request_id": rec.public_id, "target": target.label,
                                   "upstream_status": e.upstream_status, "error_code": e.code, "latency_ms": ms})
                if e.retryable:
                    self.breaker.failure(target.label)
                elif e.upstream_status is not None:
                    self.breaker.success(target.label)    # it answered: up, even if it refused this request
                if not e.retryable or attempt >= target.retries:
                    raise e
                time.sleep(min(backoff_s(attempt, e.retry_after), max(0.0, deadline - time.monotonic())))
                continue
            rec.attempt_succeeded(target.label, status, upstream_ms)
            self.breaker.success(target.label)
            return result
        raise exc.Internal()  # unreachable: the loop returns or raises

    def chat(self, body: dict, plan: RoutePlan, rec: RequestRecord) -> Completion:
        """Serve a non-streaming chat completion through the plan's targets; raises the last error."""
        return self.answer(plan, rec, same_body(body))[0]

    def answer(self, plan: RoutePlan, rec: RequestRecord, legs: Legs) -> tuple[Completion, Target]:
        """Serve a non-streaming request, each target through its leg; the answer and the target that gave it."""
        build = request_builder()

        def attempt(leg: Leg, target: Target, timeout_s: float):
            adapter = leg.adapter
            resp = self.transport.call(build(leg, target), timeout_s)
            if resp.status >= 400:
                raise adapter.parse_error(resp.status, json_or_bytes(resp.content), resp.retry_after)
            return adapter.parse_response(json_or_bytes(resp.content), target, plan.requested), \
                resp.latency_ms, resp.status

        completion, target = self.run(plan, rec, legs, attempt)
        rec.charged(completion.usage, cost_of(completion.usage, target.price))
        return completion, target

    def stream(self, body: dict, plan: RoutePlan, rec: RequestRecord, egress) -> RelayBody:
        """Serve a streaming chat completion, written by the ingress format's `egress` (gateway/chunks.py)."""
        return self.relay(plan, rec, same_body(body, egress))

    def relay(self, plan: RoutePlan, rec: RequestRecord, legs: Legs) -> RelayBody:
        """Serve a stream: retries and fallback until one target has sent its first chunk (within the route's
        timeout), then the relay (the WSGI body) carries the rest, written by that target's leg's egress."""
        build = request_builder(stream=True)

        def attempt(leg: Leg, target: Target, timeout_s: float):
            adapter = leg.adapter
            t0 = time.perf_counter()
            upstream = self.transport.open_stream(build(leg, target), timeout_s)
            if upstream.status >= 400:
                raise adapter.parse_error(upstream.status, json_or_bytes(upstream.read_all()), upstream.retry_after)
            session = open_session(upstream, adapter.stream_state(target), target,
                                   first_chunk_s=max(0.0, timeout_s - (time.perf_counter() - t0)),
                                   idle_timeout_s=self.timings.idle_timeout_s)
            return (session, leg.egress), (time.perf_counter() - t0) * 1000, upstream.status

        (session, egress), _ = self.run(plan, rec, legs, attempt)
        return RelayBody(session, rec, egress, self.timings)

