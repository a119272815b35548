"""The `Student` that tests hold: a proxy that turns calls into plain requests.

The proxy sends each request through a transport (the worker's socket when
grading; an in-process call for authors' quick checks), checks the shape of
the reply, and hands the test plain values or a `StudentFailure`. It also
remembers which from-scratch functions dispatched a library convolution, for
the score stage to zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from grader import recipes, wire
from grader.testkit import CallCost, ModuleRun, StudentFailure, Training

Transport = Callable[[dict[str, Any]], Any]
_KINDS = frozenset({"raised", "missing", "bad_return", "timeout", "crashed"})


class StudentProxy:
    def __init__(self, transport: Transport, *, device: str = "cpu",
                 from_scratch: frozenset[str] = frozenset()) -> None:
        self._transport = transport
        self._device = device
        self._from_scratch = from_scratch
        self.library_convolutions: dict[str, set[str]] = {}

    def __getattr__(self, name: str) -> Callable[..., torch.Tensor]:
        if name.startswith("_"):
            raise AttributeError(name)

        def call_returning_tensor(*args: Any, **kwargs: Any) -> torch.Tensor:
            value = self.call(name, *args, **kwargs)
            if not isinstance(value, torch.Tensor):
                raise StudentFailure("bad_return", f"{name} should return a tensor; it returned {_kind(value)}")
            return value

        return call_returning_tensor

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._perform({"recipe": "call", "name": name, "args": list(args), "kwargs": dict(kwargs)})

    def gradients(self, name: str, *args: Any, wrt: Sequence[int],
                  grad_output: torch.Tensor | None = None) -> tuple[torch.Tensor, tuple[torch.Tensor | None, ...]]:
        value = self._perform({"recipe": "gradients", "name": name, "args": list(args), "wrt": list(wrt),
                               "grad_output": grad_output})
        output, grads = value
        return output, tuple(grads)

    def module(self, name: str, *ctor_args: Any, parameters: Mapping[str, torch.Tensor] | None = None,
               inputs: Sequence[torch.Tensor] = (), train: Training | None = None) -> ModuleRun:
        request = {"recipe": "module", "name": name, "ctor_args": list(ctor_args),
                   "parameters": dict(parameters or {}), "inputs": list(inputs),
                   "train": None if train is None else {"X": train.X, "Y": train.Y, "lr": float(train.lr),
                                                         "steps": int(train.steps)}}
        value = self._perform(request)
        return ModuleRun(parameters=value["parameters"], outputs=tuple(value["outputs"]),
                         losses=tuple(value["losses"]))

    def cost(self, name: str, *args: Any) -> CallCost:
        value = self._perform({"recipe": "cost", "name": name, "args": list(args)})
        return CallCost(tensor_ops=int(value["tensor_ops"]), python_lines=int(value["python_lines"]))

    def _perform(self, request: dict[str, Any]) -> Any:
        name = request["name"]
        request["device"] = self._device
        request["from_scratch"] = name in self._from_scratch
        reply = self._transport(request)
        if not _well_formed(reply):
            raise StudentFailure("crashed", f"the worker running {name} sent a malformed reply")
        if reply.get("library_convolutions"):
            self.library_convolutions.setdefault(name, set()).update(map(str, reply["library_convolutions"]))
        if not reply["ok"]:
            kind, message = reply["kind"], reply["message"]
            raise StudentFailure(kind, f"{name} raised {message}" if kind == "raised" else
                                 f"{name} {message}" if kind == "bad_return" else message)
        wanted = torch.device(self._device).type
        strays = [device for device in reply.get("devices", []) if torch.device(device).type != wanted]
        if strays:
            raise StudentFailure("bad_return", f"{name} returned a tensor on {strays[0]}, "
                                               f"but its inputs were on {self._device}")
        return reply.get("value")


def _well_formed(reply: Any) -> bool:
    if type(reply) is not dict or type(reply.get("ok")) is not bool:
        return False
    if not reply["ok"]:
        return reply.get("kind") in _KINDS and type(reply.get("message")) is str
    return type(reply.get("devices", [])) is list


def _kind(value: Any) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


def local_student(namespace: Mapping[str, Any], *, device: str = "cpu",
                  from_scratch: frozenset[str] = frozenset()) -> StudentProxy:
    """A Student over names in this process, for authors checking their tests.

    Requests and replies still go through the wire format, so tests see the
    same copies and types as when grading; but nothing is isolated.
    """
    recipes.watch_numpy_convolutions()

    def transport(request: dict[str, Any]) -> Any:
        reply = recipes.perform(namespace, wire.decode(wire.encode(request)))
        return wire.decode(wire.encode(reply))

    return StudentProxy(transport, device=device, from_scratch=from_scratch)
