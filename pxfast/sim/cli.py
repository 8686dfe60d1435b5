"""``pxfast sim``: run the simulator standalone until interrupted.

It prints export-ready lines first (URLs, credentials, the control URL and
its secret token), so ``eval "$(pxfast sim | head -7)"``-style scripts and
test harnesses that read the first lines of its output can point a client at
it and drive it.  The control token is the only key to the control API:
anyone who reads this output can move prices and act as any user.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from pxfast.sim.config import SimConfig
from pxfast.sim.control import check_token
from pxfast.sim.simulator import GatewaySimulator

__all__ = ["add_arguments", "main", "run"]

DEFAULT_USER = "simuser"
DEFAULT_KEY = "sim-api-key-0000"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, default=SimConfig().rate,
                        help="market steps per second per contract")
    parser.add_argument("--paused", action="store_true",
                        help="start with the market paused (move it through the control API)")
    parser.add_argument("--no-rate-limit", action="store_true",
                        help="disable the Gateway's REST rate limits")
    parser.add_argument("--no-control", action="store_true",
                        help="do not serve the /_sim control API")
    parser.add_argument("--control-token", metavar="TOKEN",
                        help="the control API's secret (letters, digits, - and _); "
                             "default: a random one, printed at start")
    parser.add_argument("--no-live-data", action="store_true",
                        help="users have no live data subscription: live contract searches "
                             "find nothing, as on a practice account")
    parser.add_argument("--user", action="append", default=[], metavar="NAME:KEY",
                        help="register a user with this key (repeatable); with any, "
                             "only registered users log in")


def _config(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        seed=args.seed, host=args.host, port=args.port, rate=args.rate, paused=args.paused,
        rate_limits=not args.no_rate_limit, control=not args.no_control,
        control_token=args.control_token,
        open_login=not args.user, live_data=not args.no_live_data,
    )


async def serve(config: SimConfig, users: Sequence[tuple[str, str]]) -> None:
    async with GatewaySimulator(config) as gw:
        for name, key in users:
            gw.add_user(name, key)
        username, key = users[0] if users else (DEFAULT_USER, DEFAULT_KEY)
        lines = [
            f"PROJECTX_API_URL={gw.api_url}",
            f"PROJECTX_USER_HUB_URL={gw.user_hub_url}",
            f"PROJECTX_MARKET_HUB_URL={gw.market_hub_url}",
            f"PROJECT_X_USERNAME={username}",
            f"PROJECT_X_API_KEY={key}",
        ]
        if gw.control_url:
            lines.append(f"PXFAST_SIM_CONTROL_URL={gw.control_url}")
            lines.append(f"PXFAST_SIM_CONTROL_TOKEN={gw.control_token}")
        if not users:
            lines.append("# any user name and API key log in")
        print("\n".join(lines), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # not on Windows
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    users: list[tuple[str, str]] = []
    for item in args.user:
        name, sep, key = item.partition(":")
        if not sep or not name or not key:
            print(f"--user wants NAME:KEY, not {item!r}", file=sys.stderr)
            return 2
        users.append((name, key))
    try:
        check_token(args.control_token)
    except ValueError as exc:
        print(f"--control-token: {exc}", file=sys.stderr)
        return 2
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        asyncio.run(serve(_config(args), users))
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(_config(args), users))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pxfast sim", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
