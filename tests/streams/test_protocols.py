"""The protocol grammar: every form parses to what it says; every bad token is named."""
from __future__ import annotations

import pytest

from streams import EventStreamError
from streams.protocols import DomainItem, ProtocolError, parse_protocol


def test_split_forms():
    for text, split in (("split:5x2", (5, 2)), ("split:2x5", (2, 5)), ("split:10x1", (10, 1))):
        protocol = parse_protocol(text)
        assert protocol.kind == "class" and protocol.split == split and protocol.domain == ()
        assert protocol.text == text


def test_explicit_classes():
    protocol = parse_protocol("classes:0,1,2/3,4,5/6,7,8,9")
    assert protocol.kind == "class" and protocol.split is None
    assert protocol.class_groups == ((0, 1, 2), (3, 4, 5), (6, 7, 8, 9))


def test_domain_items():
    assert parse_protocol("domain:timescale=0.25,0.5,1,2,4").domain == (
        DomainItem("timescale", (0.25, 0.5, 1.0, 2.0, 4.0), "timescale=0.25,0.5,1,2,4"),)
    assert parse_protocol("domain:noise=0,5,20").domain[0].values == (0.0, 5.0, 20.0)
    for name in ("polarity", "mirror", "rotate180", "transpose"):
        protocol = parse_protocol(f"domain:{name}")
        assert protocol.kind == "domain" and protocol.domain == (DomainItem(name, (), name),)


def test_combinations_and_test_only_timescale():
    protocol = parse_protocol("split:5x2+timescale=0.5")
    assert protocol.split == (5, 2) and protocol.domain == (DomainItem("timescale", (0.5,), "timescale=0.5"),)
    protocol = parse_protocol("classes:0,1/2,3+mirror+noise=5")
    assert [item.kind for item in protocol.domain] == ["mirror", "noise"]
    protocol = parse_protocol("timescale:0.25,0.5,1,2,4")
    assert protocol.kind == "test-timescale" and protocol.test_factors == (0.25, 0.5, 1.0, 2.0, 4.0)


@pytest.mark.parametrize("text, token", [
    ("split:5y2", "'5y2'"),
    ("split:0x2", "'0x2'"),
    ("split:ax2", "'ax2'"),
    ("classes:0,1/1,2", "'0,1/1,2'"),
    ("classes:0,a", "'a'"),
    ("classes:0,1//2", "'0,1//2'"),
    ("domain:blur", "'blur'"),
    ("domain:timescale=0,1", "'timescale=0,1'"),
    ("domain:timescale", "'timescale'"),
    ("domain:noise=-1", "'noise=-1'"),
    ("domain:noise=5,x", "'x'"),
    ("domain:mirror=2", "'mirror=2'"),
    ("domain:mirror+noise=5", "'mirror+noise=5'"),
    ("split:5x2+", "''"),
    ("split:5x2+flip", "'flip'"),
    ("timescale:abc", "'abc'"),
    ("shuffle:5x2", "'shuffle'"),
    ("split5x2", "'split5x2'"),
    ("split:", "'split:'"),
])
def test_errors_name_the_bad_token(text, token):
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text)
    assert token in str(info.value)
    assert isinstance(info.value, EventStreamError)


def test_empty_protocol():
    with pytest.raises(ProtocolError, match="empty"):
        parse_protocol("  ")
