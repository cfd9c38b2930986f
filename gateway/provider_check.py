"""The admin's "test connection": one cheap call to a provider with the key the gateway holds for it, a one-token
chat completion of one of its models, through the same adapter and transport as traffic. It reports the HTTP
status, the latency and the provider's own message (scrubbed of the key), and never raises.

The call is real and may cost a fraction of a cent (one prompt word, one output token); it writes no request-log
row, since no client made it.
"""
from dataclasses import dataclass
from decimal import Decimal

from gateway import exceptions as exc
from gateway.catalog import Snapshot
from gateway.pipeline import json_or_bytes
from gateway.providers import adapter_for
from gateway.routing import resolve
from gateway.scrub import scrub

PING = [{"role": "user", "content": "ping"}]


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    provider: str
    model: str | None
    status: int | None          # the provider's HTTP status; None when no answer came
    latency_ms: float | None
    message: str


def default_model(snap: Snapshot, provider: str) -> str | None:
    """The provider's cheapest chat model in the catalog (by input price), else its first by name."""
    mine = [m for m in snap.models.values() if m.provider == provider and not m.retired
            and "chat" in (m.capabilities.get("endpoints") or ["chat"])]
    if not mine:
        return None
    priced = [m for m in mine if m.price is not None and m.price.input is not None]
    pick = min(priced, key=lambda m: (Decimal(str(m.price.input)), m.slug)) if priced else \
        min(mine, key=lambda m: m.slug)
    return pick.slug


def check(snap: Snapshot, transport, provider: str, model: str | None = None,
          timeout_s: float = 15.0) -> CheckResult:
    conf = snap.providers.get(provider)
    if conf is None:
        return CheckResult(False, provider, model, None, None, f"No provider '{provider}' is configured.")
    if not conf.api_key:
        return CheckResult(False, provider, model, None, None,
                           "No API key is stored or set in the environment for this provider.")
    slug = (model or "").strip() or default_model(snap, provider)
    if not slug:
        return CheckResult(False, provider, None, None, None,
                           "The catalog has no model of this provider; name one to test with.")
    if not slug.startswith(provider + "/"):
        slug = f"{provider}/{slug}"
    try:
        target = resolve(slug, snap, int(timeout_s * 1000), 0).targets[0]
        adapter = adapter_for(target.provider_type)
        req = adapter.build_request({"model": slug, "messages": PING, "max_tokens": 1}, target)
        resp = transport.call(req, timeout_s)
        if resp.status >= 400:
            err = adapter.parse_error(resp.status, json_or_bytes(resp.content), resp.retry_after)
            return CheckResult(False, provider, slug, resp.status, resp.latency_ms, scrub(err.message, conf.api_key))
        adapter.parse_response(json_or_bytes(resp.content), target, slug)
        return CheckResult(True, provider, slug, resp.status, resp.latency_ms,
                           "Connected: the provider answered a one-token completion.")
    except exc.GatewayError as e:
        return CheckResult(False, provider, slug, e.upstream_status, None, scrub(e.message, conf.api_key))
    except Exception as e:  # noqa: BLE001 - a test never fails the admin page; the message says what happened
        return CheckResult(False, provider, slug, None, None, scrub(f"{type(e).__name__}: {e}", conf.api_key))
