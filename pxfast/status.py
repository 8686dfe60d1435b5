"""``pxfast status``: connect, watch the transport for a moment, print the session's health.

The health printed is ``TradingSuite.get_health()``: per hub its state, the
age of the last message (and of the last market data), reconnects,
disconnects, staleness events, decode errors and the last error; the gaps
the reconciliation fence reported; the rate budgets in use; the REST
counters.  Every figure is read from the transport and the session's
counters, so a closed hub shows as closed (project-x-py reported a health
score of 100 with both hubs down, incident #141).

Credentials and endpoints come from the environment as for any bot
(``PROJECT_X_USERNAME``, ``PROJECT_X_API_KEY``, ``PROJECTX_*`` URLs); with
``--sim`` an embedded Gateway simulator is started and connected to instead.
The exit status is 0 when both hubs are connected, 1 when one is not, 2 when
no session could be made.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

from pxfast.exceptions import ProjectXError
from pxfast.models import ProjectXConfig
from pxfast.trading_suite import TradingSuite

__all__ = ["add_arguments", "collect", "format_health", "run"]

SIM_USER = "status"
SIM_KEY = "pxfast-status-key"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sim", action="store_true", help="connect to an embedded simulator")
    parser.add_argument("--instrument", default="MNQ", help="instrument to subscribe (MNQ)")
    parser.add_argument(
        "--seconds",
        type=float,
        default=2.0,
        help="how long to watch the hubs before reporting (default 2)",
    )
    parser.add_argument("--json", action="store_true", help="print the health as JSON")


async def _observe(suite: TradingSuite, seconds: float) -> dict[str, Any]:
    await asyncio.sleep(max(0.0, seconds))
    health = suite.get_health()
    health["account"] = suite.client.get_account_info().name
    health["api_url"] = suite.client.base_url
    health["instrument"] = suite.instrument_id
    return health


async def collect(instrument: str, seconds: float, *, sim: bool = False) -> dict[str, Any]:
    """Connect (to the environment's Gateway, or an embedded simulator) and report health."""
    if not sim:
        suite = await TradingSuite.create(instrument, initial_days=1)
        try:
            return await _observe(suite, seconds)
        finally:
            await suite.disconnect()
    from pxfast.sim import GatewaySimulator

    async with GatewaySimulator() as gw:
        config = ProjectXConfig(
            api_url=gw.api_url, user_hub_url=gw.user_hub_url, market_hub_url=gw.market_hub_url
        )
        suite = await TradingSuite.create(
            instrument, username=SIM_USER, api_key=SIM_KEY, client_config=config, initial_days=1
        )
        try:
            return await _observe(suite, seconds)
        finally:
            await suite.disconnect()


def _age(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def format_health(health: dict[str, Any]) -> str:
    """The health report as a few aligned lines."""
    lines = [
        f"pxfast status: {health.get('api_url', '?')}, account {health.get('account', '?')}, "
        f"{health.get('instrument', '?')}",
        f"{'hub':<7} {'state':<13} {'last msg':>9} {'last data':>9} {'reconnects':>10} "
        f"{'disconnects':>11} {'stale':>5} {'decode errors':>13}  last error",
    ]
    for name, hub in health["hubs"].items():
        lines.append(
            f"{name:<7} {hub['state']:<13} {_age(hub['last_message_age']):>9} "
            f"{_age(hub.get('last_data_age')):>9} {hub['reconnects']:>10} "
            f"{hub['disconnects']:>11} {hub['stale_events']:>5} {hub['decode_errors']:>13}  "
            f"{hub['last_error'] or '-'}"
        )
    last_gap = health.get("last_gap")
    gap = (
        "-"
        if not last_gap
        else f"{last_gap['missed_transitions']} transitions and {last_gap['missed_fills']} fills "
        f"recovered{'' if last_gap['reconciled'] else ', NOT reconciled'}"
    )
    lines.append(
        f"gaps {health['gaps']} (last: {gap}); orders tracked {health['orders_tracked']}, "
        f"order anomalies {health['order_anomalies']}"
    )
    budgets = ", ".join(
        f"{name} {b['used']}/{b['limit']} per {b['window_seconds']:g} s ({b['fraction']:.0%})"
        for name, b in health["rate_budget"].items()
    )
    lines.append(f"rate budget: {budgets}")
    rest = health["rest"]
    lines.append(
        f"REST: {rest['requests']} requests, {rest['retries']} retries, {rest['uncertain']} "
        f"uncertain, {rest['http_429']} x 429, {rest['http_5xx']} x 5xx, "
        f"{rest['decode_errors']} decode errors"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    from pxfast.loop import run as run_loop

    try:
        health = run_loop(collect(args.instrument, args.seconds, sim=args.sim))
    except (ProjectXError, ValueError) as exc:
        print(f"pxfast status: no session: {exc}", file=sys.stderr)
        return 2
    out(json.dumps(health, indent=2, default=str) if args.json else format_health(health))
    return 0 if all(hub["connected"] for hub in health["hubs"].values()) else 1
