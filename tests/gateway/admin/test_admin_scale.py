"""The admin panel at a million log rows: 1,000,000 request_logs rows over 90 days, their daily rollups and 100,000
keys, bulk-inserted by the database itself (INSERT ... SELECT over a generated series) into a database of its own.
Then the pages an admin opens: the dashboard, the logs (first page, filtered pages, a page 80 days back, a date
range), the keys and teams lists, a key search, a day's CSV export. Each page must stay within its stated number
of SQL statements, whatever the table sizes: no COUNT(*) over the log, no OFFSET walk, no list of every key.

The times are printed (run with -s to see them) and written to $SWITCHYARD_SCALE_REPORT when it is set; they are
reported, never asserted (timing thresholds have no place in tests). SWITCHYARD_SCALE_ROWS shrinks the fill for a
quick local run; CI runs the full million."""
import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url

from app import create_app
from models import RequestLog
from tests.gateway.admin.conftest import ADMIN_PASSWORD, ADMIN_USER, AdminClient
from tests.support.server import reset_database

ROWS = int(os.environ.get("SWITCHYARD_SCALE_ROWS", "1000000"))
KEYS = 100_000
TEAMS = 20
DAYS = 90
MODELS = ("openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash",
          "openai/o3-pro", "xai/grok-4", "mistral/mistral-large", "deepseek/deepseek-chat")

