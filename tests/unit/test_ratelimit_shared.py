"""One REST budget per (Gateway, user) in a process: the registry behind ``shared_budget``."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref

from pxfast.client.ratelimit import BucketSpec, RateBudget, shared_budget

URL = "http://127.0.0.1:5999/api"


def test_one_budget_per_gateway_and_user_whatever_the_spelling() -> None:
    budget = shared_budget(URL, "alice")
    assert shared_budget(URL + "/", "alice") is budget
    assert shared_budget("HTTP://127.0.0.1:5999/api", " Alice ") is budget
    assert shared_budget(URL, "carol") is not budget
    assert shared_budget("http://127.0.0.1:6000/api", "alice") is not budget


def test_the_registry_does_not_keep_a_budget_alive() -> None:
    budget = shared_budget(URL, "dave")
    gone = weakref.ref(budget)
    del budget
    gc.collect()
    assert gone() is None
    assert isinstance(shared_budget(URL, "dave"), RateBudget)


def test_a_custom_budget_is_made_once_and_then_shared() -> None:
    small = shared_budget(URL, "erin", lambda: RateBudget(general=BucketSpec(10, 60.0)))
    assert small.usage()["general"]["limit"] == 10
    again = shared_budget(URL, "erin", lambda: RateBudget(general=BucketSpec(99, 60.0)))
    assert again is small


def test_clients_on_other_loops_and_threads_count_in_the_same_window() -> None:
    """Each thread runs its own event loop; together they fill the window exactly."""
    budget = shared_budget(
        URL, "frank", lambda: RateBudget(general=BucketSpec(400, 60.0), mutation_reserve=0)
    )

    async def reads() -> None:
        for _ in range(100):
            await budget.acquire_read("general")

    threads = [threading.Thread(target=asyncio.run, args=(reads(),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert budget.usage()["general"]["used"] == 400 and budget.waited == 0
    assert budget._buckets["general"].take(time.monotonic(), 400) > 0  # full: the next waits
