"""The scenarios as one table: what each runs, what it reports and its targets (bench/run.py, targets.py, report.py)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

# How long each run lasts (seconds of wrk) or how many requests / streams it makes; a scenario names its entry.
DURATIONS = {
    "full": {"c1_s": 8, "load_s": 8, "slow_s": 8, "warm_s": 3, "ttfb_n": 200, "streams_n": 1000, "streams_chunks": 20,
             "limits_s": 8},
    "quick": {"c1_s": 3, "load_s": 3, "slow_s": 3, "warm_s": 2, "ttfb_n": 100, "streams_n": 1000,
              "streams_chunks": 10, "limits_s": 3},
}

# How a scenario is measured (bench/drivers.py); the runner, the comparison with direct and the report go by it.
WRK = "wrk"             # wrk at a fixed concurrency for `length` seconds (streaming or not)
TTFB = "ttfb"           # bench/ttfb.py: `length` sequential streams, timed at the socket
STREAMS = "streams"     # bench/streams.js: `length` streams at once
MEMORY = "memory"       # the gateway's memory, read around and during the other scenarios
LIMITS = "limits"       # wrk on ours twice, back to back: the usual key, then one with limits (no direct run)
KINDS = (WRK, TTFB, STREAMS, MEMORY, LIMITS)

# How a metric's row shows a gateway's value (the direct column shows the direct run's value, or — for the last
# four).
RATIO = "ratio"         # value (×ratio to direct)
ADDED = "added"         # value (+difference from direct, ms)
PLAIN = "plain"         # value
GATEWAY = "gateway"     # value; there is none for direct (the double's CPU is apart)
VS_WITHOUT = "vs_without"   # LIMITS: value (×ratio, or +difference, to the same run's `of` figure); no direct
MEMORY_PAIR = "memory"  # "RSS sum / PSS sum" of one memory phase
WORKER_RSS = "worker"   # "idle / peak / after" RSS of the one worker
SHOWS = (RATIO, ADDED, PLAIN, GATEWAY, MEMORY_PAIR, WORKER_RSS, VS_WITHOUT)
NOTES = ("errors", "failed", "machine", "none")     # what explains a missed target (Target.note)


@dataclass(frozen=True)
class Upstream:
    """The double's mode during a scenario (POST /_bench/mode; bench/double.js)."""
    delay_ms: float = 0
    delay_max_ms: float = 0     # above delay_ms: each answer waits a uniform random time between the two
    chunks: int = 20
    chunk_delay_ms: float = 0

    def mode(self) -> dict:
        return asdict(self)

    @property
    def mean_delay_ms(self) -> float:
        return (self.delay_ms + max(self.delay_ms, self.delay_max_ms)) / 2

    def latency(self) -> str:
        """Its delay as text: 50 ms, or 20-80 ms."""
        if self.delay_max_ms > self.delay_ms:
            return f"{self.delay_ms:g}-{self.delay_max_ms:g} ms"
        return f"{self.delay_ms:g} ms"


FAST = Upstream()
SLOW = Upstream(delay_ms=50)                            # 50 ms to the answer, or to the first chunk then 20 at once
VARIED = Upstream(delay_ms=20, delay_max_ms=80)         # 20-80 ms, uniform per request: upstreams are not in step
TRICKLE = Upstream(chunk_delay_ms=50)                   # a chunk every 50 ms (issue 5)


@dataclass(frozen=True)
class Metric:
    """One row of the report: a figure each subject's result holds under `name`."""
    name: str
    label: str
    show: str = PLAIN
    nd: int = 2                 # decimals
    optional: bool = False      # left out when no gateway has it (a peer without --target-pid)
    of: str | None = None       # VS_WITHOUT: the figure of the same run it is compared with
    as_ratio: bool = False      # VS_WITHOUT: shown as the ratio to it (else as the difference)


@dataclass(frozen=True)
class Target:
    """What the issue asks of a gateway in one scenario; shown on the row of `metric` and in the target list."""
    id: str                     # its id in results["targets"][gateway]
    text: str
    metric: str                 # the scenario's metric (report row) it is shown on
    cell: str                   # the report's target column on that row
    limit: float | None = None
    of_direct: float | None = None  # instead of `limit`: this times the direct run's `field`
    field: str | None = None    # what is compared (default: `metric`); dotted for nested figures
    added: bool = False         # the field is in the scenario's vs_direct entry (gateway minus direct)
    limit_field: str | None = None  # the limit is this figure of the gateway's run (else `limit`)
    higher_is_better: bool = False
    unit: str = "ms"
    note: str = "errors"        # what explains a miss: errors (of the run), failed (only a failed run), machine
    #                             (how busy the machine was, what its CPU allows), none

    @property
    def compared(self) -> str:
        return self.field or self.metric