# The most SQL statements each page may run (the session's admin check, the page's own queries, the labels of the
# rows shown). None of them grows with the table.
BOUNDS = {"dashboard": 12, "logs first page": 6, "logs by key and status class": 7, "logs by error and model": 6,
          "logs 80 days back": 6, "logs one day": 6, "keys": 8, "keys by prefix": 8, "teams": 7,
          "csv export of one day": 3 + -(-ROWS // DAYS // 1000)}    # the admin check, then batches of 1,000


def _big_url(tmp_path_factory) -> str:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base or base.startswith("sqlite"):
        return f"sqlite:///{tmp_path_factory.mktemp('scale') / 'big.db'}"
    url = make_url(base)
    name = f"{url.database}_scale"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


_MODEL_CASE = "CASE {i} % 8 " + " ".join(f"WHEN {n} THEN '{m}'" for n, m in enumerate(MODELS)) + " END"
_PROVIDER_OF = "substr({model}, 1, instr({model}, '/') - 1)"


def _fill(engine, now: datetime) -> None:
    """The rows, oldest first: row i at start + i * step; key 1 + i % 500, its team; a model per i % 8; 2% errors
    (500 provider_unavailable, 429 rate_limited), 1 in 37 a fallback, a third streams."""
    start = now - timedelta(days=DAYS)
    step = DAYS * 86400 / ROWS
    pg = engine.dialect.name == "postgresql"
    model = _MODEL_CASE.format(i="i")
    provider = (f"split_part({model}, '/', 1)" if pg else _PROVIDER_OF.format(model=model))
    series = ("FROM generate_series(0, :rows - 1) AS i" if pg else
              "FROM (WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :rows - 1) "
              "SELECT i FROM n)")
    created = ("(CAST(:start AS timestamp) + i * (:step * interval '1 second'))" if pg else
               "datetime(:start, '+' || CAST(i * :step AS INTEGER) || ' seconds')")
    rid = "'req_' || lpad(CAST(i AS text), 12, '0')" if pg else "'req_' || printf('%012d', i)"
    status = "CASE WHEN i % 50 = 0 THEN 500 WHEN i % 50 = 1 THEN 429 ELSE 200 END"
    true, false = ("true", "false") if pg else ("1", "0")
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO teams (name, budget_period, created_at, updated_at) "
                          f"SELECT 'team-' || i, 'month', :start, :start "
                          f"{series.replace(':rows', str(TEAMS))}"), {"start": start})
        key_hash = "lpad(CAST(i AS text), 64, '0')" if pg else "printf('%064d', i)"
        prefix = "'sk-sy-' || lpad(CAST(i AS text), 6, '0')" if pg else "'sk-sy-' || printf('%06d', i)"
        conn.execute(text(f"INSERT INTO api_keys (name, key_hash, prefix, enabled, team_id, budget_usd, budget_period,"
                          f" admin_scope, created_at, updated_at) "
                          f"SELECT 'key-' || i, {key_hash}, {prefix}, {true}, 1 + i % {TEAMS}, 100, 'month', {false},"
                          f" :start, :start {series.replace(':rows', str(KEYS))}"), {"start": start})
        conn.execute(text(
            f"INSERT INTO request_logs (request_id, key_id, team_id, endpoint, requested_model, provider, "
            f"upstream_model, attempts, fallback_used, status, error_code, prompt_tokens, completion_tokens, "
            f"usage_known, cost_usd, price_version, gateway_latency_ms, upstream_latency_ms, stream, created_at) "
            f"SELECT {rid}, 1 + i % 500, 1 + i % {TEAMS}, 'chat.completions', {model}, {provider}, {model}, "
            f"CASE WHEN i % 37 = 0 THEN 2 ELSE 1 END, CASE WHEN i % 37 = 0 THEN {true} ELSE {false} END, {status}, "
            f"CASE WHEN i % 50 = 0 THEN 'provider_unavailable' WHEN i % 50 = 1 THEN 'rate_limited' END, "
            f"100 + i % 900, 20 + i % 300, {true}, (100 + i % 900) * 0.00000015 + (20 + i % 300) * 0.0000006, 1, "
            f"1.5 + (i % 7) * 0.25, 200 + i % 1800, CASE WHEN i % 3 = 0 THEN {true} ELSE {false} END, {created} "
            f"{series}"), {"rows": ROWS, "start": start, "step": step})
        day = "CAST(created_at AS date)" if pg else "date(created_at)"
        err = "CASE WHEN status >= 400 THEN 1 ELSE 0 END"
        flag = (lambda c: f"CASE WHEN {c} THEN 1 ELSE 0 END")
        conn.execute(text(
            f"INSERT INTO usage_rollups (day, key_id, team_id, model, provider, requests, errors, prompt_tokens, "
            f"completion_tokens, cached_tokens, reasoning_tokens, cost_usd, unpriced, latency_ms_sum, fallbacks, "
            f"streams, overhead_ms_sum, {', '.join(f'lat_b{i}' for i in range(12))}, "
            f"{', '.join(f'ovh_b{i}' for i in range(11))}) "
            f"SELECT d, key_id, team_id, requested_model, provider, count(*), sum(e), sum(prompt_tokens), "
            f"sum(completion_tokens), 0, 0, sum(cost_usd), 0, sum(lat), sum(fb), sum(st), sum(gateway_latency_ms), "
            f"0, 0, 0, 0, count(*), {', '.join(['0'] * 7)}, 0, 0, count(*), {', '.join(['0'] * 8)} "
            f"FROM (SELECT {day} AS d, key_id, team_id, requested_model, provider, {err} AS e, prompt_tokens, "
            f"completion_tokens, cost_usd, gateway_latency_ms + upstream_latency_ms AS lat, {flag('fallback_used')} "
            f"AS fb, {flag('stream')} AS st, gateway_latency_ms FROM request_logs) AS r "
            f"GROUP BY d, key_id, team_id, requested_model, provider"))
    if pg:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


