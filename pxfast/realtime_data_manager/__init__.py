"""``suite.data``: the current price and bars for one instrument.

``get_current_price`` reads the market hub's state for the contract (the last
trade while recent, else the bid/ask mid); until the first quote arrives it
falls back to the last bar's close, which ``initialize`` loads over REST, so
a subscribed instrument always has a price once the suite is created.

Bars for each configured timeframe start from History/retrieveBars and are
extended from the trade prints as they arrive; every bar that closes is
announced with ``NEW_BAR`` (``{"timeframe", "bar_time", "data"}``, the
closed bar; ``bar_time`` and ``data["timestamp"]`` are aware datetimes in the
manager's ``timezone``, as project-x-py's are).  Bars are bucketed by
receipt time, as project-x-py does; the clock is the manager's ``clock``
attribute, so a replay (or a test) can drive bar time deterministically.

Bar reads (``get_data``, ``get_latest_bars``, ``get_bars_since``,
``get_data_or_none``, ``get_mtf_data``) return polars DataFrames in
project-x-py's schema, time stamps in the manager's ``timezone``, and None
where project-x-py returns None: for a timeframe without any bar yet.
``get_data(..., as_numpy=True)`` gives the numpy ``BarFrame`` instead.  The
read helpers (``get_price_range``, ``get_ohlc``, ``get_volume_stats`` ...)
keep project-x-py's names, arguments and keys; they read the numpy columns,
so they never import polars.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, overload
from zoneinfo import ZoneInfo

import numpy as np

from pxfast.bars import BarFrame
from pxfast.event_bus import EventBus, EventType, Handler
from pxfast.exceptions import ProjectXError
from pxfast.models import Instrument
from pxfast.realtime_data_manager.listeners import add_print_listener, remove_print_listener

if TYPE_CHECKING:
    import polars as pl

    from pxfast.client.project_x import ProjectX
    from pxfast.realtime.connection import RealtimeConnection

__all__ = ["RealtimeDataManager", "Timeframe", "parse_timeframe"]

_UNITS = {
    "sec": (1, 1),
    "min": (2, 60),
    "hr": (3, 3600),
    "hour": (3, 3600),
    "day": (4, 86400),
    "week": (5, 7 * 86400),
    "month": (6, 30 * 86400),
}
_TIMEFRAME = re.compile(r"^\s*(\d+)\s*([a-z]+?)s?\s*$")
#: project-x-py's legacy ``add_callback`` names.
_LEGACY_CALLBACKS = {
    "new_bar": EventType.NEW_BAR,
    "data_update": EventType.DATA_UPDATE,
    "quote_update": EventType.QUOTE_UPDATE,
    "trade_tick": EventType.TRADE_TICK,
    "market_trade": EventType.TRADE_TICK,
}


@dataclass(frozen=True)
class Timeframe:
    name: str
    unit: int  # the Gateway's AggregateBarUnit
    number: int
    seconds: int


def parse_timeframe(name: str) -> Timeframe:
    """'5min' -> unit 2 x 5 (300 s); '1hr', '15sec', '1day' ... ValueError otherwise."""
    match = _TIMEFRAME.match(name.lower())
    if not match or match.group(2) not in _UNITS:
        raise ValueError(f"Invalid timeframe {name!r}; use e.g. '15sec', '1min', '5min', '1hr'")
    number = int(match.group(1))
    if number <= 0:
        raise ValueError(f"Invalid timeframe {name!r}")
    unit, seconds = _UNITS[match.group(2)]
    return Timeframe(name, unit, number, number * seconds)


class _Series:
    """Bars of one timeframe: closed bars as columns plus the one still forming."""

    def __init__(self, timeframe: Timeframe, frame: BarFrame) -> None:
        self.timeframe = timeframe
        self.frame = frame
        self.zone = ZoneInfo(frame.tz)
        self.current: list[float] | None = None  # [start epoch, o, h, l, c, v]

    def tick(self, now: float, price: float, volume: float) -> dict[str, Any] | None:
        """Fold a print in; the closed bar's dict when this print starts a new bar."""
        span = self.timeframe.seconds
        start = now - now % span
        bar = self.current if self.current is not None else self._reopen(start)
        closed = None
        if bar is None or start >= bar[0] + span:
            if bar is not None:
                closed = self._close(bar)
            self.current = [start, price, price, price, price, volume]
            return closed
        self.current = bar
        bar[2] = max(bar[2], price)
        bar[3] = min(bar[3], price)
        bar[4] = price
        bar[5] += volume
        return None

    def _reopen(self, start: float) -> list[float] | None:
        """The history's last bar, taken back as the forming one if it is ``start``'s bucket.

        History is loaded with the partial bar of the current period; the first
        live print must extend it, not start a second bar with the same time.
        """
        frame = self.frame
        if frame.is_empty():
            return None
        last = frame["timestamp"][-1].astype("datetime64[us]").astype(np.int64) / 1e6
        if last != start:
            return None
        bar = [start, *(float(frame[name][-1]) for name in ("open", "high", "low", "close"))]
        bar.append(float(frame["volume"][-1]))
        self.frame = frame.head(len(frame) - 1)
        return bar

    def _close(self, bar: list[float]) -> dict[str, Any]:
        stamp = datetime.fromtimestamp(bar[0], self.zone)
        columns = {name: self.frame[name] for name in self.frame.columns}
        columns["timestamp"] = np.append(
            columns["timestamp"], np.datetime64(stamp.astimezone(UTC).replace(tzinfo=None), "us")
        )
        for index, name in enumerate(("open", "high", "low", "close"), start=1):
            columns[name] = np.append(columns[name], bar[index])
        columns["volume"] = np.append(columns["volume"], int(bar[5]))
        self.frame = BarFrame(columns, self.frame.tz)
        return {
            "timestamp": stamp,
            "open": bar[1],
            "high": bar[2],
            "low": bar[3],
            "close": bar[4],
            "volume": int(bar[5]),
        }

    def with_current(self) -> BarFrame:
        if self.current is None:
            return self.frame
        series = _Series(self.timeframe, self.frame)
        series._close(list(self.current))
        return series.frame


