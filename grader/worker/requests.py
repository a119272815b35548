"""What a worker may be asked to do with the names a notebook defined.

Each recipe takes a request of plain data, calls student code, and answers with
plain data. This module runs inside the untrusted worker (and, for authors'
quick checks, in-process through `grader.grading.student.local_student`). It decides
nothing about grades: it only reports what the student's code returned, what
it raised, and which banned library calls (grader.worker.banned_calls) it made.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from grader.worker import banned_calls, guard
from grader.worker.returns import described, not_plain, tensor_expected

MESSAGE_LIMIT = 400
Reply = dict[str, Any]


class DispatchWatch(TorchDispatchMode):
    """Sees every tensor op at PyTorch's dispatcher, below any renaming."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Otherwise torch wraps __torch_dispatch__ to disable dynamo, whose
        # first use imports torch._dynamo: two seconds per fresh worker.
        return False

    def __init__(self, banned: frozenset[str] = frozenset()) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
        self.ops = 0
        self.banned = banned                  # the families this call may not use
        self.convolutions: set[str] = set()   # what it used of them, and the ways around the watch

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.ops += 1
        # This runs for every op of a student's loop: naming an op once, not each time, saves a quarter of its cost.
        try:
            evidence = _EVIDENCE[func]
        except KeyError:
            evidence = _EVIDENCE[func] = _evidence_of(func)
        if types:
            # A tensor subclass's own __torch_dispatch__ runs with this watch popped: what it computes is unseen.
            evidence = ("", f"a tensor subclass with its own __torch_dispatch__ ({sorted(t.__name__ for t in types)})")
        if evidence is not None and (not evidence[0] or evidence[0] in self.banned) \
                and evidence[1] not in self.convolutions:
            self.convolutions.add(evidence[1])
            guard.report(evidence[1])  # out of the process now: later code cannot clear it
        return func(*args, **kwargs) if kwargs else func(*args)


def _evidence_of(func: Any) -> tuple[str, str] | None:
    """What an op proves, as (family, evidence): a library call of a family
    (grader.worker.banned_calls), or ("", ...) for an operator of the notebook's own
    (torch.library), whose Python body runs with the watch popped."""
    family = banned_calls.family_of_op(str(func))
    if family is not None:
        return family, str(func)
    if getattr(func, "namespace", "aten") not in ("aten", "prims"):
        return "", f"a custom operator ({func})"
    return None


_EVIDENCE: dict[Any, tuple[str, str] | None] = {}
_DISPATCH = DispatchWatch.__dict__["__torch_dispatch__"]
# Captured before the trip-wires replace them: the watch's own checks are not the student's use.
_stack_length, _stack_at = torch._C._len_torch_dispatch_stack, torch._C._get_dispatch_stack_at
_excluded, _exclude_set = torch._C._dispatch_tls_is_dispatch_key_excluded, torch._C._dispatch_tls_local_exclude_set
_PYTHON_KEYS = (torch._C.DispatchKey.Python, torch._C.DispatchKey.PythonTLSSnapshot)

_active_watches: list[DispatchWatch] = []
_array_calls: list[str] = []   # the families of the wrapped array functions running now, outermost first

# Every door to the dispatcher watch: switching Python dispatch off, popping or
# reading the mode stack, excluding its dispatch keys, redispatching below it.
_TORCH_TRIPWIRES = {
    "torch._C": ("_DisableTorchDispatch", "_DisablePythonDispatcher", "_pop_torch_dispatch_stack",
                 "_push_on_torch_dispatch_stack", "_set_dispatch_mode", "_unset_dispatch_mode", "_get_dispatch_mode",
                 "_get_dispatch_stack_at", "_ExcludeDispatchKeyGuard", "ExcludeDispatchKeyGuard",
                 "_SetExcludeDispatchKeyGuard", "_IncludeDispatchKeyGuard", "_ForceDispatchKeyGuard",
                 "_dispatch_tls_set_dispatch_key_excluded", "_dispatch_tls_set_dispatch_key_included",
                 "_RestorePythonTLSSnapshot", "_disabled_torch_dispatch_impl", "_stash_obj_in_tls"),
    "torch.utils._python_dispatch": ("_pop_mode", "_pop_mode_temporarily", "_disable_current_modes",
                                     "_get_current_dispatch_mode", "_get_current_dispatch_mode_stack", "_push_mode",
                                     "_disable_infra_mode"),
}
# numpy's and scipy's convolutions and filters never reach torch's dispatcher: every
# alias of them, the C-level ones included, reports to the watch instead.
_ARRAY_FUNCTIONS = banned_calls.array_functions()


