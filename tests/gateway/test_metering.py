"""Cost from usage and a price snapshot: Decimal, cache reads and writes priced apart, unknown stays unknown."""
from decimal import Decimal

from gateway.pricing import cost_of, format_cost
from gateway.values import Price, Usage

PRICE = Price(version=3, input=Decimal("3"), output=Decimal("15"), cached_input=Decimal("0.30"),
              cache_write=Decimal("3.75"))


def test_cost_prices_fresh_cached_and_written_input_apart():
    usage = Usage(prompt_tokens=6244, completion_tokens=90, cached_tokens=4096, cache_write_tokens=2048)
    expected = (Decimal(100) * 3 + Decimal(4096) * Decimal("0.30") + Decimal(2048) * Decimal("3.75")
                + Decimal(90) * 15) / 10**6
    assert cost_of(usage, PRICE) == expected
    assert format_cost(expected) == "0.010559"


def test_missing_cache_prices_fall_back_to_the_input_price():
    price = Price(version=1, input=Decimal("1"), output=Decimal("2"))
    assert cost_of(Usage(prompt_tokens=10, completion_tokens=5, cached_tokens=4), price) == Decimal(20) / 10**6


def test_unknown_usage_or_price_is_none_never_zero():
    assert cost_of(None, PRICE) is None
    assert cost_of(Usage(prompt_tokens=1), None) is None
    assert cost_of(Usage(prompt_tokens=1), Price(version=1, input=None, output=Decimal(1))) is None
    assert cost_of(Usage(), PRICE) == 0                 # known zero usage is a real zero


def test_usage_as_openai_keeps_inclusion_rules():
    u = Usage(prompt_tokens=100, completion_tokens=40, cached_tokens=30, reasoning_tokens=25)
    body = u.as_openai()
    assert body["total_tokens"] == 140
    assert body["prompt_tokens_details"]["cached_tokens"] == 30
    assert body["completion_tokens_details"]["reasoning_tokens"] == 25


def test_log_rows_that_cannot_be_inserted_are_spilled_not_lost(tmp_path, monkeypatch):
    import json

    from sqlalchemy import create_engine

    import gateway.log_writer as metering
    from gateway.log_writer import LogWriter
    monkeypatch.setattr(metering, "native_sleep", lambda s: None)        # no waiting between the retries
    engine = create_engine(f"sqlite:///{tmp_path / 'no-tables.db'}")    # no schema: every insert fails
    writer = LogWriter(engine, str(tmp_path), flush_interval_s=60)
    from datetime import datetime
    row = {"request_id": "req_spill", "endpoint": "chat.completions", "status": 200, "attempts": 1,
           "created_at": datetime(2026, 11, 1, 12, 0, 0),
           "fallback_used": False, "usage_known": True, "stream": False, "cost_usd": Decimal("0.5"),
           "attempt_rows": [{"request_id": "req_spill", "position": 0, "target": "openai/x", "status": 200}]}
    writer._q.put(row)                                                  # queued without starting the thread
    assert writer.flush() == 1 and writer.pending == 0
    spilled = [json.loads(line) for line in (tmp_path / "unwritten-logs.jsonl").read_text().splitlines()]
    assert spilled[0]["request_id"] == "req_spill" and spilled[0]["cost_usd"] == "0.5"
    assert spilled[0]["attempt_rows"][0]["target"] == "openai/x"
    # the database is back: the CLI's replay inserts them with their own time and cost
    from sqlalchemy import select

    from gateway import db
    from gateway.db import make_sessionmaker
    from models import RequestAttempt, RequestLog
    url = f"sqlite:///{tmp_path / 'no-tables.db'}"
    db.upgrade(url)
    assert LogWriter(create_engine(url), str(tmp_path)).replay_spill() == 1
    with make_sessionmaker(create_engine(url))() as s:
        log = s.scalar(select(RequestLog))
        attempt = s.scalar(select(RequestAttempt))
    assert (log.request_id, log.cost_usd, attempt.target) == ("req_spill", Decimal("0.5"), "openai/x")
    assert not (tmp_path / "unwritten-logs.jsonl").exists()
    assert log.created_at == datetime(2026, 11, 1, 12, 0, 0)


