"""Speed of stdpnet against its Brian2 twin: same network, same events, learning on.

    python benchmarks/bench_brian2.py [--net 34x34x2-16C5-P2-32C5-P2-100] [--samples 20]
                                      [--brian2-samples N] [--target cython] [--cold] [--json] [--quiet]

The logic lives in :mod:`stdpnet.validate.bench` (``--help`` for the details).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from stdpnet.validate.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
