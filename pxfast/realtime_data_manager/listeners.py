"""Subscribing to a contract's trade prints on the market stream, safely from inside a print.

Two kinds of consumer:

* a *print listener* is called with (price, volume) for each print, which is
  all a stop trigger or a P&L monitor needs;
* a *print feed* (the bar store) takes each GatewayTrade message's prints as
  the decoded structs, exchange time stamps included, and is told once at
  the end of every decoded frame that held any, so it can hand its bar
  events to Python once per frame instead of once per print.

The market stream calls them in a loop.  A consumer that unsubscribes itself
(a one-shot alert, a trailing trigger) must not shift that list under the
loop, or the consumer after it would miss the print; so the lists are
replaced, never changed in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pxfast.messages import MarketTrade
    from pxfast.realtime.market_stream import MarketStream

__all__ = [
    "PrintFeed",
    "PrintListener",
    "add_print_feed",
    "add_print_listener",
    "remove_print_feed",
    "remove_print_listener",
]

#: Called with (price, volume) for every trade print of the contract.
PrintListener = Callable[[float, float], None]


class PrintFeed(Protocol):
    def on_prints(self, prints: list[MarketTrade], /) -> None:
        """One GatewayTrade message's prints, in wire order; must not raise."""

    def on_frame_end(self) -> None:
        """The decoded frame that delivered prints is done; must not raise."""


def add_print_listener(market: MarketStream, contract_id: str, listener: PrintListener) -> None:
    market.tick_listeners[contract_id] = [*market.tick_listeners.get(contract_id, ()), listener]


def remove_print_listener(market: MarketStream, contract_id: str, listener: PrintListener) -> None:
    """Drop ``listener`` (bound methods compare equal, not identical, hence ``!=``)."""
    current = market.tick_listeners.get(contract_id)
    if current and listener in current:
        market.tick_listeners[contract_id] = [other for other in current if other != listener]


def add_print_feed(market: MarketStream, contract_id: str, feed: PrintFeed) -> None:
    market.print_feeds[contract_id] = (*market.print_feeds.get(contract_id, ()), feed)


def remove_print_feed(market: MarketStream, contract_id: str, feed: PrintFeed) -> None:
    current = market.print_feeds.get(contract_id, ())
    remaining = tuple(other for other in current if other is not feed)
    if remaining:
        market.print_feeds[contract_id] = remaining
    else:
        market.print_feeds.pop(contract_id, None)
