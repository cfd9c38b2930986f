"""The limit counters on both stores (this process, and Redis when REDIS_URL is set): the strict rule for rates,
the soft rule for budgets, all-or-nothing reservations, settlement, starting values from the per-day counters, and
exactness under concurrent reservations."""
import os
import threading
import uuid
from datetime import date
from decimal import Decimal

import pytest

from gateway import exceptions as exc
from gateway.ledger import Charge, Ledger, MemoryCounters, RedisCounters, Seed, from_units, to_units
from models import SpendCounter


def _stores():
    out = [pytest.param("memory", id="memory")]
    out.append(pytest.param("redis", id="redis", marks=pytest.mark.skipif(
        not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (.ci/run starts a Redis); memory runs without")))
    return out


@pytest.fixture(params=_stores())
def ledger(request, services):
    if request.param == "memory":
        counters = MemoryCounters()
    else:
        import redis
        counters = RedisCounters(redis.Redis.from_url(os.environ["REDIS_URL"]), f"test-ledger:{uuid.uuid4().hex}:")
    return Ledger(counters, services.sessionmaker)


def rate(name, amount, limit) -> Charge:
    return Charge(name, amount, limit, True, 60, "this key's token limit per minute", False, 2e9)


def budget(name, amount, limit, seed=None) -> Charge:
    return Charge(name, amount, limit, False, 3600, "this key's daily budget", True, 2e9, seed)


def test_money_units_round_up_and_back():
    assert to_units(Decimal("0.000000011")) == 2 and to_units(None) == 0
    assert from_units(150) == Decimal("0.0000015")


def test_the_strict_rule_keeps_a_rate_within_its_limit(ledger):
    name = f"tpm:{uuid.uuid4().hex}"
    assert ledger.reserve([rate(name, 600, 1000)]) == [600]
    with pytest.raises(exc.RateLimited, match="token limit per minute is 1000; this request needs up to 500 and 600"):
        ledger.reserve([rate(name, 500, 1000)])
    assert ledger.reserve([rate(name, 400, 1000)]) == [1000]


def test_the_soft_rule_admits_below_the_budget_then_refuses(ledger):
    name = f"spend:{uuid.uuid4().hex}"
    assert ledger.reserve([budget(name, 700, 1000)]) == [700]
    assert ledger.reserve([budget(name, 700, 1000)]) == [1400]       # below the limit when admitted
    with pytest.raises(exc.QuotaExceeded, match=r"\$0.00001 is used up"):
        ledger.reserve([budget(name, 1, 1000)])


def test_a_reservation_is_all_or_nothing(ledger):
    a, b = f"tpm:{uuid.uuid4().hex}", f"tpm:{uuid.uuid4().hex}"
    ledger.reserve([rate(b, 90, 100)])
    with pytest.raises(exc.RateLimited):
        ledger.reserve([rate(a, 50, 100), rate(b, 50, 100)])
    assert ledger.reserve([rate(a, 100, 100)]) == [100]              # nothing of the refused one stayed on `a`


def test_settling_moves_each_counter_to_what_was_used(ledger):
    name = f"tpm:{uuid.uuid4().hex}"
    charge = rate(name, 800, 1000)
    ledger.reserve([charge])
    ledger.settle([charge], [17])
    ledger.counters.flush()                          # Redis gathers settlements for a moment; memory applies them
    assert ledger.reserve([rate(name, 983, 1000)]) == [1000]


def test_a_spend_counter_starts_from_the_days_already_spent(ledger, services):
    subject = f"key:{uuid.uuid4().int % 10**9}"
    with services.sessionmaker() as s, s.begin():
        s.add(SpendCounter(subject=subject, day=date(2026, 11, 30), spent_usd=Decimal("5"), requests=3))
        s.add(SpendCounter(subject=subject, day=date(2026, 12, 1), spent_usd=Decimal("0.25"), requests=2))
    seed = Seed(subject, date(2026, 12, 1), "spent_usd")
    name = f"spend:{subject}:2026-12-01"
    assert ledger.reserve([budget(name, 0, to_units(Decimal("1")), seed)]) == [to_units(Decimal("0.25"))]
    total = Seed(subject, None, "requests")
    assert ledger.reserve([budget(f"quota:{subject}:total", 1, 10, total)]) == [6]


def test_concurrent_reservations_never_pass_a_rate(ledger):
    name = f"rpm:{uuid.uuid4().hex}"
    admitted = []

    def go():
        try:
            ledger.reserve([rate(name, 1, 25)])
            admitted.append(1)
        except exc.RateLimited:
            pass
    threads = [threading.Thread(target=go) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 25


def test_memory_counters_forget_expired_windows(monkeypatch):
    counters = MemoryCounters()
    ledger = Ledger(counters, None)
    now = [1_000_000.0]
    monkeypatch.setattr("gateway.ledger.time.time", lambda: now[0])
    counters._swept = now[0]
    for minute in range(100):                        # a key's token counter of 100 past minutes
        ledger.reserve([Charge(f"tpm:key:1:{minute}", 1, 10, True, 120, "x", False, None)])
    assert len(counters) == 100
    now[0] += 3600
    ledger.reserve([Charge("tpm:key:1:now", 1, 10, True, 120, "x", False, None)])
    assert len(counters) == 1


def test_the_prompt_estimate_never_falls_below_what_providers_count():
    from gateway.admission import estimate_prompt_tokens
    # OpenAI counts 12 prompt tokens for one short user message (3 of framing, the role, the text, 3 of priming)
    for text in ("hi", "Hello", "x"):
        assert estimate_prompt_tokens({"model": "openai/gpt-4o-mini",
                                       "messages": [{"role": "user", "content": text}]}) >= 12
    long = "word " * 3000                               # ~3,000 tokens of English
    assert estimate_prompt_tokens({"messages": [{"role": "user", "content": long}]}) >= 3000
    inline = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {
        "url": "data:image/png;base64," + "A" * 400_000}}]}]}
    assert 1000 <= estimate_prompt_tokens(inline) < 1100      # a flat count, not the base64's length


def test_reservations_arriving_together_go_in_one_batch_each_all_or_nothing(ledger):
    """Many requests of one worker at once (the Redis store sends them as batches): the rate still admits exactly
    its limit, and a request refused inside a batch leaves nothing on the counters of its other charges."""
    rate_name, other = f"rpm:{uuid.uuid4().hex}", f"tpm:{uuid.uuid4().hex}"
    results = []
    barrier = threading.Barrier(60)

    def go():
        barrier.wait()
        try:
            ledger.reserve([rate(other, 1, 10**6), rate(rate_name, 1, 40)])
            results.append("ok")
        except exc.RateLimited:
            results.append("refused")
    threads = [threading.Thread(target=go) for _ in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 40 and results.count("refused") == 20
    assert ledger.reserve([rate(other, 0, 10**6)]) == [40]          # the refused ones left `other` alone
