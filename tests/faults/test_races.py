"""Races the soak found, replayed deterministically.

A trimmed position makes the order manager shrink the exits it tracks, in a
background task.  When the Gateway already cancelled one of them and the
client has not heard yet (a lost frame, or simply the next frame in flight),
the resize of that one exit is refused; the others must still be resized
(an exit larger than the position would reverse it when it fills) and the
refusal must be contained, never left as an exception nobody retrieves.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from fault_bot import SYMBOL, TICK, OpenSuite, Recorder

from pxfast.sim import GatewaySimulator


async def until_true(predicate: object, timeout: float = 10.0) -> None:
    assert callable(predicate)
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(f"condition not met within {timeout}s")


async def test_resizing_an_exit_the_gateway_already_cancelled_is_contained(
    gw: GatewaySimulator, suite_on: OpenSuite, recorder: Recorder
) -> None:
    suite = await suite_on(gw, audit_interval=None)
    await recorder.attach(suite)
    price = Decimal(str(gw.quote(SYMBOL)["last"]))
    bracket = await suite.orders.place_bracket_order(
        SYMBOL, 0, 2, entry_price=price - 4 * TICK, stop_offset=Decimal(5), target_offset=Decimal(5)
    )
    stop = bracket.stop_order_id
    assert stop is not None
    table = suite.orders.orders
    gw.set_price(SYMBOL, str(price - 6 * TICK))  # the entry fills: long 2, both exits live
    await until_true(lambda: table.status(stop) == 1 and suite.realtime.user.positions)
    account = suite.client.get_account_info().id
    gw.freeze_hub_connections("user")
    gw.engine.cancel(gw.engine.accounts[account], stop)  # the client does not hear of it
    gw.thaw_hub_connections("user")
    assert table.status(stop) == 1
    await suite.orders.place_market_order(SYMBOL, 1, 1)  # trim the position to 1
    await until_true(lambda: suite.realtime.user.positions[suite.instrument_id].size == 1)
    await asyncio.sleep(0.5)  # the background resize has run (and been refused for the stop)
    target = {o.id: o for o in gw.orders(account)}[bracket.target_order_id or 0]
    assert target.size == 1, "the live exit still closes 2: a fill would reverse the position"
    assert recorder.unhandled == [], recorder.unhandled


async def test_trimming_a_position_never_grows_an_exit(
    gw: GatewaySimulator, suite_on: OpenSuite, recorder: Recorder
) -> None:
    """Two brackets on one position (1 and 2 lots, long 3), trimmed to 2: each bracket's
    exits may shrink but never grow, and together they never exceed the position."""
    suite = await suite_on(gw)
    await recorder.attach(suite)
    price = Decimal(str(gw.quote(SYMBOL)["last"]))
    brackets = [
        await suite.orders.place_bracket_order(
            SYMBOL,
            0,
            size,
            entry_price=price - 4 * TICK,
            stop_offset=Decimal(5),
            target_offset=Decimal(5),
        )
        for size in (1, 2)
    ]
    gw.set_price(SYMBOL, str(price - 6 * TICK))  # both entries fill: long 3
    positions = suite.realtime.user.positions
    await until_true(lambda: suite.instrument_id in positions)
    await until_true(lambda: positions[suite.instrument_id].size == 3)
    await suite.orders.place_market_order(SYMBOL, 1, 1)  # trim to 2
    await until_true(lambda: positions[suite.instrument_id].size == 2)
    await asyncio.sleep(0.5)  # the background resize has run
    sim = {o.id: o for o in gw.orders(suite.client.get_account_info().id)}
    stops = [sim[b.stop_order_id or 0] for b in brackets]
    assert stops[0].size <= 1, f"the 1-lot bracket's stop grew: {stops}"
    live = sum(s.size for s in stops if s.status == 1)
    assert live <= 2, f"stops for {live} lots protect a position of 2"
    assert recorder.unhandled == []
