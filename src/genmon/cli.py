"""The ``genmon`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from genmon._version import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genmon",
        description="genmon: metrics for generation workloads.",
        epilog="Examples:\n  genmon demo\n  genmon demo --conversations 200 --out runs/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"genmon {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run a simulated generator with the monitor attached",
        description="Run a simulated LLM generator for a few seconds with the monitor attached. Needs no server and no key.",
        epilog="Examples:\n  genmon demo\n  genmon demo --conversations 50 --error-rate 0.3 --out runs/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--conversations", type=int, default=120, metavar="N", help="conversations to generate (default 120)")
    demo.add_argument("--concurrency", type=int, default=8, metavar="K", help="conversations in flight (default 8)")
    demo.add_argument("--error-rate", type=float, default=0.1, metavar="R", help="share of calls that fail (default 0.1)")
    demo.add_argument("--out", default=None, metavar="DIR", help="run directory (default .genmon/<time>)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "demo":
            from genmon.demo import run_demo

            return run_demo(args)
    except (OSError, ValueError) as error:
        print(f"genmon {args.command}: {error}", file=sys.stderr)
        return 1
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
