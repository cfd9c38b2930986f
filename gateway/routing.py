"""resolve(model) -> RoutePlan: an alias, a `provider/model[:effort]` slug or a bare id, as ordered Targets."""
import random
import time
from dataclasses import dataclass
from itertools import groupby

from gateway import exceptions as exc
from gateway.catalog import ProviderConf, RouteTargetConf, Snapshot
from gateway.config import BARE_PREFIXES, EFFORTS
from gateway.values import Target

# Which endpoint a catalog model's `capabilities.endpoints` entry names.
ENDPOINT_PATHS = {"chat": "/v1/chat/completions", "responses": "/v1/responses"}


@dataclass(frozen=True)
class RoutePlan:
    requested: str
    route: str | None
    targets: tuple[Target, ...]
    retries: int
    timeout_s: float


def split_effort(name: str) -> tuple[str, str | None]:
    base, sep, suffix = name.rpartition(":")
    if sep and suffix in EFFORTS and base:
        return base, suffix
    return name, None


def _target(slug: str, provider: ProviderConf, snap: Snapshot, effort: str | None, timeout_s: float,
            retries: int, endpoint: str, overrides: dict | None = None,
            drop_unsupported: bool = False) -> Target:
    model = snap.models.get(slug)
    native = False
    if model is not None:
        if model.retired:
            hint = f"; use '{model.replacement}' instead" if model.replacement else ""
            raise exc.ModelRetired(f"The model '{slug}' is retired{hint}.", param="model")
        native = _endpoint_check(slug, model.capabilities, provider, endpoint)
        efforts = model.capabilities.get("efforts")
        if effort and efforts is not None and effort not in efforts:
            allowed = ", ".join(efforts) or "none"
            raise exc.InvalidRequest(f"The model '{slug}' does not take the effort ':{effort}' "
                                     f"(it takes: {allowed}).", param="model")
    elif endpoint == "responses":
        native = provider.responses == "native"
    upstream = model.upstream if model else slug.split("/", 1)[1]
    return Target(provider=provider.name, provider_type=provider.type, base_url=provider.base_url,
                  api_key=provider.api_key, upstream_model=upstream, slug=slug, effort=effort,
                  timeout_s=timeout_s, retries=retries, price=model.price_at(time.time()) if model else None,
                  overrides=overrides or {}, capabilities=model.capabilities if model else {},
                  drop_unsupported=drop_unsupported or bool(model and model.drop_unsupported),
                  responses_native=native)


def _endpoint_check(slug: str, caps: dict, provider: ProviderConf, endpoint: str) -> bool:
    """Raise EndpointMismatch when `endpoint` cannot serve this model; return whether a /v1/responses request
    goes to the provider's own Responses API (True) or is translated onto chat (False).

    `capabilities.endpoints` lists the provider's own endpoints for the model (absent: any). Chat Completions
    serves only models with a chat endpoint (a Responses-only model is not translated back). /v1/responses serves
    a model natively where the provider is `responses: native` (or the model's entry says `responses: native`, as
    xAI's multi-agent model does) and the model has a Responses endpoint; else translated onto its chat endpoint."""
    endpoints = caps.get("endpoints")
    here = ENDPOINT_PATHS.get(endpoint, endpoint)
    if endpoint != "responses":
        if endpoints and endpoint not in endpoints:
            served = " or ".join(ENDPOINT_PATHS.get(e, e) for e in endpoints)
            raise exc.EndpointMismatch(f"The model '{slug}' is served on {served}, not on {here}.", param="model")
        return False
    speaks = provider.type == "openai" and (provider.responses == "native" or caps.get("responses") == "native")
    has_responses = not endpoints or "responses" in endpoints
    if speaks and has_responses:
        return True
    if endpoints and "chat" not in endpoints:
        if "responses" in endpoints:
            raise exc.EndpointMismatch(
                f"The model '{slug}' is served only through the provider's own Responses API, and the provider "
                f"'{provider.name}' is configured with responses: translate.", param="model")
        served = " or ".join(ENDPOINT_PATHS.get(e, e) for e in endpoints)
        raise exc.EndpointMismatch(f"The model '{slug}' is served on {served}, not on {here}.", param="model")
    return False


