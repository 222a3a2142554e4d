"""``stdpnet info``: describe a recording or a dataset folder."""
from __future__ import annotations

import json


def add_parsers(sub) -> None:
    p = sub.add_parser("info", help="describe a recording or a dataset folder")
    p.add_argument("path", help="an event file (any supported format) or an N-MNIST-layout folder")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_info)


def cmd_info(a) -> int:
    import streams

    info = streams.describe(a.path)
    if a.json:
        print(json.dumps(info, default=str))
        return 0
    for k, v in info.items():
        print(f"{k:>18}: {v}")
    return 0
