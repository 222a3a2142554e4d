"""The ``stdpnet`` command: parse, call one function, print. No logic a Python user could not call.

One module per command group: :mod:`.runs` (train, eval, plot), :mod:`.info`, :mod:`.perf` (bench,
crosscheck), :mod:`.experiments` (continual, sweep, compare). Every user error is one line, ``stdpnet CMD: error: ...``, exit status 2; a stop on
request (Ctrl-C, SIGTERM, SIGHUP) exits 130; anything else is a bug and says "please report".
"""
from __future__ import annotations

import argparse
import sys
import traceback
from typing import List, Optional

from . import experiments, info, live, perf, runs

#: Exit statuses.
EXIT_OK, EXIT_USER_ERROR, EXIT_INTERRUPTED, EXIT_INTERNAL = 0, 2, 130, 1

GROUPS = (runs, info, perf, experiments, live)


def add_threads_option(p) -> None:
    """``--threads {1,2}`` of a command that builds networks (sets ``STDPNET_THREADS`` for them)."""
    p.add_argument("--threads", dest="env_threads", type=int, default=None, choices=[1, 2],
                   help="cores for each stream: 2 runs the first layer on a second thread, a block of ticks "
                        "ahead (same results bit for bit; default 1, or STDPNET_THREADS)")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="stdpnet",
                                     description="Online STDP learning in spiking winner-take-all networks from event streams")
    parser.add_argument("--version", action="version", version=f"stdpnet {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parsers(sub)
    return parser


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.filename and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    return " ".join(text.split())


def main(argv: Optional[List[str]] = None) -> int:
    """Run the ``stdpnet`` command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    if getattr(args, "env_threads", None) is not None:  # train/eval/live --threads: every network built
        import os

        os.environ["STDPNET_THREADS"] = str(args.env_threads)
    from streams.events import EventStreamError

    from ..errors import StdpnetError

    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"stdpnet {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (StdpnetError, EventStreamError, OSError) as e:
        print(f"stdpnet {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception:  # noqa: BLE001 - a bug: say so, with the traceback
        print(f"stdpnet {args.command}: internal error (a bug in stdpnet): please report it with this traceback",
              file=sys.stderr)
        traceback.print_exc()
        return EXIT_INTERNAL


__all__ = ["build_parser", "main"]
