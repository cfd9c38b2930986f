"""The per-app bundle of long-lived services (catalog, key cache, transport, log writer, pipeline, stored
responses)."""
import logging
import os
import time
from dataclasses import dataclass

from flask import current_app
from flask_limiter import Limiter
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker as SessionMaker

from gateway.access_log import AccessLog
from gateway.auth import KeyCache
from gateway.admission import Admission
from gateway.catalog import Catalog
from gateway.config import Settings, validate_observability
from gateway.cooldown import make_breaker
from gateway.db import make_engine, make_sessionmaker
from gateway.exceptions import ServiceUnavailable
from gateway.ledger import Ledger, MemoryCounters, RedisCounters
from gateway.limits import default_rate, make_limiter
from gateway.log_writer import LogWriter
from gateway.pipeline import Pipeline
from gateway.redis_client import make_redis
from gateway.routing import unpriced_routed
from gateway.response_service import ResponsesService
from gateway.response_store import ResponseStore
from gateway.streaming import StreamTimings
from gateway.record import RequestRecord
from gateway.telemetry import Metrics
from gateway.secrets import SecretBox, box_from
from gateway.transport import Transport

log = logging.getLogger("switchyard.services")


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessionmaker: SessionMaker
    box: SecretBox
    catalog: Catalog
    redis: object | None                    # the one Redis client (None without REDIS_URL)
    keys: KeyCache
    transport: Transport
    log_writer: LogWriter
    pipeline: Pipeline
    admission: Admission
    metrics: Metrics
    responses: ResponsesService
    _background: bool = False               # the background refresh is running (started once per process)
    _last_load_try: float = -1e9
    _unpriced_warned: bool = False
    limiter: Limiter | None = None           # per-key request rates, bound to this app in create_app
    access_log: AccessLog | None = None     # SWITCHYARD_ACCESS_LOG=json: one JSON line per request on stdout

    @classmethod
    def build(cls, settings: Settings) -> "Services":
        validate_observability(settings)
        os.makedirs(settings.INSTANCE_DIR, exist_ok=True)
        engine = make_engine(settings.DATABASE_URL)
        sm = make_sessionmaker(engine)
        box = box_from(settings.SECRET_KEY, settings.INSTANCE_DIR)
        catalog = Catalog(sm, box, settings.CATALOG_REFRESH_S)
        redis = make_redis(settings.REDIS_URL)
        transport = Transport(settings.POOL_MAXSIZE, settings.CONNECT_TIMEOUT_S)
        pipeline = Pipeline(catalog, transport, settings.DEFAULT_TIMEOUT_MS, settings.DEFAULT_RETRIES,
                            make_breaker(redis, settings.COOLDOWN_FAILURES, settings.COOLDOWN_WINDOW_S,
                                         settings.COOLDOWN_S, f"{settings.REDIS_PREFIX}cooldown:"),
                            settings.TOTAL_DEADLINE_S,
                            StreamTimings(settings.STREAM_KEEPALIVE_S, settings.STREAM_IDLE_TIMEOUT_S,
                                          settings.STREAM_MAX_S))
        store = ResponseStore(engine, settings.RESPONSE_RETENTION_DAYS)
        limiter = make_limiter()
        counters = RedisCounters(redis, settings.REDIS_PREFIX) if redis is not None else MemoryCounters()
        admission = Admission(Ledger(counters, sm), default_rate(settings.RATELIMIT_DEFAULT))
        return cls(settings=settings, engine=engine, sessionmaker=sm, box=box, catalog=catalog,
                   redis=redis, keys=KeyCache(sm, settings.KEY_CACHE_TTL_S, redis=redis,
                                 prefix=settings.REDIS_PREFIX), transport=transport,
                   log_writer=LogWriter(engine, settings.INSTANCE_DIR, settings.LOG_FLUSH_INTERVAL_S,
                                        settings.LOG_BATCH_SIZE),
                   pipeline=pipeline, responses=ResponsesService(pipeline, store, admission.admit),
                   admission=admission, metrics=Metrics(),
                   access_log=AccessLog() if settings.ACCESS_LOG == "json" else None, limiter=limiter)

    def finish(self, rec: RequestRecord) -> None:
        """A request is over (a stream: its last byte): hand its log row over, charge its key, count it, write its
        access log line. Once."""
        if not rec.hand_over():
            return
        total_s = time.perf_counter() - rec.t_arrival
        self.log_writer.submit(rec.log_row())
        self.admission.settle(rec)
        self.metrics.observe(rec, total_s, max(0.0, total_s - rec.upstream_ms / 1000), self.catalog.snapshot)
        if self.access_log is not None:
            self.access_log.write(rec, total_s)
        self.metrics.start_sampler(self.log_writer)

    @property
    def started(self) -> bool:
        """The background refresh runs and the catalog has loaded (by a request or by the refresh itself)."""
        return self._background and self.catalog.loaded

    def start(self) -> None:
        """First request in this process (after the fork): load the catalog and start the background refresh.

        The background refresh starts whether or not the first load works, so a worker that booted while the
        database was down loads the catalog by itself once it is back; until then a request is a 503
        `service_unavailable` (the load is retried by requests at most once a second), never
        `model_not_supported`."""
        if self.started:
            return
        if not self._background:
            self._background = True
            self.log_writer.on_replayed = self.metrics.replayed.inc
            self.keys.start_watch()
            self.catalog.also_refresh.append(self.responses.store.purge)
            self.catalog.start()
        if self.catalog.loaded:
            self._warn_unpriced()
            return
        not_loaded = "The gateway has not loaded its catalog yet: the database is not reachable."
        now = time.monotonic()
        if now - self._last_load_try < 1.0:
            raise ServiceUnavailable(not_loaded, retry_after=1)
        self._last_load_try = now
        try:
            self.catalog.refresh()               # last: `loaded` (and so `started`) only once it has worked
        except Exception as e:  # noqa: BLE001 - any failure to load means not ready yet
            log.warning("loading the catalog failed (%s); retrying", e.__class__.__name__)
            raise ServiceUnavailable(not_loaded, retry_after=1) from e
        self._warn_unpriced()

    def _warn_unpriced(self) -> None:
        """Once per process, when the catalog first loaded: which routed models have no price."""
        if self._unpriced_warned:
            return
        self._unpriced_warned = True
        unpriced = unpriced_routed(self.catalog.snapshot)
        if unpriced:
            log.warning("routes name models without a price (served, and logged with cost null, never $0): %s",
                        ", ".join(unpriced))

    def shutdown(self) -> None:
        self.catalog.stop()
        self.keys.stop_watch()
        try:
            self.admission.ledger.counters.flush()      # settlements still gathered (Redis)
        except Exception:  # noqa: BLE001 - shutting down regardless
            log.warning("could not send the last limit settlements", exc_info=True)
        self.log_writer.close()
        self.responses.store.close()
        self.transport.close()


def services() -> Services:
    return current_app.extensions["switchyard"]
