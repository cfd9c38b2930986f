"""The request-log page's queries, safe at millions of rows: filters on indexed columns only, keyset pagination
(never an OFFSET, never a COUNT(*)), and a CSV export streamed in keyset batches.

`LogFilter.from_args(args)` reads the page's query string (a bad value is a message naming the field, never an
error page); `page(session, flt, cursor, newer, size)` returns one page, newest first, and the cursors of the pages
either side; `export_rows(sessionmaker, flt)` yields every matching row of a date range in batches of 1,000, each
batch one index-range query in its own short session.

Each filter is an equality or a range on a (column, created_at) index of request_logs (models/request_log.py),
so a page is that index walked from the cursor, newest first, until the page is full. A key is named by its id or
prefix and a team by its id or name: looked up on their own indexes, never listed in full.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, or_, select, tuple_

from gateway.admin.base import starts_with
from models import ApiKey, RequestLog, Team

PAGE_SIZES = (25, 50, 100, 200)
MAX_EXPORT_DAYS = 92
EXPORT_BATCH = 1000
_STATUS_CLASSES = {"2xx": (200, 300), "4xx": (400, 500), "5xx": (500, 600)}


class FilterError(ValueError):
    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


@dataclass
class LogFilter:
    start: date | None = None
    end: date | None = None          # inclusive
    key: str = ""
    team: str = ""
    model: str = ""
    provider: str = ""
    status: str = ""
    error: str = ""
    fallback: str = ""               # "" | yes | no
    stream: str = ""                 # "" | yes | no
    search: str = ""                 # a request id, ours or the client's: exact or its beginning
    errors: list[FilterError] = field(default_factory=list)

    NAMES = ("from", "to", "key", "team", "model", "provider", "status", "error", "fallback", "stream", "search")

    @classmethod
    def from_args(cls, args) -> "LogFilter":
        f = cls()
        for name in ("key", "team", "model", "provider", "status", "error", "fallback", "stream", "search"):
            setattr(f, name, (args.get(name) or "").strip()[:200])
        f.start = f._day(args.get("from"), "from")
        f.end = f._day(args.get("to"), "to")
        if f.start and f.end and f.start > f.end:
            f.errors.append(FilterError("to", f"'to' ({f.end}) is before 'from' ({f.start})."))
        if f.status and f.status not in _STATUS_CLASSES and not (f.status.isdigit() and 100 <= int(f.status) < 600):
            f.errors.append(FilterError("status", f"Status is a code like 429 or a class 2xx, 4xx, 5xx; got "
                                                  f"{f.status!r}."))
        for name in ("fallback", "stream"):
            if getattr(f, name) not in ("", "yes", "no"):
                f.errors.append(FilterError(name, f"{name.capitalize()} is yes or no; got {getattr(f, name)!r}."))
        return f

    def _day(self, raw: str | None, name: str) -> date | None:
        raw = (raw or "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            self.errors.append(FilterError(name, f"'{name}' is a date, YYYY-MM-DD; got {raw!r}."))
            return None

    def args(self) -> dict[str, str]:
        """The filter as query-string arguments (what the page's links carry)."""
        out = {"from": self.start.isoformat() if self.start else "", "to": self.end.isoformat() if self.end else ""}
        for name in ("key", "team", "model", "provider", "status", "error", "fallback", "stream", "search"):
            out[name] = getattr(self, name)
        return {k: v for k, v in out.items() if v}

    def conditions(self, session) -> list | None:
        """The WHERE clauses, or None when the filter can match nothing (an unknown key or team)."""
        where = []
        if self.start:
            where.append(RequestLog.created_at >= datetime.combine(self.start, time.min))
        if self.end:
            where.append(RequestLog.created_at < datetime.combine(self.end + timedelta(days=1), time.min))
        if self.key:
            ids = _ids(session, ApiKey, ApiKey.prefix, self.key)
            if not ids:
                return None
            where.append(RequestLog.key_id.in_(ids))
        if self.team:
            ids = _ids(session, Team, Team.name, self.team)
            if not ids:
                return None
            where.append(RequestLog.team_id.in_(ids))
        if self.model:
            where.append(RequestLog.requested_model == self.model)
        if self.provider:
            where.append(RequestLog.provider == self.provider)
        if self.status in _STATUS_CLASSES:
            lo, hi = _STATUS_CLASSES[self.status]
            where.append(and_(RequestLog.status >= lo, RequestLog.status < hi))
        elif self.status:
            where.append(RequestLog.status == int(self.status))
        if self.error:
            where.append(RequestLog.error_code == self.error)
        if self.fallback:
            where.append(RequestLog.fallback_used.is_(self.fallback == "yes"))
        if self.stream:
            where.append(RequestLog.stream.is_(self.stream == "yes"))
        if self.search:
            where.append(or_(starts_with(RequestLog.request_id, self.search),     # exact or the id's beginning
                             starts_with(RequestLog.client_request_id, self.search)))
        return where


def _ids(session, model, name_column, value: str) -> list[int]:
    cond = name_column == value.rstrip("…")
    if value.isdigit():
        cond = or_(cond, model.id == int(value))
    return list(session.scalars(select(model.id).where(cond).limit(50)))


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    id: int

    def text(self) -> str:
        return f"{self.created_at.isoformat()}~{self.id}"

    @classmethod
    def parse(cls, raw: str | None) -> "Cursor | None":
        if not raw:
            return None
        stamp, sep, row_id = raw.partition("~")
        try:
            return cls(datetime.fromisoformat(stamp), int(row_id)) if sep else None
        except ValueError:
            return None


@dataclass
class Page:
    rows: list
    older: Cursor | None        # the next page back in time, if there is one
    newer: Cursor | None        # the page before this one (toward now), if this is not the newest


def page(session, flt: LogFilter, cursor: Cursor | None = None, newer: bool = False, size: int = 50) -> Page:
    """One page of rows, newest first. `cursor` with newer=False: the rows older than it (the "Older" link);
    newer=True: the rows just newer than it (the "Newer" link)."""
    where = flt.conditions(session)
    if where is None:
        return Page([], None, None)
    key = tuple_(RequestLog.created_at, RequestLog.id)
    q = select(RequestLog).where(*where)
    if cursor is not None and not newer:
        q = q.where(RequestLog.created_at <= cursor.created_at, key < (cursor.created_at, cursor.id))
    elif cursor is not None:
        q = q.where(RequestLog.created_at >= cursor.created_at, key > (cursor.created_at, cursor.id))
    if newer and cursor is not None:
        found = list(session.scalars(q.order_by(RequestLog.created_at, RequestLog.id).limit(size + 1)))
        more_newer = len(found) > size
        rows = list(reversed(found[:size]))
        return Page(rows, _cursor(rows[-1]) if rows else cursor,
                    _cursor(rows[0]) if rows and more_newer else None)
    found = list(session.scalars(q.order_by(RequestLog.created_at.desc(), RequestLog.id.desc()).limit(size + 1)))
    rows = found[:size]
    return Page(rows, _cursor(rows[-1]) if len(found) > size else None,
                _cursor(rows[0]) if rows and cursor is not None else None)


def _cursor(row) -> Cursor:
    return Cursor(row.created_at, row.id)


CSV_COLUMNS = ("created_at", "request_id", "client_request_id", "key_id", "team_id", "endpoint", "requested_model",
               "route", "provider", "upstream_model", "status", "error_code", "stream", "fallback_used", "attempts",
               "usage_known", "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens",
               "cache_write_tokens", "cost_usd", "price_id", "price_version", "upstream_latency_ms",
               "gateway_latency_ms")


def export_rows(sessionmaker, flt: LogFilter):
    """Every row the filter matches, oldest first, in keyset batches: each batch its own short session, so a long
    export holds no transaction open and no row set in memory."""
    last: Cursor | None = None
    columns = [getattr(RequestLog, c) for c in CSV_COLUMNS] + [RequestLog.id]
    while True:
        with sessionmaker() as s:
            where = flt.conditions(s)
            if where is None:
                return
            q = select(*columns).where(*where)
            if last is not None:
                q = q.where(RequestLog.created_at >= last.created_at,
                            tuple_(RequestLog.created_at, RequestLog.id) > (last.created_at, last.id))
            batch = s.execute(q.order_by(RequestLog.created_at, RequestLog.id).limit(EXPORT_BATCH)).all()
        if not batch:
            return
        yield from batch
        if len(batch) < EXPORT_BATCH:
            return
        last = Cursor(batch[-1].created_at, batch[-1].id)
