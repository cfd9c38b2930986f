"""UTC windows and budget periods: names, first days and resets at the edges (month and year ends, Mondays)."""
from datetime import date, datetime, timezone

import pytest

from gateway.periods import duration, window


def ts(*args) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("period, at, name, first, resets", [
    ("minute", ts(2026, 12, 31, 23, 59, 30), f"m{int(ts(2026, 12, 31, 23, 59))}", date(2026, 12, 31), ts(2027, 1, 1)),
    ("second", ts(2026, 12, 1, 8, 0, 5) + 0.7, f"s{int(ts(2026, 12, 1, 8, 0, 5))}", date(2026, 12, 1),
     ts(2026, 12, 1, 8, 0, 6)),
    ("hour", ts(2026, 12, 1, 8, 59, 59), f"h{int(ts(2026, 12, 1, 8))}", date(2026, 12, 1), ts(2026, 12, 1, 9)),
    ("day", ts(2026, 12, 1, 0, 0, 0), "2026-12-01", date(2026, 12, 1), ts(2026, 12, 2)),
    ("week", ts(2026, 12, 6, 23, 0), "2026-W49", date(2026, 11, 30), ts(2026, 12, 7)),      # a Sunday
    ("week", ts(2026, 12, 7, 0, 0), "2026-W50", date(2026, 12, 7), ts(2026, 12, 14)),       # the Monday after
    ("month", ts(2026, 12, 31, 23, 59), "2026-12", date(2026, 12, 1), ts(2027, 1, 1)),
    ("month", ts(2028, 2, 29, 12), "2028-02", date(2028, 2, 1), ts(2028, 3, 1)),
])
def test_windows(period, at, name, first, resets):
    assert window(period, at) == (name, first, resets)


def test_total_never_resets_and_unknown_periods_are_refused():
    assert window("total", ts(2026, 1, 1)) == ("total", None, None)
    with pytest.raises(ValueError, match="unknown period"):
        window("fortnight", 0)


@pytest.mark.parametrize("seconds, text", [(0.02, "20ms"), (1, "1s"), (59.2, "1m0s"), (360, "6m0s"),
                                           (3723, "1h2m3s")])
def test_durations_are_written_as_openai_writes_them(seconds, text):
    assert duration(seconds) == text
