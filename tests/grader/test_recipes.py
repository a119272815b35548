"""The worker's recipes, run in this process: the dispatcher watch, the array-library watch, the cost count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy
import pytest
import torch

from grader import recipes


def perform(function: Callable[..., Any], *args: Any, recipe: str = "call") -> dict[str, Any]:
    recipes.watch_numpy_convolutions()
    return recipes.perform({"f": function}, {"recipe": recipe, "name": "f", "args": list(args), "from_scratch": True})


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
    import numpy._core.numeric as numeric

    for correlate in (raw.correlate2, raw.correlate, numeric.correlate, numpy.convolve):
        reply = perform(lambda x: torch.tensor(correlate(x.numpy(), numpy.ones(2))), torch.ones(4))
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
        recipes._EVIDENCE[convolution] = None
        return X

    try:
        reply = perform(forget, torch.ones(1))
    finally:
        recipes._EVIDENCE.pop(convolution, None)
    assert reply["library_convolutions"] == ["the dispatcher watch's table of convolutions was changed"]


def test_an_honest_function_has_no_evidence_and_the_watch_stays_on() -> None:
    reply = perform(lambda X: (X.unfold(0, 2, 1) * 2).sum(-1), torch.ones(4))
    assert reply["ok"] and reply["library_convolutions"] == []
    assert torch._C._len_torch_dispatch_stack() == 0


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


def test_a_syntax_error_is_described_by_its_line_not_the_compilers_file_name() -> None:
    with pytest.raises(SyntaxError) as raised:
        compile("x = 1\ndef f(:\n    pass", "<ipython-input-3-0123456789ab>", "exec")
    assert recipes.describe_exception(raised.value) == "SyntaxError (line 2): invalid syntax"
    assert recipes.describe_exception(SyntaxError("made up")) == "SyntaxError: made up"  # no line: as any error
