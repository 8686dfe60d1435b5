"""The market hub's state: the last quote and trade per contract, and market events.

Every message updates the per-contract state in place (what
``get_current_price`` reads), then becomes an event only if someone listens:
an unused feature costs one dictionary lookup per message, not a dict, an
event object and a task (incident #82).  Nothing is coalesced or dropped:
the per-message cost is low enough that an open-of-session flood is absorbed
as it comes (incident #143).

Trade prints also go, as decoded, to the contract's print feeds (the bars of
``suite.data``); each feed hears once at the end of every decoded frame that
fed it, so bar events reach Python once per frame.  DATA_UPDATE ("a print
went into the bars") is theirs: quotes move no bar, so unlike project-x-py,
which feeds quotes into its bars as zero-volume ticks, a quote raises only
QUOTE_UPDATE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pxfast.event_bus import EventBus, EventType
from pxfast.messages import DepthEvent, QuoteEvent, TradeEvent

if TYPE_CHECKING:
    from pxfast.realtime_data_manager.listeners import PrintFeed

__all__ = ["MarketStream", "QuoteState"]

Router = Callable[[str | None], EventBus]

#: A last-trade price older than this yields to the quote mid (project-x-py uses 15 s).
LAST_TRADE_TTL = 15.0


@dataclass(slots=True)
class QuoteState:
    """What is known of one contract's market right now."""

    contract_id: str
    symbol: str | None = None
    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    last_trade_at: float = 0.0  # monotonic
    volume: float | None = None
    updated_at: float = 0.0  # monotonic
    quotes: int = 0
    trades: int = 0
    depth_updates: int = 0

    def current_price(self) -> float | None:
        """The last trade if recent, else the bid/ask mid, else any last price."""
        if self.last is not None and time.monotonic() - self.last_trade_at <= LAST_TRADE_TTL:
            return self.last
        if self.bid is not None and self.ask is not None:
            return (self.bid + self.ask) / 2
        return self.last


class MarketStream:
    """Per-contract quote state fed by the market hub."""

    def __init__(self, router: Router) -> None:
        self.quotes: dict[str, QuoteState] = {}
        self._route = router
        self.messages = 0
        #: Per contract: called with (price, volume) for every trade print (stop triggers).
        self.tick_listeners: dict[str, list[Callable[[float, float], None]]] = {}
        #: Per contract: the feeds that take its prints as decoded (the bar stores).
        self.print_feeds: dict[str, tuple[PrintFeed, ...]] = {}
        self._fed: list[PrintFeed] = []  # feeds given prints in the frame being handled

    def state(self, contract_id: str) -> QuoteState:
        found = self.quotes.get(contract_id)
        if found is None:
            found = self.quotes[contract_id] = QuoteState(contract_id)
        return found

    def current_price(self, contract_id: str) -> float | None:
        found = self.quotes.get(contract_id)
        return found.current_price() if found is not None else None

    def on_items(self, items: list[Any]) -> None:
        now = time.monotonic()
        for item in items:
            cls = item.__class__
            if cls is QuoteEvent:
                self._quote(item, now)
            elif cls is TradeEvent:
                self._trades(item, now)
            elif cls is DepthEvent:
                self._depth(item, now)
        if self._fed:
            fed, self._fed = self._fed, []
            for feed in fed:
                feed.on_frame_end()

    def _quote(self, item: QuoteEvent, now: float) -> None:
        self.messages += 1
        quote = item.data
        state = self.state(item.contract_id)
        state.quotes += 1
        state.updated_at = now
        if quote.symbol is not None:
            state.symbol = quote.symbol
        if quote.bestBid is not None:
            state.bid = quote.bestBid
        if quote.bestAsk is not None:
            state.ask = quote.bestAsk
        if quote.volume is not None:
            state.volume = quote.volume
        if quote.lastPrice is not None and quote.lastPrice != state.last:
            state.last = quote.lastPrice
            state.last_trade_at = now
        bus = self._route(item.contract_id)
        if bus.has_handlers(EventType.QUOTE_UPDATE):
            bus.dispatch(
                EventType.QUOTE_UPDATE,
                {
                    "bid": quote.bestBid,
                    "ask": quote.bestAsk,
                    "last": quote.lastPrice,
                    "volume": quote.volume,
                    "symbol": quote.symbol,
                    "timestamp": datetime.now(UTC),
                    "contract_id": item.contract_id,
                },
                "RealtimeDataManager",
            )

    def _trades(self, item: TradeEvent, now: float) -> None:
        self.messages += 1
        state = self.state(item.contract_id)
        state.updated_at = now
        bus = self._route(item.contract_id)
        wants_ticks = bus.has_handlers(EventType.TRADE_TICK)
        listeners = self.tick_listeners.get(item.contract_id)
        for trade in item.data:
            state.trades += 1
            state.last = trade.price
            state.last_trade_at = now
            if listeners:
                # A snapshot: a listener may (un)register listeners while called.
                for listener in tuple(listeners):
                    listener(trade.price, trade.volume)
            if wants_ticks:
                bus.dispatch(
                    EventType.TRADE_TICK,
                    {
                        "price": trade.price,
                        "volume": trade.volume,
                        "side": trade.type,
                        "timestamp": trade.timestamp,
                        "symbol": trade.symbolId,
                        "contract_id": item.contract_id,
                    },
                    "RealtimeDataManager",
                )
        feeds = self.print_feeds.get(item.contract_id)
        if feeds:
            fed = self._fed
            for feed in feeds:
                feed.on_prints(item.data)
                if feed not in fed:
                    fed.append(feed)

    def _depth(self, item: DepthEvent, now: float) -> None:
        self.messages += 1
        state = self.state(item.contract_id)
        state.depth_updates += 1
        state.updated_at = now
        bus = self._route(item.contract_id)
        if bus.has_handlers(EventType.MARKET_DEPTH_UPDATE):
            bus.dispatch(
                EventType.MARKET_DEPTH_UPDATE,
                {"contract_id": item.contract_id, "entries": item.data},
                "OrderBook",
            )
