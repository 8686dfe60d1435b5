"""The ``pxfast`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pxfast._version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pxfast", description=__doc__)
    parser.add_argument("--version", action="version", version=f"pxfast {__version__}")
    commands = parser.add_subparsers(dest="command")
    demo = commands.add_parser("demo", help="run a small bot on the embedded Gateway")
    from pxfast.demo import add_arguments as add_demo_arguments

    add_demo_arguments(demo)
    sim = commands.add_parser("sim", help="run the Gateway simulator until interrupted")
    from pxfast.sim.cli import add_arguments

    add_arguments(sim)
    bench = commands.add_parser(
        "bench", help="every performance figure, side by side with project-x-py 4.4.1"
    )
    from pxfast.bench.runner import add_arguments as add_bench_arguments

    add_bench_arguments(bench)
    status = commands.add_parser("status", help="connect and print per-hub health")
    from pxfast.status import add_arguments as add_status_arguments

    add_status_arguments(status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from pxfast.demo import run as run_demo

        return run_demo(args)
    if args.command == "sim":
        from pxfast.sim.cli import run

        return run(args)
    if args.command == "bench":
        from pxfast.bench.runner import run as run_bench

        return run_bench(args)
    if args.command == "status":
        from pxfast.status import run as run_status

        return run_status(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
