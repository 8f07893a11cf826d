"""The ``genmon`` command: demo, report, export, plot and tail.

Exit codes: 0 ok, 1 failed (missing directory, empty run, unwritable output),
2 bad usage (unknown option, bad window). Errors are one clear line on stderr.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from genmon._version import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_WINDOW = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


class UsageError(ValueError):
    """Bad usage that argparse cannot see (a window that does not parse); exit code 2."""


MERGE_RUNS_HELP = "merge files of different runs (other run names, tags or configs) instead of refusing them"


def parse_window(text: str) -> float:
    """Seconds from '90s', '15m', '1h', '2d', '250ms' or a plain number of seconds."""
    match = _WINDOW.match(text)
    if match is None:
        raise UsageError(f"bad window {text!r}: use a number with a unit, e.g. 90s, 15m, 1h, 2d")
    seconds = float(match.group("number")) * _UNITS[match.group("unit")]
    if seconds <= 0:
        raise UsageError(f"bad window {text!r}: it must be longer than 0")
    return seconds


def _command(commands: argparse._SubParsersAction, name: str, help_text: str, examples: str) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        epilog="Examples:\n" + examples + "\n\nExit codes: 0 ok, 1 failed, 2 bad usage.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genmon",
        description="genmon: metrics for generation workloads (LLM dataset generators, evaluators, agents).",
        epilog=(
            "Examples:\n  genmon demo\n  genmon report .genmon/2026-11-23-10-00-00\n"
            "  genmon export runs/today --format parquet --window 1h\n  genmon tail runs/today\n\n"
            "Exit codes: 0 ok, 1 failed, 2 bad usage."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"genmon {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = _command(
        commands,
        "demo",
        "run a simulated async LLM generator with the monitor attached (no server, no key)",
        "  genmon demo\n  genmon demo --conversations 200 --concurrency 16 --error-rate 0.3 --out runs/demo",
    )
    demo.add_argument(
        "--conversations", type=int, default=120, metavar="N", help="conversations to generate (default 120)"
    )
    demo.add_argument("--concurrency", type=int, default=8, metavar="K", help="conversations in flight (default 8)")
    demo.add_argument(
        "--error-rate", type=float, default=0.1, metavar="R", help="share of calls that fail (default 0.1)"
    )
    demo.add_argument("--out", default=None, metavar="DIR", help="run directory (default .genmon/<time>)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")

    report = _command(
        commands,
        "report",
        "rebuild exports, plots and report.html from the files of finished runs",
        "  genmon report runs/today\n  genmon report runs/shard-a runs/shard-b --out runs/merged\n"
        "  genmon report old-afterimage-run   # afterimage's metrics.jsonl works too",
    )
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories to merge")
    report.add_argument("--merge-runs", action="store_true", help=MERGE_RUNS_HELP)
    report.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="where to write (default: the run directory, or ./genmon-report for several)",
    )

    export = _command(
        commands,
        "export",
        "export a finished run's metrics to one format",
        "  genmon export runs/today --format parquet\n  genmon export runs/today --format csv --window 15m --out /tmp/last15.csv",
    )
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("--merge-runs", action="store_true", help=MERGE_RUNS_HELP)
    export.add_argument("--format", required=True, choices=["parquet", "csv", "json", "excel", "xlsx"])
    export.add_argument("--window", default=None, help="only the last part of the run, e.g. 90s, 15m, 1h, 2d")
    export.add_argument(
        "--out", default=None, metavar="PATH", help="output file (default RUN_DIR/exports/metrics.<ext>)"
    )

    plot = _command(
        commands,
        "plot",
        "draw the standard charts of a finished run",
        "  genmon plot runs/today\n  genmon plot runs/today --out /tmp/charts",
    )
    plot.add_argument("run_dir", metavar="RUN_DIR")
    plot.add_argument("--merge-runs", action="store_true", help=MERGE_RUNS_HELP)
    plot.add_argument("--out", default=None, metavar="DIR", help="directory for the PNG files (default RUN_DIR/plots)")

    tail = _command(
        commands,
        "tail",
        "follow a running job's metrics.jsonl: rates, latency percentiles, tokens, errors, recent alerts",
        "  genmon tail runs/today\n  genmon tail runs/today --interval 2 --window 5m",
    )
    tail.add_argument("run_dir", metavar="RUN_DIR")
    tail.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    tail.add_argument("--window", default="5m", help="window for rates and percentiles (default 5m)")
    tail.add_argument("--once", action="store_true", help="print one view and exit")
    tail.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return _run(args)
    except UsageError as error:
        print(f"genmon {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        # Ctrl-C is how a live view ends; anything else it interrupts failed.
        return EXIT_OK if args.command == "tail" else EXIT_FAILED
    except Exception as error:  # noqa: BLE001 - one clear line, never a traceback
        print(f"genmon {args.command}: {error}", file=sys.stderr)
        return EXIT_FAILED


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from genmon.cli.demo import run_demo

        if args.conversations < 1 or args.concurrency < 1:
            raise UsageError("--conversations and --concurrency must be >= 1")
        if not 0.0 <= args.error_rate <= 1.0:
            raise UsageError(f"--error-rate must be between 0 and 1, got {args.error_rate}")
        return run_demo(args)
    if args.command == "tail":
        from genmon.cli.tail import follow

        if args.interval <= 0:
            raise UsageError(f"--interval must be > 0 seconds, got {args.interval}")

        return follow(Path(args.run_dir), args.interval, parse_window(args.window), args.once, args.duration)
    from genmon.cli.commands import export_command, plot_command, report_command

    if args.command == "report":
        return report_command(args.run_dirs, args.out, args.merge_runs)
    if args.command == "export":
        window = None if args.window is None else parse_window(args.window)
        return export_command(args.run_dir, args.format, window, args.out, args.merge_runs)
    return plot_command(args.run_dir, args.out, args.merge_runs)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
