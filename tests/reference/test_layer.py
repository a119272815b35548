from __future__ import annotations

import re
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from reference import conv2d, pool2d

from ._reference_testing import (
    FEW,
    PROPERTY,
    assert_matches,
    dtypes,
    expected_dtype,
    f64,
    large_input_paths,
    library_convolutions_used,
    make,
    on_both_paths,
    seeds,
)

# PyTorch's own note that its oracle copies the input for even 'same' kernels.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

pairs = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))


def as_pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else value


@st.composite
def conv_case(draw: st.DrawFn) -> dict[str, Any]:
    """Every conv2d argument: batch (or unbatched), groups, stride, padding
    (int, pair, 'valid', 'same'), dilation, bias, with kernels that fit."""
    groups = draw(st.integers(1, 3))
    c, o = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kind = draw(st.sampled_from(["int", "pair", "valid", "same"]))
    stride = 1 if kind == "same" else draw(pairs)
    dilation = draw(pairs)
    if kind == "int":
        padding: Any = draw(st.integers(0, 2))
    elif kind == "pair":
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    else:
        padding = kind
    pads = as_pair(padding) if not isinstance(padding, str) else (0, 0)
    n = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    kernel = []
    for size, p, d in zip(n, pads, as_pair(dilation), strict=False):
        longest = 4 if kind == "same" else (size + 2 * p - 1) // d + 1  # dilated kernel fits
        kernel.append(draw(st.integers(1, max(1, min(longest, 4)))))
    batch = draw(st.sampled_from([None, 1, 2]))
    return {"x_shape": ((batch,) if batch else ()) + (c, *n), "w_shape": (o, c // groups, *kernel),
            "bias": draw(st.booleans()), "stride": stride, "padding": padding, "dilation": dilation,
            "groups": groups}


@pytest.mark.slow
@PROPERTY
@given(case=conv_case(), x_dtype=dtypes, w_dtype=dtypes, seed=seeds)
def test_conv2d_matches_torch(case: dict[str, Any], x_dtype: torch.dtype, w_dtype: torch.dtype,
                              seed: int) -> None:
    X, W = make(case["x_shape"], x_dtype, seed), make(case["w_shape"], w_dtype, seed + 1)
    b = make(case["w_shape"][:1], w_dtype, seed + 2) if case["bias"] else None
    kwargs = {key: case[key] for key in ("stride", "padding", "dilation", "groups")}
    oracle = F.conv2d(f64(X), f64(W), None if b is None else f64(b), **kwargs)
    for Y in on_both_paths(lambda: conv2d(X, W, b, **kwargs)):
        assert_matches(Y, oracle, x_dtype, w_dtype)


@pytest.mark.slow
@FEW
@given(case=conv_case(), seed=seeds)
def test_conv2d_gradients_match_torch(case: dict[str, Any], seed: int) -> None:
    X = make(case["x_shape"], torch.float64, seed).requires_grad_()
    W = make(case["w_shape"], torch.float64, seed + 1).requires_grad_()
    b = make(case["w_shape"][:1], torch.float64, seed + 2).requires_grad_()
    kwargs = {key: case[key] for key in ("stride", "padding", "dilation", "groups")}
    theirs = F.conv2d(X, W, b, **kwargs)
    G = torch.randn_like(theirs)
    expected = torch.autograd.grad(theirs, (X, W, b), G)
    for ours in on_both_paths(lambda: conv2d(X, W, b, **kwargs)):
        torch.testing.assert_close(ours, theirs)
        for got, want in zip(torch.autograd.grad(ours, (X, W, b), G), expected, strict=False):
            torch.testing.assert_close(got, want)


@pytest.mark.parametrize("kwargs", [
    {},
    {"stride": (2, 1), "padding": 1},
    {"dilation": (1, 2), "padding": "same"},
    {"groups": 2, "stride": 2, "dilation": 2, "padding": (2, 1)},
])
def test_conv2d_gradcheck(kwargs: dict[str, Any]) -> None:
    X = torch.randn(2, 4, 5, 6, dtype=torch.float64, requires_grad=True)
    W = torch.randn(2, 4 // kwargs.get("groups", 1), 2, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, requires_grad=True)
    # fast_mode checks random projections of the Jacobian: the same bugs, far fewer passes.
    assert torch.autograd.gradcheck(lambda x, w, bias: conv2d(x, w, bias, **kwargs), (X, W, b), fast_mode=True)
    with large_input_paths():
        assert torch.autograd.gradcheck(lambda x, w, bias: conv2d(x, w, bias, **kwargs), (X, W, b),
                                        fast_mode=True)


def test_conv2d_on_device(device: torch.device) -> None:
    X = torch.randn(2, 4, 8, 8, device=device)
    W = torch.randn(6, 2, 3, 3, device=device, requires_grad=True)
    Y = conv2d(X, W, torch.zeros(6, device=device), stride=2, padding=1, groups=2)
    assert Y.device == X.device and Y.shape == (2, 6, 4, 4)
    (grad,) = torch.autograd.grad(Y.sum(), W)
    assert grad.device == X.device
    Z = conv2d(X.to(torch.int64), W.detach().double(), padding="same", groups=2)
    assert Z.device == X.device and Z.dtype == torch.float64


@pytest.mark.parametrize(("X", "W", "kwargs", "message"), [
    (torch.ones(1, 3, 5, 5), torch.ones(2, 2, 3, 3), {}, "expects 2"),
    (torch.ones(1, 4, 5, 5), torch.ones(3, 2, 3, 3), {"groups": 2}, "must divide"),
    (torch.ones(1, 3, 5, 5), torch.ones(2, 1, 3, 3), {"groups": 2}, "must divide"),
    (torch.ones(1, 2, 5, 5), torch.ones(2, 2, 3, 3), {"groups": 0}, "groups must be >= 1"),
    (torch.ones(1, 2, 5, 5), torch.ones(2, 2, 3, 3), {"stride": 0}, "stride must be >= 1"),
    (torch.ones(1, 2, 5, 5), torch.ones(2, 2, 3, 3), {"dilation": (1, 0)}, "dilation must be >= 1"),
    (torch.ones(1, 2, 5, 5), torch.ones(2, 2, 3, 3), {"padding": "same", "stride": 2}, "requires stride 1"),
    (torch.ones(1, 2, 5, 5), torch.ones(2, 2, 3, 3), {"padding": -1}, "padding must be >= 0"),
    (torch.ones(1, 2, 5, 5), torch.ones(2, 2, 6, 3), {}, "larger than"),
    (torch.ones(1, 2, 5, 5), torch.ones(2, 2, 3, 3), {"dilation": 3}, "dilated kernel"),
    (torch.ones(5, 5), torch.ones(2, 2, 3, 3), {}, "X must be 4-dimensional"),
    (torch.ones(1, 2, 5, 5), torch.ones(2, 3, 3), {}, "W must be 4-dimensional"),
    (torch.ones(1, 2, 5, 5), torch.ones(2, 2, 3, 3), {"bias": torch.ones(3)}, "bias must have shape"),
])
def test_conv2d_bad_arguments(X: torch.Tensor, W: torch.Tensor, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        conv2d(X, W, **kwargs)


# -- pooling ------------------------------------------------------------------------

@st.composite
def pool_case(draw: st.DrawFn) -> dict[str, Any]:
    window = as_pair(draw(pairs))
    padding = tuple(draw(st.integers(0, k // 2)) for k in window)
    stride = draw(st.one_of(st.none(), pairs))
    lead = draw(st.sampled_from([(), (2,), (1, 3)]))
    n = tuple(draw(st.integers(max(1, k - 2 * p), 9)) for k, p in zip(window, padding, strict=False))
    return {"shape": (*lead, *n), "pool_size": draw(st.sampled_from([window, window[0]]))
                if window[0] == window[1] else window, "padding": padding, "stride": stride}


def torch_pool(X: torch.Tensor, mode: str, case: dict[str, Any]) -> torch.Tensor:
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    flat = X.reshape(-1, 1, *X.shape[-2:])  # PyTorch pools (N, C, H, W)
    out = pool(flat, case["pool_size"], stride=case["stride"], padding=case["padding"])
    return out.reshape(*X.shape[:-2], *out.shape[-2:])


@PROPERTY
@given(case=pool_case(), mode=st.sampled_from(["max", "avg"]), dtype=dtypes, seed=seeds)
def test_pool2d_matches_torch(case: dict[str, Any], mode: str, dtype: torch.dtype, seed: int) -> None:
    X = make(case["shape"], dtype, seed)
    Y = pool2d(X, case["pool_size"], mode, padding=case["padding"], stride=case["stride"])
    assert_matches(Y, torch_pool(f64(X), mode, case), dtype)


@FEW
@given(case=pool_case(), mode=st.sampled_from(["max", "avg"]), seed=seeds)
def test_pool2d_gradients_match_torch(case: dict[str, Any], mode: str, seed: int) -> None:
    X = make(case["shape"], torch.float64, seed).requires_grad_()  # continuous values: no ties
    ours = pool2d(X, case["pool_size"], mode, padding=case["padding"], stride=case["stride"])
    theirs = torch_pool(X, mode, case)
    G = torch.randn_like(theirs)
    torch.testing.assert_close(torch.autograd.grad(ours, X, G)[0], torch.autograd.grad(theirs, X, G)[0])


def test_pool2d_d2l_example() -> None:
    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    assert torch.equal(pool2d(X, (2, 2), stride=1), torch.tensor([[4.0, 5.0], [7.0, 8.0]]))
    assert torch.equal(pool2d(X, (2, 2), "avg", stride=1), torch.tensor([[2.0, 3.0], [5.0, 6.0]]))
    # nn.MaxPool2d's default stride is the window: one window fits in 3x3.
    assert torch.equal(pool2d(X, 2), torch.tensor([[4.0]]))
    X4 = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    assert torch.equal(pool2d(X4, 3, padding=1, stride=2), torch.tensor([[[[5.0, 7.0], [13.0, 15.0]]]]))


def test_pool2d_d2l_examples_agree_with_pytorch_s_layers() -> None:
    """d2l 6.5.2 and 6.5.3: the default stride is the window, pairs are (height, width), channels pool alone."""
    X = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    assert torch.equal(pool2d(X, 3), torch.nn.MaxPool2d(3)(X)) and pool2d(X, 3).tolist() == [[[[10.0]]]]
    odd = pool2d(X, (2, 3), padding=(0, 1), stride=(2, 3))
    assert torch.equal(odd, torch.nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))(X))
    assert odd.tolist() == [[[[5.0, 7.0], [13.0, 15.0]]]]
    X2 = torch.cat((X, X + 1), 1)
    assert torch.equal(pool2d(X2, 3, padding=1, stride=2), torch.nn.MaxPool2d(3, padding=1, stride=2)(X2))
    assert torch.equal(pool2d(X2, 3, "avg", padding=1, stride=2), torch.nn.AvgPool2d(3, padding=1, stride=2)(X2))
    # Average pooling counts the padded zeros (count_include_pad=True); max pooling never picks its padding.
    ones = torch.ones(1, 4, 4)
    assert pool2d(ones, 2, "avg", padding=1)[0, 0].tolist() == [0.25, 0.5, 0.25]
    assert torch.equal(pool2d(-ones, 2, padding=1), -torch.ones(1, 3, 3))


@pytest.mark.parametrize(("kwargs", "refusal"), [
    ({"kernel_size": 2, "padding": 2}, "must be at most half of pool_size"),
    ({"kernel_size": 3, "padding": (1, 2)}, "must be at most half of pool_size"),
    ({"kernel_size": 2, "stride": 0}, "stride must be >= 1"),
    ({"kernel_size": 0}, "pool_size must be >= 1"),
    ({"kernel_size": (5, 1)}, "is larger than"),
    ({"kernel_size": 2, "padding": -1}, "padding must be >= 0"),
])
def test_pool2d_refuses_what_pytorch_refuses(kwargs: dict[str, Any], refusal: str) -> None:
    X = torch.ones(1, 4, 4)
    for pool in (F.max_pool2d, F.avg_pool2d):
        with pytest.raises((RuntimeError, ValueError)):
            pool(X, **kwargs)
    for mode in ("max", "avg"):
        with pytest.raises(ValueError, match=re.escape(refusal)):
            pool2d(X, kwargs["kernel_size"], mode, padding=kwargs.get("padding", 0), stride=kwargs.get("stride"))


def test_pool2d_on_device(device: torch.device) -> None:
    X = torch.arange(16, device=device).reshape(1, 4, 4)
    for mode in ("max", "avg"):
        Y = pool2d(X, 2, mode, padding=1)
        assert Y.device == X.device and Y.dtype == expected_dtype(X.dtype) and Y.shape == (1, 3, 3)


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((torch.ones(4, 4), 2, "min"), {}, "mode must be"),
    ((torch.ones(4, 4), 2), {"padding": 2}, "at most half"),
    ((torch.ones(4, 4), 2), {"stride": 0}, "stride must be >= 1"),
    ((torch.ones(4, 4), 0), {}, "pool_size must be >= 1"),
    ((torch.ones(4, 4), (5, 1)), {}, "larger than"),
    ((torch.ones(4), 2), {}, "at least 2 dimensions"),
])
def test_pool2d_bad_arguments(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pool2d(*args, **kwargs)


@pytest.mark.parametrize("func", [conv2d, pool2d])
def test_from_scratch_uses_no_library_convolution(func: object) -> None:
    assert library_convolutions_used(func) == set()  # type: ignore[arg-type]


def test_static_check_catches_a_library_convolution() -> None:
    def cheat(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
        return F.conv2d(X, K)

    def cheat_via_torch(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv1d(X, K) + torch.conv2d(X, K)

    assert "F.conv2d" in library_convolutions_used(cheat)
    assert {"torch.nn.functional.conv1d", "torch.conv2d"} <= library_convolutions_used(cheat_via_torch)
