"""What a worker may be asked to do with the names a notebook defined.

Each recipe takes a request of plain data, calls student code, and answers with
plain data. This module runs inside the untrusted worker (and, for authors'
quick checks, in-process through `grader.student.local_student`). It decides
nothing about grades: it only reports what the student's code returned, what
it raised, and which library convolutions it dispatched.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

# Every aten convolution kernel, whatever Python path reached it.
_LIBRARY_CONVOLUTION = re.compile(r"conv(?!ert)")
MESSAGE_LIMIT = 400
Reply = dict[str, Any]


class DispatchWatch(TorchDispatchMode):
    """Sees every tensor op at PyTorch's dispatcher, below any renaming."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Otherwise torch wraps __torch_dispatch__ to disable dynamo, whose
        # first use imports torch._dynamo: two seconds per fresh worker.
        return False

    def __init__(self) -> None:
        super().__init__()
        self.ops = 0
        self.convolutions: set[str] = set()

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.ops += 1
        # This runs for every op of a student's loop: naming an op once, not each time, saves a quarter of its cost.
        convolution = _IS_CONVOLUTION.get(func)
        if convolution is None:
            convolution = _IS_CONVOLUTION[func] = _LIBRARY_CONVOLUTION.search(str(func)) is not None
        if convolution:
            self.convolutions.add(str(func))
        return func(*args, **kwargs) if kwargs else func(*args)


_IS_CONVOLUTION: dict[Any, bool] = {}


_active_watches: list[DispatchWatch] = []


def watch_numpy_convolutions() -> None:
    """numpy's convolutions never reach torch's dispatcher, so report them here.

    Installed once, before the notebook runs, so that `np.convolve` in student
    code already names the watched function.
    """
    import numpy

    for name in ("convolve", "correlate"):
        original = getattr(numpy, name)
        if getattr(original, "_convgrade_watched", False):
            continue

        def watched(*args: Any, _original: Callable[..., Any] = original, _name: str = name, **kwargs: Any) -> Any:
            for watch in _active_watches:
                watch.convolutions.add(f"numpy.{_name}")
            return _original(*args, **kwargs)

        watched._convgrade_watched = True  # type: ignore[attr-defined]
        setattr(numpy, name, watched)


@contextmanager
def _watching(enabled: bool) -> Iterator[DispatchWatch | None]:
    if not enabled:
        yield None
        return
    watch = DispatchWatch()
    _active_watches.append(watch)
    try:
        with watch:
            yield watch
    finally:
        _active_watches.remove(watch)


def perform(namespace: Mapping[str, Any], request: Mapping[str, Any]) -> Reply:
    """Run one request against the student's names and describe the outcome."""
    recipe = _RECIPES.get(request.get("recipe", ""))
    if recipe is None:
        raise ValueError(f"unknown recipe {request.get('recipe')!r}")
    name = request["name"]
    target = namespace.get(name)
    if target is None:
        return {"ok": False, "kind": "missing", "message": f"the notebook does not define {name}"}
    if not callable(target):
        return {"ok": False, "kind": "missing", "message": f"{name} is defined but is not a function or class"}
    device = request.get("device", "cpu")
    watch_for_library = bool(request.get("from_scratch")) or request["recipe"] == "cost"
    with _watching(watch_for_library) as watch:
        try:
            reply = recipe(target, request, device)
        except NotPlainData as error:
            reply = {"ok": False, "kind": "bad_return", "message": str(error)}
        except BaseException as error:  # noqa: BLE001 - whatever the student raises is their answer
            reply = {"ok": False, "kind": "raised", "message": describe_exception(error)}
    if watch is not None and request.get("from_scratch"):
        reply["library_convolutions"] = sorted(watch.convolutions)
    if watch is not None and request["recipe"] == "cost" and reply.get("ok"):
        reply["value"] = {"tensor_ops": watch.ops, "python_lines": reply.pop("python_lines")}
    return reply


def describe_exception(error: BaseException) -> str:
    try:
        text = str(error)
    except BaseException:  # noqa: BLE001 - a student's __str__ may itself raise
        text = "<unprintable>"
    message = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return message if len(message) <= MESSAGE_LIMIT else message[:MESSAGE_LIMIT] + "..."


def _call(target: Callable[..., Any], request: Mapping[str, Any], device: str) -> Reply:
    args = [_argument(a, device) for a in request.get("args", [])]
    kwargs = {k: _argument(v, device) for k, v in request.get("kwargs", {}).items()}
    return _answer(target(*args, **kwargs))


