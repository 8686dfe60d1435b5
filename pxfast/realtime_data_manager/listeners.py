"""Subscribing to a contract's trade prints on the market stream, safely from inside a print.

The market stream calls a contract's print listeners in a loop.  A listener
that unsubscribes itself (a one-shot alert, a trailing trigger) must not
shift that list under the loop, or the listener after it would miss the
print; so the list is replaced, never changed in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pxfast.realtime.market_stream import MarketStream

__all__ = ["PrintListener", "add_print_listener", "remove_print_listener"]

#: Called with (price, volume) for every trade print of the contract.
PrintListener = Callable[[float, float], None]


def add_print_listener(market: MarketStream, contract_id: str, listener: PrintListener) -> None:
    market.tick_listeners[contract_id] = [*market.tick_listeners.get(contract_id, ()), listener]


def remove_print_listener(market: MarketStream, contract_id: str, listener: PrintListener) -> None:
    """Drop ``listener`` (bound methods compare equal, not identical, hence ``!=``)."""
    current = market.tick_listeners.get(contract_id)
    if current and listener in current:
        market.tick_listeners[contract_id] = [other for other in current if other != listener]
