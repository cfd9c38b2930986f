"""The in-memory view of providers, models, prices and routes, refreshed from the database off the hot path."""
import json
import logging
import os
import time
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from gateway.background import native_sleep, start_native_thread
from gateway.config import BUILTIN_PROVIDERS
from gateway.prices import history
from gateway.values import Price
from gateway.secrets import SecretBox, UndecryptableSecret
from models import ModelPrice, Provider, Route

log = logging.getLogger("switchyard.catalog")


@dataclass(frozen=True)
class ProviderConf:
    name: str
    type: str
    base_url: str
    api_key: str | None
    enabled: bool = True
    responses: str = "translate"    # /v1/responses: native | translate (default_responses_mode)
    key_unreadable: bool = False    # a key is stored, but SWITCHYARD_SECRET_KEY does not decrypt it (api_key None)


@dataclass(frozen=True)
class ModelConf:
    slug: str
    provider: str
    upstream: str
    price: Price | None
    context_window: int | None = None
    max_output: int | None = None
    capabilities: dict = field(default_factory=dict)
    created: int = 0
    drop_unsupported: bool = False
    retired: bool = False
    replacement: str | None = None
    prices: tuple[Price, ...] = ()          # the price history, oldest first (scheduled ones included)

    def price_at(self, ts: float) -> Price | None:
        """The price in force at `ts`: the last row effective by then (else the model's own columns)."""
        for p in reversed(self.prices):
            if p.effective_from <= ts:
                return p
        return self.price if not self.prices else None


@dataclass(frozen=True)
class RouteTargetConf:
    model: str
    priority: int = 0
    weight: int = 1
    overrides: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RouteConf:
    alias: str
    targets: tuple[RouteTargetConf, ...]
    retries: int = 1
    timeout_ms: int = 30000
    enabled: bool = True
    description: str | None = None
    drop_unsupported: bool = False


@dataclass(frozen=True)
class Snapshot:
    providers: dict[str, ProviderConf]
    models: dict[str, ModelConf]
    routes: dict[str, RouteConf]
    loaded_at: float

    @property
    def unreadable_keys(self) -> list[str]:
        """The providers whose stored API key the configured SWITCHYARD_SECRET_KEY cannot decrypt."""
        return sorted(name for name, p in self.providers.items() if p.key_unreadable)


def _price_of(m: ModelPrice) -> Price | None:
    if m.input_per_mtok is None and m.output_per_mtok is None:
        return None
    return Price(version=m.price_version, input=_dec(m.input_per_mtok), output=_dec(m.output_per_mtok),
                 cached_input=_dec(m.cached_input_per_mtok), cache_write=_dec(m.cache_write_per_mtok))


def _dec(v) -> Decimal | None:
    return None if v is None else Decimal(str(v))


def default_responses_mode(name: str, ptype: str) -> str:
    """How /v1/responses reaches a provider nobody configured it for: natively for the one named openai (OpenAI
    serves the Responses API), translated onto chat for every other (most OpenAI-compatible servers do not)."""
    return "native" if name == "openai" and ptype == "openai" else "translate"


def builtin_providers(environ=os.environ) -> dict[str, ProviderConf]:
    """Providers that work from the environment alone: a key in `<NAME>_API_KEY`, `<NAME>_BASE_URL` to override."""
    out = {}
    for name, (ptype, default_url, key_env) in BUILTIN_PROVIDERS.items():
        base_url = environ.get(f"{name.upper()}_BASE_URL") or default_url
        out[name] = ProviderConf(name, ptype, base_url, environ.get(key_env) or None,
                                 responses=default_responses_mode(name, ptype))
    return out


class Catalog:
    def __init__(self, sessionmaker, box: SecretBox, refresh_s: float = 5.0):
        self._sessionmaker = sessionmaker
        self._box = box
        self._refresh_s = refresh_s
        self._snap = Snapshot({}, {}, {}, 0.0)
        self._started = False
        self._stopped = False
        self.loaded = False                 # a refresh has succeeded at least once in this process
        self._unreadable: list[str] = []    # providers whose stored key did not decrypt, as last logged
        self.also_refresh: list = []        # other caches reloaded on the same background beat

    @property
    def snapshot(self) -> Snapshot:
        return self._snap

    def refresh(self) -> Snapshot:
        providers = builtin_providers()
        with self._sessionmaker() as s:
            for p in s.scalars(select(Provider)):
                builtin = providers.get(p.name)
                key, unreadable = None, False
                if p.api_key_encrypted:
                    try:
                        key = self._box.decrypt(p.api_key_encrypted)
                    except UndecryptableSecret:
                        unreadable = True
                elif p.api_key_env:
                    key = os.environ.get(p.api_key_env) or None
                elif builtin is not None:
                    key = builtin.api_key
                base_url = p.base_url or (builtin.base_url if builtin else "")
                providers[p.name] = ProviderConf(p.name, p.type, base_url, key, bool(p.enabled),
                                                 p.responses or default_responses_mode(p.name, p.type), unreadable)
            models = {}
            enabled = list(s.scalars(select(ModelPrice).where(ModelPrice.enabled.is_(True))))
            prices = history(s, {m.slug for m in enabled})
            for m in enabled:
                caps = json.loads(m.capabilities) if m.capabilities else {}
                created = int(m.updated_at.timestamp()) if m.updated_at else 0
                models[m.slug] = ModelConf(m.slug, m.provider, m.upstream, _price_of(m), m.context_window,
                                           m.max_output, caps, created, bool(m.drop_unsupported), bool(m.retired),
                                           m.replacement, prices.get(m.slug, ()))
            routes = {}
            for r in s.scalars(select(Route).options(selectinload(Route.targets))):
                targets = tuple(
                    RouteTargetConf(t.model, t.position if t.priority is None else t.priority,
                                    t.weight if t.weight is not None else 1,
                                    json.loads(t.overrides) if t.overrides else {})
                    for t in sorted(r.targets, key=lambda t: t.position))
                routes[r.alias] = RouteConf(r.alias, targets, r.retries, r.timeout_ms, bool(r.enabled),
                                            r.description, bool(r.drop_unsupported))
        self._snap = Snapshot(providers, models, routes, time.time())
        self.loaded = True
        self._report_unreadable(self._snap.unreadable_keys)
        return self._snap

    def _report_unreadable(self, names: list[str]) -> None:
        """Log which providers' stored keys cannot be decrypted: once when that list changes, not every refresh."""
        if names == self._unreadable:
            return
        if names:
            log.error("the stored API key of the provider%s %s cannot be decrypted with SWITCHYARD_SECRET_KEY (it "
                      "was stored under another key): requests to %s answer 503 service_unavailable and /readyz is "
                      "not ready. Give the key it was stored with (a rotation lists several: new,old) or store "
                      "the provider key again", "s" if len(names) > 1 else "",
                      ", ".join(f"'{n}'" for n in names), "them" if len(names) > 1 else "it")
        else:
            log.info("every stored provider key can be decrypted again")
        self._unreadable = names

    def start(self) -> None:
        """Refresh in a native background thread; the request path only reads the snapshot."""
        if self._started or self._refresh_s <= 0:
            return
        self._started = True
        start_native_thread(self._loop, "catalog-refresh")

    def _loop(self) -> None:
        while True:
            native_sleep(self._refresh_s)
            if self._stopped:
                return
            for refresh in (self.refresh, *self.also_refresh):
                try:
                    refresh()
                except Exception:  # noqa: BLE001 - keep serving the last good state
                    log.exception("background refresh failed; serving the previous state")

    def stop(self) -> None:
        self._stopped = True
