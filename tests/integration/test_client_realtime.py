"""pxfast's hubs against the simulator: events, reconnection and the reconciliation fence.

The invariant after every fault: the client's orders, fills and positions
equal the simulator's, every fill reached the handlers exactly once, and the
gap was reported.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from pxfast.client import ProjectX
from pxfast.client import gateway as ep
from pxfast.client.schema import PlaceOrderRequest
from pxfast.event_bus import Event, EventType
from pxfast.models import ProjectXConfig
from pxfast.realtime.connection import RealtimeConnection
from pxfast.realtime.hub import HubOptions
from pxfast.sim import GatewaySimulator

pytestmark = pytest.mark.both_loops

KEY = "0123456789abcdef"
MakeSimulator = Callable[..., Awaitable[GatewaySimulator]]


@dataclass
class Session:
    gw: GatewaySimulator
    client: ProjectX
    rt: RealtimeConnection
    contract: str
    events: list[Event] = field(default_factory=list)

    @property
    def account(self) -> int:
        return self.client.get_account_info().id

    def of(self, kind: EventType) -> list[Event]:
        return [e for e in self.events if e.type is kind]

    async def place(self, **kw: Any) -> int:
        fields: dict[str, Any] = {"type": 2, "side": 0, "size": 1, **kw}
        body = PlaceOrderRequest(accountId=self.account, contractId=self.contract, **fields)
        reply = await self.client.session.call(ep.ORDER_PLACE, body)
        assert reply.success, reply
        return int(reply.orderId)

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        for _ in range(int(timeout / 0.01)):
            if predicate():
                return
            await asyncio.sleep(0.01)
        raise TimeoutError(f"condition not met within {timeout}s")

    def assert_matches_gateway(self) -> None:
        """Client state == simulator state; each fill delivered exactly once."""
        table = self.rt.user.orders
        for order in self.gw.orders(self.account):
            assert table.status(order.id) == order.status, (order.id, order.status)
            mine = table.get(order.id)
            assert mine is not None and (mine.fillVolume or 0) == (order.fillVolume or 0)
        theirs = {p.contractId: (p.type, p.size) for p in self.gw.positions(self.account) if p.size}
        mine_pos = {c: (p.type, p.size) for c, p in self.rt.user.positions.items()}
        assert mine_pos == theirs
        assert set(self.rt.user.trades) == {t.id for t in self.gw.trades(self.account)}
        filled = Counter(e.data["order_id"] for e in self.of(EventType.ORDER_FILLED))
        expected = {o.id for o in self.gw.orders(self.account) if o.status == 2}
        assert set(filled) == expected and all(n == 1 for n in filled.values()), filled


Connect = Callable[..., Awaitable[Session]]


@pytest.fixture
async def connect(make_simulator: MakeSimulator) -> AsyncIterator[Connect]:
    opened: list[Session] = []

    async def open_session(
        user: str = "alice",
        gw: GatewaySimulator | None = None,
        user_options: HubOptions | None = None,
        market_options: HubOptions | None = None,
        **sim: Any,
    ) -> Session:
        if gw is None:
            gw = await make_simulator(ping_interval=0.3, **sim)
        config = ProjectXConfig(
            api_url=gw.api_url, user_hub_url=gw.user_hub_url, market_hub_url=gw.market_hub_url
        )
        client = ProjectX(user, KEY, config)
        await client.authenticate()
        rt = RealtimeConnection(
            client,
            user_options=user_options or HubOptions(server_timeout=3.0),
            market_options=market_options or HubOptions(server_timeout=3.0, stale_after=2.0),
            audit_interval=None,
        )
        session = Session(gw, client, rt, gw.contract_id("MNQ"))
        for kind in EventType:
            await rt.events.on(kind, session.events.append)
        await rt.connect(timeout=10)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        await session.rt.disconnect()
        await session.client.close()


async def test_market_fill_reaches_handlers_with_the_guides_keys(connect: Connect) -> None:
    s = await connect()
    order_id = await s.place()
    await s.until(lambda: bool(s.of(EventType.ORDER_FILLED)))
    data = s.of(EventType.ORDER_FILLED)[0].data
    assert data["order_id"] == order_id and data["status"] == "FILLED" and data["new_status"] == 2
    assert data["filled_quantity"] == 1 and data["fill_price"] == data["order"].filledPrice
    assert data["contract_id"] == s.contract and data["order"].is_filled
    await s.until(lambda: bool(s.of(EventType.POSITION_OPENED)))
    assert s.of(EventType.POSITION_OPENED)[0].data["size"] == 1
    s.assert_matches_gateway()


async def test_quotes_update_current_price(connect: Connect) -> None:
    s = await connect()
    await s.rt.subscribe_market([s.contract])
    s.gw.set_price("MNQ", "21012.25")
    await s.until(lambda: s.rt.market.current_price(s.contract) == 21012.25)
    assert s.of(EventType.QUOTE_UPDATE)


async def test_user_hub_closed_while_orders_fill(connect: Connect) -> None:
    s = await connect()
    resting = [await s.place(type=1, limitPrice=20990 - i, side=0) for i in range(3)]
    await s.until(lambda: all(s.rt.user.orders.status(i) == 1 for i in resting))
    s.gw.freeze_hub_connections("user")  # nothing more reaches the client ...
    s.gw.fill(resting[0])
    s.gw.fill(resting[1])
    await s.place(side=1, size=1)
    await asyncio.sleep(0.2)
    assert s.rt.user.orders.status(resting[0]) == 1  # ... so it has not seen the fills
    s.gw.close_hub_connections("user")
    await s.until(lambda: s.rt.user_hub.stats.reconnects >= 1 and s.rt.user.reconciled.is_set())
    await s.until(lambda: len(s.of(EventType.ORDER_FILLED)) == 3)
    s.assert_matches_gateway()
    gaps = [e.data for e in s.of(EventType.WARNING) if e.data.get("kind") == "gap"]
    assert gaps and gaps[-1]["reconnect"] and gaps[-1]["missed_transitions"] >= 3
    assert s.of(EventType.DISCONNECTED) and s.of(EventType.CONNECTED)


async def test_frozen_user_hub_is_detected_and_reconciled(connect: Connect) -> None:
    s = await connect(user_options=HubOptions(server_timeout=1.0))
    order_id = await s.place(type=1, limitPrice=20900)
    await s.until(lambda: s.rt.user.orders.status(order_id) == 1)
    s.gw.freeze_hub_connections("user")
    s.gw.fill(order_id)
    await s.until(lambda: s.rt.user_hub.stats.server_timeouts >= 1, timeout=10)
    await s.until(lambda: bool(s.of(EventType.ORDER_FILLED)))
    s.assert_matches_gateway()


async def test_lost_frames_are_recovered_by_an_audit(connect: Connect) -> None:
    s = await connect()
    s.gw.faults.drop_hub_frames(1.0, hub="user")
    order_id = await s.place()
    await asyncio.sleep(0.3)
    assert s.rt.user.orders.status(order_id) == -1  # every frame was lost
    s.gw.faults.clear()
    assert await s.rt.audit()
    s.assert_matches_gateway()
    gap = [e.data for e in s.of(EventType.WARNING) if e.data.get("kind") == "gap"][-1]
    assert not gap["reconnect"] and gap["missed_transitions"] >= 1 and gap["missed_fills"] == 1


async def test_quiet_user_hub_is_not_reconnected(connect: Connect) -> None:
    s = await connect(user_options=HubOptions(server_timeout=1.0))
    await asyncio.sleep(2.5)  # a flat account: only pings arrive
    assert s.rt.user_hub.stats.reconnects == 0 and s.rt.user_hub.connected


async def test_frozen_market_feed_is_stale_then_recovers(connect: Connect) -> None:
    s = await connect(market_options=HubOptions(server_timeout=30.0, stale_after=1.0))
    await s.rt.subscribe_market([s.contract])
    s.gw.freeze_hub_connections("market")
    await s.until(lambda: bool(s.of(EventType.FEED_STALE)), timeout=10)
    stale = s.of(EventType.FEED_STALE)[0].data
    assert stale["hub"] == "market" and stale["threshold_seconds"] == 1.0
    await s.until(lambda: s.rt.market_hub.stats.reconnects >= 1)
    s.gw.set_price("MNQ", "21033.5")
    await s.until(lambda: s.rt.market.current_price(s.contract) == 21033.5)


async def test_expired_token_on_reconnect_logs_in_again(connect: Connect) -> None:
    s = await connect()
    logins = s.client.session.stats.logins
    s.gw.expire_tokens()
    s.gw.close_hub_connections()
    await s.until(lambda: s.rt.user_hub.stats.reconnects >= 1 and s.rt.user_hub.connected)
    await s.until(lambda: s.rt.market_hub.stats.reconnects >= 1 and s.rt.market_hub.connected)
    assert s.client.session.stats.logins > logins


async def test_large_depth_snapshot_is_accepted(connect: Connect) -> None:
    s = await connect()
    await s.rt.subscribe_market([s.contract], depth=True)
    depth: list[Event] = []
    await s.rt.events.on(EventType.MARKET_DEPTH_UPDATE, depth.append)
    s.gw.publish_depth_snapshot("MNQ", levels=400)
    await s.until(lambda: any(len(e.data["entries"]) > 400 for e in depth))
    assert s.rt.market_hub.stats.reconnects == 0 and s.rt.market_hub.decoder.errors == 0


async def test_health_reflects_both_hubs_closed(connect: Connect) -> None:
    s = await connect()
    assert s.rt.health()["hubs"]["user"]["connected"]
    await s.gw.stop()
    await s.until(
        lambda: not any(h["connected"] for h in s.rt.health()["hubs"].values()), timeout=5
    )
    hubs = s.rt.health()["hubs"]
    assert hubs["user"]["state"] in ("reconnecting", "connecting")
    assert hubs["user"]["disconnects"] >= 1 and hubs["market"]["disconnects"] >= 1


async def test_negotiated_connection_and_fire_and_forget_invocations(connect: Connect) -> None:
    s = await connect(user_options=HubOptions(server_timeout=3.0, negotiate=True))
    assert s.rt.user_hub.connected
    s.rt.user_hub.send_nowait("Heartbeat", [{"timestamp": 1.0}])  # unknown to the Gateway
    order_id = await s.place()
    await s.until(lambda: s.rt.user.orders.status(order_id) == 2)
    assert s.rt.user_hub.connected and s.rt.user_hub.stats.reconnects == 0


async def test_project_x_py_realtime_client_callbacks(make_simulator: MakeSimulator) -> None:
    from pxfast.realtime import ProjectXRealtimeClient

    gw = await make_simulator(ping_interval=0.3)
    config = ProjectXConfig(
        api_url=gw.api_url, user_hub_url=gw.user_hub_url, market_hub_url=gw.market_hub_url
    )
    async with ProjectX("frank", KEY, config) as px:
        await px.authenticate()
        realtime = ProjectXRealtimeClient(
            px.get_session_token(), str(px.get_account_info().id), config=config
        )
        orders: list[dict[str, Any]] = []
        quotes: list[dict[str, Any]] = []

        async def on_order(data: dict[str, Any]) -> None:
            orders.append(data)

        await realtime.add_callback("order_update", on_order)
        await realtime.add_callback("quote_update", quotes.append)
        with pytest.raises(ValueError, match="Unknown event type"):
            await realtime.add_callback("nonsense", on_order)
        assert await realtime.connect() and realtime.is_connected()
        contract = gw.contract_id("MNQ")
        await realtime.subscribe_market_data([contract])
        gw.set_price("MNQ", "21001.75")
        body = PlaceOrderRequest(
            accountId=px.get_account_info().id, contractId=contract, type=2, side=0, size=1
        )
        reply = await px.session.call(ep.ORDER_PLACE, body)
        try:
            for _ in range(500):
                if any(o["data"]["status"] == 2 for o in orders) and quotes:
                    break
                await asyncio.sleep(0.01)
            assert {o["data"]["id"] for o in orders} == {reply.orderId}
            assert orders[-1]["action"] == 1 and orders[-1]["data"]["status"] == 2
            assert quotes[-1]["contract_id"] == contract
            assert realtime.get_stats()["user_connected"]
        finally:
            await realtime.disconnect()


def _quote_frame(contract: str, prices: range) -> str:
    """One WebSocket frame of GatewayQuote records, one per price (a burst, as batched);
    every 100th record is longer than a 4 KiB slice (a slice then ends inside it)."""
    records = [
        f'{{"type":1,"target":"GatewayQuote","arguments":["{contract}",{{"lastPrice":{p}.25,'
        f'"bestBid":{p}.0,"bestAsk":{p}.5,"symbolName":"{"M" * (5000 if p % 100 == 0 else 3)}"}}]}}'
        for p in prices
    ]
    return "\x1e".join(records)


async def test_a_market_burst_is_worked_off_in_slices_behind_user_events(
    connect: Connect,
) -> None:
    options = HubOptions(
        server_timeout=3.0, slice_bytes=4096, backlog_high=64 * 1024, backlog_low=16 * 1024
    )
    s = await connect(market_options=options, paused=True, quote_keepalive=0)
    await s.rt.subscribe_market([s.contract])
    quotes: list[float] = []
    await s.rt.events.on(EventType.QUOTE_UPDATE, lambda e: quotes.append(e.data["last"]))
    batches: list[int] = []
    s.rt.item_listeners["market"].append(lambda items: batches.append(len(items)))
    market_done_at_user_event: list[int] = []
    s.rt.item_listeners["user"].append(lambda _: market_done_at_user_event.append(sum(batches)))
    prices = range(20_000, 30_000)  # ~1.7 MB in 10 frames
    for chunk in range(10):
        part = prices[chunk * 1000 : (chunk + 1) * 1000]
        assert s.gw.send_hub_record(_quote_frame(s.contract, part), hub="market") == 1
    await s.until(lambda: bool(batches), timeout=5)
    order_id = await s.place()  # its events ride the user hub while the burst is worked off
    await s.until(lambda: len(quotes) == len(prices))
    assert quotes == [p + 0.25 for p in prices]  # every record, in wire order, none coalesced
    assert max(batches) <= 4096 // 100 and len(batches) >= len(prices) // 40
    assert 0 < market_done_at_user_event[0] < len(prices)  # the order did not wait for the burst
    assert s.rt.market_hub.stats.pauses >= 1 and s.rt.market_hub.backlog_bytes == 0
    await s.until(lambda: bool(s.of(EventType.ORDER_FILLED)))
    assert s.of(EventType.ORDER_FILLED)[0].data["order_id"] == order_id
    assert s.rt.market_hub.stats.reconnects == 0 and s.rt.market_hub.decoder.errors == 0
