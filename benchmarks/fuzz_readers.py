"""Counting report of the bad-input fuzzing of every event file reader.

Runs N random cases per format (mutations of the real sample files in ``<data>/samples``:
truncation at record boundaries, inside records and inside headers, random bytes, random bodies,
flipped bytes and bits; ``on_bad`` "raise" or, in 30 % of cases, "drop"). Every case is read in a
worker subprocess (``tests/streams/fuzzing.py``), so a native crash or a hang is counted rather than
fatal. Prints the counts per format and outcome class:

* ``clear error``: EventStreamError naming the file; ``documented result``: valid events (inside
  the sensor, sorted timestamps), possibly a partial read announced by a warning;
* ``unclear error``, ``other exception``, ``invalid result``, ``crash``, ``hang``: must all be 0
  (the exit status is 1 otherwise, and the first failing cases are listed).

Usage (from the repository root): ``python benchmarks/fuzz_readers.py [--cases 300] [--seed 0]
[--formats nmnist evt3 ...] [--timeout 30] [--json]``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streams  # noqa: E402
from tests.streams import fuzzing  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=300, help="cases per format")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--formats", nargs="+", default=list(fuzzing.FORMATS), choices=fuzzing.FORMATS)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a case counts as a hang")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = parser.parse_args(argv)
    root = streams.data_root()
    if root is None or not (root / "samples").is_dir():
        print("no data folder with samples/: set STDPNET_DATA", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fuzz-readers-") as work:
        counts, failures = fuzzing.run_report(root / "samples", Path(work), args.cases, seed=args.seed,
                                              formats=tuple(args.formats), timeout_s=args.timeout,
                                              progress=not args.json)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({"cases_per_format": args.cases, "seed": args.seed, "seconds": round(seconds, 1),
                          "counts": counts, "failures": [
                              {"format": f, "mutation": repr(m), "on_bad": b, "outcome": o, "detail": d}
                              for f, m, b, o, d in failures]}, indent=1))
    else:
        print(f"{args.cases} cases per format, seed {args.seed}, {seconds:.1f} s")
        print(fuzzing.format_counts(counts))
        for fmt, mutation, on_bad, outcome, detail in failures[:20]:
            print(f"FAIL {fmt} {mutation} on_bad={on_bad}: {outcome}: {detail}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