def _slug_target(name: str, snap: Snapshot, timeout_s: float, retries: int, endpoint: str,
                 overrides: dict | None = None, drop_unsupported: bool = False) -> Target | None:
    """`provider/model[:effort]` for a configured provider, or a bare id matched by prefix; None otherwise."""
    base, effort = split_effort(name)
    prefix, sep, rest = base.partition("/")
    if sep and rest:
        provider = snap.providers.get(prefix)
        if provider is not None and provider.enabled:
            return _target(base, provider, snap, effort, timeout_s, retries, endpoint, overrides,
                           drop_unsupported)
    for bare_prefix, provider_name in BARE_PREFIXES:
        if base.startswith(bare_prefix):
            provider = snap.providers.get(provider_name)
            if provider is not None and provider.enabled:
                return _target(f"{provider_name}/{base}", provider, snap, effort, timeout_s, retries, endpoint,
                               overrides, drop_unsupported)
    return None


def weighted_order(group: list[RouteTargetConf], rng: random.Random | None = None) -> list[RouteTargetConf]:
    """Order targets of equal priority by weighted random choice without replacement (weight 0: last resort)."""
    rng = rng or random
    pool = list(group)
    out = []
    while pool:
        total = sum(t.weight for t in pool)
        if total <= 0:
            out.extend(pool)
            break
        pick = rng.uniform(0, total)
        acc = 0.0
        for i, t in enumerate(pool):
            acc += t.weight
            if pick <= acc and t.weight > 0:
                out.append(pool.pop(i))
                break
        else:
            out.append(pool.pop())
    return out


def resolve(model: str, snap: Snapshot, default_timeout_ms: int = 30000, default_retries: int = 1,
            endpoint: str = "chat") -> RoutePlan:
    """Resolution order: an alias; `provider/model[:effort]` for a configured provider; a bare id by prefix."""
    route = snap.routes.get(model)
    if route is not None:
        if not route.enabled:
            raise exc.RouteDisabled(f"The route '{model}' is paused.", param="model")
        timeout_s = route.timeout_ms / 1000.0
        ordered = []
        for _, group in groupby(sorted(route.targets, key=lambda t: t.priority), key=lambda t: t.priority):
            group = list(group)
            ordered.extend(weighted_order(group) if len(group) > 1 else group)
        targets = []
        for t in ordered:
            target = _slug_target(t.model, snap, timeout_s, route.retries, endpoint, t.overrides,
                                  route.drop_unsupported)
            if target is None:
                raise exc.RouteNotFound(f"The route '{model}' names '{t.model}', which no configured provider "
                                        f"serves.", param="model")
            targets.append(target)
        if not targets:
            raise exc.RouteNotFound(f"The route '{model}' has no targets.", param="model")
        return RoutePlan(model, model, tuple(targets), route.retries, timeout_s)
    timeout_s = default_timeout_ms / 1000.0
    target = _slug_target(model, snap, timeout_s, default_retries, endpoint)
    if target is None:
        raise exc.ModelNotSupported(
            f"The model '{model}' is not supported: name an alias, 'provider/model' for a configured provider, "
            f"or a known model id.", param="model")
    return RoutePlan(model, None, (target,), default_retries, timeout_s)


def unpriced_routed(snap: Snapshot) -> list[str]:
    """The models enabled routes name that have no price now (served and logged unpriced, never at $0)."""
    out = set()
    now = time.time()
    for route in snap.routes.values():
        if not route.enabled:
            continue
        for t in route.targets:
            base, _ = split_effort(t.model)
            model = snap.models.get(base)
            price = model.price_at(now) if model is not None else None
            if price is None or price.input is None:
                out.add(base)
    return sorted(out)