def watch_numpy_convolutions() -> None:
    """Install the array-library watch and the dispatcher trip-wires, once,
    before the notebook runs, wherever the originals are bound in a loaded module."""
    import importlib

    import numpy  # noqa: F401 - its C-level aliases must be loaded to be found

    for optional in ("scipy.signal", "scipy.ndimage"):  # scipy may be missing; imported here if present
        with suppress(Exception):  # any failure to import it means it cannot be used either
            importlib.import_module(optional)
    replacements: dict[int, tuple[Any, Any]] = {}
    watched: list[tuple[str, str, str | None]] = []
    for qualified, array_family in _ARRAY_FUNCTIONS.items():
        module_name, name = qualified.rsplit(".", 1)
        watched.append((module_name, name, array_family))
    watched += [(module_name, name, None) for module_name, names in _TORCH_TRIPWIRES.items() for name in names]
    for module_name, name, family in watched:
        module = sys.modules.get(module_name)
        original = getattr(module, name, None) if module is not None else None
        if original is None or getattr(original, "_convgrade_watched", False) or id(original) in replacements:
            continue
        qualified = f"{module_name}.{name}"
        wrapper = (guard.tripwire(qualified, original) if family is None
                   else _array_watch(qualified, family, original))
        wrapper._convgrade_watched = True  # type: ignore[attr-defined]
        replacements[id(original)] = (original, wrapper)
    guard.rebind_everywhere(replacements)
    redispatch = torch._ops.OpOverload.redispatch
    if not getattr(redispatch, "_convgrade_watched", False):
        # On the class: every op's redispatch goes through the trip-wire.
        torch._ops.OpOverload.redispatch = guard.tripwire(  # type: ignore[method-assign]
            "torch._ops.OpOverload.redispatch", redispatch)
        torch._ops.OpOverload.redispatch._convgrade_watched = True  # type: ignore[attr-defined]


