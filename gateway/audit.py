"""Usage for reconciliation and audit, as the `flask usage ...` and `flask logs purge` commands run it: the rows of
a date range streamed as CSV or JSON lines (never loaded whole), every row's cost recomputed from its own tokens
and the price row that priced it, and old raw rows deleted in batches (the daily rollups are kept)."""
import csv
import io
import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Iterator

from sqlalchemy import delete, select

from gateway.prices import price_of
from gateway.pricing import cost_of
from gateway.values import Usage
from models import PriceRow, RequestLog

EXPORT_COLUMNS = ("created_at", "request_id", "client_request_id", "key_id", "team_id", "endpoint", "requested_model",
                  "provider", "upstream_model", "status", "error_code", "prompt_tokens", "completion_tokens",
                  "cached_tokens", "cache_write_tokens", "cache_write_1h_tokens", "reasoning_tokens",
                  "audio_input_tokens", "cost_usd", "price_id", "price_version", "stream")
BATCH = 1000
_COST = Decimal("0.00000001")          # the log column's precision


def _bounds(start: date, to: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time.min), datetime.combine(to + timedelta(days=1), time.min)


def _rows(session, start: date, to: date, key_id: int | None = None) -> Iterator[RequestLog]:
    """The range's rows in id order, a batch at a time (keyset: no OFFSET, no COUNT)."""
    lo, hi = _bounds(start, to)
    last = 0
    while True:
        q = select(RequestLog).where(RequestLog.created_at >= lo, RequestLog.created_at < hi, RequestLog.id > last)
        if key_id is not None:
            q = q.where(RequestLog.key_id == key_id)
        batch = session.scalars(q.order_by(RequestLog.id).limit(BATCH)).all()
        if not batch:
            return
        yield from batch
        last = batch[-1].id
        session.expunge_all()


def _value(row: RequestLog, column: str):
    v = getattr(row, column)
    if isinstance(v, datetime):
        return v.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(v, Decimal):
        return format(v.normalize(), "f")
    return v


def export(session, start: date, to: date, key_id: int | None, fmt: str) -> Iterator[str]:
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(EXPORT_COLUMNS)
        yield buf.getvalue()
        for row in _rows(session, start, to, key_id):
            buf.seek(0)
            buf.truncate()
            writer.writerow(["" if (v := _value(row, c)) is None else v for c in EXPORT_COLUMNS])
            yield buf.getvalue()
        return
    for row in _rows(session, start, to, key_id):
        yield json.dumps({c: _value(row, c) for c in EXPORT_COLUMNS}) + "\n"


def verify(session, start: date, to: date, key_id: int | None = None) -> tuple[int, list[str]]:
    """(rows checked, one line per mismatch): each priced row's cost recomputed from its tokens and its price row
    (at the row's time, for time windows), to the log column's precision."""
    prices: dict[int, object] = {}
    checked, bad = 0, []
    for row in _rows(session, start, to, key_id):
        if row.price_id is None or row.prompt_tokens is None:
            if row.cost_usd is not None and row.price_id is None and row.usage_known:
                bad.append(f"{row.request_id}: cost {row.cost_usd} but no price row to explain it")
            continue
        if row.price_id not in prices:
            found = session.get(PriceRow, row.price_id)
            prices[row.price_id] = price_of(found) if found is not None else None
        price = prices[row.price_id]
        checked += 1
        if price is None:
            bad.append(f"{row.request_id}: price row {row.price_id} is missing")
            continue
        usage = Usage(prompt_tokens=row.prompt_tokens, completion_tokens=row.completion_tokens or 0,
                      cached_tokens=row.cached_tokens or 0, cache_write_tokens=row.cache_write_tokens or 0,
                      reasoning_tokens=row.reasoning_tokens or 0, cache_write_1h_tokens=row.cache_write_1h_tokens or 0,
                      audio_input_tokens=row.audio_input_tokens or 0)
        expected = cost_of(usage, price, row.created_at.replace(tzinfo=timezone.utc).timestamp())
        got = None if row.cost_usd is None else Decimal(str(row.cost_usd)).quantize(_COST)
        want = None if expected is None else expected.quantize(_COST)
        if got != want:
            bad.append(f"{row.request_id}: logged {got}, its tokens at price row {row.price_id} cost {want}")
    return checked, bad


def purge(session_factory, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete raw rows older than `older_than`, BATCH at a time (each its own transaction, safe from cron); the
    daily rollups and spend counters stay."""
    cutoff = (now or datetime.now(timezone.utc).replace(tzinfo=None)) - older_than
    from models import RequestAttempt
    total = 0
    while True:
        with session_factory() as s, s.begin():
            ids = s.scalars(select(RequestLog.id).where(RequestLog.created_at < cutoff)
                            .order_by(RequestLog.id).limit(BATCH)).all()
            if not ids:
                return total
            request_ids = select(RequestLog.request_id).where(RequestLog.id.in_(ids))
            s.execute(delete(RequestAttempt).where(RequestAttempt.request_id.in_(request_ids)))
            s.execute(delete(RequestLog).where(RequestLog.id.in_(ids)))
            total += len(ids)
