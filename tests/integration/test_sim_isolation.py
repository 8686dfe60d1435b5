"""Two users on one simulator never see or touch each other's accounts, over REST or hubs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sim_wire import Gateway, Hub

from pxfast.sim import GatewaySimulator

pytestmark = pytest.mark.both_loops


async def test_rest_never_crosses_users(simulator: GatewaySimulator,
                                        raw_rest_for: Callable[[str], Awaitable[Gateway]]
                                        ) -> None:
    alice, bob = await raw_rest_for("alice"), await raw_rest_for("bob")
    alice_account, bob_account = await alice.account_id(), await bob.account_id()
    assert alice_account != bob_account
    bob_accounts = (await bob.call("Account/search", {"onlyActiveAccounts": False}))["accounts"]
    assert [a["id"] for a in bob_accounts] == [bob_account]
    mnq = simulator.contract_id("MNQ")
    order = await alice.place(alice_account, mnq, type=1, limitPrice=20000)
    await alice.place(alice_account, mnq, type=2)

    denied = [
        ("Order/place", {"accountId": alice_account, "contractId": mnq, "type": 2, "side": 0,
                         "size": 1}),
        ("Order/cancel", {"accountId": alice_account, "orderId": order["orderId"]}),
        ("Order/modify", {"accountId": alice_account, "orderId": order["orderId"],
                          "limitPrice": 20001}),
        ("Order/search", {"accountId": alice_account,
                          "startTimestamp": "2020-01-01T00:00:00Z"}),
        ("Order/searchOpen", {"accountId": alice_account}),
        ("Order/v2/query", {"filter": {"accountId": alice_account}}),
        ("Position/searchOpen", {"accountId": alice_account}),
        ("Position/closeContract", {"accountId": alice_account, "contractId": mnq}),
        ("Position/partialCloseContract", {"accountId": alice_account, "contractId": mnq,
                                           "size": 1}),
        ("Trade/search", {"accountId": alice_account}),
    ]
    for endpoint, body in denied:
        answer = await bob.call(endpoint, body)
        assert (answer["success"], answer["errorCode"]) == (False, 1), endpoint
    # Bob cannot even learn that the order exists, with his own account either.
    answer = await bob.call("Order/searchById", {"accountId": bob_account,
                                                 "orderId": order["orderId"]})
    assert answer["order"] is None
    answer = await bob.call("Order/cancel", {"accountId": bob_account,
                                             "orderId": order["orderId"]})
    assert answer["errorCode"] == 2
    # ... and Alice's state is untouched.
    assert len(await alice.orders(alice_account)) == 2
    assert simulator.account_state(alice_account).positions == {mnq: (1, 21000.25)}


async def test_hubs_never_cross_users(simulator: GatewaySimulator,
                                      raw_rest_for: Callable[[str], Awaitable[Gateway]],
                                      raw_hub: Callable[..., Awaitable[Hub]]) -> None:
    alice, bob = await raw_rest_for("alice"), await raw_rest_for("bob")
    alice_account, bob_account = await alice.account_id(), await bob.account_id()
    spy = await raw_hub(simulator.user_hub_url, str(bob.token))
    await spy.invoke("SubscribeAccounts")
    for method in ("SubscribeOrders", "SubscribePositions", "SubscribeTrades"):
        for account_id in (alice_account, bob_account):
            await spy.invoke(method, account_id)  # accepted, but Alice's stays silent
    spy_market = await raw_hub(simulator.market_hub_url, str(bob.token))
    await spy_market.invoke("SubscribeContractQuotes", simulator.contract_id("MNQ"))
    own = await raw_hub(simulator.user_hub_url, str(alice.token))
    await own.invoke("SubscribeOrders", alice_account)

    await alice.place(alice_account, simulator.contract_id("MNQ"), type=2, size=2)
    await own.event("GatewayUserOrder")
    await spy.settle()
    assert [r for r in spy.pending if r.get("target", "").startswith("GatewayUser")] == []
    await spy_market.settle()
    assert not [r for r in spy_market.pending if r.get("target", "").startswith("GatewayUser")]
    # Bob's own activity does reach him.
    await bob.place(bob_account, simulator.contract_id("MNQ"), type=2)
    [account] = await spy.event("GatewayUserAccount")
    assert account["data"]["id"] == bob_account
