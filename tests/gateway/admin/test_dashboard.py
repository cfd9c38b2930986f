"""The dashboard's figures from the daily rollups (gateway/admin/dashboard.py) and its SVG charts
(gateway/admin/charts.py), on a database of their own with rollups put in by hand."""
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from gateway.admin import charts
from gateway.admin.dashboard import SERIES, dashboard
from gateway.cooldown import LocalBreaker
from models import ApiKey, Team, UsageRollup
from models.base import Base

TODAY = date(2026, 12, 1)


@pytest.fixture
def session(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'dash.db'}")
    Base.metadata.create_all(engine)
    with sessionmaker(engine)() as s:
        yield s


def _rollup(s, day, model="openai/gpt-4o-mini", provider="openai", key_id=1, team_id=0, requests=10, errors=0,
            cost="1", fallbacks=0, lat=None, ovh=None):
    row = UsageRollup(day=day, key_id=key_id, team_id=team_id, model=model, provider=provider, requests=requests,
                      errors=errors, prompt_tokens=requests * 10, completion_tokens=requests * 5, cached_tokens=0,
                      reasoning_tokens=0, cost_usd=Decimal(cost), unpriced=0, latency_ms_sum=0.0,
                      fallbacks=fallbacks, streams=0, overhead_ms_sum=0.0)
    for i in range(12):
        setattr(row, f"lat_b{i}", (lat or {}).get(i, 0))
    for i in range(11):
        setattr(row, f"ovh_b{i}", (ovh or {}).get(i, 0))
    s.add(row)


def test_windows_compare_with_the_period_before(session):
    _rollup(session, TODAY, requests=10, errors=2, cost="3")
    _rollup(session, TODAY - timedelta(days=1), requests=5, errors=1, cost="1")       # yesterday: before "Today"
    _rollup(session, TODAY - timedelta(days=8), requests=20, cost="2")                # the 7 days before the 7
    _rollup(session, TODAY - timedelta(days=45), requests=40, cost="10")              # the 30 days before the 30
    session.commit()
    board = dashboard(session, LocalBreaker(), TODAY)
    today, week, month = board.windows
    assert (today.now.requests, today.now.errors, today.now.spend, today.now.tokens) == (10, 2, Decimal(3), 150)
    assert today.before.requests == 5 and today.change("requests") == pytest.approx(1.0)
    assert week.now.requests == 15 and week.before.requests == 20 and week.change("spend") == pytest.approx(1.0)
    assert month.now.requests == 35 and month.before.requests == 40
    assert month.change("errors") is None or month.before.errors == 0


def test_series_keep_the_top_models_by_spend_and_fold_the_rest_into_other(session):
    names = [f"p/m{i}" for i in range(SERIES + 3)]
    for i, name in enumerate(names):
        _rollup(session, TODAY - timedelta(days=i % 3), model=name, provider=f"prov{i % 2}", key_id=i + 1,
                cost=str(100 - i))
    session.commit()
    board = dashboard(session, None, TODAY, days=7, split="model")
    assert list(board.spend_series)[:SERIES] == names[:SERIES] and "other" in board.spend_series
    other = sum(board.spend_series["other"].values())
    assert other == sum(Decimal(100 - i) for i in range(SERIES, len(names)))
    assert len(board.days) == 7 and board.days[-1] == TODAY
    by_provider = dashboard(session, None, TODAY, days=7, split="provider")
    assert set(by_provider.spend_series) == {"prov0", "prov1"}
    assert sum(board.requests.values()) == 10 * len(names)


def test_top_keys_and_teams_by_spend_with_their_names(session):
    session.add_all([Team(id=1, name="research"), Team(id=2, name="support")])
    session.add_all([ApiKey(id=1, name="alpha", key_hash="a" * 64, prefix="sk-sy-aaaaaa", team_id=1),
                     ApiKey(id=2, name="beta", key_hash="b" * 64, prefix="sk-sy-bbbbbb", team_id=2)])
    _rollup(session, TODAY, key_id=1, team_id=1, cost="5")
    _rollup(session, TODAY, key_id=2, team_id=2, cost="7", model="anthropic/claude")
    _rollup(session, TODAY, key_id=0, team_id=0, cost="100", model="x/unkeyed")     # refused before a key: no row
    session.commit()
    board = dashboard(session, None, TODAY)
    assert [k[0] for k in board.top_keys] == ["beta (sk-sy-bbbbbb…)", "alpha (sk-sy-aaaaaa…)"]
    assert [t[0] for t in board.top_teams] == ["support", "research"]
    assert board.top_models[0] == ("x/unkeyed", Decimal(100), 10)


def test_percentiles_fallback_rate_and_cooling(session):
    _rollup(session, TODAY, requests=100, fallbacks=4, lat={2: 50, 3: 45, 6: 5}, ovh={0: 90, 3: 10})
    session.commit()
    breaker = LocalBreaker(threshold=1, cooldown_s=60)
    breaker.failure("openai/gpt-4o")
    board = dashboard(session, breaker, TODAY)
    assert board.latency == {"p50": 100.0, "p95": 250.0}        # the upper bounds of the buckets
    assert board.overhead == {"p50": 0.5, "p95": 5.0}
    assert board.fallback_rate == pytest.approx(0.04)
    assert [label for label, _ in board.cooling] == ["openai/gpt-4o"] and 55 < board.cooling[0][1] <= 60
    assert breaker.check("openai/gpt-4o") is not None            # reading the cooling list took no probe


def test_no_traffic_is_no_data_not_zero_percent(session):
    board = dashboard(session, None, TODAY)
    assert board.fallback_rate is None and board.latency == {"p50": None, "p95": None}
    assert board.top_keys == [] and board.spend_series == {}
    assert "<svg" in charts.stacked_bars(board.days, board.spend_series, "empty", money=True)


def test_charts_stack_in_proportion_escape_names_and_label_small_money():
    days = [TODAY - timedelta(days=1), TODAY]
    svg = str(charts.stacked_bars(days, {"<b>a</b>": {TODAY: Decimal("0.0003")}, "b": {TODAY: Decimal("0.0001")}},
                                  "spend", money=True))
    assert "<b>" not in svg and "&lt;b&gt;a&lt;/b&gt;" in svg
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 2 and heights[0] == pytest.approx(3 * heights[1], rel=0.01)
    labels = re.findall(r'text-anchor="end"[^>]*>([^<]+)<', svg)
    assert labels[-1] == "$0.0004" and "$0.00" not in labels[1:]
    assert charts.money_text(Decimal("0.0000048")) == "$0.0000048" and charts.money_text(Decimal("1234.5")) == \
        "$1,234.50"
    ticks = re.findall(r'text-anchor="end"[^>]*>([^<]+)<',
                       str(charts.bars_with_overlay(days, {TODAY: 5}, {TODAY: 1}, "requests")))
    assert ticks == ["0", "2", "4", "6", "8"]
