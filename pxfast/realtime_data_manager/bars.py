"""The bars of one instrument behind ``suite.data``: one compiled aggregator, events, frames.

Why a store of its own.  Every trade print of the instrument goes once into
one ``pxfast._bars.BarAggregator``, which updates the open bar of every
configured timeframe in that pass, at the print's *exchange* time stamp, in
exact ticks.  The store is the Python around it:

* **Prints.**  The market stream hands it each GatewayTrade message as
  decoded (``on_prints``) and says when the frame is over
  (``on_frame_end``); bar events are drained and announced once per frame.
  A print that cannot be a trade (a time stamp that is not ISO 8601, a price
  off the tick grid, a size that is not a whole number in range) is counted
  in ``bad_prints`` and left out, never fatal.  A print without a time stamp
  is bucketed at its receipt (``exchange_now_ns``).
* **The seam.**  Until the bars are seeded from History/retrieveBars, and
  again from a market-hub disconnect until the re-seed after it, prints are
  buffered, not applied.  The seed of each timeframe then counts as holding
  every print received before its REST answer, and the prints received after
  that answer are replayed onto it (``apply``).  The aggregator's own seam
  ignores prints older than the seeded bars, so no bar is duplicated or left
  out across the history/live boundary or a reconnect.
* **Events.**  ``NEW_BAR`` fires when a bar opens, as in project-x-py:
  ``{"timeframe", "bar_time", "data"}`` with ``data`` the new bar's first
  values (aware ``timestamp`` in the manager's zone, float prices, int
  volume); pxfast adds ``"closed_bar"``, the bar that just closed (None when
  none did).  ``DATA_UPDATE`` fires per trade print, ``{"timestamp" (the
  exchange time, in the manager's zone), "price", "volume"}``.  Neither costs
  anything while nobody listens.  A handler running during a frame's events
  sees the bars as they are at the end of that frame.
* **Frames.**  ``frame(i)`` is a polars frame of the closed bars, cached and
  extended at the first read after bars closed (rebuilt after a late trade
  revised one, or after a seed), plus the open bar as the last row; when
  nothing changed since the last read it is the cached frame again (a clone).
  Nothing of it is built, nor polars imported, until a frame is read.  ``columns(i)`` is the
  same bars as the numpy ``BarFrame``, without polars.

Memory: the ring holds ``max_bars_per_timeframe`` closed bars at 48 bytes a
bar (six int64 columns); the cached polars frame of a timeframe, once read,
another 48 bytes a bar.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeAlias
from zoneinfo import ZoneInfo

from pxfast._bars import CLOSED, F_EVENTS, MAX_SIZE, MAX_TS_NS, OPENED, BarAggregator
from pxfast._ticks import cached_tick_size
from pxfast.bars import COLUMNS, BarFrame
from pxfast.event_bus import EventBus, EventType
from pxfast.exceptions import ProjectXDataError
from pxfast.realtime_data_manager.frames import bar_frame, bar_rows
from pxfast.realtime_data_manager.timeframes import bar_aggregator

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import polars as pl

    from pxfast._bars import Event
    from pxfast.messages import MarketTrade

__all__ = ["BarStore", "Seed", "print_time_ns"]

Int64Array: TypeAlias = "npt.NDArray[np.int64]"

_NS: Final = 1_000_000_000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
#: Prints held while the bars wait for REST (24 bytes each): past this, a
#: print is counted in ``lost_prints`` instead, so a stuck seed cannot eat memory.
MAX_BUFFERED: Final = 1 << 20
#: Closed bars kept out of the cached frame (built with the open bar at each read)
#: before they are folded into it.
_TAIL_MAX: Final = 8
#: Chunks of the cached frame past which a fold makes it contiguous again (slicing
#: and stacking cost grows with the chunks, a copy with the rows).
_MAX_CHUNKS: Final = 8
#: Up to this many rows, a frame is built from Python values (``bar_rows``);
#: beyond, from numpy columns (``bar_frame``).
_ROW_BUILD_MAX: Final = _TAIL_MAX + 1
_SOURCE: Final = "RealtimeDataManager"


def print_time_ns(text: str) -> int:
    """A Gateway time stamp (ISO 8601, ``Z`` or an offset, up to 7 decimals) in ns
    since the epoch; naive means UTC.  ValueError when it is not one.

    Decimals past the microsecond are dropped: every bucket edge is a whole
    second, so this never moves a print into another bar.
    """
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return (stamp - _EPOCH) // _MICROSECOND * 1000


def _aware(ns: int, zone: tzinfo) -> datetime:
    stamp = datetime.fromtimestamp(ns // _NS, zone)
    micro = ns // 1000 % 1_000_000
    return stamp.replace(microsecond=micro) if micro else stamp  # bars start on a second


class Seed(NamedTuple):
    """One timeframe's history, to replace its bars (``BarStore.apply``)."""

    timeframe: int
    #: (6, n) int64: bucket start ns (UTC), open, high, low, close (ticks), volume.
    bars: Int64Array
    #: Prints buffered when the history was answered: those before are in it.
    mark: int


