"""`config import` / `config export`: the declarative YAML file, checked whole, applied in one transaction."""
import json
from datetime import datetime, timezone
from decimal import Decimal

import yaml
from marshmallow import ValidationError
from sqlalchemy import select

from gateway.prices import PriceError, record_prices
from gateway.secrets import SecretBox
from models import ModelPrice, Provider, Route, RouteTarget
from schemas.config_file import ConfigFile


class ConfigFileError(ValueError):
    """A file that cannot be applied; the message names the line and the field."""


def _line_index(node, path=(), out=None) -> dict[tuple, int]:
    """Every path in the YAML document -> its 1-based line."""
    out = {} if out is None else out
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            out[path + (k.value,)] = k.start_mark.line + 1
            _line_index(v, path + (k.value,), out)
            out[path + (k.value,)] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_index(v, path + (i,), out)
    return out


def _first_error(errors, path=()):
    if isinstance(errors, dict):
        key = sorted(errors, key=str)[0]
        return _first_error(errors[key], path if key == "_schema" else path + (key,))
    if isinstance(errors, list) and errors:
        return _first_error(errors[0], path) if isinstance(errors[0], (dict, list)) else (path, str(errors[0]))
    return path, str(errors)


def parse(text: str) -> dict:
    """YAML text -> the checked config; ConfigFileError names the line and field at fault."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise ConfigFileError(f"{where}not valid YAML ({getattr(e, 'problem', e)})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigFileError("line 1: the file must be a mapping with providers, models and routes")
    try:
        loaded = ConfigFile().load(data)
    except ValidationError as e:
        path, message = _first_error(e.messages)
        lines = _line_index(node) if node is not None else {}
        probe = path
        while probe and probe not in lines:
            probe = probe[:-1]
        field = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")
        raise ConfigFileError(f"line {lines.get(probe, 1)}: {field}: {message}") from None
    names = {p["name"] for p in loaded["providers"]}
    return loaded | {"_provider_names": names}


def apply(session, config: dict, box: SecretBox) -> dict[str, int]:
    """Upsert providers, models and routes by their names; idempotent. The caller commits."""
    counts = {"providers": 0, "models": 0, "routes": 0}
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    for p in config["providers"]:
        row = session.scalar(select(Provider).where(Provider.name == p["name"])) or Provider(name=p["name"])
        row.type = p["type"]
        row.base_url = p.get("base_url")
        row.api_key_env = p.get("api_key_env")
        if p.get("api_key"):
            current = box.decrypt(row.api_key_encrypted) if row.api_key_encrypted else None
            if current != p["api_key"]:
                row.api_key_encrypted = box.encrypt(p["api_key"])
        elif p.get("api_key_env") is not None:
            row.api_key_encrypted = None
        row.enabled = p["enabled"]
        row.responses = p.get("responses")
        session.add(row)
        counts["providers"] += 1
    for m in config["models"]:
        slug = m["id"]
        row = session.scalar(select(ModelPrice).where(ModelPrice.slug == slug))
        if row is None:
            row = ModelPrice(slug=slug)
        if row.price_version is None:
            row.price_version = 1
        session.flush()
        try:
            record_prices(session, row, m, m.get("prices") or [], now)
        except PriceError as e:
            raise ConfigFileError(f"models: {e}") from None
        row.provider = slug.split("/", 1)[0]
        row.upstream = m.get("upstream") or slug.split("/", 1)[1]
        row.context_window = m.get("context_window")
        row.max_output = m.get("max_output")
        row.capabilities = json.dumps(m["capabilities"], sort_keys=True) if m.get("capabilities") else None
        row.prices_as_of = m.get("prices_as_of")
        row.drop_unsupported = m["drop_unsupported"]
        row.retired = m["retired"]
        row.replacement = m.get("replacement")
        row.enabled = m["enabled"]
        session.add(row)
        counts["models"] += 1
    for r in config["routes"]:
        row = session.scalar(select(Route).where(Route.alias == r["alias"])) or Route(alias=r["alias"])
        row.retries, row.timeout_ms, row.enabled = r["retries"], r["timeout_ms"], r["enabled"]
        row.description = r.get("description")
        row.drop_unsupported = r["drop_unsupported"]
        wanted = [(i, t["model"], t["priority"], t["weight"],
                   json.dumps(t["overrides"], sort_keys=True) if t["overrides"] else None)
                  for i, t in enumerate(r["targets"])]
        have = [(t.position, t.model, t.priority, t.weight, t.overrides) for t in row.targets]
        if wanted != have:
            row.targets.clear()
            session.flush()
            for pos, model, priority, weight, overrides in wanted:
                row.targets.append(RouteTarget(position=pos, model=model, priority=priority, weight=weight,
                                               overrides=overrides))
        session.add(row)
        counts["routes"] += 1
    return counts


def _num(v):
    if v is None:
        return None
    d = Decimal(str(v)).normalize()
    return int(d) if d == d.to_integral_value() else float(d)


def export(session) -> dict:
    """The database's providers, models and routes in the import file's shape (secrets are never exported)."""
    providers = []
    for p in session.scalars(select(Provider).order_by(Provider.name)):
        entry = {"name": p.name, "type": p.type}
        if p.base_url:
            entry["base_url"] = p.base_url
        if p.api_key_env:
            entry["api_key_env"] = p.api_key_env
        if not p.enabled:
            entry["enabled"] = False
        if p.responses:
            entry["responses"] = p.responses
        providers.append(entry)
    models = []
    for m in session.scalars(select(ModelPrice).order_by(ModelPrice.slug)):
        entry = {"id": m.slug, "upstream": m.upstream}
        for k in ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok"):
            if getattr(m, k) is not None:
                entry[k] = _num(getattr(m, k))
        for k in ("context_window", "max_output", "prices_as_of", "replacement"):
            if getattr(m, k) is not None:
                entry[k] = getattr(m, k)
        if m.capabilities:
            entry["capabilities"] = json.loads(m.capabilities)
        for k in ("drop_unsupported", "retired"):
            if getattr(m, k):
                entry[k] = True
        if not m.enabled:
            entry["enabled"] = False
        models.append(entry)
    routes = []
    for r in session.scalars(select(Route).order_by(Route.alias)):
        targets = []
        for t in r.targets:
            if t.weight == 1 and not t.overrides and t.priority is None:
                targets.append(t.model)
            else:
                item = {"model": t.model, "weight": t.weight}
                if t.priority is not None:
                    item["priority"] = t.priority
                if t.overrides:
                    item["overrides"] = json.loads(t.overrides)
                targets.append(item)
        entry = {"alias": r.alias, "targets": targets, "retries": r.retries, "timeout_ms": r.timeout_ms}
        if r.description:
            entry["description"] = r.description
        if not r.enabled:
            entry["enabled"] = False
        if r.drop_unsupported:
            entry["drop_unsupported"] = True
        routes.append(entry)
    return {"providers": providers, "models": models, "routes": routes}
