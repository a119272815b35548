"""The grader's end of a worker's evidence channel (see grader.worker.guard).

Each worker writes what its watch saw to a socket of its own, at once, as
JSON lines: `{"in": function or null, "what": ...}` for evidence, and
`{"done": call}` after each answer. The grader reads them after each reply:
whatever was written before the reply is already in the kernel's buffer, so
nothing the student runs later can take it back. The channel is the
student's to break, and breaking it is tampering: a missing seal, a closed
channel, lines that are not the guard's, or more than `CHANNEL_LIMIT` bytes.
"""

from __future__ import annotations

import json
import socket

from grader.records import Evidence

CHANNEL_LIMIT = 1 << 20       # bytes over a whole submission: the guard writes a few lines per call
LINE_LIMIT = 2000
QUOTE_LIMIT = 200
_LIBRARY_PREFIXES = ("aten.", "numpy.", "scipy.")


class EvidenceLog:
    """Every channel of one submission's workers, old ones included: a worker
    killed for a timeout may have written evidence before it died."""

    def __init__(self) -> None:
        self._channels: list[_Channel] = []
        self._convolutions: dict[str, set[str]] = {}
        self._tampering: set[str] = set()
        self._read = 0

    def add(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._channels.append(_Channel(sock))

    def drain(self, *, sealed: tuple[int, str] | None = None) -> None:
        """Read what every channel holds; `sealed`: (call, what) whose seal the current channel must hold."""
        for channel in self._channels:
            for line in channel.read(CHANNEL_LIMIT - self._read):
                self._read += len(line) + 1
                self._take(line, channel)
            if channel.overflowed:
                self._tampering.add("at run time: more on the evidence channel than the grader's watch writes")
        if sealed is not None and self._channels:
            call, what = sealed
            if call not in self._channels[-1].seals:
                self._tampering.add(f"at run time: the evidence channel was closed or replaced during the {what}")

    def evidence(self) -> Evidence:
        self.drain()
        return Evidence({name: tuple(sorted(found)) for name, found in self._convolutions.items()},
                        tuple(sorted(self._tampering)))

    def close(self) -> None:
        for channel in self._channels:
            channel.sock.close()

    def _take(self, line: bytes, channel: _Channel) -> None:
        try:
            record = json.loads(line) if len(line) <= LINE_LIMIT else None
        except (ValueError, RecursionError):
            record = None
        if type(record) is dict and set(record) == {"done"} and type(record["done"]) is int:
            channel.seals.add(record["done"])
        elif type(record) is dict and set(record) == {"in", "what"} and type(record["what"]) is str \
                and (record["in"] is None or type(record["in"]) is str):
            what = record["what"][:QUOTE_LIMIT]
            if record["in"] in (None, "*"):
                self._tampering.add(f"at run time: {what}")
            else:
                # A dispatched op or an array library's function names itself; the rest is a way around the watch.
                seen = what if what.startswith(_LIBRARY_PREFIXES) else f"{what} (a way around the watch)"
                self._convolutions.setdefault(record["in"][:QUOTE_LIMIT], set()).add(seen)
        else:
            self._tampering.add("at run time: something else wrote on the evidence channel")


class _Channel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending = b""
        self.seals: set[int] = set()
        self.overflowed = False

    def read(self, allowed: int) -> list[bytes]:
        while not self.overflowed:
            try:
                chunk = self.sock.recv(1 << 16)
            except OSError:  # nothing more for now (BlockingIOError), or the channel is gone
                break
            if not chunk:
                break
            self.pending += chunk
            if len(self.pending) > allowed:
                self.overflowed, self.pending = True, b""
        *lines, self.pending = self.pending.split(b"\n")
        return lines