@dataclass(frozen=True)
class Scenario:
    key: str                    # its key in results["scenarios"]: keep it, older results are compared by it
    title: str                  # the report's scenario column ({streams} is filled in for STREAMS)
    kind: str
    metrics: tuple[Metric, ...]
    targets: tuple[Target, ...] = ()
    upstream: Upstream = FAST
    concurrency: int = 1
    stream: bool = False
    length: str = ""            # its DURATIONS entry
    hints: dict = field(default_factory=dict)   # metric name -> the target column of a row without a target
    memory_peak: bool = False   # the gateway's memory peak in it counts for the memory scenario's "under load"
    load_note: bool = False     # the report describes the machine's load during it (the double, wrk, others)
    double_alone: bool = False  # right after it, the double alone is measured streaming at the same concurrency
    one_worker: bool = False    # ours is restarted with a single worker for it (and stays so)

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)

    def target_on(self, metric: str) -> Target | None:
        return next((t for t in self.targets if t.metric == metric), None)

    @property
    def ideal_rps(self) -> float | None:
        """What the concurrency allows at the upstream's mean delay, with no time added."""
        mean = self.upstream.mean_delay_ms
        return self.concurrency * 1000 / mean if mean else None

    def heading(self, entry: dict, gateways: list[str]) -> str:
        title = self.title.format(streams=entry.get("streams", 1000)) if self.kind == STREAMS else self.title
        return title + (" (switchyard: one worker)" if self.one_worker and "switchyard" in gateways else "")


WRK_METRICS = (
    Metric("rps", "requests/s", RATIO, nd=0),
    Metric("p50_ms", "p50 latency, ms", ADDED),
    Metric("p99_ms", "p99 latency, ms", ADDED),
    Metric("errors_total", "errors (non-2xx + socket)"),
    Metric("gateway_cpu_ms_per_req", "gateway CPU ms per request", GATEWAY, nd=3, optional=True),
)
TTFB_METRICS = tuple(Metric(f"{k}_{p}_ms", f"{label} {p}, ms", ADDED)
                     for k, label in (("first_byte", "first byte"), ("first_data", "first SSE data event"),
                                      ("total", "whole stream"))
                     for p in ("p50", "p99")) + (Metric("errors", "failed streams"),)
MEMORY_METRICS = tuple(Metric(phase, f"RSS sum / PSS sum, MB: {label}", MEMORY_PAIR)
                       for phase, label in (("idle_cold", "idle, just started"), ("idle_warm", "idle, after warm-up"),
                                            ("load_peak", "under load (peak)"), ("after", "after the load")))
STREAMS_METRICS = (Metric("completed", "completed"),) + tuple(
    Metric(f"{k}_{p}_ms", f"{label} {p}, ms", ADDED)
    for k, label in (("headers", "response headers"), ("first_data", "first SSE data event"), ("end", "whole stream"))
    for p in ("p50", "p99")) + (
    Metric("worker_rss", "worker RSS MB: idle / peak / after", WORKER_RSS),
    Metric("gateway_cpu_s", "gateway CPU seconds", GATEWAY))

LIMITS_METRICS = (
    Metric("rps_without", "requests/s, without limits (the usual key)", GATEWAY, nd=0),
    Metric("rps_with", "requests/s, with limits (rpm + tpm + monthly budget)", VS_WITHOUT, nd=0, of="rps_without",
           as_ratio=True),
    Metric("p50_without_ms", "p50 latency, ms, without limits", GATEWAY),
    Metric("p50_with_ms", "p50 latency, ms, with limits", VS_WITHOUT, of="p50_without_ms"),
    Metric("p99_without_ms", "p99 latency, ms, without limits", GATEWAY),
    Metric("p99_with_ms", "p99 latency, ms, with limits", VS_WITHOUT, of="p99_without_ms"),
    Metric("errors_text", "errors (non-2xx, a 429 too, + socket): without / with limits", GATEWAY),
    Metric("cpu_without_ms_per_req", "gateway CPU ms per request, without limits", GATEWAY, nd=3),
    Metric("cpu_with_ms_per_req", "gateway CPU ms per request, with limits", VS_WITHOUT, nd=3,
           of="cpu_without_ms_per_req"),
    Metric("limits_cpu_ms_per_req", "what the limits add: gateway CPU ms per request", GATEWAY, nd=3),
    Metric("redis_text", "redis-server CPU ms per request: without / with limits", GATEWAY, optional=True),
)


