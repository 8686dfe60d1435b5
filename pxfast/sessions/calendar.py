"""When a CME product trades: sessions, the daily break, weekends and holidays, as polars masks.

One rule serves every product in ``DEFAULT_SESSIONS``: a bar is in ETH when
its New York wall-clock time is in the overnight window (``eth_start`` to
``eth_end``, wrapping midnight) or in the RTH window, and its *trading date*
is an open exchange day.  The trading date is the next calendar day from
``eth_start`` on (CME's Sunday 18:00 ET open is Monday's session), so
Friday evening, Saturday and Sunday before the open fall on a weekend date
and are closed, and the daily maintenance break is simply the time outside
both windows (17:00-18:00 ET for equity index, 16:00-17:00 ET for FX, the
morning and afternoon gaps of grains).  RTH is ``rth_start`` inclusive to
``rth_end`` exclusive: bars are stamped with their open, so a bar stamped
16:00 ET trades after the equity close.

Holidays: CME Globex closes fully on New Year's Day, Good Friday and
Christmas Day (a Sunday holiday is observed on Monday; a Saturday
Christmas on the Friday before, a Saturday New Year's Day not at all, as at
NYSE); the session whose trading date is a holiday is closed.  The rule is
computed, not taken from exchange_calendars or pandas_market_calendars:
exchange_calendars 4.13 took 0.43-0.54 s to import here (it imports
pandas) and 160 MB to install, for three dates a year.  Its CME calendar
("CMES") closes the same weekdays from 2007 to 2026 except the
unscheduled national days of mourning (2007-01-02, 2018-12-05,
2025-01-09), which no rule can know in advance.  Early closes (13:00 ET
on the eve of Independence Day, Thanksgiving Friday, Christmas Eve; the US
holidays on which Globex halts at 13:00 ET) are not modelled: those days
keep their full windows, and occasional Good Friday openings (abbreviated
sessions on a payroll Friday) are treated as closed.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import polars as pl

from pxfast.sessions.config import SessionTimes, SessionType

__all__ = ["EXCHANGE_TZ", "full_closures", "session_columns", "session_label", "session_mask"]

#: The zone session times are written in.
EXCHANGE_TZ = "America/New_York"


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = h + m - 7 * ((a + 11 * h + 22 * m) // 451) + 114
    return date(year, n // 31, n % 31 + 1)


def _observed(day: date, *, saturday_to_friday: bool) -> date | None:
    if day.weekday() == 6:
        return day + timedelta(days=1)
    if day.weekday() == 5:
        return day - timedelta(days=1) if saturday_to_friday else None
    return day


@lru_cache(maxsize=64)
def full_closures(year: int) -> tuple[date, ...]:
    """The weekdays of ``year`` on which CME Globex has no session."""
    days = [
        _observed(date(year, 1, 1), saturday_to_friday=False),
        _easter(year) - timedelta(days=2),
        _observed(date(year, 12, 25), saturday_to_friday=True),
    ]
    return tuple(day for day in days if day is not None)


def _closures_between(first: date, last: date) -> list[date]:
    return [d for y in range(first.year, last.year + 1) for d in full_closures(y)]


def _in_window(t: pl.Expr, start: time, end: time) -> pl.Expr:
    if start <= end:
        return (t >= start) & (t < end)
    return (t >= start) | (t < end)


def session_columns(
    frame: pl.DataFrame, times: SessionTimes, zone: str = EXCHANGE_TZ
) -> pl.DataFrame:
    """``frame`` with ``_rth`` and ``_eth`` (in session) and ``_trading_date`` columns.

    ``times`` are wall-clock times in ``zone``.  A naive ``timestamp`` is
    read as UTC, as project-x-py does.
    """
    timestamp = "timestamp"
    ts = pl.col(timestamp)
    if getattr(frame.schema[timestamp], "time_zone", None) is None:
        ts = ts.dt.replace_time_zone("UTC")
    # The wall clock, converted once: every field read of an aware column converts again.
    local = ts.dt.convert_time_zone(zone).dt.replace_time_zone(None)
    frame = frame.with_columns(local.alias("_et")).with_columns(
        pl.col("_et").dt.time().alias("_t"), pl.col("_et").dt.date().alias("_d")
    )
    t, day = pl.col("_t"), pl.col("_d")
    in_rth_window = (t >= times.rth_start) & (t < times.rth_end)
    if times.eth_start is None or times.eth_end is None:
        in_overnight = pl.lit(False)
        trading_date = day
    else:
        in_overnight = _in_window(t, times.eth_start, times.eth_end)
        trading_date = day
        if times.eth_start > times.eth_end:
            trading_date = (
                pl.when(t >= times.eth_start).then(day + pl.duration(days=1)).otherwise(day)
            )
    frame = frame.with_columns(trading_date.alias("_trading_date"))
    closures: list[date] = []
    if frame.height:
        bounds = frame.select(
            pl.col("_trading_date").min().alias("a"), pl.col("_trading_date").max().alias("b")
        )
        first, last = bounds.row(0)
        if first is not None:
            closures = _closures_between(first, last)
    closed = pl.Series(closures, dtype=pl.Date)
    td = pl.col("_trading_date")
    open_day = (td.dt.weekday() <= 5) & ~td.is_in(closed.implode())
    rth_day = (day.dt.weekday() <= 5) & ~day.is_in(closed.implode())
    return frame.with_columns(
        (in_rth_window & rth_day).alias("_rth"),
        ((in_overnight | in_rth_window) & open_day).alias("_eth"),
    ).drop("_et", "_t", "_d")


def session_mask(frame: pl.DataFrame, session_type: SessionType, times: SessionTimes) -> pl.Series:
    """Which rows of ``frame`` trade in ``session_type`` (CUSTOM: the RTH window of ``times``)."""
    tagged = session_columns(frame.select("timestamp"), times)
    column = "_eth" if session_type == SessionType.ETH else "_rth"
    return tagged[column]


def _open_day(day: date) -> bool:
    return day.weekday() < 5 and day not in full_closures(day.year)


def session_label(moment: datetime, times: SessionTimes, zone: str = EXCHANGE_TZ) -> str:
    """RTH, ETH or BREAK (closed) at one aware ``moment``.

    The masks' rule for one time stamp in plain Python (a polars frame per
    call costs about a millisecond; this, microseconds); a test holds the
    two to the same answers.
    """
    local = moment.astimezone(ZoneInfo(zone))
    t, day = local.time(), local.date()
    in_rth = times.rth_start <= t < times.rth_end
    if in_rth and _open_day(day):
        return "RTH"
    trading_date, overnight = day, False
    if times.eth_start is not None and times.eth_end is not None:
        start, end = times.eth_start, times.eth_end
        overnight = start <= t < end if start <= end else (t >= start or t < end)
        if start > end and t >= start:
            trading_date = day + timedelta(days=1)
    return "ETH" if (overnight or in_rth) and _open_day(trading_date) else "BREAK"