@pytest.fixture(scope="module")
def big(tmp_path_factory, cheap_password_hashes):
    url = _big_url(tmp_path_factory)
    reset_database(url)
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    engine = create_engine(url)
    t0 = time.perf_counter()
    _fill(engine, now)
    fill_s = time.perf_counter() - t0
    engine.dispose()
    app = create_app({"DATABASE_URL": url, "TESTING": True, "INSTANCE_DIR": str(tmp_path_factory.mktemp("inst")),
                      "CATALOG_REFRESH_S": 0, "SECRET_KEY": None,
                      "REDIS_PREFIX": f"switchyard-test:{uuid.uuid4().hex}:"})
    result = app.test_cli_runner().invoke(args=["admin", "create-user", "--username", ADMIN_USER],
                                          input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    client = AdminClient(app)
    assert client.login().status_code == 302
    svc = app.extensions["switchyard"]
    yield {"app": app, "admin": client, "engine": svc.engine, "now": now, "fill_s": fill_s,
           "dialect": svc.engine.dialect.name}
    svc.shutdown()


def _measure(big, path):
    statements = []

    def count(conn, cursor, statement, params, *args):
        statements.append(statement)
        if statement.rstrip().upper().endswith("OFFSET ?") and params and params[-1]:
            offsets.append(params[-1])              # SQLite renders OFFSET 0 with every LIMIT: only a real one
        elif "OFFSET %(" in statement:
            offsets.append(statement)
    offsets = []
    event.listen(big["engine"], "before_cursor_execute", count)
    try:
        t0 = time.perf_counter()
        resp = big["admin"].get(path)
        body = resp.get_data()              # a streamed answer runs its queries while it is read
        ms = (time.perf_counter() - t0) * 1000
    finally:
        event.remove(big["engine"], "before_cursor_execute", count)
    assert resp.status_code == 200, (path, resp.status_code, body[:500])
    assert offsets == [], (path, offsets)          # no page walks the table with an OFFSET
    return resp, body.decode(), statements, ms


def test_the_pages_stay_within_their_query_bounds_at_a_million_rows(big):
    with big["engine"].connect() as conn:
        assert conn.scalar(select(func.count()).select_from(RequestLog)) == ROWS
    now = big["now"]
    with big["engine"].connect() as conn:
        back = conn.execute(select(RequestLog.created_at, RequestLog.id).where(
            RequestLog.created_at <= now - timedelta(days=80)).order_by(RequestLog.created_at.desc(),
                                                                        RequestLog.id.desc()).limit(1)).one()
    one_day = (now - timedelta(days=45)).date().isoformat()
    pages = {
        "dashboard": "/admin/?days=90",
        "logs first page": "/admin/logs/",
        "logs by key and status class": "/admin/logs/?key=51&status=5xx",
        "logs by error and model": "/admin/logs/?error=rate_limited&model=openai/gpt-4o",
        "logs 80 days back": f"/admin/logs/?before={back.created_at.isoformat()}~{back.id}",
        "logs one day": f"/admin/logs/?from={one_day}&to={one_day}&stream=yes",
        "keys": "/admin/keys/",
        "keys by prefix": "/admin/keys/?search=sk-sy-0123",
        "teams": "/admin/teams/",
        "csv export of one day": f"/admin/logs/export.csv?from={one_day}&to={one_day}",
    }
    report = {"dialect": big["dialect"], "rows": ROWS, "keys": KEYS, "fill_s": round(big["fill_s"], 1), "pages": {}}
    for name, path in pages.items():
        resp, body, statements, ms = _measure(big, path)
        assert not any("count(" in st.lower() and "request_logs" in st.lower() for st in statements), name
        assert len(statements) <= BOUNDS[name], (name, len(statements), statements)
        report["pages"][name] = {"statements": len(statements), "bound": BOUNDS[name], "ms": round(ms, 1)}
        if name == "dashboard":
            assert "<svg" in body and "Top keys by spend" in body and "key-" in body
        elif name.startswith("logs"):
            assert body.count('href="/admin/logs/details/?id=') >= 2 * 20, name
        elif name == "csv export of one day":
            lines = body.strip().splitlines()
            assert len(lines) - 1 == pytest.approx(ROWS / DAYS, rel=0.05)
    # the pages cover what they say: the deep page is 80 days back, the key filter shows only that key's rows
    _, deep, _, _ = _measure(big, pages["logs 80 days back"])
    assert (back.created_at - timedelta(seconds=1)).strftime("%Y-%m-%d") in deep
    print("\nadmin pages at scale:", json.dumps(report, indent=2))
    if os.environ.get("SWITCHYARD_SCALE_REPORT"):
        with open(os.environ["SWITCHYARD_SCALE_REPORT"], "a") as f:
            f.write(json.dumps(report) + "\n")


def test_count_over_the_log_is_never_needed_for_the_pager(big):
    """The log page says whether older rows exist without counting them: the next page's cursor."""
    _, body, statements, _ = _measure(big, "/admin/logs/?per_page=25")
    assert 'id="older"' in body and "more are older" in body
    assert not any("count(" in s.lower() and "request_logs" in s.lower() for s in statements)
