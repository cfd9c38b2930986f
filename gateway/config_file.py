"""`config import` / `config export`: the declarative YAML file, checked whole (every problem reported at once, with
its line), applied in one transaction; `--prune` removes what the file no longer lists, `--dry-run` only tells."""
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache

import yaml
from marshmallow import ValidationError
from sqlalchemy import select

from gateway.config import ROOT
from gateway.config_rules import base_url_problems, builtin_provider_types, target_problems
from gateway.prices import PriceError, record_prices
from gateway.secrets import SecretBox, UndecryptableSecret
from models import ModelPrice, Provider, Route, RouteTarget
from schemas.config_file import ConfigFile

# The bundled model catalog (`make run` loads it); `--prune` never removes its models.
CATALOG_FILE = os.path.join(ROOT, "gateway", "data", "models.yaml")
SECTIONS = ("providers", "models", "routes")


class ConfigFileError(ValueError):
    """A file that cannot be applied; `problems` lists every one, each naming its line and field."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


@dataclass
class Known:
    """What exists besides the file, for the rules on route targets: the database's providers and models (and the
    built-in providers and the bundled catalog's models, always)."""
    providers: dict[str, str] = field(default_factory=dict)      # name -> wire type
    models: dict[str, dict] = field(default_factory=dict)        # slug -> capabilities


def known_in(session) -> Known:
    """The providers and models the database holds."""
    providers = {p.name: p.type for p in session.scalars(select(Provider))}
    models = {m.slug: (json.loads(m.capabilities) if m.capabilities else {})
              for m in session.scalars(select(ModelPrice))}
    return Known(providers, models)