def test_spilled_rows_go_back_by_themselves_once_the_database_takes_rows_again_into_the_rollups_too(tmp_path,
                                                                                                    monkeypatch):
    from datetime import datetime

    from sqlalchemy import create_engine, func, select

    import gateway.log_writer as metering
    from gateway import db
    from gateway.log_writer import LogWriter
    from models import RequestLog, UsageRollup
    monkeypatch.setattr(metering, "native_sleep", lambda s: None)
    url = f"sqlite:///{tmp_path / 'later.db'}"
    writer = LogWriter(create_engine(url), str(tmp_path), flush_interval_s=60)
    replayed = []
    writer.on_replayed = replayed.append
    for i in range(3):
        writer._q.put({"request_id": f"req_back_{i}", "endpoint": "chat.completions", "status": 200, "attempts": 1,
                       "key_id": 9, "requested_model": "openai/x", "provider": "openai",
                       "created_at": datetime(2026, 11, 1, 12, 0, i), "fallback_used": False, "usage_known": True,
                       "stream": False, "cost_usd": Decimal("0.25"), "prompt_tokens": 10, "completion_tokens": 2,
                       "quota_counted": True})
    writer.flush()                                                      # no schema yet: all three spilled
    writer.after_flush()
    assert replayed == [] or replayed == [0]
    db.upgrade(url)                                                     # the database is back
    writer._last_replay = 0.0
    writer.after_flush()                                                # the writer's next beat
    assert replayed == [3]
    writer._last_replay = 0.0
    writer.after_flush()                                                # nothing twice
    assert replayed == [3]
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(RequestLog)) == 3
        rolled = conn.execute(select(UsageRollup.requests, UsageRollup.cost_usd)).one()
    assert rolled[0] == 3 and Decimal(str(rolled[1])) == Decimal("0.75")


def test_a_replay_writes_each_row_once_and_takes_over_what_a_dead_worker_left(tmp_path, monkeypatch):
    import json
    from datetime import datetime

    from sqlalchemy import create_engine, func, select

    import gateway.log_writer as metering
    from gateway import db
    from gateway.log_writer import LogWriter
    from models import RequestLog
    monkeypatch.setattr(metering, "native_sleep", lambda s: None)
    url = f"sqlite:///{tmp_path / 'once.db'}"
    db.upgrade(url)
    writer = LogWriter(create_engine(url), str(tmp_path), flush_interval_s=60)

    def row(i):
        return {"request_id": f"req_once_{i}", "endpoint": "chat.completions", "status": 200, "attempts": 1,
                "created_at": datetime(2026, 11, 1, 12, 0, i).isoformat(), "fallback_used": False,
                "usage_known": False, "stream": False}
    writer._q.put({**row(0), "created_at": datetime(2026, 11, 1, 12, 0, 0)})
    writer.flush()                                        # req_once_0 is in the table already
    spill = tmp_path / "unwritten-logs.jsonl"
    spill.write_text(json.dumps(row(0)) + "\n" + json.dumps(row(1)) + "\n")   # committed, yet spilled too
    (tmp_path / "unwritten-logs.jsonl.replaying.999999999.ab").write_text(json.dumps(row(2)) + "\n")  # dead worker
    assert writer.replay_spill() == 2
    with create_engine(url).connect() as conn:
        ids = sorted(conn.scalars(select(RequestLog.request_id)))
        assert conn.scalar(select(func.count()).select_from(RequestLog)) == 3
    assert ids == ["req_once_0", "req_once_1", "req_once_2"]
    assert not list(tmp_path.glob("unwritten-logs.jsonl*"))
