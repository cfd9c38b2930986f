"""The request-log page's keyset pages and filters (gateway/admin/log_query.py) on a database of its own: walking
Older visits every row once, newest first, ties on the same second included; Newer walks back; filters read."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from gateway.admin.log_query import Cursor, LogFilter, export_rows, page
from models import ApiKey, RequestLog, Team
from models.base import Base

T0 = datetime(2026, 11, 1, 12, 0, 0)


@pytest.fixture
def sm(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'logs.db'}")
    Base.metadata.create_all(engine)
    maker = sessionmaker(engine)
    with maker() as s, s.begin():
        s.add(Team(id=3, name="ops"))
        s.add(ApiKey(id=5, name="k", key_hash="c" * 64, prefix="sk-sy-cccccc", team_id=3))
        for i in range(95):     # three rows a second: ties on created_at, ordered by id
            s.add(RequestLog(request_id=f"req_{i:04d}", key_id=5 if i % 2 else None, team_id=3 if i % 2 else None,
                             endpoint="chat.completions", requested_model="m/a" if i % 3 else "m/b",
                             provider="p", status=500 if i % 10 == 0 else 200,
                             error_code="provider_unavailable" if i % 10 == 0 else None, attempts=1,
                             fallback_used=i % 7 == 0, stream=i % 4 == 0, created_at=T0 + timedelta(seconds=i // 3)))
    return maker


def _walk(s, flt, size):
    seen, cursor = [], None
    while True:
        result = page(s, flt, cursor, size=size)
        seen.extend(r.request_id for r in result.rows)
        if result.older is None:
            return seen
        cursor = result.older


def test_older_visits_every_row_once_newest_first(sm):
    with sm() as s:
        for size in (1, 7, 25, 100):
            seen = _walk(s, LogFilter(), size)
            assert seen == [f"req_{i:04d}" for i in reversed(range(95))], size


def test_newer_walks_back_to_the_first_page(sm):
    with sm() as s:
        first = page(s, LogFilter(), size=10)
        assert first.newer is None
        second = page(s, LogFilter(), first.older, size=10)
        third = page(s, LogFilter(), second.older, size=10)
        back = page(s, LogFilter(), third.newer, newer=True, size=10)
        assert [r.id for r in back.rows] == [r.id for r in second.rows]
        again = page(s, LogFilter(), back.newer, newer=True, size=10)
        assert [r.id for r in again.rows] == [r.id for r in first.rows] and again.newer is None


@pytest.mark.parametrize("args, expected", [
    ({"key": "5"}, lambda i: i % 2 == 1),
    ({"key": "sk-sy-cccccc…"}, lambda i: i % 2 == 1),
    ({"team": "ops"}, lambda i: i % 2 == 1),
    ({"status": "5xx"}, lambda i: i % 10 == 0),
    ({"status": "200", "model": "m/b"}, lambda i: i % 10 and i % 3 == 0),
    ({"error": "provider_unavailable", "stream": "yes"}, lambda i: i % 10 == 0 and i % 4 == 0),
    ({"fallback": "yes"}, lambda i: i % 7 == 0),
    ({"fallback": "no", "stream": "no"}, lambda i: i % 7 and i % 4),
    ({"search": "req_008"}, lambda i: 80 <= i < 90),
    ({"from": "2026-11-01", "to": "2026-11-01"}, lambda i: True),
    ({"from": "2026-11-02"}, lambda i: False),
    ({"key": "999"}, lambda i: False),
])
def test_filters(sm, args, expected):
    flt = LogFilter.from_args(args)
    assert flt.errors == []
    with sm() as s:
        assert _walk(s, flt, 10) == [f"req_{i:04d}" for i in reversed(range(95)) if expected(i)]


@pytest.mark.parametrize("args, field", [({"from": "yesterday"}, "from"), ({"status": "teapot"}, "status"),
                                         ({"fallback": "maybe"}, "fallback"),
                                         ({"from": "2026-11-05", "to": "2026-11-01"}, "to")])
def test_a_bad_filter_names_its_field(args, field):
    assert [e.field for e in LogFilter.from_args(args).errors] == [field]


def test_export_is_every_match_oldest_first_in_batches(sm, monkeypatch):
    import gateway.admin.log_query as lq
    monkeypatch.setattr(lq, "EXPORT_BATCH", 4)
    rows = list(export_rows(sm, LogFilter.from_args({"status": "200"})))
    assert [r.request_id for r in rows] == [f"req_{i:04d}" for i in range(95) if i % 10]


def test_a_cursor_reads_back_and_nonsense_is_none():
    c = Cursor(T0, 42)
    assert Cursor.parse(c.text()) == c
    assert Cursor.parse("garbage") is None and Cursor.parse("2026-13-01T00:00:00~1") is None