@lru_cache(maxsize=1)
def catalog_models() -> dict[str, dict]:
    """The bundled catalog's models: slug -> capabilities."""
    with open(CATALOG_FILE, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    return {m["id"]: m.get("capabilities") or {} for m in data.get("models") or []}


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


def _all_errors(errors, path=()):
    """Every (path, message) of a marshmallow error tree."""
    if isinstance(errors, dict):
        for key in sorted(errors, key=lambda k: (str(type(k)), k)):
            yield from _all_errors(errors[key], path if key == "_schema" else path + (key,))
    elif isinstance(errors, list):
        for item in errors:
            if isinstance(item, (dict, list)):
                yield from _all_errors(item, path)
            else:
                yield path, str(item)
    else:
        yield path, str(errors)


class _Report:
    """Problems with their lines, in the order of the file."""

    def __init__(self, node):
        self.lines = _line_index(node) if node is not None else {}
        self.items: list[tuple[int, str]] = []

    def line(self, path: tuple) -> int:
        probe = tuple(path)
        while probe and probe not in self.lines:
            probe = probe[:-1]
        return self.lines.get(probe, 1)

    def add(self, path: tuple, message: str) -> None:
        name = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")
        self.items.append((self.line(path), f"line {self.line(path)}: {name}: {message}" if name else
                           f"line {self.line(path)}: {message}"))

    def problems(self) -> list[str]:
        seen, out = set(), []
        for _, text in sorted(self.items, key=lambda i: i[0]):
            if text not in seen:
                seen.add(text)
                out.append(text)
        return out


def _entries(data: dict, section: str) -> list[tuple[int, dict]]:
    items = data.get(section)
    return [(i, e) for i, e in enumerate(items) if isinstance(e, dict)] if isinstance(items, list) else []


def _duplicates(data: dict, report: _Report) -> None:
    for section, key in (("providers", "name"), ("models", "id"), ("routes", "alias")):
        first: dict = {}
        for i, entry in _entries(data, section):
            value = entry.get(key)
            if not isinstance(value, str):
                continue
            if value in first:
                report.add((section, i, key), f"'{value}' is listed twice (first at line "
                                              f"{report.line((section, first[value], key))})")
            else:
                first[value] = i


def _rules(data: dict, report: _Report, known: Known, prune: bool) -> None:
    """The rules a DB-backed import adds: route targets and model ids name providers that exist, efforts are real.
    With --prune, what the file drops from a section it lists is gone after the import: it does not count."""
    sections = set(data)
    file_providers = {e["name"]: e.get("type") for _, e in _entries(data, "providers")
                      if isinstance(e.get("name"), str)}
    db_providers = {} if prune and "providers" in sections else known.providers
    providers = {**builtin_provider_types(), **db_providers, **file_providers}
    file_models = {e["id"]: e.get("capabilities") if isinstance(e.get("capabilities"), dict) else {}
                   for _, e in _entries(data, "models") if isinstance(e.get("id"), str)}
    db_models = {} if prune and "models" in sections else known.models
    models = {**catalog_models(), **db_models, **file_models}
    for i, entry in _entries(data, "models"):
        slug = entry.get("id")
        if isinstance(slug, str) and "/" in slug and slug.split("/", 1)[0] not in providers:
            report.add(("models", i, "id"), f"'{slug}' names the provider '{slug.split('/', 1)[0]}', which does not "
                                            f"exist (not in this file, the database or the built-in providers)")
    for i, entry in _entries(data, "routes"):
        alias = entry.get("alias") if isinstance(entry.get("alias"), str) else f"#{i + 1}"
        targets = entry.get("targets")
        for j, target in enumerate(targets if isinstance(targets, list) else []):
            path = ("routes", i, "targets", j)
            if isinstance(target, dict):
                target, path = target.get("model"), path + ("model",)
            if not isinstance(target, str):
                continue                        # the schema names what is wrong with it
            for problem in target_problems(target, providers, models):
                report.add(path, f"route '{alias}': target {problem}")


def parse(text: str, known: Known | None = None, prune: bool = False) -> dict:
    """YAML text -> the checked config. ConfigFileError lists every problem, each naming its line and field: the
    schema's, a base_url that is not a plain http(s) URL, a name listed twice, and (given `known`: what the
    database holds, as `config import` passes it) a route target or model on a provider that does not exist or
    with an effort that is not one."""
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
    report = _Report(node)
    loaded = None
    try:
        loaded = ConfigFile().load(data)
    except ValidationError as e:
        for path, message in _all_errors(e.messages):
            report.add(path, message)
    for i, entry in _entries(data, "providers"):
        if entry.get("base_url") is not None:
            for problem in base_url_problems(entry["base_url"]):
                report.add(("providers", i, "base_url"), problem)
    _duplicates(data, report)
    if known is not None:
        _rules(data, report, known, prune)
    problems = report.problems()
    if problems:
        raise ConfigFileError(problems)
    names = {p["name"] for p in loaded["providers"]}
    return loaded | {"_provider_names": names, "_sections": {s for s in SECTIONS if s in data},
                     "_lines": report.lines}


class Applied(dict):
    """The entries applied per section ({"providers": 2, ...}), and `changes`: (section, name, what) for each entry,
    what being created, updated, unchanged or removed."""

    def __init__(self):
        super().__init__(providers=0, models=0, routes=0)
        self.changes: list[tuple[str, str, str]] = []

    def note(self, section: str, name: str, what: str) -> None:
        self.changes.append((section, name, what))
        if what != "removed":
            self[section] += 1

    def tally(self, section: str) -> dict[str, int]:
        out = {"created": 0, "updated": 0, "unchanged": 0, "removed": 0}
        for s, _, what in self.changes:
            if s == section:
                out[what] += 1
        return out


def _status(session, row, new: bool, extra: bool = False) -> str:
    if new:
        return "created"
    return "updated" if extra or session.is_modified(row, include_collections=False) else "unchanged"


def apply(session, config: dict, box: SecretBox, prune: bool = False) -> Applied:
    """Upsert providers, models and routes by their names; idempotent. With `prune`, a section the file lists is
    made to match it: its other providers, models (never one of the bundled catalog's) and routes are removed
    (a model's price history stays, for the log rows it priced). The caller commits (or rolls back: a dry run)."""
    done = Applied()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    lines = config.get("_lines") or {}
    price_problems = []
    for p in config["providers"]:
        row = session.scalar(select(Provider).where(Provider.name == p["name"]))
        new = row is None
        row = row or Provider(name=p["name"])
        row.type = p["type"]
        row.base_url = p.get("base_url")
        row.api_key_env = p.get("api_key_env")
        if p.get("api_key"):
            try:
                current = box.decrypt(row.api_key_encrypted) if row.api_key_encrypted else None
            except UndecryptableSecret:
                current = None                  # stored under another key: this import stores it again
            if current != p["api_key"]:
                row.api_key_encrypted = box.encrypt(p["api_key"])
        elif p.get("api_key_env") is not None:
            row.api_key_encrypted = None
        row.enabled = p["enabled"]
        row.responses = p.get("responses")
        session.add(row)
        done.note("providers", p["name"], _status(session, row, new))
    for i, m in enumerate(config["models"]):
        slug = m["id"]
        row = session.scalar(select(ModelPrice).where(ModelPrice.slug == slug))
        new = row is None
        if row is None:
            row = ModelPrice(slug=slug)
        if row.price_version is None:
            row.price_version = 1
        session.flush()
        try:
            added = record_prices(session, row, m, m.get("prices") or [], now)
        except PriceError as e:
            where = lines.get(("models", i, "id"))
            price_problems.append(f"line {where}: models[{i}]: {e}" if where else f"models: {e}")
            continue
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
        done.note("models", slug, _status(session, row, new, extra=bool(added)))
    if price_problems:
        raise ConfigFileError(price_problems)
    for r in config["routes"]:
        row = session.scalar(select(Route).where(Route.alias == r["alias"]))
        new = row is None
        row = row or Route(alias=r["alias"])
        # read before anything is set: loading the targets autoflushes, and a flushed change is no change any more
        have = [(t.position, t.model, t.priority, t.weight, t.overrides) for t in row.targets]
        wanted = [(i, t["model"], t["priority"], t["weight"],
                   json.dumps(t["overrides"], sort_keys=True) if t["overrides"] else None)
                  for i, t in enumerate(r["targets"])]
        row.retries, row.timeout_ms, row.enabled = r["retries"], r["timeout_ms"], r["enabled"]
        row.description = r.get("description")
        row.drop_unsupported = r["drop_unsupported"]
        status = _status(session, row, new, extra=wanted != have)
        if wanted != have:
            row.targets.clear()
            session.flush()
            for pos, model, priority, weight, overrides in wanted:
                row.targets.append(RouteTarget(position=pos, model=model, priority=priority, weight=weight,
                                               overrides=overrides))
        session.add(row)
        done.note("routes", r["alias"], status)
    if prune:
        _prune(session, config, done)
    return done


def _prune(session, config: dict, done: Applied) -> None:
    sections = config.get("_sections") or set()
    if "providers" in sections:
        keep = {p["name"] for p in config["providers"]}
        for row in session.scalars(select(Provider).where(Provider.name.not_in(keep))).all():
            session.delete(row)
            done.note("providers", row.name, "removed")
    if "models" in sections:
        keep = {m["id"] for m in config["models"]} | set(catalog_models())
        for row in session.scalars(select(ModelPrice).where(ModelPrice.slug.not_in(keep))).all():
            session.delete(row)
            done.note("models", row.slug, "removed")
    if "routes" in sections:
        keep = {r["alias"] for r in config["routes"]}
        for row in session.scalars(select(Route).where(Route.alias.not_in(keep))).all():
            session.delete(row)
            done.note("routes", row.alias, "removed")


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