class _Cache:
    """Polars frames of one timeframe while its ``revision`` holds: ``closed`` has
    the closed bars up to the ``total``-th close (some may have left the ring
    since), ``full`` every bar held at the ``full_total``-th close with
    ``open_bar`` open."""

    __slots__ = ("closed", "full", "full_total", "open_bar", "revision", "total")

    def __init__(self, revision: int, total: int, closed: pl.DataFrame) -> None:
        self.revision = revision
        self.total = total
        self.closed = closed
        self.full: pl.DataFrame | None = None
        self.full_total = total
        self.open_bar: tuple[int, ...] | None = None


class BarStore:
    """The bars of one instrument for timeframes ``names`` (project-x-py's names)."""

    def __init__(
        self,
        names: Sequence[str],
        tick_size: float | str,
        zone: str,
        capacity: int,
        bus: EventBus,
    ) -> None:
        self.names = list(names)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.agg: BarAggregator = bar_aggregator(self.names, capacity)
        self.tick = cached_tick_size(tick_size)
        exponent = self.tick.exponent
        power = int(10 ** abs(exponent))
        # price = ticks * numerator / denominator, one correctly rounded division.
        self._scale: tuple[int, int] = (
            (self.tick.mantissa, power) if exponent >= 0 else (self.tick.mantissa * power, 1)
        )
        self.tz = zone
        self.zone = ZoneInfo(zone)
        self._bus = bus
        self._live = False
        self._flags = 0
        self._buffer = (array("q"), array("q"), array("q"))
        self._last_text: str | None = None
        self._last_ns = 0
        n = len(self.names)
        self._revision = [0] * n  # bumped when held bars change other than by closing
        self._closed = [0] * n  # bars closed live, per timeframe
        self._caches: list[_Cache | None] = [None] * n
        self._events_lost = 0
        #: Valid prints taken, bad ones left out, prints lost to a full buffer.
        self.prints = 0
        self.bad_prints = 0
        self.lost_prints = 0
        self.bars_closed = 0
        #: Exchange time of the newest print, and the wall clock (ns) when it came.
        self.last_print_ns: int | None = None
        self.last_print_wall_ns = 0
        self.last_print_monotonic: float | None = None

    # ------------------------------------------------------------------ prints

    @property
    def live(self) -> bool:
        """Prints go straight into the bars (False: buffered until the next seed)."""
        return self._live

    def pause(self) -> None:
        """Buffer prints from now on: the feed has a gap that a seed must close."""
        self._live = False

    @property
    def buffered(self) -> int:
        return len(self._buffer[0])

    def on_prints(self, prints: list[MarketTrade]) -> None:
        bus = self._bus
        wants_data = bus.has_handlers(EventType.DATA_UPDATE)
        add = self.agg.add_trade if self._live else self._hold
        to_ticks = self.tick.to_ticks
        flags = taken = 0
        newest = -1
        for trade in prints:
            text = trade.timestamp
            try:
                if text is None:
                    ts = self.exchange_now_ns()
                elif text == self._last_text:
                    ts = self._last_ns
                else:
                    ts = print_time_ns(text)
                    self._last_text, self._last_ns = text, ts
                ticks = to_ticks(trade.price)
                size = int(trade.volume)
            except (ValueError, TypeError, OverflowError):
                self.bad_prints += 1
                continue
            if size != trade.volume or not 0 <= size <= MAX_SIZE or not 0 <= ts <= MAX_TS_NS:
                self.bad_prints += 1
                continue
            flags |= add(ts, ticks, size)
            taken += 1
            newest = max(newest, ts)
            if wants_data:
                bus.dispatch(
                    EventType.DATA_UPDATE,
                    {"timestamp": _aware(ts, self.zone), "price": trade.price, "volume": size},
                    _SOURCE,
                )
        if taken:
            self.prints += taken
            self._flags |= flags
            if self.last_print_ns is None or newest > self.last_print_ns:
                self.last_print_ns = newest
            self.last_print_wall_ns = time.time_ns()
            self.last_print_monotonic = time.monotonic()

    def _hold(self, ts: int, ticks: int, size: int) -> int:
        t, p, s = self._buffer
        if len(t) >= MAX_BUFFERED:
            self.lost_prints += 1
        else:
            t.append(ts)
            p.append(ticks)
            s.append(size)
        return 0

    def on_frame_end(self) -> None:
        if self._flags & F_EVENTS:
            self._flags = 0
            opened: list[tuple[Event, Event | None]] = []
            self._take(self.agg.drain(), None, opened)
            self._announce(opened)

    def exchange_now_ns(self) -> int:
        """Now on the exchange's clock, as far as the prints tell: the wall clock,
        moved on by how far the newest print's time stamp was ahead of it."""
        now = time.time_ns()
        if self.last_print_ns is None:
            return now
        return now + max(0, self.last_print_ns - self.last_print_wall_ns)

    # ------------------------------------------------------------------ events

    def _take(
        self, events: list[Event], only: set[int] | None, opened: list[tuple[Event, Event | None]]
    ) -> None:
        """Count closes and revisions; queue each opened bar with the bar it closed.

        A timeframe's CLOSED comes right before its OPENED, so a frame that
        spans several bars of one timeframe pairs each with its own predecessor.
        """
        closing: dict[int, Event] = {}
        for event in events:
            kind, index = event[0], event[1]
            if only is not None and index not in only:
                continue
            if kind == OPENED:
                opened.append((event, closing.pop(index, None)))
            elif kind == CLOSED:
                self._closed[index] += 1
                self.bars_closed += 1
                closing[index] = event
            else:  # REVISED: a late trade changed a held closed bar
                self._revision[index] += 1
        lost = self.agg.events_lost
        if lost != self._events_lost:  # (a frame of >65 536 bar events) counts are unsure
            self._events_lost = lost
            self._revision = [r + 1 for r in self._revision]

    def _announce(self, opened: list[tuple[Event, Event | None]]) -> None:
        """NEW_BAR per opened bar, once the bars are as the frame (or seed) left them."""
        bus = self._bus
        if not opened or not bus.has_handlers(EventType.NEW_BAR):
            return
        for event, closed in opened:
            bar = self._bar(event)
            bus.dispatch(
                EventType.NEW_BAR,
                {
                    "timeframe": self.names[event[1]],
                    "bar_time": bar["timestamp"],
                    "data": bar,
                    "closed_bar": None if closed is None else self._bar(closed),
                },
                _SOURCE,
            )

    def _bar(self, event: Event) -> dict[str, Any]:
        numerator, denominator = self._scale
        return {
            "timestamp": _aware(event[2], self.zone),
            "open": event[3] * numerator / denominator,
            "high": event[4] * numerator / denominator,
            "low": event[5] * numerator / denominator,
            "close": event[6] * numerator / denominator,
            "volume": event[7],
        }

    # ------------------------------------------------------------------ seeding

    def history(self, index: int) -> Int64Array:
        """A copy of a timeframe's bars, the open one last: (6, n) as in ``Seed.bars``."""
        return self.agg.columns(index).copy()

    def seed_columns(self, frame: BarFrame) -> Int64Array:
        """REST bars as (6, n) int64: ns and exact ticks; ProjectXDataError off the grid."""
        import numpy as np  # loaded by the first bars (BarAggregator), not at `import pxfast`

        start_ns = frame["timestamp"].astype("datetime64[ns]").view(np.int64)
        try:
            prices = [self.tick.to_ticks_array(frame[name], "exact") for name in COLUMNS[1:5]]
        except ValueError as exc:
            raise ProjectXDataError(f"History/retrieveBars: {exc}") from None
        return np.stack([start_ns, *prices, frame["volume"].astype(np.int64)])

    def apply(self, seeds: Iterable[Seed], *, live: bool) -> None:
        """Replace the seeded timeframes' bars, replay the buffered prints, and
        take prints live from now on if ``live``.

        Each timeframe gets the prints received after its own REST answer:
        seeds are applied in the order of their marks, each followed by the
        prints up to the next mark, and the events of that replay count only
        for the timeframes seeded by then.  Without seeds the buffer is
        replayed onto the bars held.  The bars the replays opened are announced
        at the end, every timeframe seeded.
        """
        import numpy as np

        columns = tuple(np.frombuffer(column, np.int64).copy() for column in self._buffer)
        for column in self._buffer:
            del column[:]
        agg = self.agg
        opened: list[tuple[Event, Event | None]] = []
        self._take(agg.drain(), None, opened)
        order = sorted(seeds, key=lambda seed: seed.mark)
        if not order:
            self._replay(columns, 0, len(columns[0]), None, opened)
        seeded: set[int] = set()
        for n, seed in enumerate(order):
            bars = seed.bars
            now_ns = max(self.exchange_now_ns(), int(bars[0, -1]) if bars.shape[1] else 0)
            try:
                agg.seed(seed.timeframe, *bars, now_ns=now_ns)
            except ValueError as exc:
                raise ProjectXDataError(
                    f"History/retrieveBars bars cannot seed {self.names[seed.timeframe]}: {exc}"
                ) from None
            self._revision[seed.timeframe] += 1
            seeded.add(seed.timeframe)
            stop = order[n + 1].mark if n + 1 < len(order) else len(columns[0])
            self._replay(columns, seed.mark, stop, seeded, opened)
        self._live = live
        self._announce(opened)

    def _replay(
        self,
        columns: tuple[Int64Array, ...],
        start: int,
        stop: int,
        only: set[int] | None,
        opened: list[tuple[Event, Event | None]],
    ) -> None:
        if stop > start:
            ts, ticks, sizes = (column[start:stop] for column in columns)
            self.agg.add_trades(ts, ticks, sizes)
            self._take(self.agg.drain(), only, opened)

    # ------------------------------------------------------------------ reading

    def price(self, ticks: int) -> float:
        numerator, denominator = self._scale
        return ticks * numerator / denominator

    def count(self, index: int) -> int:
        """Bars held, the open one included."""
        return self.agg.bar_count(index) + (self.agg.open_bar(index) is not None)

    def columns(self, index: int, count: int | None = None) -> BarFrame | None:
        """The newest ``count`` bars (all when None) as numpy columns; None without any."""
        bars = self.agg.columns(index, count)
        return self._numpy(bars) if bars.shape[1] else None

    def _numpy(self, bars: Int64Array) -> BarFrame:
        numerator, denominator = self._scale
        prices = bars[1:5] * numerator / denominator  # fresh float64 rows
        return BarFrame(
            {
                "timestamp": (bars[0] // 1000).view("datetime64[us]"),
                "open": prices[0],
                "high": prices[1],
                "low": prices[2],
                "close": prices[3],
                "volume": bars[5].copy(),
            },
            self.tz,
        )

    def frame(self, index: int) -> pl.DataFrame | None:
        """Every bar held as project-x-py's frame, the open one last; None without any.

        A read after a change costs one polars build of the few newest bars
        (the closed ones not yet in the cached frame, and the open one; its
        fixed cost, ~15 us, is most of a read) stacked onto a slice of the
        cached frame of older closed bars.  Every ``_TAIL_MAX`` closes those
        are folded into the cached frame, made contiguous again so that
        slicing and stacking onto it stay cheap.
        """
        agg = self.agg
        total = self._closed[index]
        held = agg.bar_count(index)
        cache = self._caches[index]
        if (
            cache is None
            or cache.revision != self._revision[index]
            or 0 < held <= total - cache.total  # every bar held is new: build afresh
        ):
            base = self._polars(agg.columns(index, include_open=False))
            cache = self._caches[index] = _Cache(self._revision[index], total, base)
        elif total - cache.total > _TAIL_MAX:
            newer = self._polars(agg.columns(index, total - cache.total, include_open=False))
            base = cache.closed.vstack(newer)
            base = base.slice(max(0, base.height - held))
            cache.closed = base.rechunk() if base.n_chunks() > _MAX_CHUNKS else base
            cache.total = total
        bar = agg.open_bar(index)
        full = cache.full
        if full is None or cache.full_total != total or bar != cache.open_bar:
            tail = total - cache.total
            base = cache.closed
            older = base.slice(max(0, base.height - (held - tail)))
            fresh = tail + (bar is not None)
            full = older.vstack(self._polars(agg.columns(index, fresh))) if fresh else older
            cache.full, cache.full_total, cache.open_bar = full, total, bar
        return full.clone() if full.height else None

    def _polars(self, bars: Int64Array) -> pl.DataFrame:
        """(6, n) bars as a polars frame that shares no memory with them."""
        numerator, denominator = self._scale
        if bars.shape[1] > _ROW_BUILD_MAX:
            prices = bars[1:5] * numerator / denominator
            return bar_frame(
                bars[0] // 1000, prices[0], prices[1], prices[2], prices[3], bars[5].copy(), self.tz
            )
        rows = [
            (t // 1000, o * numerator / denominator, h * numerator / denominator,
             lo * numerator / denominator, c * numerator / denominator, v)
            for t, o, h, lo, c, v in bars.T.tolist()
        ]  # fmt: skip
        return bar_rows(rows, self.tz)

    def memory_bytes(self) -> int:
        """The aggregator's memory and that of the cached frames."""
        frames = sum(
            int(cache.closed.estimated_size()) for cache in self._caches if cache is not None
        )
        return self.agg.memory_bytes() + frames
