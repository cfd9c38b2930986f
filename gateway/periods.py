"""Limit windows and budget periods in UTC, as pure functions of a time: which window a moment falls in (the
counter's name), when that window began (what a budget's spend is summed from) and when it resets.

  second, minute, hour   the calendar second, minute, hour (request and token rates)
  day     from 00:00 UTC                      week   from Monday 00:00 UTC (ISO weeks)
  month   from the 1st, 00:00 UTC (also the request quota's period)
  total   never resets
"""
from datetime import date, datetime, timedelta, timezone

PERIODS = ("day", "week", "month", "total")


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


_MEMO: dict[tuple[str, int], tuple] = {}
_STEP = {"second": 1, "minute": 60, "hour": 3600}


def window(period: str, ts: float) -> tuple[str, date | None, float | None]:
    """(the window's name, its first UTC day or None for total, when it resets as a Unix time or None).
    Every window starts on a whole second, so the answer is the same for a whole second (and memoised)."""
    key = (period, int(ts))
    hit = _MEMO.get(key)
    if hit is None:
        if len(_MEMO) > 64:
            _MEMO.clear()
        hit = _MEMO[key] = _window(period, int(ts))
    return hit


def _window(period: str, ts: float) -> tuple[str, date | None, float | None]:
    now = _utc(ts)
    if period in _STEP:
        step = _STEP[period]
        start = int(ts) - int(ts) % step
        return f"{period[0]}{start}", _utc(start).date(), float(start + step)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day.strftime("%Y-%m-%d"), day.date(), (day + timedelta(days=1)).timestamp()
    if period == "week":
        start = day - timedelta(days=day.weekday())
        iso = start.isocalendar()
        return f"{iso[0]}-W{iso[1]:02d}", start.date(), (start + timedelta(days=7)).timestamp()
    if period == "month":
        start = day.replace(day=1)
        nxt = (start + timedelta(days=32)).replace(day=1)
        return start.strftime("%Y-%m"), start.date(), nxt.timestamp()
    if period == "total":
        return "total", None, None
    raise ValueError(f"unknown period {period!r}; one of: minute, {', '.join(PERIODS)}")


def describe_reset(reset_at: float | None, now: float) -> str:
    if reset_at is None:
        return "it does not reset"
    return f"it resets at {_utc(reset_at).strftime('%Y-%m-%d %H:%M:%S')} UTC (in {duration(reset_at - now)})"


def duration(seconds: float) -> str:
    """A wait as OpenAI writes it in x-ratelimit-reset-*: `20ms`, `17s`, `6m0s`, `1h2m3s`."""
    if seconds < 1:
        return f"{max(0, int(seconds * 1000))}ms"
    total = int(seconds + 0.999)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m}m{s}s"
    return f"{m}m{s}s" if m else f"{s}s"
