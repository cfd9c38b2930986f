"""`flask usage export`, `usage verify` and `logs purge` on real rows: the export streams every row of the range, verify
passes on the gateway's own costs and fails (exit 1) once a row's cost is tampered with, purge deletes old raw rows
in batches and keeps the rollups."""
import csv
import io
import json
from datetime import datetime, timedelta, timezone

import requests
from sqlalchemy import func, select, update

from gateway import audit
from gateway.keys import create_key
from models import RequestLog, UsageRollup

HELLO = [{"role": "user", "content": "Hello"}]


def _spend(live, services, n=3) -> tuple[int, list[str]]:
    row, secret = create_key(services.sessionmaker, "audited")
    ids = []
    for model in ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"][:n]:
        r = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {secret}"},
                          json={"model": model, "messages": HELLO}, timeout=10)
        assert r.status_code == 200
        ids.append(r.headers["x-request-id"])
    services.log_writer.flush()
    return row.id, ids


def test_export_streams_the_rows_of_a_key_as_csv_and_jsonl(app, live, services):
    key_id, ids = _spend(live, services)
    today = datetime.now(timezone.utc).date()
    out = app.test_cli_runner().invoke(args=["usage", "export", "--from", str(today), "--to", str(today),
                                             "--key", str(key_id)])
    assert out.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert sorted(r["request_id"] for r in rows) == sorted(ids) and all(r["price_id"] for r in rows)
    out = app.test_cli_runner().invoke(args=["usage", "export", "--from", str(today), "--to", str(today),
                                             "--key", str(key_id), "--format", "jsonl"])
    lines = [json.loads(x) for x in out.output.splitlines()]
    assert len(lines) == 3 and all(isinstance(x["cost_usd"], str) for x in lines)


def test_verify_passes_then_fails_on_a_tampered_cost(app, live, services):
    key_id, ids = _spend(live, services)
    today = datetime.now(timezone.utc).date()
    args = ["usage", "verify", "--from", str(today), "--to", str(today), "--key", str(key_id)]
    ok = app.test_cli_runner().invoke(args=args)
    assert ok.exit_code == 0 and "3 priced rows checked" in ok.output and " 0 mismatches" in ok.output
    with services.sessionmaker() as s, s.begin():
        s.execute(update(RequestLog).where(RequestLog.request_id == ids[1]).values(cost_usd=RequestLog.cost_usd + 1))
    bad = app.test_cli_runner().invoke(args=args)
    assert bad.exit_code == 1 and ids[1] in bad.output and "1 mismatches" in bad.output


def test_purge_deletes_old_rows_in_batches_and_keeps_the_rollups(live, services, monkeypatch):
    key_id, ids = _spend(live, services, n=2)
    with services.sessionmaker() as s, s.begin():
        s.execute(update(RequestLog).where(RequestLog.request_id.in_(ids))
                  .values(created_at=datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=100)))
        rolled = s.scalar(select(func.sum(UsageRollup.requests)).where(UsageRollup.key_id == key_id))
    monkeypatch.setattr(audit, "BATCH", 1)
    assert audit.purge(services.sessionmaker, timedelta(days=90)) >= 2
    with services.sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(RequestLog).where(RequestLog.request_id.in_(ids))) == 0
        assert s.scalar(select(func.sum(UsageRollup.requests)).where(UsageRollup.key_id == key_id)) == rolled == 2


def test_bad_arguments_are_one_line(app):
    out = app.test_cli_runner().invoke(args=["usage", "verify", "--from", "2026-12-02", "--to", "2026-12-01"])
    assert out.exit_code == 2 and "is after --to" in out.output
    out = app.test_cli_runner().invoke(args=["logs", "purge", "--older-than", "soon"])
    assert out.exit_code == 2 and "90d, 12h or 30m" in out.output
