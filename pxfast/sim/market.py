"""The synthetic market: a seeded random walk on ticks with a spread, prints and a book.

Each front contract has a ``Book`` driven by its own ``random.Random`` seeded
from the simulator seed and the product symbol, so a contract's path depends
only on the seed and on how many times it was stepped, never on which other
contracts exist, who subscribed or how fast the machine is.  A step is one
market print at the touch, an occasional move of the touch by a tick and a
few depth changes; it is what the realtime driver does ``rate`` times a second
per contract and what ``GatewaySimulator.step`` does on demand.

Everything is in integer ticks; the hubs and REST convert at the edge.  Prints
also feed the bar history (``bars.BarSeries``) so ``History/retrieveBars``
returns bars built from this very market.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Protocol

from pxfast.sim.bars import BarSeries
from pxfast.sim.clock import Clock
from pxfast.sim.instruments import Contract
from pxfast.types import DomType, TradeLogType

__all__ = ["Book", "Market", "MarketListener"]

#: Probability that a step moves the touch by one tick (up or down, evenly).
MOVE_PROBABILITY = 0.4
#: Probability that a step widens a one-tick spread to two (it narrows back the same way).
WIDEN_PROBABILITY = 0.05
#: Most steps the realtime driver takes before it lets the event loop run.
MAX_ROUND_STEPS = 240

DepthEntryTuple = tuple[int, int, int]  # (DomType, price in ticks, volume)


def _filler(price: int) -> int:
    """Size of a level outside the maintained book: fixed by the price, so that
    asking for a deep snapshot never draws from (and shifts) the walk's RNG."""
    return 1 + (price * 2654435761 >> 7) % 60


class MarketListener(Protocol):
    """Who hears about the market: the engine (to match) and the market hub (to publish)."""

    def on_quote(self, book: Book) -> None: ...

    def on_print(self, book: Book, price: int, size: int, aggressor: int) -> None: ...

    def on_depth(self, book: Book, entries: list[DepthEntryTuple], reset: bool) -> None: ...


@dataclass(slots=True)
class Book:
    """Top of book, session statistics and depth of one contract, in ticks."""

    contract: Contract
    rng: random.Random
    bars: BarSeries
    bid: int
    ask: int
    last: int
    prev_close: int
    open: int
    high: int
    low: int
    volume: int = 0
    levels: int = 10
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    steps: int = 0

    def best_bid_size(self) -> int:
        return self.bids.get(self.bid, 0)

    def best_ask_size(self) -> int:
        return self.asks.get(self.ask, 0)

    def _level_size(self) -> int:
        return 1 + int(self.rng.random() * self.rng.random() * 60)

    def fill_levels(self) -> None:
        """Rebuild depth around the current touch (after a jump of the price)."""
        self.bids = {self.bid - i: self._level_size() for i in range(self.levels)}
        self.asks = {self.ask + i: self._level_size() for i in range(self.levels)}


