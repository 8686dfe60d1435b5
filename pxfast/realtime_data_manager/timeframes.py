"""Timeframe names and the calendar that bar buckets follow.

project-x-py names its timeframes ``"1sec"`` ... ``"1month"``; the compiled
aggregator (``pxfast._bars``) wants a unit and a count, the pair the Gateway's
``History/retrieveBars`` takes as ``unit``/``unitNumber``, so one spec serves
both the live bars and the REST history that seeds them.  "1hr" and "4hr" are
hour bars (project-x-py asks for 60 and 240 minutes, the same buckets).

A :class:`BarCalendar` says where buckets start: the local wall clock of a
zone, and the local time a trading day starts.  The aggregator sees the zone
only as arrays of UTC-offset segments around an instant, which the calendar
computes from ``zoneinfo`` and caches per year, so the aggregator never calls
into Python except when time leaves the window it holds.

The default calendar is the Gateway's own: UTC, days from 00:00 UTC (its
daily bars begin at 19:00 Chicago time in summer), so live bars line up with
the REST bars that seed them.  ``BarCalendar("America/Chicago",
day_start=timedelta(hours=-7))`` gives CME session days (17:00 to 17:00
Chicago time, weeks from Sunday 17:00); REST bars of the Gateway's other
alignment cannot seed those timeframes (``seed`` refuses bars that do not start
on a bucket boundary).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING, Final, NamedTuple, TypeAlias
from zoneinfo import ZoneInfo

from pxfast._bars import BarAggregator
from pxfast.types import AggregateBarUnit

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "GATEWAY_CALENDAR",
    "TIMEFRAMES",
    "BarCalendar",
    "BarSpec",
    "bar_aggregator",
    "bar_spec",
]

_NS = 1_000_000_000
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
# Offsets are sampled this far apart and each change is bisected to the second;
# zones never change offset twice within six hours.
_STEP_S = 6 * 3600


class BarSpec(NamedTuple):
    """A timeframe as History/retrieveBars takes it: ``unit`` and ``unitNumber``."""

    unit: AggregateBarUnit
    number: int


_S, _M, _H = AggregateBarUnit.SECOND, AggregateBarUnit.MINUTE, AggregateBarUnit.HOUR
#: project-x-py 4.4.1's timeframe names, in its order.
TIMEFRAMES: Final[dict[str, BarSpec]] = {
    "1sec": BarSpec(_S, 1),
    "5sec": BarSpec(_S, 5),
    "10sec": BarSpec(_S, 10),
    "15sec": BarSpec(_S, 15),
    "30sec": BarSpec(_S, 30),
    "1min": BarSpec(_M, 1),
    "5min": BarSpec(_M, 5),
    "15min": BarSpec(_M, 15),
    "30min": BarSpec(_M, 30),
    "1hr": BarSpec(_H, 1),
    "4hr": BarSpec(_H, 4),
    "1day": BarSpec(AggregateBarUnit.DAY, 1),
    "1week": BarSpec(AggregateBarUnit.WEEK, 1),
    "1month": BarSpec(AggregateBarUnit.MONTH, 1),
}


def bar_spec(timeframe: str) -> BarSpec:
    """The spec of a timeframe name; ValueError (project-x-py's message) for any other."""
    spec = TIMEFRAMES.get(timeframe)
    if spec is None:
        raise ValueError(
            f"Invalid timeframe: {timeframe}, valid timeframes are: {list(TIMEFRAMES)}"
        )
    return spec


Window: TypeAlias = "tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], int]"


class BarCalendar:
    """A zone and the local time its trading days start, for bucketing bars.

    ``day_start`` is an offset from local midnight strictly within a day:
    ``timedelta(hours=-7)`` starts each day at 17:00 the evening before, as
    CME's Globex sessions do.  Weeks start at the day start of Monday, months
    at the day start of the 1st.
    """

    __slots__ = ("day_start_ns", "zone")

    def __init__(self, zone: str | tzinfo = UTC, day_start: timedelta = timedelta(0)) -> None:
        self.zone: tzinfo = ZoneInfo(zone) if isinstance(zone, str) else zone
        if not timedelta(days=-1) < day_start < timedelta(days=1):
            raise ValueError(f"day_start must lie within a day of midnight, not {day_start}")
        self.day_start_ns: int = (
            (day_start.days * 86_400 + day_start.seconds) * 1_000_000 + day_start.microseconds
        ) * 1000

    def __repr__(self) -> str:
        return f"BarCalendar({self.zone!s}, day_start={self.day_start_ns // _NS}s)"

    def window(self, ts_ns: int) -> Window:
        """UTC-offset segments covering the year of ``ts_ns`` and the years either side.

        Returns (segment starts in ns, offsets in seconds, end of the last
        segment in ns); a fixed-offset zone is one segment over all time.
        """
        offset = _fixed_offset(self.zone)
        if offset is not None:
            import numpy as np  # loaded by the first bars, not at `import pxfast`

            return (np.array([_INT64_MIN], np.int64), np.array([offset], np.int32), _INT64_MAX)
        year = datetime.fromtimestamp(ts_ns // _NS, UTC).year
        return _zone_window(self.zone, year)


def _fixed_offset(zone: tzinfo) -> int | None:
    """The offset in seconds of a zone that never changes it (datetime.timezone), else None."""
    if isinstance(zone, type(UTC)):
        delta = zone.utcoffset(None)
        return delta.days * 86_400 + delta.seconds
    return None


def _offset_at(zone: tzinfo, second: int) -> int:
    delta = datetime.fromtimestamp(second, zone).utcoffset()
    assert delta is not None
    return delta.days * 86_400 + delta.seconds


@lru_cache(maxsize=64)
def _zone_window(zone: tzinfo, year: int) -> Window:
    """Offset segments from 1 January of ``year - 1`` to 1 January of ``year + 2`` (UTC)."""
    import numpy as np

    first = int(datetime(year - 1, 1, 1, tzinfo=UTC).timestamp())
    last = int(datetime(year + 2, 1, 1, tzinfo=UTC).timestamp())
    starts = [first]
    offsets = [_offset_at(zone, first)]
    before = first
    while before < last:
        after = min(before + _STEP_S, last)
        offset = _offset_at(zone, after)
        if offset != offsets[-1]:
            lo, hi = before, after  # offset(lo) is the old one, offset(hi) the new
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_at(zone, mid) == offset:
                    hi = mid
                else:
                    lo = mid
            starts.append(hi)
            offsets.append(offset)
        before = after
    starts_ns = np.array(starts, np.int64) * _NS
    starts_ns.setflags(write=False)
    offsets_s = np.array(offsets, np.int32)
    offsets_s.setflags(write=False)
    return starts_ns, offsets_s, last * _NS


#: The Gateway's alignment: UTC, days from 00:00 UTC.
GATEWAY_CALENDAR: Final = BarCalendar()


def bar_aggregator(
    timeframes: Sequence[str],
    capacity: int | Sequence[int],
    calendar: BarCalendar = GATEWAY_CALENDAR,
    *,
    max_events: int = 65_536,
) -> BarAggregator:
    """An aggregator for project-x-py timeframe names, in that order of timeframe indexes."""
    specs = [bar_spec(name) for name in timeframes]
    return BarAggregator(specs, capacity, calendar, max_events=max_events)
