"""The worker: runs one notebook's cells and the grader's requests on its names.

Everything here runs in the worker process, beside student code: confined
and forked from grader.worker.zygote on Linux, a plain subprocess elsewhere
(grader.host.plain_workers). Nothing here is Linux-only: each caller confines the
process as its platform allows before `serve`.
It answers requests and nothing more; it never sees a test, an expected value
or a score, so there is nothing here for a student to subvert into a grade.
"""

from __future__ import annotations

import io
import os
import random
import socket
import sys
from pathlib import Path
from typing import Any

from grader.worker import guard, requests, warm, wire

OUTPUT_LIMIT = 20_000
SKIPPED_MAGICS = ("pip", "conda", "mamba", "uv", "sx", "system", "sc")
SKIPPED_CELL_MAGICS = ("bash", "sh", "script", "system", "sx", "perl", "ruby", "writefile", "capture")

_shell: Any = None


def preload(ipython_dir: str = "/tmp/convgrade-ipython") -> None:
    """Build the IPython shell in the zygote, once, so every fork starts with it."""
    global _shell
    os.environ["IPYTHONDIR"] = ipython_dir
    Path(ipython_dir).mkdir(parents=True, exist_ok=True)
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    _shell = InteractiveShell.instance(config=config, colors="nocolor")
    _load_lazy_magics(_shell)
    requests.watch_numpy_convolutions()
    _warm_up()


def _load_lazy_magics(shell: Any) -> None:
    """IPython imports a magic (%time, %timeit, %run...) on its first use and swaps it into its table.
    The guard compares that table before and after each cell, so a student's first %time would read as
    tampering: load them all here, once."""
    from IPython.core import magic

    lazy = getattr(magic, "LazyMagic", None)  # IPython 9: older ones load every magic up front
    manager = shell.magics_manager
    for kind, table in list(manager.magics.items()):
        for name, function in list(table.items()):
            if lazy is not None and isinstance(function, lazy):
                manager.find(kind, name)


def _warm_up() -> None:
    """Pay the first-use costs of the dispatcher watch and of the requests' autograd once, here,
    instead of in every worker. Tiny tensors: no thread pool starts (grader.worker.warm says why)."""
    import torch

    # A view (slice, unfold) in the graph: its first backward imports sympy.
    shell_namespace = {"f": lambda X: (X[1:].unfold(0, 1, 1) * X[:-1, None]).sum()}
    for recipe in ("call", "gradients"):
        requests.perform(shell_namespace, {"recipe": recipe, "name": "f", "args": [torch.ones(2)], "wrt": [0],
                                          "from_scratch": True})


class _Capture(io.TextIOBase):
    """Student output, bounded: a print loop must not exhaust the grader."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> int:
        if self.size < OUTPUT_LIMIT:
            self.parts.append(str(text)[: OUTPUT_LIMIT - self.size])
            self.size += len(self.parts[-1])
        return len(text)

    def text(self) -> str:
        return "".join(self.parts) + ("\n[output truncated]" if self.size >= OUTPUT_LIMIT else "")


def serve(sock: socket.socket, evidence: int | socket.socket, settings: dict[str, Any],
          isolation: dict[str, Any]) -> None:
    """Answer the grader's messages on `sock`; what the guard sees goes to the `evidence` channel
    (a descriptor, or a socket where sockets are no descriptors: Windows). `isolation`: what
    the caller's confinement put in force, resource limits and user included."""
    quiet_standard_streams()
    _seed(int(settings["seed"]))
    import torch

    torch.set_num_threads(int(settings["threads"]))
    if settings.get("optimizers") is True:  # its notebook trains: paid here, not in a call (grader.worker.warm)
        warm.warm_up_optimizers()
    notes: list[str] = []
    _skip_shell_escapes(notes)
    guard.open_channel(evidence)
    guard.install(_shell)  # last: nothing after it is the grader's own setup
    wire.send(sock, {"ready": {**isolation, "separate_process": True}})
    while True:
        try:
            message = wire.receive(sock)
        except (EOFError, OSError, wire.WireError):
            os._exit(0)
        capture = _Capture()
        sys.stdout = sys.stderr = capture
        try:
            reply = _handle(message, notes)
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        guard.check()
        if message.get("op") == "perform" and type(message.get("call")) is int:
            guard.seal(message["call"])
        reply["output"] = capture.text()
        reply["notes"], notes[:] = list(notes), []
        try:
            payload = wire.encode(reply, wire.REPLY)  # the grader's bounds: over them is a bad return, not a kill
        except wire.WireError as error:
            payload = wire.encode({"ok": False, "kind": "bad_return", "message": str(error), "output": ""})
        sock.sendall(payload)


def _handle(message: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    if message.get("op") == "cell":
        result = _shell.run_cell(message["source"], store_history=False, silent=False)
        error = result.error_before_exec or result.error_in_exec
        if error is not None and requests.out_of_memory(error):
            return {"ok": False, "error": requests.describe_exception(error), "out_of_memory": True}
        return {"ok": error is None, "error": None if error is None else requests.describe_exception(error)}
    if message.get("op") == "perform":
        return requests.perform(_shell.user_ns, message["request"])
    return {"ok": False, "kind": "crashed", "message": f"unknown op {message.get('op')!r}"}


def quiet_standard_streams() -> None:
    # Output written to the raw file descriptors must not reach the grader's terminal.
    if os.environ.get("CONVGRADE_DEBUG"):
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _seed(seed: int) -> None:
    import numpy
    import torch

    random.seed(seed)
    numpy.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _skip_shell_escapes(notes: list[str]) -> None:
    """`!cmd`, `%pip` and shell cell magics are skipped with a note: grading
    installs nothing and runs no shell on the student's behalf."""

    def skip(what: str) -> Any:
        def skipped(*args: Any, **kwargs: Any) -> None:
            text = " ".join(str(a) for a in args if isinstance(a, str))[:120]
            notes.append(f"skipped {what} {text}".strip())
        return skipped

    _shell.system = skip("shell command !")
    _shell.getoutput = skip("shell command !")
    for name in SKIPPED_MAGICS:
        _shell.register_magic_function(skip(f"%{name}"), "line", name)
    for name in SKIPPED_CELL_MAGICS:
        _shell.register_magic_function(skip(f"%%{name}"), "cell", name)
