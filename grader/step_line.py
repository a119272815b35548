"""One line on a terminal that says what a long grade is doing ("cell 7 of 20", "test corr2d_grad").

Silent for the first few seconds, so that a quick grade prints nothing but
its table, and silent wherever the stream is not a terminal (CI logs, pipes).
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TextIO

QUIET_SECONDS = 3.0   # a grade shorter than this shows no progress at all
REFRESH_SECONDS = 0.5


class StepLine:
    def __init__(self, stream: TextIO, what: str, *, quiet_seconds: float = QUIET_SECONDS,
                 terminal: bool | None = None) -> None:
        self._stream, self._what = stream, what
        self._quiet_until = time.monotonic() + quiet_seconds
        self._terminal = stream.isatty() if terminal is None else terminal
        self._step = "starting the worker"
        self._shown = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh, daemon=True)

    def show(self, step: str) -> None:
        """The step now running; the line picks it up at its next refresh."""
        self._step = step

    def __enter__(self) -> StepLine:
        if self._terminal:
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._shown:
            self._stream.write("\r" + " " * len(self._shown) + "\r")  # the table starts on a clean line
            self._stream.flush()

    def _refresh(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            if time.monotonic() < self._quiet_until:
                continue
            line = f"{self._what}: {self._step} ..."[:120]
            self._stream.write("\r" + line.ljust(len(self._shown)))
            self._stream.flush()
            self._shown = line