class Market:
    """All books, the realtime driver and the listeners that hear every change."""

    def __init__(self, clock: Clock, contracts: list[Contract], seed: int, *,
                 rate: float = 2.0, levels: int = 10, history_days: float = 10.0) -> None:
        self._clock = clock
        self.rate = rate
        self.listeners: list[MarketListener] = []
        self.books: dict[str, Book] = {}
        now = clock.now()
        for contract in contracts:
            rng = random.Random(f"{seed}:{contract.spec.symbol}")
            start = contract.tick.to_ticks(contract.spec.price, "nearest")
            bars = BarSeries(contract, seed, start, now, history_days)
            book = Book(contract, rng, bars, bid=start, ask=start + 1, last=start,
                        prev_close=start, open=start, high=start, low=start, levels=levels)
            book.fill_levels()
            self.books[contract.id] = book
        self._driver: asyncio.Task[None] | None = None

    # -- the walk -----------------------------------------------------------

    def step(self, book: Book, count: int = 1) -> None:
        """Advance one contract by ``count`` random steps, notifying listeners each time."""
        for _ in range(count):
            self._step_once(book)

    def _step_once(self, book: Book) -> None:
        rng = book.rng
        book.steps += 1
        aggressor = TradeLogType.BUY if rng.random() < 0.5 else TradeLogType.SELL
        size = 1 + int(rng.random() * rng.random() * 8)
        price = book.ask if aggressor == TradeLogType.BUY else book.bid
        changed: list[DepthEntryTuple] = [(DomType.TRADE, price, size)]
        self._record_print(book, price, size)
        for listener in self.listeners:
            listener.on_print(book, price, size, aggressor)
        u = rng.random()
        if u < MOVE_PROBABILITY:
            shift = 1 if u < MOVE_PROBABILITY / 2 else -1
            self._shift(book, shift, changed)
        elif u < MOVE_PROBABILITY + WIDEN_PROBABILITY:
            self._toggle_spread(book, changed)
        else:
            # Size churn at one random level of one side.
            side_bid = rng.random() < 0.5
            depth = int(rng.random() * book.levels)
            if side_bid:
                level = book.bid - depth
                book.bids[level] = book._level_size()
                changed.append((DomType.BID, level, book.bids[level]))
            else:
                level = book.ask + depth
                book.asks[level] = book._level_size()
                changed.append((DomType.ASK, level, book.asks[level]))
        self._notify_quote(book)
        for listener in self.listeners:
            listener.on_depth(book, changed, False)

    def _shift(self, book: Book, shift: int, changed: list[DepthEntryTuple]) -> None:
        """Move bid and ask by ``shift`` ticks, keeping ``levels`` levels on each side."""
        book.bid += shift
        book.ask += shift
        if shift > 0:
            book.asks.pop(book.ask - 1, None)
            changed.append((DomType.ASK, book.ask - 1, 0))
            book.bids[book.bid] = book._level_size()
            dropped = book.bid - book.levels
            book.bids.pop(dropped, None)
            changed.append((DomType.BID, dropped, 0))
            far = book.ask + book.levels - 1
            book.asks[far] = book._level_size()
            changed.append((DomType.ASK, far, book.asks[far]))
        else:
            book.bids.pop(book.bid + 1, None)
            changed.append((DomType.BID, book.bid + 1, 0))
            book.asks[book.ask] = book._level_size()
            dropped = book.ask + book.levels
            book.asks.pop(dropped, None)
            changed.append((DomType.ASK, dropped, 0))
            far = book.bid - book.levels + 1
            book.bids[far] = book._level_size()
            changed.append((DomType.BID, far, book.bids[far]))
        changed.append((DomType.NEW_BEST_BID, book.bid, book.best_bid_size()))
        changed.append((DomType.NEW_BEST_ASK, book.ask, book.best_ask_size()))

    def _toggle_spread(self, book: Book, changed: list[DepthEntryTuple]) -> None:
        """Widen a one-tick spread by pulling the best ask, or fill a two-tick gap back in."""
        if book.ask - book.bid == 1:
            book.asks.pop(book.ask, None)
            changed.append((DomType.ASK, book.ask, 0))
            book.ask += 1
            book.asks.setdefault(book.ask, book._level_size())
        else:
            book.ask = book.bid + 1
            book.asks[book.ask] = book._level_size()
            changed.append((DomType.ASK, book.ask, book.asks[book.ask]))
        changed.append((DomType.NEW_BEST_ASK, book.ask, book.best_ask_size()))

    def _record_print(self, book: Book, price: int, size: int) -> None:
        book.last = price
        book.volume += size
        book.high = max(book.high, price)
        book.low = min(book.low, price)
        book.bars.record(self._clock.now(), price, size)

    def _notify_quote(self, book: Book) -> None:
        for listener in self.listeners:
            listener.on_quote(book)

    # -- scripted prices ------------------------------------------------------

    def set_price(self, book: Book, last: int, bid: int | None = None,
                  ask: int | None = None) -> None:
        """Jump the market: a one-lot print at ``last``, then the touch (default
        ``last``/``last + 1``) and a fresh book around it."""
        bid = last if bid is None else bid
        ask = bid + 1 if ask is None else ask
        if ask <= bid:
            raise ValueError("the ask must be above the bid")
        self._record_print(book, last, 1)
        for listener in self.listeners:
            listener.on_print(book, last, 1, TradeLogType.BUY if last >= book.ask else
                              TradeLogType.SELL)
        book.bid, book.ask = bid, ask
        book.fill_levels()
        self._notify_quote(book)
        self.publish_snapshot(book)

    def snapshot(self, book: Book, levels: int | None = None) -> list[DepthEntryTuple]:
        """Every level of the book, bids then asks, from the touch outwards.

        ``levels`` above the book's own depth adds deeper levels, which is how
        a test gets a depth frame of tens of kilobytes (incident #128).
        """
        count = max(levels or 0, book.levels)
        entries: list[DepthEntryTuple] = []
        for i in range(count):
            price = book.bid - i
            entries.append((DomType.BID, price, book.bids.get(price) or _filler(price)))
        for i in range(count):
            price = book.ask + i
            entries.append((DomType.ASK, price, book.asks.get(price) or _filler(price)))
        return entries

    def publish_snapshot(self, book: Book, levels: int | None = None) -> None:
        """Send the whole book to depth subscribers: a Reset, then every level."""
        entries = self.snapshot(book, levels)
        for listener in self.listeners:
            listener.on_depth(book, entries, True)

    # -- realtime driver --------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._driver is not None and not self._driver.done()

    def resume(self) -> None:
        if not self.running and self.rate > 0:
            self._driver = asyncio.get_running_loop().create_task(self._drive())

    def pause(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            self._driver = None

    async def _drive(self) -> None:
        """Step every book ``rate`` times a second.

        When behind (a high rate), it catches up in rounds of at most
        ``MAX_ROUND_STEPS`` steps and yields between rounds, so hub queues get
        flushed and requests answered while the market runs flat out.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        done = 0
        books = list(self.books.values())
        per_round = max(1, MAX_ROUND_STEPS // len(books))
        while True:
            due = int((loop.time() - started) * self.rate)
            batch = min(due - done, per_round)
            for _ in range(batch):
                for book in books:
                    self._step_once(book)
            done += batch
            if due - done > self.rate * 2:  # far behind (a paused debugger): skip ahead
                done = due
            await asyncio.sleep(0 if due > done else 1.0 / self.rate)
