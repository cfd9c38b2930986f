"""Prometheus metrics of what the gateway served (requests, latency, tokens, cost, upstream attempts) and of its own
state (in flight, cooling down, log backlog, spilled rows), one registry for all gunicorn workers through
prometheus_client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set (deploy/gunicorn.conf.py sets it), else
per process. No label takes a value from client input: models and targets come from the catalog, else `other`."""
import os
import threading
import time
import weakref

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily

from gateway.catalog import Snapshot
from gateway.config import BARE_PREFIXES
from gateway.cooldown import LocalBreaker
from gateway.record import RequestRecord
from gateway.routing import split_effort

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_OVERHEAD_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)
OTHER = "other"        # every provider, model or target the configuration does not name
NONE = "none"          # no target was tried (auth failure, validation error, unknown model)
SAMPLE_S = 1.0         # how often a worker refreshes its own backlog gauge


def target_labels(snap: Snapshot) -> frozenset[str]:
    """Every `provider/upstream model` label a configured model or route target resolves to (as Target.label)."""
    out = set()
    for slug, model in snap.models.items():
        out.add(f"{slug.partition('/')[0]}/{model.upstream}")
    for route in snap.routes.values():
        for t in route.targets:
            base = split_effort(t.model)[0]
            if base in snap.models:
                continue
            prefix, sep, rest = base.partition("/")
            if sep and rest:
                out.add(base)
                continue
            for bare_prefix, provider in BARE_PREFIXES:
                if base.startswith(bare_prefix):
                    out.add(f"{provider}/{base}")
                    break
    return frozenset(out)


class CatalogLabels:
    """Label values from the catalog, recomputed only when the catalog snapshot changes (a background refresh)."""

    def __init__(self):
        self._state: tuple[Snapshot | None, frozenset, frozenset] = (None, frozenset(), frozenset())

    def sets(self, snap: Snapshot) -> tuple[frozenset, frozenset]:
        """(provider names, target labels) of this snapshot."""
        state = self._state
        if state[0] is not snap:
            state = (snap, frozenset(snap.providers), target_labels(snap))
            self._state = state           # one assignment: a concurrent reader sees the old or the new tuple
        return state[1], state[2]


def _tried_provider(rec: RequestRecord) -> str | None:
    """The provider of the last target actually tried (a cooldown skip is not a try), else None."""
    for a in reversed(rec.attempts):
        if a.error_code != "cooldown":
            return a.target.partition("/")[0]
    return rec.attempts[-1].target.partition("/")[0] if rec.attempts else None


def cooling_count(breaker: LocalBreaker, now: float | None = None) -> int:
    """Targets whose cooldown has not ended, as the breaker that owns that state counts them."""
    return breaker.cooling(now)


class SpillCounter:
    """Rows in the spill file (and in one being replayed): counted at scrape time, reading only what was appended
    since the last count (a replay renames the file, which starts the count over)."""

    def __init__(self, path: str):
        self.path = path
        self._seen: dict[str, tuple[int, int, int]] = {}   # path -> (inode, bytes counted, rows)
        self._lock = threading.Lock()

    def count(self) -> int:
        import glob
        with self._lock:
            claimed = glob.glob(glob.escape(self.path) + ".replaying*")     # one per worker replaying now
            for gone in set(self._seen) - {self.path, *claimed}:
                self._seen.pop(gone, None)
            return self._count(self.path) + sum(self._count(p) for p in claimed)

    def _count(self, path: str) -> int:
        try:
            st = os.stat(path)
        except OSError:
            self._seen.pop(path, None)
            return 0
        inode, offset, rows = self._seen.get(path, (st.st_ino, 0, 0))
        if inode != st.st_ino or st.st_size < offset:
            offset, rows = 0, 0
        if st.st_size > offset:
            with open(path, "rb") as f:
                f.seek(offset)
                while chunk := f.read(1 << 20):
                    # only whole lines count: a row being appended right now is counted next time
                    end = chunk.rfind(b"\n") + 1
                    rows += chunk.count(b"\n", 0, end)
                    offset += end
                    if end < len(chunk):
                        break
        self._seen[path] = (st.st_ino, offset, rows)
        return rows


class _ScrapeCollector:
    """Values read when /metrics is scraped (shared state: Redis cooldowns, the spill file)."""

    def __init__(self, families):
        self._families = families

    def collect(self):
        return self._families()


