"""The grader's end of the evidence channel.

What a hostile worker writes there is bounded, and breaking it is tampering.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from grader.host import evidence as channel
from grader.host.evidence import EvidenceLog

_OPEN: list[EvidenceLog | socket.socket] = []  # what log_with opened; the autouse fixture closes it


@pytest.fixture(autouse=True)
def close_the_channels() -> Iterator[None]:
    """Both ends of each test's channel are closed when it ends: a socket left to the collector warns."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def log_with(*writes: bytes) -> tuple[EvidenceLog, socket.socket]:
    ours, theirs = socket.socketpair()
    log = EvidenceLog()
    log.add(ours)
    _OPEN.extend((log, theirs))
    for data in writes:
        theirs.sendall(data)
    return log, theirs


def line(record: object) -> bytes:
    return json.dumps(record).encode() + b"\n"


def test_evidence_and_seals_are_read_after_the_reply() -> None:
    log, _ = log_with(line({"in": "corr2d", "what": "aten.convolution.default"}), line({"in": None, "what": "gc"}),
                      line({"in": "corr2d", "what": "a new thread"}), line({"done": 1}))
    log.drain(sealed=(1, "call to corr2d"))
    found = log.evidence()
    assert dict(found.convolutions) == {"corr2d": ("a new thread (a way around the watch)", "aten.convolution.default")}
    assert found.tampering == ("at run time: gc",)


def test_a_missing_seal_means_the_channel_was_broken() -> None:
    log, _ = log_with(line({"done": 1}))
    log.drain(sealed=(2, "call to corr2d"))
    assert log.evidence().tampering == (("at run time: the evidence channel was closed or replaced during the call "
                                         "to corr2d"),)


def test_lines_that_are_not_the_guard_s_are_tampering() -> None:
    log, _ = log_with(b"not json\n", line({"in": 3, "what": "x"}), line([1, 2]), b"[" * 100_000 + b"\n")
    assert log.evidence().tampering == ("at run time: something else wrote on the evidence channel",)


def test_a_flood_is_cut_at_the_limit_and_is_tampering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(channel, "CHANNEL_LIMIT", 10_000)
    log, theirs = log_with()
    theirs.setblocking(False)
    for _ in range(20):
        theirs.send(line({"in": "corr2d", "what": "x" * 100}) * 5)
        log.drain()
    found = log.evidence()
    assert "at run time: more on the evidence channel than the grader's watch writes" in found.tampering
    assert log._read <= 10_000


def test_a_huge_value_is_quoted_short() -> None:
    log, _ = log_with(line({"in": "corr2d", "what": "y" * 1500}))
    (what,) = log.evidence().convolutions["corr2d"]
    assert len(what) < channel.QUOTE_LIMIT + 40
