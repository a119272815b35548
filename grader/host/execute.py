"""Execute stage: run a notebook in a confined worker and serve the tests' calls.

The grader's side of the worker. A `Zygote` (one per grading run, or per
batch) starts workers: on Linux it is the confined fork server
(grader.worker.zygote), elsewhere a source of plain subprocesses
(grader.host.plain_workers, see grader.host.platform_support). An `Execution` owns the current worker of one
submission: it runs the cells in order, answers the tests' requests with a
timeout on each, and when student code hangs or kills its worker it kills the
whole process tree, starts a fresh worker, replays the cells that had run
cleanly, and grading goes on.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from grader.authoring.testkit import StudentFailure
from grader.environment import usable_cpus
from grader.host.evidence import EvidenceLog
from grader.host.fork_server import CONTROL, ForkServer, ZygoteProcess
from grader.host.worker_clock import WorkerClock, replies_in_budget
from grader.records import CallBudgets, CellOutcome, ExecutionRecord, StepListener
from grader.worker import wire
from grader.worker.quote import QUOTE_LIMIT, cut

if TYPE_CHECKING:
    from grader.course import Course
    from grader.host.plain_workers import PlainLaunch

# What the grader keeps of the text a worker sends: a worker is student code, so
# these are enforced here whatever the worker's own bounds.
OUTPUT_PER_REPLY = 20_000 + 100     # a worker captures 20,000 characters of output per cell or call
OUTPUT_IN_ALL = 100_000             # a submission's whole output, in results.json
MAX_NOTES = 100


@dataclasses.dataclass(frozen=True)
class Limits:
    # The most one call into student code may take: the ceiling of its calibrated budget
    # (grader.course.budgets), or, with `fixed_call_timeout` (--call-timeout), every call's budget.
    call_timeout: float = 10.0
    cell_timeout: float = 30.0
    budget: float = 300.0          # the whole submission, cells and calls together
    memory_bytes: int = 2 << 30
    max_restarts: int = 6
    threads: int = max(1, min(4, usable_cpus()))
    fixed_call_timeout: bool = False

    @classmethod
    def of(cls, course: Course, *, call_timeout: float | None = None) -> Limits:
        """The course's limits (`[limits]` in its convgrade.toml); `call_timeout` (--call-timeout) is one
        fixed budget for every call instead of the calibrated ones under the course's own."""
        return cls(call_timeout=call_timeout or course.call_timeout, memory_bytes=course.memory_mb << 20,
                   fixed_call_timeout=call_timeout is not None)


class WorkerSource(Protocol):
    """Where a Zygote's workers come from (each call under the Zygote's lock)."""

    def isolation(self) -> Mapping[str, Any]: ...

    def spawn(self, settings: Mapping[str, Any]) -> tuple[int, socket.socket, socket.socket]: ...

    def kill(self, pid: int) -> None: ...

    def alive(self) -> bool: ...

    def close(self) -> None: ...


class Zygote:
    """Starts workers on demand: the confined fork server that has imported
    torch (grader.worker.zygote) where this platform has one, else plain subprocesses.

    Thread-safe: a batch grades several submissions at once from one zygote.
    """

    def __init__(self, launched: tuple[ZygoteProcess, socket.socket] | PlainLaunch) -> None:
        # Only grader.session.Grader launches one: it makes the secret first, so the zygote can hide it.
        if isinstance(launched, tuple):
            self._source: WorkerSource = ForkServer(*launched)
        else:  # a PlainLaunch
            from grader.host.plain_workers import PlainWorkers

            self._source = PlainWorkers(launched)
        self._lock = threading.Lock()  # one request and its reply at a time on the control socket

    def isolation(self) -> Mapping[str, Any]:
        with self._lock:
            return self._source.isolation()

    def spawn(self, settings: Mapping[str, Any]) -> tuple[int, socket.socket, socket.socket]:
        """A new worker: its pid, its socket, and its evidence channel (grader.host.evidence)."""
        with self._lock:
            return self._source.spawn(settings)

    def kill(self, pid: int) -> None:
        """Kill a worker and everything it started (no lock: a spawn may be waiting on the source)."""
        self._source.kill(pid)

    def alive(self) -> bool:
        return self._source.alive()

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


