"""Typed interface of the compiled bar aggregator (``ext/bars.pyx``).

One ``BarAggregator`` per instrument takes each trade once (exchange time
stamp in ns since the epoch, price in whole ticks, size) and updates the open
bar of every timeframe; closed bars sit in a fixed ring per timeframe as six
int64 columns; events are drained once per decoded frame.  Buckets follow the
local wall clock of a calendar (``pxfast.realtime_data_manager.timeframes``).
"""

from collections.abc import Sequence
from typing import Final, Protocol, SupportsIndex, TypeAlias, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "CLOSED",
    "DAY",
    "F_CLOSED",
    "F_DROPPED",
    "F_EVENTS",
    "F_OPENED",
    "F_REVISED",
    "F_SEAM",
    "HOUR",
    "MAX_SIZE",
    "MAX_TS_NS",
    "MINUTE",
    "MONTH",
    "OPENED",
    "REVISED",
    "SECOND",
    "WEEK",
    "BarAggregator",
]

# Units (the Gateway's AggregateBarUnit values).
SECOND: Final[int]
MINUTE: Final[int]
HOUR: Final[int]
DAY: Final[int]
WEEK: Final[int]
MONTH: Final[int]

# Event kinds, the first field of each drained event.
OPENED: Final[int]
CLOSED: Final[int]
REVISED: Final[int]

# Flags returned by add_trade / add_trades.
F_OPENED: Final[int]
F_CLOSED: Final[int]
F_REVISED: Final[int]
F_DROPPED: Final[int]
F_SEAM: Final[int]
F_EVENTS: Final[int]

MAX_TS_NS: Final[int]
MAX_SIZE: Final[int]

Int64Array: TypeAlias = npt.NDArray[np.int64]
# (kind, timeframe index, start_ns, open, high, low, close, volume)
Event: TypeAlias = tuple[int, int, int, int, int, int, int, int]
# (start_ns, open, high, low, close, volume)
Bar: TypeAlias = tuple[int, int, int, int, int, int]
Window: TypeAlias = tuple[npt.ArrayLike, npt.ArrayLike, int]

class Calendar(Protocol):
    """Where buckets start: ``BarCalendar`` is the implementation."""

    @property
    def day_start_ns(self) -> int: ...
    def window(self, ts_ns: int, /) -> Window:
        """(segment starts ns, UTC offsets s, end ns) of segments covering ``ts_ns``."""

@final
class BarAggregator:
    def __init__(
        self,
        timeframes: Sequence[tuple[SupportsIndex, SupportsIndex]],
        capacity: SupportsIndex | Sequence[SupportsIndex],
        calendar: Calendar | None = None,
        *,
        max_events: int = 65536,
    ) -> None: ...
    @property
    def timeframes(self) -> tuple[tuple[int, int], ...]: ...
    @property
    def day_start_ns(self) -> int: ...
    @property
    def trades(self) -> int: ...
    @property
    def late(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def seam_skipped(self) -> int: ...
    @property
    def events_lost(self) -> int: ...
    def add_trade(self, ts_ns: int, price_ticks: int, size: int) -> int: ...
    def add_trades(self, ts_ns: Int64Array, ticks: Int64Array, sizes: Int64Array) -> int:
        """int64 arrays (any stride) of equal length; another dtype is a ValueError."""
    def drain(self) -> list[Event]: ...
    def seed(
        self,
        timeframe: int,
        start_ns: npt.ArrayLike,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
        *,
        now_ns: int,
    ) -> None: ...
    def columns(
        self, timeframe: int, count: int | None = None, include_open: bool = True
    ) -> Int64Array:
        """Shape (6, n): start_ns, open, high, low, close, volume; oldest first."""
    def open_bar(self, timeframe: int) -> Bar | None: ...
    def bar_count(self, timeframe: int) -> int: ...
    def capacity(self, timeframe: int) -> int: ...
    def seam_ns(self, timeframe: int) -> int: ...
    def bucket(self, timeframe: int, ts_ns: int) -> tuple[int, int]: ...
    def memory_bytes(self) -> int: ...
