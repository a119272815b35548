"""The worker's guard: evidence the student cannot take back, and the doors it watches.

Runs inside the untrusted worker. Whatever the dispatcher watch (grader.worker.requests)
or this guard sees is written at once to a channel of its own (a socket the
grader reads after each reply), so code that runs later in the same process
cannot clear it. An audit hook (PEP 578: it cannot be removed from Python)
refuses new threads and processes and reports what only a student reaching
for the watch would do: frames, `gc`, `ctypes`, code construction, `exec`,
tracing hooks, the grader's modules, code from files the notebook wrote.
Trip-wires on the torch entry points that switch the dispatcher watch off
report their use. What is reported during a call to a from-scratch function
costs that function its points; anywhere else it costs the notebook.

The functions this module calls at report time are bound at import, in the
zygote, before any student code could replace them.
"""

from __future__ import annotations

import _thread
import json
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

_write, _fstat, _getframe, _current_frames = os.write, os.fstat, sys._getframe, sys._current_frames
_dumps = json.dumps
EVIDENCE_LIMIT = 300  # characters of one piece of evidence


def _library_roots() -> tuple[str, ...]:
    import site

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(__file__).resolve().parents[1])}
    roots.update(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    roots.update(str(Path(p).resolve()) for p in list(roots))
    return tuple(sorted(root.rstrip("/") + "/" for root in roots if root))


_LIBRARY_ROOTS = _library_roots()
_STDLIB_ROOT = str(Path(threading.__file__).resolve().parent) + "/"
_student_files: dict[str, bool] = {}


def is_student_file(filename: str) -> bool:
    """Code the student wrote: a notebook cell, or any file outside the
    interpreter, the installed libraries and the grader (a file the notebook
    wrote and imported, `<string>` from its exec)."""
    known = _student_files.get(filename)
    if known is None:
        library = filename.startswith(("<frozen ", *_LIBRARY_ROOTS))
        known = _student_files[filename] = not library
    return known


class _State:
    __slots__ = ("broken", "context", "fd", "identity", "reported", "send")

    def __init__(self) -> None:
        self.fd = -1
        self.send: Callable[[bytes], int] | None = None   # the channel's own send, where it is a socket object
        self.identity: tuple[int, int] = (0, 0)
        self.context: str | None = None       # the from-scratch function being called; None while cells run
        self.reported: set[tuple[str | None, str]] = set()
        self.broken = False


_state = _State()


def open_channel(channel: int | socket.socket) -> None:
    """The worker's end of the evidence channel (a descriptor, or a socket, which on Windows is
    no descriptor: then its own send, bound now); written to without blocking."""
    if isinstance(channel, socket.socket):
        channel.setblocking(False)
        _state.send = channel.send
        channel = channel.fileno()
        if sys.platform == "win32":  # a socket handle, not a C runtime descriptor: nothing to fstat
            _state.fd = channel
            return
    else:
        os.set_blocking(channel, False)
    status = _fstat(channel)
    _state.fd, _state.identity = channel, (status.st_dev, status.st_ino)


def _send(record: dict[str, Any]) -> None:
    if _state.fd < 0 or _state.broken:
        return
    try:
        if _state.identity != (0, 0):
            status = _fstat(_state.fd)
            if (status.st_dev, status.st_ino) != _state.identity:
                _state.broken = True  # the grader then misses this reply's seal, and says so
                return
        line = (_dumps(record) + "\n").encode()
        if _state.send is not None:
            _state.send(line)
        else:
            _write(_state.fd, line)
    except OSError:
        _state.broken = True


def report(what: str) -> None:
    """Evidence, out of the process at once: once per (call, what)."""
    key = (_state.context, what)
    if key in _state.reported:
        return
    _state.reported.add(key)
    _send({"in": _state.context, "what": what[:EVIDENCE_LIMIT]})


@contextmanager
def calling(name: str, from_scratch: bool) -> Iterator[None]:
    """What is reported inside counts against `name` if it is from scratch,
    else against the notebook (`"*"`: a call, not a cell)."""
    previous = _state.context
    _state.context = name if from_scratch else "*"
    try:
        yield
    finally:
        _state.context = previous
        _state.reported = {key for key in _state.reported if key[0] is None}


def seal(call: int) -> None:
    """Written after each answer: a missing seal means the channel was closed or replaced."""
    _send({"done": call})


def _caller(depth: int, *, past_stdlib: bool) -> FrameType | None:
    frame: FrameType | None = _getframe(depth + 1)
    while past_stdlib and frame is not None and (frame.f_code.co_filename.startswith(_STDLIB_ROOT)
                                                 or frame.f_code.co_filename.startswith("<frozen ")):
        frame = frame.f_back
    return frame


def _by_student(depth: int, *, past_stdlib: bool = False) -> bool:
    frame = _caller(depth + 1, past_stdlib=past_stdlib)
    return frame is not None and is_student_file(frame.f_code.co_filename)


class Refused(RuntimeError):
    """Raised into student code: the grader allows no threads, processes or hooks."""


# Refused for anyone: a second thread or process is work the watch cannot see.
_REFUSED = {"os.fork": "os.fork", "os.forkpty": "os.forkpty", "os.posix_spawn": "a new process",
            "os.spawn": "a new process", "os.exec": "os.exec*", "os.system": "os.system",
            "subprocess.Popen": "a subprocess", "sys.addaudithook": "sys.addaudithook"}
# Reported when the code that raised the event is the student's own.
_DIRECT = {"compile": "compile()", "exec": "exec()", "sys._getframe": "sys._getframe",
           "sys._current_frames": "sys._current_frames",
           "object.__setattr__": "introspection", "object.__delattr__": "introspection",
           "code.__new__": "a code object built by hand", "function.__new__": "a function built by hand",
           "marshal.loads": "marshal", "marshal.load": "marshal"}
# Reported when the nearest caller outside the standard library is the student's.
_NEAREST = {"gc.get_objects": "gc", "gc.get_referrers": "gc", "gc.get_referents": "gc",
            # Reading a frame, code or traceback attribute, even through the standard library
            # (string.Formatter().get_field("0.tb_frame"), asyncio's task stacks, traceback.print_exc).
            "object.__getattr__": "introspection",
            "sys.settrace": "sys.settrace", "sys.setprofile": "sys.setprofile",
            "pickle.find_class": "unpickling", "sys._getframe": "frames (inspect)"}


def _audit(event: str, args: tuple[Any, ...], busy: list[bool] = [False]) -> None:  # noqa: B006 - its own state
    if event not in _WATCHED and not event.startswith("ctypes."):
        return
    if busy[0]:
        return  # the events this hook raises itself (sys._getframe)
    busy[0] = True
    try:
        what = _verdict(event, args)
    finally:
        busy[0] = False
    if what is not None:
        report(what)
        raise Refused(f"{what} is not allowed while grading")


def _verdict(event: str, args: tuple[Any, ...]) -> str | None:
    if event in _REFUSED:
        return _REFUSED[event]
    if event == "import":
        module = str(args[0]) if args else ""
        # A fresh import of a built-in module would bring back the entry points refused above.
        if module == "grader" or module.startswith("grader.") or module in ("_thread", "_posixsubprocess"):
            return f"import {module}"
        return None
    if event == "compile" and len(args) > 1 and isinstance(args[1], str) and args[1].startswith("/") \
            and is_student_file(args[1]):
        return f"code run from a file the notebook wrote ({args[1][:100]})"
    if event in _DIRECT and _by_student(2):
        detail = f" {args[1]}" if event.startswith("object.") and len(args) > 1 else ""
        return _DIRECT[event] + detail
    if event.startswith("ctypes."):
        return "ctypes" if _by_student(2, past_stdlib=True) else None
    if event in _NEAREST and _by_student(2, past_stdlib=True):
        # These modules take the frame for a name or a warning's place, and hand no frame back;
        # any other (inspect, traceback, logging.currentframe, pdb, asyncio) gives the caller frames.
        if event == "sys._getframe" and _in_frame_keeping_module(_caller(2, past_stdlib=False)):
            return None
        return _NEAREST[event] + (f" {args[1]}" if event == "object.__getattr__" and len(args) > 1 else "")
    return None


_FRAME_KEEPING_MODULES = ("/collections/__init__.py", "/enum.py", "/typing.py", "/warnings.py", "/gettext.py")
_WATCHED = frozenset(_REFUSED) | frozenset(_DIRECT) | frozenset(_NEAREST) | {"import"}


def _in_frame_keeping_module(frame: FrameType | None) -> bool:
    return frame is not None and frame.f_code.co_filename.endswith(_FRAME_KEEPING_MODULES)


def _refuse_threads_and_processes() -> None:
    """Python raises no audit event for a new thread in 3.11, nor for
    `_posixsubprocess.fork_exec` (POSIX only): their entry points refuse instead."""
    posix_subprocess: ModuleType | None
    try:
        import _posixsubprocess as posix_subprocess
    except ImportError:  # Windows: no fork_exec to replace; the hook refuses its subprocess.Popen event
        posix_subprocess = None

    def refusing(what: str) -> Callable[..., None]:
        def refused(*args: Any, **kwargs: Any) -> None:
            report(what)
            raise Refused(f"{what} is not allowed while grading")
        return refused

    thread, process = refusing("a new thread"), refusing("a new process")
    for module, name, replacement in (
            (_thread, "start_new_thread", thread), (_thread, "start_new", thread),
            (_thread, "start_joinable_thread", thread), (threading, "_start_new_thread", thread),
            (threading, "_start_joinable_thread", thread), (posix_subprocess, "fork_exec", process)):
        if module is not None and hasattr(module, name):
            setattr(module, name, replacement)


def tripwire(qualified: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """`original`, reporting each use by student code (torch's own uses are its business)."""

    def tripped(*args: Any, **kwargs: Any) -> Any:
        if _by_student(1):
            report(qualified)
        return original(*args, **kwargs)

    tripped.__name__ = getattr(original, "__name__", qualified)
    tripped.__doc__ = getattr(original, "__doc__", None)
    return tripped


def rebind_everywhere(originals: dict[int, tuple[Any, Any]]) -> None:
    """Replace each original (by identity) in every loaded module, whatever
    name or module it is reached through: {id(original): (original, replacement)}."""
    for module in list(sys.modules.values()):
        names = getattr(module, "__dict__", None)
        if type(names) is not dict:
            continue
        for key, value in list(names.items()):
            entry = originals.get(id(value))
            if entry is not None and entry[0] is value:
                names[key] = entry[1]


class _Snapshot:
    """What of the shell decides which code runs: its transformers and magics."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.taken = self._take()

    def _take(self) -> tuple[Any, ...]:
        shell = self.shell
        manager = shell.input_transformer_manager
        magics = shell.magics_manager.magics
        return (tuple(shell.input_transformers_cleanup), tuple(shell.input_transformers_post),
                tuple(shell.ast_transformers), manager, tuple(manager.cleanup_transforms),
                tuple(manager.line_transforms), tuple(manager.token_transformers),
                tuple(sorted((kind, name, id(f)) for kind in magics for name, f in magics[kind].items())),
                shell.compile, type(shell).run_cell, type(shell).run_ast_nodes, type(shell).transform_cell)

    def changed(self) -> bool:
        try:
            return self._take() != self.taken
        except Exception:  # noqa: BLE001 - a shell broken beyond reading is changed too
            return True


_snapshot: _Snapshot | None = None


def install(shell: Any) -> None:
    """Arm the guard in a fresh worker, before its first cell."""
    global _snapshot
    _snapshot = _Snapshot(shell)
    _refuse_threads_and_processes()
    # The live grader modules leave sys.modules: importing one now is a fresh import, which the hook refuses.
    for name in [n for n in sys.modules if n == "grader" or n.startswith("grader.")]:
        del sys.modules[name]
    sys.addaudithook(_audit)


def check() -> None:
    """After each cell and call: no thread left running, the shell's transformers unchanged."""
    if len(_current_frames()) > 1:
        report("a thread left running")
    if _snapshot is not None and _snapshot.changed():
        report("IPython input transformers or magics changed")
