"""resolve(model) -> RoutePlan: an alias, a `provider/model[:effort]` slug or a bare id, as ordered Targets."""
from dataclasses import dataclass

from gateway import exceptions as exc
from gateway.catalog import ProviderConf, Snapshot
from gateway.config import BARE_PREFIXES, EFFORTS
from gateway.providers.base import Target


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
            retries: int, overrides: dict | None = None, weight: int = 1) -> Target:
    model = snap.models.get(slug)
    upstream = model.upstream if model else slug.split("/", 1)[1]
    return Target(provider=provider.name, provider_type=provider.type, base_url=provider.base_url,
                  api_key=provider.api_key, upstream_model=upstream, slug=slug, effort=effort,
                  timeout_s=timeout_s, retries=retries, price=model.price if model else None,
                  overrides=overrides or {}, weight=weight, capabilities=model.capabilities if model else {})


def _slug_target(name: str, snap: Snapshot, timeout_s: float, retries: int,
                 overrides: dict | None = None, weight: int = 1) -> Target | None:
    """`provider/model[:effort]` for a configured provider, or a bare id matched by prefix; None otherwise."""
    base, effort = split_effort(name)
    prefix, sep, rest = base.partition("/")
    if sep and rest:
        provider = snap.providers.get(prefix)
        if provider is not None and provider.enabled:
            return _target(base, provider, snap, effort, timeout_s, retries, overrides, weight)
    for bare_prefix, provider_name in BARE_PREFIXES:
        if base.startswith(bare_prefix):
            provider = snap.providers.get(provider_name)
            if provider is not None and provider.enabled:
                return _target(f"{provider_name}/{base}", provider, snap, effort, timeout_s, retries, overrides,
                               weight)
    return None


def resolve(model: str, snap: Snapshot, default_timeout_ms: int = 30000, default_retries: int = 1) -> RoutePlan:
    route = snap.routes.get(model)
    if route is not None:
        if not route.enabled:
            raise exc.RouteDisabled(f"The route '{model}' is paused.", param="model")
        timeout_s = route.timeout_ms / 1000.0
        targets = []
        for t in route.targets:
            target = _slug_target(t.model, snap, timeout_s, route.retries, t.overrides, t.weight)
            if target is None:
                raise exc.RouteNotFound(f"The route '{model}' names '{t.model}', which no configured provider "
                                        f"serves.", param="model")
            targets.append(target)
        if not targets:
            raise exc.RouteNotFound(f"The route '{model}' has no targets.", param="model")
        return RoutePlan(model, model, tuple(targets), route.retries, timeout_s)
    timeout_s = default_timeout_ms / 1000.0
    target = _slug_target(model, snap, timeout_s, default_retries)
    if target is None:
        raise exc.ModelNotSupported(
            f"The model '{model}' is not supported: name an alias, 'provider/model' for a configured provider, "
            f"or a known model id.", param="model")
    return RoutePlan(model, None, (target,), default_retries, timeout_s)