def upstream_load(key: str, title: str, upstream: Upstream, concurrency: int, stream: bool = False,
                  **flags) -> Scenario:
    """Scenario 4: a slow upstream; p50 held to within 10% of the upstream's own (direct) p50, no errors."""
    label = f"c={concurrency} {'streaming' if stream else 'non-streaming'}"
    what = f"{upstream.latency()} upstream {label}"
    s = Scenario(key, title, WRK, WRK_METRICS, upstream=upstream, concurrency=concurrency, stream=stream,
                 length="slow_s", **flags)
    mean = "" if upstream.delay_max_ms <= upstream.delay_ms else " mean"
    hint = f"ideal {s.ideal_rps:,.0f} req/s at {upstream.mean_delay_ms:g} ms{mean}"
    return replace(s, hints={"rps": hint}, targets=(
        Target(f"{key}_p50", f"{what}: p50 within 10% of the upstream's", "p50_ms", "≤ 1.1 × direct",
               of_direct=1.10, note="machine"),
        Target(f"{key}_errors", f"{what}: no errors", "errors_total", "0", limit=0, unit="errors")))


MEMORY_SCENARIO = Scenario(
    "5_memory", "5. memory, all gateway processes", MEMORY, MEMORY_METRICS, upstream=FAST, targets=(
        Target("memory", "memory <= 150 MB resident for the whole gateway under load (RSS sum, peak)", "load_peak",
               "≤ 150 (RSS)", limit=150.0, field="load_peak.rss_mb", unit="MB", note="none"),))

# In the order they run and are reported. The double's mode changes between rows only when `upstream` does.
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("1_c1", "1. non-streaming, c=1", WRK, WRK_METRICS, concurrency=1, length="c1_s", memory_peak=True,
             targets=(Target("c1_p50", "c=1 added latency p50 <= 1.5 ms", "p50_ms", "added ≤ 1.5", limit=1.5,
                             field="p50_added_ms", added=True),
                      Target("c1_p99", "c=1 added latency p99 <= 4 ms", "p99_ms", "added ≤ 4", limit=4.0,
                             field="p99_added_ms", added=True))),
    Scenario("2_c32", "2. non-streaming, c=32", WRK, WRK_METRICS, concurrency=32, length="load_s", memory_peak=True,
             load_note=True, double_alone=True,
             targets=(Target("c32_rps", "c=32 >= 1,000 requests/s", "rps", "≥ 1,000", limit=1000, field="ok_rps",
                             higher_is_better=True, unit="req/s"),
                      Target("c32_cpu", "c=32 gateway CPU <= 1.5 ms per request", "gateway_cpu_ms_per_req", "≤ 1.5",
                             limit=1.5, note="failed"),
                      Target("c32_errors", "c=32 no errors", "errors_total", "0", limit=0, unit="errors"))),
    Scenario("2_c128", "2. non-streaming, c=128", WRK, WRK_METRICS, concurrency=128, length="load_s",
             memory_peak=True, load_note=True),
    Scenario("3_stream_c1", "3. streaming, c=1 (sequential)", TTFB, TTFB_METRICS, stream=True, length="ttfb_n",
             targets=(Target("stream_ttfb", "streaming c=1 time to first byte added <= 2 ms (first SSE data event, "
                             "p50)", "first_data_p50_ms", "added ≤ 2", limit=2.0, field="first_data_p50_added_ms",
                             added=True),)),
    # c=64 offers 1,280 req/s: below what two workers carry, so it shows the latency before CPU saturation
    upstream_load("4_slow_c64", "4. 50 ms upstream, c=64 (below saturation)", SLOW, 64),
    upstream_load("4_slow_c256", "4. 50 ms upstream, c=256", SLOW, 256, memory_peak=True, load_note=True),
    upstream_load("4_slow_c256_stream", "4. 50 ms upstream, c=256, streaming", SLOW, 256, stream=True,
                  memory_peak=True),
    # the same mean delay, but each answer 20-80 ms: closed-loop clients no longer fall into step (waves)
    upstream_load("4_jitter_c64", "4. 20-80 ms upstream (uniform), c=64", VARIED, 64),
    upstream_load("4_jitter_c256", "4. 20-80 ms upstream (uniform), c=256", VARIED, 256, load_note=True),
    MEMORY_SCENARIO,
    # after 5 (nothing measured before it changes) and before 6 (which leaves ours with one worker)
    Scenario("7_limits_c32", "7. limits cost, non-streaming, c=32", LIMITS, LIMITS_METRICS, concurrency=32,
             length="limits_s",
             targets=(Target("limits_errors", "limits: no errors with or without them at c=32 (a 429 is one)",
                             "errors_text", "0", limit=0, field="errors_total", unit="errors"),
                      Target("limits_cpu", "limits add <= 0.1 ms CPU per request at c=32", "limits_cpu_ms_per_req",
                             "≤ 0.1", limit=0.1))),
    Scenario("6_1000_streams", "6. {streams:,} streams at once, a chunk every 50 ms", STREAMS, STREAMS_METRICS,
             upstream=TRICKLE, stream=True, length="streams_n", one_worker=True,
             targets=(Target("streams_1000", "issue 5: 1,000 concurrent streams through one worker all complete",
                             "completed", "all", limit=1000, limit_field="streams", higher_is_better=True,
                             unit="streams"),)),
)
