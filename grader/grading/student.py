"""The `Student` that tests hold: a proxy that turns calls into plain requests.

The proxy sends each request through a transport (the worker's socket when
grading; an in-process call for authors' quick checks), checks the shape of
the reply, and hands the test plain values or a `StudentFailure`. It also
remembers which from-scratch functions made a banned library call (a library
convolution unless the assignment names other families), for the score stage to zero.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, get_args

import torch

from grader.authoring.testkit import CallCost, ModuleRun, StudentFailure, Training
from grader.records import FailureKind
from grader.worker import banned_calls, requests, wire
from grader.worker.quote import cut
from grader.worker.returns import tensor_expected

Transport = Callable[[dict[str, Any]], Any]
_DEVICE = re.compile(r"(cpu|cuda|meta|mps|xpu)(:\d+)?")
_KINDS = frozenset(get_args(FailureKind))
MAX_EVIDENCE = 8            # library convolutions kept per function: one is enough to zero it
EVIDENCE_LIMIT = 60         # characters of each (an aten op's name is under 45)


class StudentProxy:
    def __init__(self, transport: Transport, *, device: str = "cpu", from_scratch: frozenset[str] = frozenset(),
                 may_not_call: Mapping[str, frozenset[str]] | None = None,
                 missing_because: Mapping[str, str] | None = None) -> None:
        self._transport = transport
        self._device = device
        self._from_scratch = from_scratch
        self._may_not_call = may_not_call or {}   # from-scratch name -> banned families; absent: convolutions
        self._missing_because = dict(missing_because or {})  # name -> the failed cell that cost it
        self.library_convolutions: dict[str, set[str]] = {}

    def __getattr__(self, name: str) -> Callable[..., torch.Tensor]:
        if name.startswith("_"):
            raise AttributeError(name)

        def call_returning_tensor(*args: Any, **kwargs: Any) -> torch.Tensor:
            # The worker checks the type where it can describe any value (a numpy array); this
            # check is for a worker that claims otherwise.
            value = self._send({"recipe": "call", "name": name, "args": list(args), "kwargs": dict(kwargs),
                                "returns": "tensor"}, lambda value: value)
            if not isinstance(value, torch.Tensor):
                raise StudentFailure("bad_return", f"{name} {tensor_expected(value)}")
            return value

        return call_returning_tensor

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._send({"recipe": "call", "name": name, "args": list(args), "kwargs": dict(kwargs)},
                          lambda value: value)

    def gradients(self, name: str, *args: Any, wrt: Sequence[int],
                  grad_output: torch.Tensor | None = None) -> tuple[torch.Tensor, tuple[torch.Tensor | None, ...]]:
        def shaped(value: Any) -> tuple[torch.Tensor, tuple[torch.Tensor | None, ...]]:
            # Types first: a forged tensor would unpack, index and iterate like a pair.
            if type(value) is not tuple or len(value) != 2 or type(value[1]) not in (list, tuple):
                raise TypeError("gradients reply")
            output, grads = value
            if not isinstance(output, torch.Tensor) or len(grads) != len(wrt) or not all(
                    g is None or isinstance(g, torch.Tensor) for g in grads):
                raise TypeError("gradients reply")
            return output, tuple(grads)

        return self._send({"recipe": "gradients", "name": name, "args": list(args), "wrt": list(wrt),
                           "grad_output": grad_output}, shaped)

    def module(self, name: str, *ctor_args: Any, parameters: Mapping[str, torch.Tensor] | None = None,
               inputs: Sequence[torch.Tensor] = (), train: Training | None = None) -> ModuleRun:
        request = {"recipe": "module", "name": name, "ctor_args": list(ctor_args),
                   "parameters": dict(parameters or {}), "inputs": list(inputs),
                   "train": None if train is None else {"X": train.X, "Y": train.Y, "lr": float(train.lr),
                                                         "steps": int(train.steps)}}
        def shaped(value: Any) -> ModuleRun:
            if type(value) is not dict or type(value.get("parameters")) is not dict or not all(
                    type(value.get(key)) in (list, tuple) for key in ("outputs", "losses")):
                raise TypeError("module reply")
            parameters, outputs, losses = value["parameters"], tuple(value["outputs"]), tuple(value["losses"])
            if not (all(isinstance(p, torch.Tensor) for p in parameters.values())
                    and all(isinstance(o, torch.Tensor) for o in outputs)
                    and all(type(loss) is float for loss in losses)):
                raise TypeError("module reply")
            return ModuleRun(parameters=parameters, outputs=outputs, losses=losses)

        return self._send(request, shaped)

    def cost(self, name: str, *args: Any) -> CallCost:
        return self._send({"recipe": "cost", "name": name, "args": list(args)},
                          lambda value: CallCost(tensor_ops=_count(value["tensor_ops"]),
                                                 python_lines=_count(value["python_lines"])))

    def _send(self, request: dict[str, Any], shaped: Callable[[Any], Result]) -> Result:
        """Send one request; turn the reply into `shaped(value)` or a StudentFailure.

        The reply comes from a process that student code controls, so every
        part of it is checked: whatever does not fit is the worker's failure.
        """
        name = request["name"]
        request["device"] = self._device
        request["from_scratch"] = name in self._from_scratch
        if request["from_scratch"]:
            request["may_not_call"] = sorted(banned_calls.banned_for(name, self._may_not_call))
        reply = self._transport(request)
        malformed = StudentFailure("crashed", f"the worker running {name} sent a malformed reply")
        if not _well_formed(reply):
            raise malformed
        evidence = self.library_convolutions.setdefault(name, set())
        for convolution in reply.get("library_convolutions", []):
            if len(evidence) < MAX_EVIDENCE:
                evidence.add(cut(convolution, EVIDENCE_LIMIT))
        if not evidence:
            del self.library_convolutions[name]
        if not reply["ok"]:
            kind, message = reply["kind"], cut(reply["message"])
            undefined = kind == "missing" and message == f"the notebook does not define {name}"
            if undefined and name in self._missing_because:
                raise StudentFailure(kind, self._missing_because[name])
            raise StudentFailure(kind, f"{name} raised {message}" if kind == "raised" else
                                 f"{name} {message}" if kind == "bad_return" else message)
        strays = [device for device in reply["devices"] if device.split(":")[0] != self._device.split(":")[0]]
        if strays:
            raise StudentFailure("bad_return", f"{name} returned a tensor on {cut(strays[0], 40)}, "
                                               f"but its inputs were on {self._device}")
        try:
            return shaped(reply.get("value"))
        except (TypeError, ValueError, KeyError, AttributeError, IndexError):
            raise malformed from None


Result = TypeVar("Result")


def _well_formed(reply: Any) -> bool:
    if type(reply) is not dict or type(reply.get("ok")) is not bool:
        return False
    convolutions = reply.get("library_convolutions", [])
    if type(convolutions) is not list or not all(type(c) is str for c in convolutions):
        return False
    if not reply["ok"]:
        return reply.get("kind") in _KINDS and type(reply.get("message")) is str
    devices = reply.get("devices")
    return type(devices) is list and all(type(d) is str and _DEVICE.fullmatch(d) for d in devices)


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise TypeError("count")
    return value


def local_transport(namespace: Mapping[str, Any]) -> Transport:
    """Requests answered by names in this process, through the wire format both
    ways, as a worker answers them; nothing is isolated."""
    requests.watch_numpy_convolutions()

    def transport(request: dict[str, Any]) -> Any:
        reply = requests.perform(namespace, wire.decode(wire.encode(request)))
        try:
            return wire.decode(wire.encode(reply))
        except wire.WireError as error:  # as the worker answers it
            return {"ok": False, "kind": "bad_return", "message": str(error)}

    return transport


def local_student(namespace: Mapping[str, Any], *, device: str = "cpu", from_scratch: frozenset[str] = frozenset(),
                  may_not_call: Mapping[str, frozenset[str]] | None = None) -> StudentProxy:
    """A Student over names in this process, for authors checking their tests.

    Requests and replies still go through the wire format, so tests see the
    same copies and types as when grading; but nothing is isolated.
    """
    return StudentProxy(local_transport(namespace), device=device, from_scratch=from_scratch,
                        may_not_call=may_not_call)