def _array_watch(qualified: str, family: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def watched(*args: Any, **kwargs: Any) -> Any:
        if family in _array_calls:  # numpy.convolve calls its C-level correlate: name the one the student called
            return original(*args, **kwargs)
        for watch in _active_watches:
            if family in watch.banned and qualified not in watch.convolutions:
                watch.convolutions.add(qualified)
                guard.report(qualified)
        _array_calls.append(family)
        try:
            return original(*args, **kwargs)
        finally:
            _array_calls.pop()

    watched.__name__ = getattr(original, "__name__", qualified)
    watched.__doc__ = getattr(original, "__doc__", None)
    return watched


def _tampered(watch: DispatchWatch, exclude_set: Any) -> str | None:
    """After a call: is the watch still the one on top, unchanged and switched on?"""
    length = _stack_length()
    if length == 0 or _stack_at(length - 1) is not watch:
        return "the dispatcher watch was removed or covered"
    if type(watch) is not DispatchWatch or DispatchWatch.__dict__.get("__torch_dispatch__") is not _DISPATCH:
        return "the dispatcher watch was changed"
    if any(_excluded(key) for key in _PYTHON_KEYS) or str(_exclude_set()) != exclude_set:
        return "the dispatcher watch was switched off"
    if any(evidence != _evidence_of(func) for func, evidence in _EVIDENCE.items()):
        return "the dispatcher watch's table of convolutions was changed"
    return None


@contextmanager
def _watching(enabled: bool, name: str = "", from_scratch: bool = False,
              banned: frozenset[str] = frozenset()) -> Iterator[DispatchWatch | None]:
    with guard.calling(name, from_scratch):
        if not enabled:
            yield None
            return
        watch = DispatchWatch(banned)
        exclude_set = str(_exclude_set())
        _active_watches.append(watch)
        try:
            with watch:
                yield watch
                tampered = _tampered(watch, exclude_set)
                if tampered:
                    watch.convolutions.add(tampered)
                    guard.report(tampered)
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
    from_scratch = bool(request.get("from_scratch"))
    watch_for_library = from_scratch or request["recipe"] == "cost"
    # The families this call may not use; a request that names none bans library convolutions.
    banned = frozenset(request.get("may_not_call", banned_calls.DEFAULT)) if from_scratch else frozenset()
    with _watching(watch_for_library, name, from_scratch, banned) as watch:
        try:
            reply = recipe(target, request, device)
        except NotPlainData as error:
            reply = {"ok": False, "kind": "bad_return", "message": str(error)}
        except BaseException as error:  # noqa: BLE001 - whatever the student raises is their answer
            reply = {"ok": False, "kind": "raised", "message": describe_exception(error)}
            if out_of_memory(error):
                reply["out_of_memory"] = True
    if watch is not None and from_scratch:
        reply["library_convolutions"] = sorted(watch.convolutions)
    if watch is not None and request["recipe"] == "cost" and reply.get("ok"):
        reply["value"] = {"tensor_ops": watch.ops, "python_lines": reply.pop("python_lines")}
    return reply


def out_of_memory(error: BaseException) -> bool:
    """Whether `error` says the worker's memory cap was met: Python's MemoryError, or torch's allocators'
    own (a RuntimeError on the CPU, torch.OutOfMemoryError on a GPU). The grader treats such a call as it
    treats a timeout, so that a loop that grows memory fails the same way whichever limit it meets first."""
    if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
        return True
    try:
        return isinstance(error, RuntimeError) and "can't allocate memory" in str(error)
    except BaseException:  # noqa: BLE001 - a student's __str__ may itself raise
        return False


def describe_exception(error: BaseException) -> str:
    try:
        if isinstance(error, SyntaxError) and type(error.lineno) is int and type(error.msg) is str:
            # Python's own text names the compiler's file (<ipython-input-3-...>); the student needs the line.
            message = f"{type(error).__name__} (line {error.lineno}): {error.msg}"
            return message if len(message) <= MESSAGE_LIMIT else message[:MESSAGE_LIMIT] + "..."
        text = str(error)
    except BaseException:  # noqa: BLE001 - a student's __str__ may itself raise
        text = "<unprintable>"
    message = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return message if len(message) <= MESSAGE_LIMIT else message[:MESSAGE_LIMIT] + "..."


def _call(target: Callable[..., Any], request: Mapping[str, Any], device: str) -> Reply:
    args = [_argument(a, device) for a in request.get("args", [])]
    kwargs = {k: _argument(v, device) for k, v in request.get("kwargs", {}).items()}
    result = target(*args, **kwargs)
    if request.get("returns") == "tensor" and not isinstance(result, torch.Tensor):
        return {"ok": False, "kind": "bad_return", "message": tensor_expected(result)}
    return _answer(result)


def _gradients(target: Callable[..., Any], request: Mapping[str, Any], device: str) -> Reply:
    args = [_argument(a, device) for a in request.get("args", [])]
    wrt = list(request["wrt"])
    for index in wrt:
        args[index] = args[index].detach().to(torch.float64 if args[index].dtype == torch.float64
                                               else torch.float32).requires_grad_(True)
    output = target(*args)
    if not isinstance(output, torch.Tensor):
        return {"ok": False, "kind": "bad_return", "message": tensor_expected(output)}
    if output.requires_grad:
        grad_output = request.get("grad_output")
        seed = torch.ones_like(output) if grad_output is None else _argument(grad_output, device).to(output.dtype)
        output.backward(seed)
    return _answer((output, tuple(args[i].grad for i in wrt)))


def _module(target: Callable[..., Any], request: Mapping[str, Any], device: str) -> Reply:
    module = target(*[_argument(a, "cpu") for a in request.get("ctor_args", [])])
    if not isinstance(module, torch.nn.Module):
        return {"ok": False, "kind": "bad_return",
                "message": f"should build an nn.Module; it built {described(module)}"}
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
                        parameter.sub_(float(train["lr"]) * parameter.grad)
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
        # Every line the student wrote counts, cells and files alike; library lines are not the student's work.
        if not guard.is_student_file(frame.f_code.co_filename):
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
            assert layer.bias is not None  # bias=True made one
            layer.bias.copy_(bias)
    return layer.to(device)


def _answer(value: Any) -> Reply:
    devices: set[str] = set()
    return {"ok": True, "value": _as_plain_data(value, devices), "devices": sorted(devices)}


def _as_plain_data(value: Any, devices: set[str], inside: str = "") -> Any:
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
        holder = f" inside the {type(value).__name__} it returned"
        return type(value)(_as_plain_data(item, devices, inside or holder) for item in value)
    if type(value) is dict and all(type(k) is str for k in value):
        return {k: _as_plain_data(v, devices, inside or " inside the dict it returned") for k, v in value.items()}
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.generic):  # a numpy scalar is a number
        scalar = value.item()
        if type(scalar) in (bool, int, float):
            return scalar
    raise NotPlainData(not_plain(value, inside))


class NotPlainData(TypeError):
    """The student's function returned something that cannot cross to the grader."""