class Metrics:
    def __init__(self):
        # our own registry: two apps in one process (tests) must not register the same names twice
        self.registry = CollectorRegistry()
        self.labels = CatalogLabels()
        self._spill: SpillCounter | None = None
        self._sampler_started = False
        r = self.registry
        self.requests = Counter("switchyard_requests_total", "Requests answered, by endpoint, provider and code",
                                ["endpoint", "provider", "code", "stream"], registry=r)
        self.latency = Histogram("switchyard_request_duration_seconds", "Arrival to answer (streams: to the end)",
                                 ["endpoint", "stream"], buckets=_LATENCY_BUCKETS, registry=r)
        self.overhead = Histogram("switchyard_overhead_duration_seconds", "Gateway time: total minus provider calls",
                                  ["endpoint"], buckets=_OVERHEAD_BUCKETS, registry=r)
        self.attempts = Counter("switchyard_upstream_attempts_total", "Provider attempts, by target and code",
                                ["target", "code"], registry=r)
        self.tokens = Counter("switchyard_tokens_total", "Tokens, by provider, model and kind",
                              ["provider", "model", "kind"], registry=r)
        self.cost = Counter("switchyard_cost_usd_total", "Priced cost in USD, by provider and model",
                            ["provider", "model"], registry=r)
        self.unpriced = Counter("switchyard_unpriced_requests_total", "Answers without a price or without usage",
                                ["provider", "model"], registry=r)
        self.replayed = Counter("switchyard_log_rows_replayed_total", "Spilled log rows written back once the "
                                "database took rows again", registry=r)
        # gauges: summed over the live workers (a dead worker's values go with it)
        self.in_flight = Gauge("switchyard_requests_in_flight", "Requests started and not finished (streams: "
                               "until their last byte)", registry=r, multiprocess_mode="livesum")
        self.streams_in_flight = Gauge("switchyard_streams_in_flight", "Streams being relayed", registry=r,
                                       multiprocess_mode="livesum")
        self.log_queue = Gauge("switchyard_log_queue_rows", "Request log rows queued for the background writer",
                               registry=r, multiprocess_mode="livesum")

    def request_started(self, rec: RequestRecord) -> None:
        if rec.counted_in_flight():
            self.in_flight.inc()

    def stream_started(self, rec: RequestRecord) -> None:
        if rec.counted_in_flight(stream=True):
            self.streams_in_flight.inc()

    def observe(self, rec: RequestRecord, total_s: float, overhead_s: float, snap: Snapshot) -> None:
        """A finished request (called once, by Services.finish)."""
        was_in_flight, was_streaming = rec.left_flight()
        if was_in_flight:
            self.in_flight.dec()
        if was_streaming:
            self.streams_in_flight.dec()
        providers, targets = self.labels.sets(snap)
        served = rec.provider
        tried = served if served is not None else _tried_provider(rec)
        provider = NONE if tried is None else (tried if tried in providers else OTHER)
        stream = "true" if rec.stream else "false"
        self.requests.labels(rec.endpoint, provider, rec.error_code or "ok", stream).inc()
        self.latency.labels(rec.endpoint, stream).observe(total_s)
        self.overhead.labels(rec.endpoint).observe(overhead_s)
        for a in rec.attempts:
            self.attempts.labels(a.target if a.target in targets else OTHER, a.error_code or "ok").inc()
        if served is None:
            return
        model = rec.upstream_model if f"{served}/{rec.upstream_model}" in targets else OTHER
        u = rec.usage
        if u is not None:
            self.tokens.labels(provider, model, "prompt").inc(u.prompt_tokens)
            self.tokens.labels(provider, model, "completion").inc(u.completion_tokens)
            if u.cached_tokens:
                self.tokens.labels(provider, model, "cached").inc(u.cached_tokens)
            if u.reasoning_tokens:
                self.tokens.labels(provider, model, "reasoning").inc(u.reasoning_tokens)
        if rec.cost is not None:
            self.cost.labels(provider, model).inc(float(rec.cost))
        elif rec.error_code is None:
            self.unpriced.labels(provider, model).inc()

    def start_sampler(self, log_writer) -> None:
        """Keep this worker's log backlog gauge fresh (also while it serves nothing): a green thread under
        gevent, a daemon thread otherwise. Started on the first finished request, after the fork."""
        if self._sampler_started:
            return
        self._sampler_started = True
        gauge, writer = self.log_queue, weakref.ref(log_writer)

        def sample():
            while (w := writer()) is not None:
                gauge.set(w.pending)
                del w
                time.sleep(SAMPLE_S)
        threading.Thread(target=sample, name="metrics-sampler", daemon=True).start()

    def exposition(self, log_writer, breaker: LocalBreaker) -> bytes:
        """The text format: every worker's values when in multiprocess mode, else this process's; then the values
        read at scrape time (cooling targets, spilled rows)."""
        self.log_queue.set(log_writer.pending)
        if self._spill is None or self._spill.path != log_writer.spill_path:
            self._spill = SpillCounter(log_writer.spill_path)
        spill = self._spill

        def families():
            g = GaugeMetricFamily("switchyard_targets_cooling_down", "Targets skipped until their cooldown ends "
                                  "(shared through Redis; without it, the state of the worker that answered)")
            g.add_metric([], cooling_count(breaker))
            yield g
            g = GaugeMetricFamily("switchyard_log_spilled_rows", "Request log rows in the spill file, not yet "
                                  "replayed into the database")
            g.add_metric([], spill.count())
            yield g
        scraped = CollectorRegistry()
        scraped.register(_ScrapeCollector(families))
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry) + generate_latest(scraped)
        return generate_latest(self.registry) + generate_latest(scraped)