class Execution:
    """One submission's worker, its cells, and the calls the tests make."""

    def __init__(self, zygote: Zygote, cells: tuple[str, ...], *, seed: int, limits: Limits,
                 budgets: CallBudgets | None = None, device: str = "cpu") -> None:
        """`budgets`: each name's call budget (grader.course.budgets.in_force); None: the call timeout for all."""
        self._zygote = zygote
        self._cells = cells
        self._limits = limits
        self._budgets = budgets or CallBudgets({}, limits.call_timeout, "fixed")
        self._settings = {"seed": seed, "memory_bytes": limits.memory_bytes, "threads": limits.threads,
                          "device": device, "optimizers": any("optim" in cell for cell in cells)}
        self._deadline = time.monotonic() + limits.budget
        self._worker: tuple[int, socket.socket] | None = None
        self._isolation: Mapping[str, Any] = {}
        self._outcomes: dict[int, CellOutcome] = {}
        self._notes: list[str] = []
        self._output: list[str] = []
        self._output_size = 0
        self._hung: dict[str, str] = {}
        self._restarts = 0
        self._timeouts = 0
        self._crashes = 0
        self._evidence = EvidenceLog()
        self._calls = 0
        self._clock: WorkerClock | None = None
        self._slowest: dict[str, float] = {}
        self._exchange_seconds = 0.0   # what the last exchange cost the worker: its computing, else the wall time

    def run_notebook(self, *, on_step: StepListener | None = None) -> None:
        for index in range(len(self._cells)):
            if on_step is not None:
                on_step(f"cell {index + 1} of {len(self._cells)}")
            self._run_cell(index, replaying=False)

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        """The tests' transport: one request to the worker, within the budget of the function it names.

        A call that runs out of its time, runs out of its worker's memory or ends its worker exhausts its
        function: each is the same failure, and the function's later calls fail at once with it. So a loop
        that also grows memory fails alike whichever limit it meets first, and costs one budget in all."""
        name = str(request.get("name"))
        if name in self._hung:
            raise StudentFailure("timeout", self._hung[name])
        if self._restarts > self._limits.max_restarts:
            raise StudentFailure("crashed", f"{name} was not run: the worker crashed too often")
        budget = self._budgets.of(name)
        # The budget counts the worker's computing (grader.host.worker_clock); the wall clock, twice as much.
        timeout = min(2 * budget, max(budget, self._budgets.ceiling), self._remaining())
        if timeout <= 0:
            raise StudentFailure("timeout", f"{name} was not run: the time for this submission "
                                            f"({self._limits.budget:g} s) was used up")
        self._calls += 1
        reply = self._exchange({"op": "perform", "request": request, "call": self._calls}, timeout,
                               f"call to {name}", computing=budget)
        answered = not isinstance(reply, (_TimedOut, _Crashed, _Unsendable))
        self._evidence.drain(sealed=(self._calls, f"call to {name}") if answered else None)
        if isinstance(reply, (_TimedOut, _Crashed)) or self._out_of_memory(reply):
            if isinstance(reply, _TimedOut):
                self._timeouts += 1
            else:
                self._crashes += 1
            self._hung[name] = (f"{name} did not finish within {budget:g} s of computing, ran out of memory or "
                                "ended its process (an infinite loop?)")
            raise StudentFailure("timeout", self._hung[name])
        if isinstance(reply, _Refused):
            self._crashes += 1
            raise StudentFailure("crashed", f"the worker running {name} sent a reply the grader refuses "
                                            f"({reply.reason}); a fresh worker runs the rest")
        if isinstance(reply, _Unsendable):
            raise StudentFailure("crashed", f"{name} was not run: its request is too large ({reply.reason})")
        self._slowest[name] = max(self._slowest.get(name, 0.0), self._exchange_seconds)
        return reply

    def cell_outcomes(self) -> tuple[CellOutcome, ...]:
        """How each cell has fared so far, in notebook order."""
        return tuple(self._outcomes[i] for i in sorted(self._outcomes))

    def summary(self) -> ExecutionRecord:
        """How the run has gone: its cells, notes, output, restarts and the guards' evidence."""
        return ExecutionRecord(cells=self.cell_outcomes(),
                               notes=tuple(self._notes), isolation=dict(self._isolation),
                               student_output="".join(self._output), restarts=self._restarts,
                               timeouts=self._timeouts, crashes=self._crashes, evidence=self._evidence.evidence(),
                               slowest_calls=dict(self._slowest))

    def close(self) -> None:
        self._kill()
        self._evidence.close()

    def __enter__(self) -> Execution:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def _remaining(self) -> float:
        return self._deadline - time.monotonic()

    def _run_cell(self, index: int, *, replaying: bool) -> bool:
        timeout = min(self._limits.cell_timeout, self._remaining())
        if timeout <= 0:
            self._outcomes.setdefault(index, CellOutcome(index, "timeout", "not run: the time for this "
                                                                           "submission was used up"))
            return False
        reply = self._exchange({"op": "cell", "source": self._cells[index]}, timeout, f"cell {index + 1}",
                               replaying=replaying)
        # As for a call: a cell that loops while it grows memory fails alike whichever limit it meets first.
        if isinstance(reply, _TimedOut) or self._out_of_memory(reply):
            if isinstance(reply, _TimedOut):
                self._timeouts += 1
            else:
                self._crashes += 1
            self._outcomes[index] = CellOutcome(index, "timeout", f"did not finish within {timeout:g} s "
                                                                  "or ran out of memory")
            return False
        if isinstance(reply, _Unsendable):
            self._outcomes[index] = CellOutcome(index, "error", f"not run: the cell is too large ({reply.reason})")
            return False
        if isinstance(reply, (_Crashed, _Refused)):
            self._crashes += 1
            message = ("ended its process (os._exit, a crash, or out of memory)" if isinstance(reply, _Crashed)
                       else f"its worker sent a reply the grader refuses ({reply.reason})")
            self._outcomes[index] = CellOutcome(index, "crashed", message)
            return False
        if not replaying:
            ok = reply.get("ok") is True
            error = reply.get("error")
            self._outcomes[index] = CellOutcome(index, "ok" if ok else "error",
                                                "" if ok else cut(str(error), QUOTE_LIMIT))
        return True

    def _exchange(self, message: dict[str, Any], timeout: float, what: str, *, replaying: bool = False,
                  computing: float | None = None) -> dict[str, Any] | _Failed:
        """The worker's reply to one message, or what stood in its way: within `timeout` on the wall
        clock, and before the worker has computed for `computing` seconds, if given."""
        if self._worker is None and not self._start_worker():
            return _Crashed()
        assert self._worker is not None
        _, sock = self._worker
        # One deadline for the request and the whole reply: a worker that writes
        # its reply a byte at a time must not stretch the call past its timeout.
        started = time.monotonic()
        deadline = started + timeout
        try:
            request = wire.encode(message)
        except wire.WireError as error:  # a request the worker could not read: its cell is that big
            return _Unsendable(cut(str(error), QUOTE_LIMIT))
        sock.settimeout(timeout)
        spent = self._clock.seconds() if self._clock is not None else None
        try:
            sock.sendall(request)
            if computing is not None and computing < timeout and not replies_in_budget(
                    sock, self._clock, started=started, deadline=deadline, computing=computing, spent=spent):
                raise TimeoutError
            reply = wire.receive(sock, deadline=deadline, bounds=wire.REPLY)
        except TimeoutError:
            self._kill()
            return _TimedOut()
        except wire.WireError as error:
            self._kill()
            return _Refused(cut(str(error), QUOTE_LIMIT))
        except (EOFError, OSError):
            self._kill()
            return _Crashed()
        computed = self._clock.seconds() if self._clock is not None and spent is not None else None
        self._exchange_seconds = computed - spent if computed is not None and spent is not None \
            else time.monotonic() - started
        if type(reply) is not dict:
            self._kill()
            return _Refused("it is not a dict")
        if not replaying:
            self._collect(reply.pop("output", ""), reply.pop("notes", []), what)
        return reply

    def _out_of_memory(self, reply: dict[str, Any] | _Failed) -> bool:
        """Whether the worker says its student code met the memory cap (grader.worker.requests.out_of_memory);
        if so, it is killed, as after a timeout, so that the rest runs in a fresh worker, whose memory is not
        the student's. Believed as the worker says it: a worker that claims it falsely fails its own call."""
        if isinstance(reply, dict) and reply.get("out_of_memory") is True:
            self._kill()
            return True
        return False

    def _collect(self, output: Any, notes: Any, what: str) -> None:
        if type(output) is str and output:
            self._keep_output(f"--- {what} ---\n{cut(output, OUTPUT_PER_REPLY)}\n")
        if type(notes) is not list:
            return
        for note in notes:
            if type(note) is not str or len(self._notes) >= MAX_NOTES:
                continue
            # Students see notes, and a note made while a test calls student code
            # could spell out the test's hidden input (`!echo {X}`): keep only its kind.
            shown = ("skipped a shell command or magic (not shown: it ran on a test's input)"
                     if what.startswith("call to ") else note)
            kept = f"{what}: {cut(shown, QUOTE_LIMIT)}"
            if kept not in self._notes:
                self._notes.append(kept)

    def _keep_output(self, text: str) -> None:
        room = OUTPUT_IN_ALL - self._output_size
        if room <= 0:
            return
        if len(text) > room:
            text = text[:room] + (f"\n[output truncated: the grader keeps a submission's first {OUTPUT_IN_ALL} "
                                  "characters]\n")
        self._output.append(text)
        self._output_size += len(text)

    def _start_worker(self) -> bool:
        """A fresh worker with the notebook's clean cells replayed into it."""
        if self._worker is not None or self._restarts > self._limits.max_restarts:
            return self._worker is not None
        if self._outcomes:
            self._restarts += 1
        pid, sock, evidence = self._zygote.spawn(self._settings)
        self._evidence.add(evidence)
        try:
            ready = wire.receive(sock, deadline=time.monotonic() + max(self._remaining(), 1.0),
                                 bounds=CONTROL)
            self._isolation = dict(ready["ready"])
            self._note_unconfined_platform()
        except (EOFError, OSError, wire.WireError, KeyError, TypeError, ValueError):
            self._zygote.kill(pid)
            return False
        self._worker = (pid, sock)
        self._clock = WorkerClock(pid)
        for index, outcome in sorted(self._outcomes.items()):
            if outcome.status in ("ok", "error") and not self._run_cell(index, replaying=True):
                return self._worker is not None
        return True

    def _kill(self) -> None:
        if self._worker is not None:
            pid, sock = self._worker
            self._worker = None
            self._zygote.kill(pid)
            sock.close()

    def _note_unconfined_platform(self) -> None:
        reason = self._isolation.get("portable")
        note = (f"not confined ({cut(str(reason), QUOTE_LIMIT)}): student code ran in a plain subprocess with "
                "your own rights, no namespaces, no seccomp; only the public tests run here unless --unconfined")
        if reason and note not in self._notes:
            self._notes.insert(0, note)


@dataclasses.dataclass(frozen=True)
class _TimedOut:
    """No reply within the timeout: the worker was killed."""


@dataclasses.dataclass(frozen=True)
class _Crashed:
    """The worker died, or could not be started."""


@dataclasses.dataclass(frozen=True)
class _Refused:
    """A reply the grader would not take in: over a bound, or not plain data."""
    reason: str


@dataclasses.dataclass(frozen=True)
class _Unsendable:
    """A request over the wire's bounds, never sent."""
    reason: str


_Failed = _TimedOut | _Crashed | _Refused | _Unsendable   # an exchange that brought no reply
