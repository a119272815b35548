"""The worker's recipes, run in this process: the dispatcher watch, the array-library watch, the cost count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy
import pytest
import torch
import torch.nn.functional as F

from grader.worker import requests


def perform(function: Callable[..., Any], *args: Any, recipe: str = "call",
            may_not_call: list[str] | None = None) -> dict[str, Any]:
    requests.watch_numpy_convolutions()
    request = {"recipe": recipe, "name": "f", "args": list(args), "from_scratch": True}
    if may_not_call is not None:
        request["may_not_call"] = may_not_call
    return requests.perform({"f": function}, request)


def student_function(source: str, filename: str) -> Callable[..., Any]:
    """A function as if imported from a file the notebook wrote (`filename`) or from a cell (`<ipython-input-...>`)."""
    namespace: dict[str, Any] = {"torch": torch}
    exec(compile(source, filename, "exec"), namespace)
    return namespace["f"]


PER_PIXEL = """
def f(X, K):
    c_i, h, w = X.shape
    Y = torch.zeros(K.shape[0], h, w)
    for i in range(h):
        for j in range(w):
            Y[:, i, j] = K[:, :, 0, 0] @ X[:, i, j]
    return Y
"""


def test_a_per_pixel_loop_in_a_file_the_notebook_wrote_is_counted_like_one_in_a_cell() -> None:
    X, K = torch.ones(2, 3, 3), torch.ones(2, 2, 1, 1)
    in_cell = perform(student_function(PER_PIXEL, "<ipython-input-3-abc>"), X, K, recipe="cost")["value"]
    in_file = perform(student_function(PER_PIXEL, "/tmp/student_helper.py"), X, K, recipe="cost")["value"]
    assert in_file == in_cell and in_file["python_lines"] >= 3 * 3 * 2


def test_library_lines_are_not_the_student_s() -> None:
    library = perform(lambda X: numpy.linalg.norm(numpy.ones(3)) * X, torch.ones(1), recipe="cost")["value"]
    assert library["python_lines"] <= 2


def test_the_c_level_numpy_correlate_is_watched_under_every_alias() -> None:
    import numpy._core._multiarray_umath as raw
    from numpy._core import numeric

    for correlate in (raw.correlate2, raw.correlate, numeric.correlate, numpy.convolve):
        reply = perform(lambda x, correlate=correlate: torch.tensor(correlate(x.numpy(), numpy.ones(2))), torch.ones(4))
        assert reply["ok"] and reply["library_convolutions"], correlate


def test_a_watch_left_switched_off_after_the_call_is_reported() -> None:
    python = torch._C.DispatchKey.Python

    def switch_off(X: torch.Tensor) -> torch.Tensor:
        torch._C._dispatch_tls_set_dispatch_key_excluded(python, True)
        return X

    try:
        reply = perform(switch_off, torch.ones(1))
    finally:
        torch._C._dispatch_tls_set_dispatch_key_excluded(python, False)
    assert reply["library_convolutions"] == ["the dispatcher watch was switched off"]


def test_a_watch_whose_table_of_convolutions_was_changed_is_reported() -> None:
    convolution = torch.ops.aten.convolution.default

    def forget(X: torch.Tensor) -> torch.Tensor:
        requests._EVIDENCE[convolution] = None
        return X

    try:
        reply = perform(forget, torch.ones(1))
    finally:
        requests._EVIDENCE.pop(convolution, None)
    assert reply["library_convolutions"] == ["the dispatcher watch's table of convolutions was changed"]


def test_an_honest_function_has_no_evidence_and_the_watch_stays_on() -> None:
    reply = perform(lambda X: (X.unfold(0, 2, 1) * 2).sum(-1), torch.ones(4))
    assert reply["ok"] and reply["library_convolutions"] == []
    assert torch._C._len_torch_dispatch_stack() == 0


@pytest.mark.slow
def test_a_convolution_inside_a_custom_operator_is_evidence() -> None:
    # The operator's Python body runs with the watch popped: the operator itself is the evidence.
    @torch.library.custom_op("notebook_ops::hidden", mutates_args=())
    def hidden_conv(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv2d(X[None, None], K[None, None])[0, 0]

    reply = perform(lambda X, K: torch.ops.notebook_ops.hidden(X, K), torch.ones(4, 4), torch.ones(2, 2))
    assert reply["ok"] and reply["library_convolutions"] == [
        "a custom operator (notebook_ops.hidden.default)"]


class _Lazy(torch.Tensor):
    """A wrapper subclass whose own __torch_dispatch__ computes a convolution."""

    @staticmethod
    def __new__(cls, X: torch.Tensor, K: torch.Tensor) -> _Lazy:
        made = torch.Tensor._make_wrapper_subclass(cls, (X.shape[0] - 1, X.shape[1] - 1), dtype=X.dtype)
        made.X, made.K = X, K
        return made

    @classmethod
    def __torch_dispatch__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        return torch.nn.functional.conv2d(args[0].X[None, None], args[0].K[None, None])[0, 0]


def test_a_convolution_inside_a_tensor_subclass_dispatch_is_evidence() -> None:
    reply = perform(lambda X, K: torch.ops.aten.clone(_Lazy(X, K)), torch.ones(4, 4), torch.ones(2, 2))
    assert reply["library_convolutions"] == ["a tensor subclass with its own __torch_dispatch__ (['_Lazy'])"]


# ---------------------------------------------------------------- what each assignment bans

X4 = torch.arange(32.0).reshape(1, 2, 4, 4)
LIBRARY_POOLING = {
    "F.max_pool2d": lambda X: F.max_pool2d(X, 2),
    "nn.MaxPool2d": lambda X: torch.nn.MaxPool2d(2)(X),
    "torch.max_pool2d": lambda X: torch.max_pool2d(X, 2),
    "F.avg_pool2d": lambda X: F.avg_pool2d(X, 2, padding=1),
    "nn.AvgPool2d": lambda X: torch.nn.AvgPool2d((2, 1))(X),
    "F.adaptive_max_pool2d": lambda X: F.adaptive_max_pool2d(X, 2),
    "F.adaptive_avg_pool2d": lambda X: F.adaptive_avg_pool2d(X, 3),
    "F.lp_pool2d": lambda X: F.lp_pool2d(X, 2, 2),
    "F.fractional_max_pool2d": lambda X: F.fractional_max_pool2d(X, 2, output_size=2),
    "F.max_pool1d on rows": lambda X: F.max_pool1d(X.flatten(0, 1), 2),
    "torch.ops.aten": lambda X: torch.ops.aten.max_pool2d_with_indices(X, [2, 2])[0],
    "a getattr string": lambda X: getattr(F, "max_" + "pool2d")(X, 2),
    "torch._C._nn": lambda X: getattr(torch._C._nn, "avg" + "_pool2d")(X, 2),
}


@pytest.mark.parametrize("pool", LIBRARY_POOLING.values(), ids=LIBRARY_POOLING.keys())
def test_library_pooling_is_seen_where_the_assignment_bans_pooling(pool: Callable[..., Any]) -> None:
    reply = perform(pool, X4, may_not_call=["pooling"])
    assert reply["ok"] and reply["library_convolutions"] and all("pool" in e for e in reply["library_convolutions"])


@pytest.mark.parametrize("pool", LIBRARY_POOLING.values(), ids=LIBRARY_POOLING.keys())
def test_library_pooling_is_allowed_where_only_convolutions_are_banned(pool: Callable[..., Any]) -> None:
    assert perform(pool, X4)["library_convolutions"] == []
    assert perform(pool, X4, may_not_call=["convolution"])["library_convolutions"] == []


def test_a_convolution_is_allowed_where_only_pooling_is_banned_and_seen_where_both_are() -> None:
    def convolve(X: torch.Tensor) -> torch.Tensor:
        return F.conv2d(X, torch.ones(1, 2, 2, 2))

    assert perform(convolve, X4, may_not_call=["pooling"])["library_convolutions"] == []
    assert perform(convolve, X4, may_not_call=["convolution", "pooling"])["library_convolutions"] == [
        "aten.convolution.default"]


def test_pooling_from_unfolded_windows_is_not_library_pooling() -> None:
    def unfolded(X: torch.Tensor) -> torch.Tensor:
        windows = F.unfold(X.flatten(0, 1)[:, None], 2, stride=2)
        by_tensor = X.unfold(2, 2, 2).unfold(3, 2, 2).amax((-2, -1))
        return windows.amax(1).reshape(by_tensor.shape) + by_tensor

    reply = perform(unfolded, X4, may_not_call=["pooling", "convolution"])
    assert reply["ok"] and reply["library_convolutions"] == []


def test_an_array_library_filter_reports_only_to_a_watch_that_bans_its_family() -> None:
    maximum_filter = requests._array_watch("scipy.ndimage.maximum_filter", "pooling", lambda x: x)
    assert perform(lambda X: maximum_filter(X), X4, may_not_call=["pooling"])["library_convolutions"] == [
        "scipy.ndimage.maximum_filter"]
    assert perform(lambda X: maximum_filter(X), X4)["library_convolutions"] == []


def test_a_way_around_the_watch_is_evidence_whatever_the_assignment_bans() -> None:
    reply = perform(lambda X, K: torch.ops.aten.clone(_Lazy(X, K)), torch.ones(4, 4), torch.ones(2, 2),
                    may_not_call=["pooling"])
    assert reply["library_convolutions"] == ["a tensor subclass with its own __torch_dispatch__ (['_Lazy'])"]


def test_a_syntax_error_is_described_by_its_line_not_the_compilers_file_name() -> None:
    with pytest.raises(SyntaxError) as raised:
        compile("x = 1\ndef f(:\n    pass", "<ipython-input-3-0123456789ab>", "exec")
    assert requests.describe_exception(raised.value) == "SyntaxError (line 2): invalid syntax"
    assert requests.describe_exception(SyntaxError("made up")) == "SyntaxError: made up"  # no line: as any error


class _Unprintable(RuntimeError):
    def __str__(self) -> str:
        raise ValueError("no text")


def _raise(error: BaseException) -> Callable[[], None]:
    def f() -> None:
        raise error
    return f


@pytest.mark.parametrize(("error", "out_of_memory"), [
    (MemoryError(), True),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: you tried"), True),
    (torch.OutOfMemoryError("CUDA out of memory"), True),
    (RuntimeError("shape mismatch"), False),
    (ValueError("can't allocate memory"), False),   # not an allocator's
    (_Unprintable(), False),
], ids=["MemoryError", "cpu_allocator", "cuda_allocator", "other_runtime_error", "value_error", "unprintable"])
def test_a_reply_says_when_the_call_ran_out_of_memory(error: BaseException, out_of_memory: bool) -> None:
    reply = perform(_raise(error))
    assert (reply["ok"], reply["kind"], reply.get("out_of_memory", False)) == (False, "raised", out_of_memory)
