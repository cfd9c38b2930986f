"""The price history as the config import and the admin panel change it, and as the catalog reads it.

`record_prices(session, model, flat, dated, now)`: the flat rates of a model entry are a dated row effective from
its `prices_as_of` date when it has one (so a later scheduled row is never undone by importing the file again);
without one (and for an admin edit) they become a new row effective now when they differ from the row in force; each dated entry becomes a row effective from its
date unless an identical one exists (importing a file twice changes nothing); a different price on a date that
already has one is refused (a price is never edited, it is followed by a new one). The model's own price columns
keep the price in force, for the lists that show it. `price_of(row)` turns a row into the Price value the
request path uses."""
import json
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import select

from gateway.values import Price, Tier, Window
from models import ModelPrice, PriceRow
from models.price_row import RATE_COLUMNS

_RATE_OF = dict(zip(RATE_COLUMNS, ("input", "output", "cached_input", "cache_write", "cache_write_1h", "reasoning",
                                   "audio_input")))


class PriceError(ValueError):
    """A price change that cannot be made; the message names the model and the date."""


def _dec(v) -> Decimal | None:
    return None if v is None else Decimal(str(v)).normalize()


def _rates(entry: dict) -> dict:
    return {c: _dec(entry.get(c)) for c in RATE_COLUMNS}


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def rules_json(entry: dict) -> str | None:
    """The tiers and windows of an entry as the row's `rules` (canonical JSON, so equal rules compare equal)."""
    def rates(e):
        return {c: str(_dec(e[c])) for c in RATE_COLUMNS if e.get(c) is not None}
    tiers = [{"above": t["above"], **rates(t)} for t in sorted(entry.get("tiers") or [], key=lambda t: t["above"])]
    windows = [{"days": sorted(w.get("days") or range(7)), "from": w["start"], "to": w["end"], **rates(w)}
               for w in entry.get("windows") or []]
    if not tiers and not windows:
        return None
    return json.dumps({"tiers": tiers, "windows": windows}, sort_keys=True)


def _same(row: PriceRow, rates: dict, rules: str | None) -> bool:
    return all(_dec(getattr(row, c)) == rates[c] for c in RATE_COLUMNS) and (row.rules or None) == rules


def _as_of(value) -> datetime | None:
    """A prices_as_of date (YYYY-MM-DD) as the start of that UTC day; None when absent or not a date."""
    try:
        return datetime.strptime(str(value), "%Y-%m-%d") if value else None
    except ValueError:
        return None


def _utc_naive(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc).replace(tzinfo=None) if dt.tzinfo else dt


def record_prices(session, model: ModelPrice, flat: dict | None, dated: list[dict], now: datetime) -> int:
    """Add the rows these prices need; returns how many were added."""
    rows = session.scalars(select(PriceRow).where(PriceRow.slug == model.slug)
                           .order_by(PriceRow.effective_from)).all()
    version = max((r.version for r in rows), default=0)
    added = 0

    def add(effective_from, rates, rules):
        nonlocal version, added
        version += 1
        added += 1
        row = PriceRow(slug=model.slug, effective_from=effective_from, version=version, rules=rules, **rates)
        session.add(row)
        rows.append(row)
        rows.sort(key=lambda r: r.effective_from)
    as_of = _as_of(flat.get("prices_as_of")) if flat is not None else None
    if flat is not None and as_of is not None and any(flat.get(c) is not None for c in RATE_COLUMNS):
        dated = [*dated, {**flat, "effective_from": as_of}]
        flat = None
    for entry in sorted(dated, key=lambda e: _utc_naive(e["effective_from"])):   # versions follow time
        when = _utc_naive(entry["effective_from"])
        rates, rules = _rates(entry), rules_json(entry)
        same_time = [r for r in rows if r.effective_from == when]
        if same_time:
            if not _same(same_time[0], rates, rules):
                raise PriceError(f"{model.slug}: a different price effective from {when:%Y-%m-%d %H:%M} exists; "
                                 f"a price is never edited: give the new one a later effective_from (or prices_as_of).")
            continue
        add(when, rates, rules)
    if flat is not None and any(flat.get(c) is not None for c in RATE_COLUMNS):
        rates, rules = _rates(flat), rules_json(flat)
        current = [r for r in rows if r.effective_from <= now]
        if not current or not _same(current[-1], rates, rules):
            add(now, rates, rules)
    in_force = [r for r in rows if r.effective_from <= now]
    if in_force:
        latest = in_force[-1]
        for c in ModelPrice.PRICE_FIELDS:
            if _dec(getattr(model, c)) != _dec(getattr(latest, c)):     # touched only when it changed
                setattr(model, c, getattr(latest, c))
        if model.price_version != latest.version:
            model.price_version = latest.version
    return added


def price_of(row: PriceRow) -> Price:
    rates = {_RATE_OF[c]: _dec(getattr(row, c)) for c in RATE_COLUMNS}
    rules = json.loads(row.rules) if row.rules else {}

    def part(e):
        return {_RATE_OF[c]: Decimal(e[c]) for c in RATE_COLUMNS if c in e}
    tiers = tuple(Tier(t["above"], part(t)) for t in rules.get("tiers", ()))
    windows = tuple(Window(tuple(w["days"]), _minutes(w["from"]), _minutes(w["to"]), part(w))
                    for w in rules.get("windows", ()))
    effective = row.effective_from.replace(tzinfo=timezone.utc).timestamp()
    return Price(version=row.version, id=row.id, effective_from=effective, tiers=tiers, windows=windows, **rates)


def history(session, slugs) -> dict[str, tuple[Price, ...]]:
    """slug -> its prices, oldest first."""
    out: dict[str, list[Price]] = {}
    for row in session.scalars(select(PriceRow).order_by(PriceRow.slug, PriceRow.effective_from)):
        out.setdefault(row.slug, []).append(price_of(row))
    return {slug: tuple(prices) for slug, prices in out.items() if slug in slugs}