class RealtimeDataManager:
    def __init__(
        self,
        instrument: str | Instrument,
        project_x: ProjectX,
        realtime_client: RealtimeConnection | None = None,
        event_bus: EventBus | None = None,
        timeframes: list[str] | None = None,
        timezone: str = "America/Chicago",
        config: dict[str, Any] | None = None,
        session_config: Any = None,
    ) -> None:
        self.instrument = instrument
        self.project_x = project_x
        self.realtime = realtime_client
        self.event_bus = event_bus or EventBus()
        self.timeframes = [parse_timeframe(t) for t in (timeframes or ["5min"])]
        self.config = dict(config or {})
        #: The zone of bar time stamps; ``config["timezone"]`` wins, as in project-x-py.
        self.timezone: str = self.config.get("timezone") or timezone
        ZoneInfo(self.timezone)  # an unknown zone fails here, not at the first bar
        self.contract_id: str | None = instrument.id if isinstance(instrument, Instrument) else None
        #: Seconds since the epoch that bucket the prints into bars (receipt time).
        self.clock: Callable[[], float] = time.time
        self._series: dict[str, _Series] = {}
        self._listening = False
        self._ticks = 0
        self._bars_closed = 0
        self._last_tick: float | None = None

    async def initialize(self, initial_days: int = 1) -> bool:
        """Load ``initial_days`` of bars per timeframe over REST."""
        if self.contract_id is None:
            assert isinstance(self.instrument, str)
            self.contract_id = (await self.project_x.get_instrument(self.instrument)).id
        for timeframe in self.timeframes:
            frame = await self.project_x.get_bars(
                self.contract_id,
                days=max(1, initial_days),
                interval=timeframe.number,
                unit=timeframe.unit,
                as_numpy=True,
            )
            frame.tz = self.timezone  # the client's zone may differ from the suite's
            self._series[timeframe.name] = _Series(timeframe, frame)
        return True

    async def start_realtime_feed(self) -> bool:
        if self.realtime is None or self.contract_id is None:
            return False
        if not self._listening:
            add_print_listener(self.realtime.market, self.contract_id, self._tick)
            self._listening = True
        return True

    async def stop_realtime_feed(self) -> None:
        if self.realtime is not None and self.contract_id is not None and self._listening:
            remove_print_listener(self.realtime.market, self.contract_id, self._tick)
            self._listening = False

    def _tick(self, price: float, volume: float) -> None:
        now = self.clock()
        self._ticks += 1
        self._last_tick = now
        for series in self._series.values():
            closed = series.tick(now, price, volume)
            if closed is None:
                continue
            self._bars_closed += 1
            if self.event_bus.has_handlers(EventType.NEW_BAR):
                self.event_bus.dispatch(
                    EventType.NEW_BAR,
                    {
                        "timeframe": series.timeframe.name,
                        "bar_time": closed["timestamp"],
                        "data": closed,
                    },
                    "RealtimeDataManager",
                )

    # ------------------------------------------------------------------ reads

    async def get_current_price(self) -> float | None:
        """The last trade (if under 15 s old), else the quote mid, else the last bar's close.

        Before any bar or quote exists, one partial 1-minute bar is fetched
        over REST (project-x-py's last resort); None only if that fails too.
        """
        if self.realtime is not None and self.contract_id is not None:
            price = self.realtime.market.current_price(self.contract_id)
            if price is not None:
                return price
        for series in self._series.values():
            if series.current is not None:
                return series.current[4]
            if len(series.frame):
                return float(series.frame["close"][-1])
        if self.contract_id is None:
            return None
        try:
            bars = await self.project_x.get_bars(
                self.contract_id, days=1, interval=1, limit=1, as_numpy=True
            )
        except ProjectXError:
            return None
        return float(bars["close"][-1]) if len(bars) else None

    async def get_latest_price(self) -> float | None:
        return await self.get_current_price()

    def _bars(self, timeframe: str, bars: int | None = None) -> BarFrame | None:
        """The last ``bars`` bars (all when None), the forming one included; None if none."""
        series = self._series.get(timeframe)
        if series is None:
            return None
        frame = series.with_current()
        if frame.is_empty():
            return None
        return frame.tail(bars) if bars is not None else frame

    @overload
    async def get_data(
        self,
        timeframe: str = "5min",
        bars: int | None = None,
        *,
        timeout: float | None = None,
        as_numpy: Literal[False] = False,
    ) -> pl.DataFrame | None: ...

    @overload
    async def get_data(
        self,
        timeframe: str = "5min",
        bars: int | None = None,
        *,
        timeout: float | None = None,
        as_numpy: Literal[True],
    ) -> BarFrame | None: ...

    async def get_data(
        self,
        timeframe: str = "5min",
        bars: int | None = None,
        *,
        timeout: float | None = None,
        as_numpy: bool = False,
    ) -> pl.DataFrame | BarFrame | None:
        """The last ``bars`` bars of ``timeframe`` (all when None), oldest first.

        None for a timeframe that is not configured or has no bar yet, as in
        project-x-py.  ``timeout`` is accepted for project-x-py's signature:
        reads here never wait for a lock.
        """
        frame = self._bars(timeframe, bars)
        if frame is None or as_numpy:
            return frame
        return frame.to_polars()

    async def get_latest_bars(
        self, count: int = 1, timeframe: str = "5min"
    ) -> pl.DataFrame | None:
        return await self.get_data(timeframe, count)

    async def get_data_or_none(
        self, timeframe: str = "5min", min_bars: int = 20
    ) -> pl.DataFrame | None:
        """The bars of ``timeframe``, or None while fewer than ``min_bars`` exist."""
        frame = self._bars(timeframe)
        return frame.to_polars() if frame is not None and len(frame) >= min_bars else None

    async def get_bars_since(
        self, timestamp: datetime, timeframe: str = "5min"
    ) -> pl.DataFrame | None:
        """Bars starting at or after ``timestamp`` (naive: the manager's timezone).

        None without any bar, as in project-x-py; an empty frame when all
        bars are older.
        """
        frame = self._bars(timeframe)
        if frame is None:
            return None
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=ZoneInfo(self.timezone))
        start = np.datetime64(timestamp.astimezone(UTC).replace(tzinfo=None), "us")
        first = int(np.searchsorted(frame["timestamp"], start, side="left"))
        return frame.tail(len(frame) - first).to_polars()

    async def get_price_range(
        self, bars: int = 20, timeframe: str = "5min"
    ) -> dict[str, float] | None:
        """High, low, range and average bar range of the last ``bars`` bars (None if fewer)."""
        frame = self._bars(timeframe, bars)
        if frame is None or len(frame) < bars or frame.is_empty():
            return None
        high = float(frame["high"].max())
        low = float(frame["low"].min())
        average = float((frame["high"] - frame["low"]).mean())
        return {"high": high, "low": low, "range": high - low, "avg_range": average}

    async def get_ohlc(self, timeframe: str = "5min") -> dict[str, float] | None:
        """The latest bar's open, high, low, close and volume (floats, as project-x-py)."""
        frame = self._bars(timeframe, 1)
        if frame is None:
            return None
        return {k: float(frame[k][-1]) for k in ("open", "high", "low", "close", "volume")}

    async def get_volume_stats(
        self, bars: int = 20, timeframe: str = "5min"
    ) -> dict[str, float] | None:
        """Total, average and latest volume of the last ``bars`` bars, and latest / average."""
        frame = self._bars(timeframe, bars)
        if frame is None or frame.is_empty():
            return None
        volumes = frame["volume"]
        total = float(volumes.sum())
        average = total / len(volumes)
        current = float(volumes[-1])
        return {
            "total": total,
            "average": average,
            "current": current,
            "relative": current / average if average > 0 else 0.0,
        }

    async def is_data_ready(self, min_bars: int = 20, timeframe: str | None = None) -> bool:
        names = [timeframe] if timeframe else list(self._series)
        return all(
            name in self._series and len(self._series[name].with_current()) >= min_bars
            for name in names
        )

    async def get_mtf_data(self) -> dict[str, pl.DataFrame]:
        """Every timeframe that has bars, as project-x-py leaves out those without."""
        frames = ((name, self._bars(name)) for name in self._series)
        return {name: frame.to_polars() for name, frame in frames if frame is not None}

    async def add_callback(self, event_type: str, callback: Handler) -> None:
        """Deprecated project-x-py API: ``new_bar``, ``data_update``, ``quote_update``,
        ``trade_tick`` or ``market_trade`` mapped onto the event bus."""
        warnings.warn(
            "RealtimeDataManager.add_callback is deprecated; use suite.on(EventType...)",
            DeprecationWarning,
            stacklevel=2,
        )
        event = _LEGACY_CALLBACKS.get(event_type)
        if event is None:
            raise ValueError(f"Unknown event type: {event_type}")
        await self.event_bus.on(event, callback)

    async def get_memory_stats(self) -> dict[str, Any]:
        """Bars held per timeframe, prints processed and the memory of the bar columns."""
        stored = {name: len(series.frame) for name, series in self._series.items()}
        nbytes = sum(
            series.frame[column].nbytes
            for series in self._series.values()
            for column in series.frame.columns
        )
        age = self.clock() - self._last_tick if self._last_tick is not None else None
        return {
            "bars_processed": self._bars_closed,
            "ticks_processed": self._ticks,
            "trades_processed": self._ticks,
            "timeframe_stats": stored,
            "total_bars_stored": sum(stored.values()),
            "memory_usage_mb": nbytes / (1024 * 1024),
            "last_update": (
                datetime.fromtimestamp(self._last_tick, UTC).isoformat()
                if self._last_tick is not None
                else None
            ),
            "data_freshness_seconds": age,
        }

    async def cleanup(self) -> None:
        await self.stop_realtime_feed()
