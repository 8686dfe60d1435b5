"""``suite.data``: the current price and live bars of one instrument.

``get_current_price`` reads the market hub's state for the contract (the last
trade while recent, else the bid/ask mid); until the first quote arrives it
falls back to the last bar's close, so a subscribed instrument always has a
price once the suite is created.

Bars of every configured timeframe (project-x-py's names, "1sec" to
"1month") are seeded from History/retrieveBars at ``initialize`` and
extended from the market hub's trade prints, each print once for all
timeframes, by the compiled aggregator (``bars.BarStore``); after a
market-hub reconnect they are re-seeded from REST, so a bar is neither
duplicated nor missing across the outage.  Bar events: ``NEW_BAR`` when a
bar opens (``{"timeframe", "bar_time", "data"}``, as project-x-py's, plus
``"closed_bar"``); ``DATA_UPDATE`` per print.  ``max_bars_per_timeframe``
in ``config`` (project-x-py's ``DataManagerConfig``, default 1000) bounds
the closed bars kept per timeframe.

How pxfast's live bars differ from project-x-py 4.4.1's:

* Buckets follow each print's exchange time stamp, not the wall-clock time
  it was received, so a replayed recording builds the same bars as the live
  session did, and a slow consumer does not shift prints into later bars.
  Buckets are the Gateway's own (UTC; days from 00:00 UTC), the ones the REST
  history that seeds them uses.
* "4hr" bars are four hours wide (project-x-py's live 4hr bars are hourly:
  it asks for 240 minutes and floors the minute of the hour by 240), and
  "1day", "1week" and "1month" bars update live (project-x-py's raise inside
  its bar-time function for those units, so they stay as loaded).
* Quotes do not move bars.  project-x-py feeds every GatewayQuote of the
  instrument into its bars as a zero-volume tick at the quote's last price
  (else the bid/ask mid, else the one side quoted), so a quote can open a
  bar, and set a high, low or close at a mid nobody traded or at a last
  price traded in an earlier bar; it also raises ``data_update`` for it.
  pxfast builds bars from trades only, as the Gateway's REST bars are, and
  DATA_UPDATE means a trade print.
* Every print counts.  project-x-py skips a tick that comes within 1 ms of
  the previous one (a global rate limit shared by quotes and trades).
* A late print (older than the open bar) revises the closed bar of its
  bucket while the ring holds it; project-x-py drops it.
* A bucket without a trade has no bar (project-x-py gives a bucket with
  only quotes a zero-volume bar).  After a market-hub reconnect pxfast
  takes the outage's bars from REST (a bar that opened meanwhile is not
  announced with NEW_BAR); project-x-py keeps the gap.

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

import asyncio
import logging
import time
import warnings
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, cast, overload
from zoneinfo import ZoneInfo

from pxfast.bars import BarFrame
from pxfast.event_bus import EventBus, EventType, Handler
from pxfast.exceptions import ProjectXError
from pxfast.models import Instrument
from pxfast.realtime.hub import HubState
from pxfast.realtime_data_manager.bars import BarStore, Seed
from pxfast.realtime_data_manager.listeners import add_print_feed, remove_print_feed
from pxfast.realtime_data_manager.timeframes import TIMEFRAMES, bar_spec
from pxfast.types import AggregateBarUnit

if TYPE_CHECKING:
    import polars as pl

    from pxfast.client.project_x import ProjectX
    from pxfast.realtime.client import ProjectXRealtimeClient
    from pxfast.realtime.connection import RealtimeConnection

__all__ = ["RealtimeDataManager"]

logger = logging.getLogger(__name__)

#: project-x-py's default ``max_bars_per_timeframe``.
MAX_BARS_PER_TIMEFRAME: Final = 1000
#: History is asked for up to this far past the newest print's time, in case
#: the exchange's clock is ahead of this machine's.
_CLOCK_MARGIN: Final = timedelta(minutes=1)
#: The shortest bucket of a unit (seconds), to size a history request's limit.
_UNIT_SECONDS: Final = {
    AggregateBarUnit.SECOND: 1,
    AggregateBarUnit.MINUTE: 60,
    AggregateBarUnit.HOUR: 3600,
    AggregateBarUnit.DAY: 86_400,
    AggregateBarUnit.WEEK: 7 * 86_400,
    AggregateBarUnit.MONTH: 28 * 86_400,
}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: project-x-py's legacy ``add_callback`` names.
_LEGACY_CALLBACKS = {
    "new_bar": EventType.NEW_BAR,
    "data_update": EventType.DATA_UPDATE,
    "quote_update": EventType.QUOTE_UPDATE,
    "trade_tick": EventType.TRADE_TICK,
    "market_trade": EventType.TRADE_TICK,
}


def _time(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


class RealtimeDataManager:
    def __init__(
        self,
        instrument: str | Instrument,
        project_x: ProjectX,
        realtime_client: RealtimeConnection | ProjectXRealtimeClient | None = None,
        event_bus: EventBus | None = None,
        timeframes: list[str] | None = None,
        timezone: str = "America/Chicago",
        config: dict[str, Any] | None = None,
        session_config: Any = None,
    ) -> None:
        self.instrument = instrument
        #: project-x-py's ``SessionConfig``: the default session of ``get_session_data``.
        self.session_config = session_config
        self.project_x = project_x
        # project-x-py's realtime client wraps the connection pxfast works with.
        connection = getattr(realtime_client, "connection", realtime_client)
        self.realtime = cast("RealtimeConnection | None", connection)
        self.event_bus = event_bus or EventBus()
        names = list(dict.fromkeys(timeframes or ["5min"]))
        #: Each timeframe as History/retrieveBars takes it, by project-x-py's name.
        self.timeframes = {
            name: {"interval": spec.number, "unit": int(spec.unit), "name": name}
            for name, spec in ((name, bar_spec(name)) for name in names)
        }
        self.config = dict(config or {})
        #: The zone of bar time stamps; ``config["timezone"]`` wins, as in project-x-py.
        self.timezone: str = self.config.get("timezone") or timezone
        ZoneInfo(self.timezone)  # an unknown zone fails here, not at the first bar
        self.max_bars_per_timeframe = int(
            self.config.get("max_bars_per_timeframe", MAX_BARS_PER_TIMEFRAME)
        )
        if self.max_bars_per_timeframe < 1:
            raise ValueError(
                f"max_bars_per_timeframe must be positive, not {self.max_bars_per_timeframe}"
            )
        self.instrument_info = instrument if isinstance(instrument, Instrument) else None
        self.contract_id: str | None = instrument.id if isinstance(instrument, Instrument) else None
        self._store: BarStore | None = None
        self._days = 1
        self._listening = False
        self._initialized = False
        self._epoch = 0  # market-hub gaps seen
        self._sync_wanted = False
        self._syncing = False
        self._sync_task: asyncio.Task[None] | None = None
        #: Re-seeds after a market-hub reconnect, and those that failed (the bars
        #: then miss the outage's prints).
        self.resyncs = 0
        self.resync_failures = 0

    # ------------------------------------------------------------------ lifecycle

    def _bars(self) -> BarStore:
        """The store, made once the instrument (and so its tick size) is known."""
        if self._store is None:
            assert self.instrument_info is not None
            self._store = BarStore(
                list(self.timeframes),
                self.instrument_info.tickSize,
                self.timezone,
                self.max_bars_per_timeframe,
                self.event_bus,
            )
        return self._store

    async def initialize(self, initial_days: int = 1) -> bool:
        """Seed every timeframe with ``initial_days`` of bars over REST.

        Prints that reach a feed started before this (``start_realtime_feed``,
        as ``TradingSuite`` does, subscribed first) are replayed onto the
        history where it does not hold them yet.
        """
        if self.instrument_info is None:
            assert isinstance(self.instrument, str)
            self.instrument_info = await self.project_x.get_instrument(self.instrument)
            self.contract_id = self.instrument_info.id
        self._bars()
        self._days = max(1, initial_days)
        self._initialized = True
        self._sync_wanted = True
        task = self._sync_task
        if task is not None and not task.done():
            await asyncio.shield(task)  # a re-seed is running: it takes this request
        else:
            await self._sync()
        return True

    async def start_realtime_feed(self) -> bool:
        """Take the contract's trade prints; until bars are seeded they wait in a buffer."""
        if self.realtime is None or self.instrument_info is None:
            return False
        if not self._listening:
            assert self.contract_id is not None
            add_print_feed(self.realtime.market, self.contract_id, self._bars())
            listeners = self.realtime.state_listeners
            listeners["market"] = [*listeners["market"], self._market_state]
            self._listening = True
        return True

    async def stop_realtime_feed(self) -> None:
        if self.realtime is not None and self._listening:
            assert self.contract_id is not None and self._store is not None
            remove_print_feed(self.realtime.market, self.contract_id, self._store)
            listeners = self.realtime.state_listeners
            listeners["market"] = [c for c in listeners["market"] if c != self._market_state]
            self._listening = False
        task, self._sync_task = self._sync_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def cleanup(self) -> None:
        await self.stop_realtime_feed()

    # ------------------------------------------------------------------ the seam

    def _market_state(self, state: HubState, info: dict[str, Any]) -> None:
        """A market-hub gap: buffer prints from its start, re-seed once it is over."""
        if state is HubState.RECONNECTING or state is HubState.CLOSED:
            self._epoch += 1
            if self._store is not None:
                self._store.pause()
        elif (
            state is HubState.CONNECTED
            and self._initialized
            and (info.get("reconnect") or not self._bars().live)
        ):
            self._sync_wanted = True
            if not self._syncing:
                self._sync_task = asyncio.get_running_loop().create_task(
                    self._resync(), name="pxfast-bars-resync"
                )

    async def _sync(self) -> None:
        """Seed from REST and replay what arrived meanwhile, again while a reconnect
        asks for it; prints go live only if no gap opened during the fetch."""
        store = self._bars()
        self._syncing = True
        try:
            while self._sync_wanted:
                self._sync_wanted = False
                epoch = self._epoch
                seeds = await self._fetch(store)
                store.apply(seeds, live=self._epoch == epoch and self._feed_up())
        finally:
            self._syncing = False

    def _feed_up(self) -> bool:
        """Prints can be taken live: no market hub, or one that is connected."""
        return self.realtime is None or self.realtime.market_hub.connected

    async def _resync(self) -> None:
        try:
            await self._sync()
            self.resyncs += 1
        except Exception as exc:
            self.resync_failures += 1
            logger.warning(
                "%s bars not re-seeded after the market hub reconnected (%s); "
                "they go on from the bars held, without the outage's prints",
                self.contract_id,
                exc,
            )
            self._bars().apply((), live=self._feed_up())

    async def _fetch(self, store: BarStore) -> list[Seed]:
        """Each timeframe's bars from its newest held bar on; without one, ``initial_days``
        of them and at least the bar now open (a week or month starts days ago)."""
        import numpy as np  # loaded with the first bars, not at `import pxfast`

        assert self.contract_id is not None
        seeds = []
        for index, name in enumerate(store.names):
            spec = TIMEFRAMES[name]
            held = store.history(index)
            now_ns = store.exchange_now_ns()
            end = _time(now_ns) + _CLOCK_MARGIN
            if held.shape[1]:
                start = _time(int(held[0, -1]))
            else:
                start = min(
                    end - timedelta(days=self._days), _time(store.agg.bucket(index, now_ns)[0])
                )
            span = _UNIT_SECONDS[spec.unit] * spec.number
            limit = int((end - start).total_seconds()) // span + 2
            frame = await self.project_x.get_bars(
                self.contract_id,
                interval=spec.number,
                unit=int(spec.unit),
                limit=limit,
                start_time=start,
                end_time=end,
                as_numpy=True,
            )
            fetched = store.seed_columns(frame)
            if fetched.shape[1]:  # the history wins from its first bar on
                held = held[:, held[0] < fetched[0, 0]]
            seeds.append(Seed(index, np.concatenate((held, fetched), axis=1), store.buffered))
        return seeds

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
        store = self._store
        if store is not None:
            for index in range(len(store.names)):
                newest = store.agg.columns(index, 1)
                if newest.shape[1]:
                    return store.price(int(newest[4, 0]))
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

    def _index(self, timeframe: str) -> int | None:
        store = self._store
        return None if store is None else store.index.get(timeframe)

    def _columns(self, timeframe: str, bars: int | None = None) -> BarFrame | None:
        """The last ``bars`` bars (all when None), the open one included; None if none."""
        index = self._index(timeframe)
        if index is None:
            return None
        assert self._store is not None
        return self._store.columns(index, bars)

    def _frame(self, timeframe: str) -> pl.DataFrame | None:
        index = self._index(timeframe)
        if index is None:
            return None
        assert self._store is not None
        return self._store.frame(index)

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
        """The last ``bars`` bars of ``timeframe`` (all when None), oldest first, the
        open bar last.

        None for a timeframe that is not configured or has no bar yet, as in
        project-x-py.  ``timeout`` is accepted for project-x-py's signature:
        reads here never wait for a lock.
        """
        if as_numpy:
            return self._columns(timeframe, bars)
        frame = self._frame(timeframe)
        if frame is None or bars is None:
            return frame
        return frame.tail(bars)

    async def get_latest_bars(self, count: int = 1, timeframe: str = "5min") -> pl.DataFrame | None:
        return await self.get_data(timeframe, count)

    async def get_data_or_none(
        self, timeframe: str = "5min", min_bars: int = 20
    ) -> pl.DataFrame | None:
        """The bars of ``timeframe``, or None while fewer than ``min_bars`` exist."""
        frame = self._frame(timeframe)
        return frame if frame is not None and frame.height >= min_bars else None

    async def get_bars_since(
        self, timestamp: datetime, timeframe: str = "5min"
    ) -> pl.DataFrame | None:
        """Bars starting at or after ``timestamp`` (naive: the manager's timezone).

        None without any bar, as in project-x-py; an empty frame when all
        bars are older.
        """
        import numpy as np

        frame = self._frame(timeframe)
        if frame is None:
            return None
        assert self._store is not None
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=ZoneInfo(self.timezone))
        since_ns = (timestamp - _EPOCH) // timedelta(microseconds=1) * 1000
        index = self._store.index[timeframe]
        starts = self._store.agg.columns(index)[0]
        return frame.slice(int(np.searchsorted(starts, since_ns, side="left")))

    async def get_price_range(
        self, bars: int = 20, timeframe: str = "5min"
    ) -> dict[str, float] | None:
        """High, low, range and average bar range of the last ``bars`` bars (None if fewer)."""
        frame = self._columns(timeframe, bars)
        if frame is None or len(frame) < bars:
            return None
        high = float(frame["high"].max())
        low = float(frame["low"].min())
        average = float((frame["high"] - frame["low"]).mean())
        return {"high": high, "low": low, "range": high - low, "avg_range": average}

    async def get_ohlc(self, timeframe: str = "5min") -> dict[str, float] | None:
        """The latest bar's open, high, low, close and volume (floats, as project-x-py)."""
        frame = self._columns(timeframe, 1)
        if frame is None:
            return None
        return {k: float(frame[k][-1]) for k in ("open", "high", "low", "close", "volume")}

    async def get_volume_stats(
        self, bars: int = 20, timeframe: str = "5min"
    ) -> dict[str, float] | None:
        """Total, average and latest volume of the last ``bars`` bars, and latest / average."""
        frame = self._columns(timeframe, bars)
        if frame is None:
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
        store = self._store
        names = [timeframe] if timeframe else list(self.timeframes)
        return store is not None and all(
            name in store.index and store.count(store.index[name]) >= min_bars for name in names
        )

    async def get_mtf_data(self) -> dict[str, pl.DataFrame]:
        """Every timeframe that has bars, as project-x-py leaves out those without."""
        frames = ((name, self._frame(name)) for name in self.timeframes)
        return {name: frame for name, frame in frames if frame is not None}

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
        """Bars held per timeframe, prints taken and the memory of bars and frames.

        project-x-py's keys, plus pxfast's counts of late, dropped, seam-skipped,
        bad and lost prints and of failed re-seeds.
        """
        store = self._store
        if store is None:  # no instrument yet: the figures of an empty store
            store = BarStore(list(self.timeframes), 1, self.timezone, 1, self.event_bus)
        agg = store.agg
        stored = {name: store.count(i) for name, i in store.index.items()}
        last, seen = store.last_print_ns, store.last_print_monotonic
        last_update = None if last is None else _time(last)
        return {
            "bars_processed": store.bars_closed,
            "ticks_processed": store.prints,
            "trades_processed": store.prints,
            "timeframe_stats": stored,
            "total_bars_stored": sum(stored.values()),
            "memory_usage_mb": store.memory_bytes() / (1024 * 1024),
            "last_update": None if last_update is None else last_update.isoformat(),
            "data_freshness_seconds": None if seen is None else time.monotonic() - seen,
            "late_trades": agg.late,
            "dropped_trades": agg.dropped,
            "seam_skipped": agg.seam_skipped,
            "bad_prints": store.bad_prints,
            "lost_prints": store.lost_prints,
            "resyncs": self.resyncs,
            "resync_failures": self.resync_failures,
        }

    # ------------------------------------------------------------------ sessions

    def _session_product(self) -> str:
        info = self.instrument_info
        return info.id if info is not None else str(self.instrument)

    async def get_session_data(
        self, timeframe: str, session_type: Any = None, *, timeout: float | None = None
    ) -> pl.DataFrame | None:
        """The bars of ``timeframe`` in ``session_type`` (default: the session config's, else ETH).

        None when there are no bars, or none in the session, as in project-x-py.
        Unlike project-x-py, a manager without a session config filters with
        the default one (project-x-py returns every bar for ETH and None for
        RTH), and live bars are built from every print: the session applies
        when bars are read, not when prints arrive (project-x-py drops prints
        outside its session, so its open bars differ).  ``timeout`` is
        accepted for project-x-py's signature: reads never wait for a lock.
        """
        from pxfast.sessions import SessionConfig, SessionFilterMixin, SessionType

        config = self.session_config or SessionConfig()
        kind = config.session_type if session_type is None else session_type
        frame = self._frame(timeframe)
        if frame is None:
            return None
        try:
            kept = await SessionFilterMixin(config).filter_by_session(
                frame, SessionType(kind), self._session_product()
            )
        except ValueError as exc:
            logger.warning("get_session_data: %s", exc)
            return None
        return None if kept.is_empty() else kept

    async def get_session_statistics(self, timeframe: str) -> dict[str, Any]:
        """RTH and ETH volume, VWAP, high, low and range of the bars of ``timeframe``."""
        frame = self._frame(timeframe)
        if frame is None:
            return {
                "rth_volume": 0,
                "eth_volume": 0,
                "rth_vwap": 0.0,
                "eth_vwap": 0.0,
                "rth_range": 0.0,
                "eth_range": 0.0,
            }
        from pxfast.sessions import SessionStatistics

        stats = SessionStatistics(self.session_config)
        return await stats.calculate_session_stats(frame, self._session_product())

    async def set_session_type(self, session_type: Any) -> None:
        """Make ``session_type`` the default of ``get_session_data``.

        As in project-x-py the session config is changed in place; a manager
        created without one gets a default config (project-x-py ignores the
        call then).
        """
        from pxfast.sessions import SessionConfig, SessionType

        kind = SessionType(session_type)  # a SessionType or its name; ValueError otherwise
        if self.session_config is None:
            self.session_config = SessionConfig(session_type=kind)
        else:
            self.session_config.session_type = kind