def _gradients(target: Callable[..., Any], request: Mapping[str, Any], device: str) -> Reply:
    args = [_argument(a, device) for a in request.get("args", [])]
    wrt = list(request["wrt"])
    for index in wrt:
        args[index] = args[index].detach().to(torch.float64 if args[index].dtype == torch.float64
                                               else torch.float32).requires_grad_(True)
    output = target(*args)
    if not isinstance(output, torch.Tensor):
        return {"ok": False, "kind": "bad_return",
                "message": f"returned {type(output).__name__}, not a tensor"}
    if output.requires_grad:
        grad_output = request.get("grad_output")
        seed = torch.ones_like(output) if grad_output is None else _argument(grad_output, device).to(output.dtype)
        output.backward(seed)
    return _answer((output, tuple(args[i].grad for i in wrt)))


def _module(target: Callable[..., Any], request: Mapping[str, Any], device: str) -> Reply:
    module = target(*[_argument(a, "cpu") for a in request.get("ctor_args", [])])
    if not isinstance(module, torch.nn.Module):
        return {"ok": False, "kind": "bad_return",
                "message": f"should build an nn.Module; it built {type(module).__name__}"}
    module.to(device)
    own = dict(module.named_parameters())
    for key, value in (request.get("parameters") or {}).items():
        if key not in own:
            return {"ok": False, "kind": "bad_return",
                    "message": f"has no parameter named {key!r} (it has {sorted(own)})"}
        with torch.no_grad():
            own[key].copy_(_argument(value, device).reshape(own[key].shape))
    losses: list[float] = []
    train = request.get("train")
    if train:
        X, Y = _argument(train["X"], device), _argument(train["Y"], device)
        for _ in range(int(train["steps"])):
            loss = ((module(X) - Y) ** 2).sum()
            module.zero_grad()
            loss.backward()
            with torch.no_grad():
                for parameter in module.parameters():
                    if parameter.grad is not None:
                        parameter -= float(train["lr"]) * parameter.grad
            losses.append(loss.item())
    with torch.no_grad():
        outputs = [module(_argument(x, device)) for x in request.get("inputs", [])]
    parameters = {key: value.detach() for key, value in module.named_parameters()}
    return _answer({"parameters": parameters, "outputs": outputs, "losses": losses})


def _cost(target: Callable[..., Any], request: Mapping[str, Any], device: str) -> Reply:
    args = [_argument(a, device) for a in request.get("args", [])]
    lines = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal lines
        # Only notebook cells have pseudo file names; library lines are not the student's work.
        if not frame.f_code.co_filename.startswith("<") and "ipython-input" not in frame.f_code.co_filename:
            return None
        if event == "line":
            lines += 1
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        target(*args)
    finally:
        sys.settrace(previous)
    return {"ok": True, "value": None, "devices": [], "python_lines": lines}


_RECIPES: dict[str, Callable[[Callable[..., Any], Mapping[str, Any], str], Reply]] = {
    "call": _call, "gradients": _gradients, "module": _module, "cost": _cost,
}


def _argument(value: Any, device: str) -> Any:
    """Turn a plain argument into what the student's function expects: tensors
    on the grading device, and `$conv2d` layer descriptions into real layers."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if type(value) is dict and set(value) == {"$conv2d"}:
        return _conv2d_layer(value["$conv2d"], device)
    if type(value) in (list, tuple):
        return type(value)(_argument(item, device) for item in value)
    return value


def _conv2d_layer(spec: Mapping[str, Any], device: str) -> torch.nn.Conv2d:
    weight = spec["weight"]
    bias = spec.get("bias")
    layer = torch.nn.Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]),
                            padding=spec.get("padding", 0), stride=spec.get("stride", 1),
                            bias=bias is not None, dtype=weight.dtype)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer.to(device)


def _answer(value: Any) -> Reply:
    devices: set[str] = set()
    return {"ok": True, "value": _plain(value, devices), "devices": sorted(devices)}


def _plain(value: Any, devices: set[str]) -> Any:
    """Keep only plain data; anything else is the student's wrong return type."""
    if isinstance(value, torch.Tensor):
        with torch._C.DisableTorchFunctionSubclass():
            plain = torch.Tensor.as_subclass(value, torch.Tensor)
            if plain.layout != torch.strided or plain.device.type == "meta":
                raise NotPlainData(f"returned a {plain.layout} tensor on {plain.device}, which holds no plain values")
            devices.add(str(plain.device))
        return value
    if value is None or type(value) is str:
        return value
    for kind in (bool, int, float):  # bool first: it is an int too
        if isinstance(value, kind):
            return kind(value)
    if type(value) in (list, tuple):
        return type(value)(_plain(item, devices) for item in value)
    if type(value) is dict and all(type(k) is str for k in value):
        return {k: _plain(v, devices) for k, v in value.items()}
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        scalar = value.item()
        if type(scalar) in (bool, int, float):
            return scalar
    raise NotPlainData(f"returned a {type(value).__name__}, which is not a tensor, number, string, list, tuple or dict")


class NotPlainData(TypeError):
    """The student's function returned something that cannot cross to the grader."""
