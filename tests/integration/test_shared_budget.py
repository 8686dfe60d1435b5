"""Every client of one user on one Gateway spends one REST budget, as the Gateway counts.

The simulator enforces the Gateway's per-user buckets; two clients of one
user that each counted alone could together run into its 429.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from pxfast.client import ProjectX
from pxfast.client.ratelimit import BucketSpec, RateBudget, shared_budget
from pxfast.models import ProjectXConfig
from pxfast.sim import GatewaySimulator

pytestmark = pytest.mark.both_loops

KEY = "0123456789abcdef"
MakeSimulator = Callable[..., Awaitable[GatewaySimulator]]


def _config(simulator: GatewaySimulator) -> ProjectXConfig:
    return ProjectXConfig(
        api_url=simulator.api_url,
        user_hub_url=simulator.user_hub_url,
        market_hub_url=simulator.market_hub_url,
    )


def _sent(client: ProjectX) -> int:
    """General-bucket requests this client made (its login is not one of ``requests``)."""
    stats = client.session.stats
    return stats.requests + stats.logins + stats.retries


async def test_clients_of_one_user_share_usage_and_other_users_do_not(
    simulator: GatewaySimulator,
) -> None:
    config = _config(simulator)
    async with (
        ProjectX("alice", KEY, config) as first,
        ProjectX("Alice", KEY, config) as second,
        ProjectX("carol", KEY, config) as other,
    ):
        for client in (first, second, other):
            await client.authenticate()
        await first.list_accounts()
        await second.search_instruments("MNQ")
        await second.list_accounts()
        shared = first.session.budget
        assert second.session.budget is shared and other.session.budget is not shared
        assert shared.usage()["general"]["used"] == _sent(first) + _sent(second) > _sent(first)
        assert other.session.budget.usage()["general"]["used"] == _sent(other)


async def test_two_clients_of_one_user_wait_instead_of_meeting_the_gateways_429(
    make_simulator: MakeSimulator,
) -> None:
    """A Gateway bucket of 10 requests a minute; the budget mirrors it and is made first.

    Together the two clients spend the 10; the next read waits in the client.
    Counting alone, each client would have sent it and met the simulator's 429.
    """
    simulator = await make_simulator(general_limit=10, general_window=60.0)
    budget = shared_budget(
        simulator.api_url,
        "alice",
        lambda: RateBudget(general=BucketSpec(10, 60.0), mutation_reserve=0),
    )
    config = _config(simulator)
    async with ProjectX("alice", KEY, config) as first, ProjectX("alice", KEY, config) as second:
        await first.authenticate()
        await second.authenticate()
        for _ in range(3):
            await first.list_accounts()
            await second.list_accounts()
        assert budget.usage()["general"]["used"] == 10 == _sent(first) + _sent(second)
        held = asyncio.create_task(second.list_accounts())

        def http_429() -> int:
            return first.session.stats.http_429 + second.session.stats.http_429

        for _ in range(1000):  # until it is held back here, or refused by the Gateway
            if budget.waited or http_429():
                break
            await asyncio.sleep(0.01)
        assert budget.waited == 1 and http_429() == 0
        assert not held.done()
        held.cancel()
        with pytest.raises(asyncio.CancelledError):
            await held
