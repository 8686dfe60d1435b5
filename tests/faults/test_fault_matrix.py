"""The fault matrix: every fault the simulator can inject, against a bot that is trading.

For each fault the bot runs the same session (a native bracket held while
the price moves, a resting order placed, modified and cancelled, a market
trade, every cycle); the fault is injected by the cycle hook and lifted at
the end; then the client must converge on the Gateway's books and pass the
whole invariant of ``fault_bot.violations``.  Each row also checks the
evidence that its fault really happened and was handled the intended way
(a reconnect, a re-login, a tag lookup, ...), so a fault that silently did
nothing cannot pass for one that was survived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from fault_bot import Bot, BotReport, LocalVenue, OpenSuite, Recorder, settle

from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite

CYCLES = 12
ALL_MUTATIONS = ("Order/place", "Order/modify", "Order/cancel")

Inject = Callable[[GatewaySimulator, int], Awaitable[None] | None]
Evidence = Callable[[TradingSuite, GatewaySimulator, BotReport], None]


@dataclass(frozen=True)
class Fault:
    inject: Inject
    evidence: Evidence


def _hub_closed(gw: GatewaySimulator, cycle: int) -> None:
    if cycle in (3, 6, 9):
        gw.close_hub_connections()


def _hub_closed_seen(suite: TradingSuite, gw: GatewaySimulator, report: BotReport) -> None:
    realtime = suite.realtime
    assert realtime.user_hub.stats.reconnects >= 3 and realtime.market_hub.stats.reconnects >= 3


async def _hub_frozen(gw: GatewaySimulator, cycle: int) -> None:
    if cycle == 3:
        gw.freeze_hub_connections()  # open sockets, pongs answered, nothing else
    elif cycle == 4:
        await asyncio.sleep(2.0)  # trade on through the silence until it is noticed
    elif cycle == 8:
        gw.freeze_hub_connections("user")
    elif cycle == 9:
        await asyncio.sleep(2.0)


def _hub_frozen_seen(suite: TradingSuite, gw: GatewaySimulator, report: BotReport) -> None:
    realtime = suite.realtime
    assert realtime.user_hub.stats.server_timeouts >= 2
    assert realtime.market_hub.stats.disconnects >= 1


def _frames_dropped(gw: GatewaySimulator, cycle: int) -> None:
    if cycle == 2:
        gw.faults.drop_hub_frames(0.3)
    elif cycle == CYCLES - 2:
        gw.faults.drop_hub_frames(0.0)


def _frames_dropped_seen(suite: TradingSuite, gw: GatewaySimulator, report: BotReport) -> None:
    realtime = suite.realtime
    assert gw.faults.dropped["user"] > 0 and gw.faults.dropped["market"] > 0
    assert realtime.audits > 0  # recovered with the socket up ...
    assert realtime.user_hub.stats.reconnects == 0  # ... without a reconnect


def _frames_delayed(gw: GatewaySimulator, cycle: int) -> None:
    if cycle == 2:
        gw.faults.delay_hub_frames(0.5, 0.3)
    elif cycle == CYCLES - 2:
        gw.faults.delay_hub_frames(0.0, 0.0)


def _frames_delayed_seen(suite: TradingSuite, gw: GatewaySimulator, report: BotReport) -> None:
    assert suite.realtime.user_hub.stats.reconnects == 0  # late is not dead


def _burst(status: int) -> Inject:
    def inject(gw: GatewaySimulator, cycle: int) -> None:
        if cycle in (2, 5, 8):
            gw.faults.fail_requests(None, status=status, count=4)

    return inject


def _429_seen(suite: TradingSuite, gw: GatewaySimulator, report: BotReport) -> None:
    assert suite.client.session.stats.http_429 == 12
    assert report.errors["OrderRateLimitedError"] > 0


def _5xx_seen(suite: TradingSuite, gw: GatewaySimulator, report: BotReport) -> None:
    assert suite.client.session.stats.http_5xx == 12


def _after_accept(gw: GatewaySimulator, cycle: int) -> None:
    if cycle in (2, 5, 8):
        gw.faults.fail_after_accept(ALL_MUTATIONS, status=500, count=2)


def _after_accept_seen(suite: TradingSuite, gw: GatewaySimulator, report: BotReport) -> None:
    assert suite.client.session.stats.uncertain == 6
    assert suite.orders.stats["uncertain_resolved"] >= 1  # places found by their tag


def _token_expiry(gw: GatewaySimulator, cycle: int) -> None:
    if cycle == 3:
        gw.expire_tokens()
    elif cycle == 7:
        gw.expire_tokens()
        gw.close_hub_connections()  # the hubs must come back with a new token


def _token_expiry_seen(suite: TradingSuite, gw: GatewaySimulator, report: BotReport) -> None:
    session = suite.client.session.stats
    assert session.logins >= 3  # the first, then one after each expiry
    assert suite.realtime.user_hub.stats.reconnects >= 1


def _restart(gw: GatewaySimulator, cycle: int) -> Awaitable[None] | None:
    if cycle in (3, 8):
        asyncio.get_running_loop().create_task(gw.restart(downtime=0.5))
    return None


def _restart_seen(suite: TradingSuite, gw: GatewaySimulator, report: BotReport) -> None:
    realtime = suite.realtime
    assert realtime.user_hub.stats.reconnects >= 2 and realtime.market_hub.stats.reconnects >= 2


BAD_RECORDS = (
    b'{"type":1,"target":"GatewayUserOrder","arguments":[{"action":1,"data":{"id":"x"}}]}',
    b'{"type":1,"target":"GatewayQuote","arguments":[42]}',
    b"\xff\xfe{not json",
)


def _malformed(gw: GatewaySimulator, cycle: int) -> None:
    for record in BAD_RECORDS:
        gw.send_hub_record(record)


def _malformed_seen(suite: TradingSuite, gw: GatewaySimulator, report: BotReport) -> None:
    health = suite.get_health()["hubs"]
    assert health["user"]["decode_errors"] >= CYCLES and health["market"]["decode_errors"] > 0
    assert health["user"]["reconnects"] == 0 and health["market"]["reconnects"] == 0


FAULTS = {
    "hub closed": Fault(_hub_closed, _hub_closed_seen),
    "hub frozen, socket open": Fault(_hub_frozen, _hub_frozen_seen),
    "30% of frames dropped": Fault(_frames_dropped, _frames_dropped_seen),
    "half the frames delayed": Fault(_frames_delayed, _frames_delayed_seen),
    "429 bursts": Fault(_burst(429), _429_seen),
    "5xx bursts": Fault(_burst(503), _5xx_seen),
    "5xx after an accepted mutation": Fault(_after_accept, _after_accept_seen),
    "token expiry mid-session": Fault(_token_expiry, _token_expiry_seen),
    "full restart, state kept": Fault(_restart, _restart_seen),
    "malformed frames": Fault(_malformed, _malformed_seen),
}


@pytest.mark.parametrize("name", list(FAULTS))
async def test_bot_survives(
    name: str, gw: GatewaySimulator, suite_on: OpenSuite, recorder: Recorder
) -> None:
    fault = FAULTS[name]
    suite = await suite_on(gw)
    await recorder.attach(suite)
    venue = LocalVenue(gw)
    bot = Bot(suite, venue, seed=5)
    report = await asyncio.wait_for(bot.run(CYCLES, lambda cycle: fault.inject(gw, cycle)), 90)
    gw.faults.clear()
    gw.thaw_hub_connections()
    assert await settle(suite, venue, recorder, report) == []
    assert report.cycles == CYCLES and len(report.known) >= CYCLES
    fault.evidence(suite, gw, report)
