"""The continual-learning protocol grammar: a short string naming a sequence of tasks.

::

    protocol    := class_part ("+" domain_item)*  |  "domain:" domain_item  |  "timescale:" FLOATS
    class_part  := "split:" N "x" M              N tasks of M classes each, in sorted class order
                                                  (split:5x2 -> {0,1},{2,3},{4,5},{6,7},{8,9})
                 | "classes:" GROUP ("/" GROUP)*  explicit, e.g. classes:0,1,2/3,4,5/6,7,8,9
    GROUP       := INT ("," INT)*
    domain_item := "timescale=" FLOATS           times x factor (relative to the sample start)
                 | "noise=" FLOATS               uniform noise events, in Hz PER PIXEL
                 | "polarity" | "mirror" | "rotate180" | "transpose"
    FLOATS      := FLOAT ("," FLOAT)*

* ``domain:ITEM``: domain-incremental, every task holds all classes. ``timescale=`` and ``noise=``
  make one task per value; ``polarity``, ``mirror``, ``rotate180``, ``transpose`` make two tasks,
  the data as recorded, then transformed.
* ``CLASS_PART+ITEM``: each class task under a domain transform. An item with one value (or a
  binary item: its transformed variant) applies to every task; an item with as many values as
  there are tasks gives task ``i`` value ``i`` (class- and domain-incremental at once).
* ``timescale:F1,F2,...``: test only. Train once at x1 on all classes, then test at each factor.

:func:`parse_protocol` checks the grammar only; :class:`streams.tasks.TaskSequence` checks the
protocol against a data set (classes present, square sensor for transpose, two polarities for
polarity). Every error is a :class:`ProtocolError` naming the bad token.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

from .events import EventStreamError

#: Domain items that take a list of values, and those that take none (original, transformed).
VALUED_ITEMS = ("timescale", "noise")
BINARY_ITEMS = ("polarity", "mirror", "rotate180", "transpose")

_GRAMMAR_HINT = (
    "expected split:NxM, classes:0,1/2,3, domain:ITEM, timescale:F,F,... or CLASSES+ITEM, with ITEM one of "
    "timescale=F,..., noise=HZ,..., polarity, mirror, rotate180, transpose"
)


class ProtocolError(EventStreamError):
    """A continual-learning protocol string, or its fit to a data set, is invalid."""


@dataclass(frozen=True)
class DomainItem:
    """One parsed domain item: ``kind`` (``timescale``, ``noise``, ``polarity``, ``mirror``,
    ``rotate180``, ``transpose``), its ``values`` (factors or Hz per pixel; empty for binary
    items) and the ``token`` it was parsed from (for error messages)."""

    kind: str
    values: Tuple[float, ...] = ()
    token: str = ""


@dataclass(frozen=True)
class Protocol:
    """A parsed protocol.

    ``kind``: ``"class"`` (class-incremental, possibly with domain items), ``"domain"``
    (domain-incremental) or ``"test-timescale"`` (train at x1, test at ``test_factors``).
    ``split``: ``(N, M)`` of ``split:NxM``; ``class_groups``: the groups of ``classes:``;
    ``domain``: the domain items, applied in order.
    """

    text: str
    kind: str
    split: Optional[Tuple[int, int]] = None
    class_groups: Optional[Tuple[Tuple[int, ...], ...]] = None
    domain: Tuple[DomainItem, ...] = ()
    test_factors: Tuple[float, ...] = ()


def _fail(text: str, token: str, why: str) -> ProtocolError:
    return ProtocolError(f"protocol {text!r}: bad token {token!r}: {why}")


def _parse_floats(text: str, token: str, values: str, allow_zero: bool) -> Tuple[float, ...]:
    if not values:
        raise _fail(text, token, "needs a comma-separated list of numbers after '='")
    out = []
    for part in values.split(","):
        try:
            value = float(part)
        except ValueError:
            raise _fail(text, token, f"{part!r} is not a number") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            bound = ">= 0" if allow_zero else "> 0"
            raise _fail(text, token, f"{part!r} must be a finite number {bound}")
        out.append(value)
    return tuple(out)


def _parse_int(text: str, token: str, part: str, what: str, minimum: int) -> int:
    if not part.strip().isdigit():
        raise _fail(text, token, f"{what} {part!r} is not a whole number")
    value = int(part)
    if value < minimum:
        raise _fail(text, token, f"{what} must be >= {minimum}, got {value}")
    return value


def _parse_domain_item(text: str, token: str) -> DomainItem:
    name, has_values, values = token.partition("=")
    name = name.strip()
    if name in VALUED_ITEMS:
        if not has_values:
            raise _fail(text, token, f"{name} needs values, e.g. {name}=" + ("0.5,2" if name == "timescale" else "5,20"))
        return DomainItem(name, _parse_floats(text, token, values.strip(), allow_zero=name == "noise"), token)
    if name in BINARY_ITEMS:
        if has_values:
            raise _fail(text, token, f"{name} takes no value")
        return DomainItem(name, (), token)
    raise _fail(text, token, f"unknown domain item {name!r}; " + _GRAMMAR_HINT)


def _parse_split(text: str, token: str) -> Tuple[int, int]:
    n, sep, m = token.partition("x")
    if not sep:
        raise _fail(text, token, "split needs NxM (N tasks of M classes), e.g. split:5x2")
    return (_parse_int(text, token, n, "the number of tasks", 1), _parse_int(text, token, m, "classes per task", 1))


def _parse_groups(text: str, token: str) -> Tuple[Tuple[int, ...], ...]:
    groups = []
    seen = set()
    for group in token.split("/"):
        if not group:
            raise _fail(text, token, "an empty class group (two '/' in a row, or one at an end)")
        classes = []
        for part in group.split(","):
            value = _parse_int(text, token, part, "class", 0)
            if value in seen:
                raise _fail(text, token, f"class {value} appears in more than one task (or twice in one)")
            seen.add(value)
            classes.append(value)
        groups.append(tuple(classes))
    return tuple(groups)


def parse_protocol(text: str) -> Protocol:
    """Parse a protocol string (module docstring: the grammar) into a :class:`Protocol`."""
    if not isinstance(text, str) or not text.strip():
        raise ProtocolError(f"protocol {text!r}: empty; " + _GRAMMAR_HINT)
    text = text.strip()
    head, sep, body = text.partition(":")
    if not sep:
        raise _fail(text, text, "no ':' after the protocol kind; " + _GRAMMAR_HINT)
    head = head.strip()
    if not body:
        raise _fail(text, text, f"nothing after '{head}:'")
    if head == "timescale":
        return Protocol(text, "test-timescale", test_factors=_parse_floats(text, body, body, allow_zero=False))
    if head == "domain":
        if "+" in body:
            raise _fail(text, body, "domain: takes one item; to combine, put it after a class part (split:5x2+mirror)")
        return Protocol(text, "domain", domain=(_parse_domain_item(text, body),))
    if head not in ("split", "classes"):
        raise _fail(text, head, "unknown protocol kind; " + _GRAMMAR_HINT)
    class_token, *item_tokens = body.split("+")
    domain = tuple(_parse_domain_item(text, token) for token in item_tokens)
    if head == "split":
        return Protocol(text, "class", split=_parse_split(text, class_token), domain=domain)
    return Protocol(text, "class", class_groups=_parse_groups(text, class_token), domain=domain)
