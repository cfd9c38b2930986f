"""Prometheus metrics of what the gateway served (requests, latency, tokens, cost, upstream attempts), one
registry for all gunicorn workers through prometheus_client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR
is set (deploy/gunicorn.conf.py sets it), else per process."""
import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess

from gateway.record import RequestRecord

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_OVERHEAD_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)


class Metrics:
    def __init__(self):
        # our own registry: two apps in one process (tests) must not register the same names twice
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("switchyard_requests_total", "Requests answered, by endpoint, provider and code",
                                ["endpoint", "provider", "code", "stream"], registry=r)
        self.latency = Histogram("switchyard_request_seconds", "Arrival to answer (streams: to the end)",
                                 ["endpoint", "stream"], buckets=_LATENCY_BUCKETS, registry=r)
        self.overhead = Histogram("switchyard_overhead_seconds", "Gateway time: total minus provider calls",
                                  ["endpoint"], buckets=_OVERHEAD_BUCKETS, registry=r)
        self.attempts = Counter("switchyard_upstream_attempts_total", "Provider attempts, by target and code",
                                ["target", "code"], registry=r)
        self.tokens = Counter("switchyard_tokens_total", "Tokens, by provider, model and kind",
                              ["provider", "model", "kind"], registry=r)
        self.cost = Counter("switchyard_cost_usd_total", "Priced cost in USD, by provider and model",
                            ["provider", "model"], registry=r)
        self.unpriced = Counter("switchyard_unpriced_requests_total", "Answers without a price or without usage",
                                ["provider", "model"], registry=r)

    def observe(self, rec: RequestRecord, total_s: float, overhead_s: float) -> None:
        provider = rec.provider or "none"
        model = rec.upstream_model or "none"
        stream = "true" if rec.stream else "false"
        self.requests.labels(rec.endpoint, provider, rec.error_code or "ok", stream).inc()
        self.latency.labels(rec.endpoint, stream).observe(total_s)
        self.overhead.labels(rec.endpoint).observe(overhead_s)
        for a in rec.attempts:
            self.attempts.labels(a.target, a.error_code or "ok").inc()
        if rec.provider is None:
            return
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

    def exposition(self) -> bytes:
        """The text format: every worker's values when in multiprocess mode, else this process's."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
