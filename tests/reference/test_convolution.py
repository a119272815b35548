from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from reference import convolve2d, corr1d, corr2d, corr3d

from ._reference_testing import (
    PROPERTY,
    assert_matches,
    dtypes,
    f64,
    library_convolutions_used,
    make,
    on_both_paths,
    seeds,
)

Shapes = tuple[tuple[int, ...], tuple[int, ...]]


def kernel_within(draw: st.DrawFn, n: int) -> int:
    """A kernel length for an input of length n: 1, n itself, or anything between."""
    return draw(st.one_of(st.just(1), st.just(n), st.integers(1, n)))


@st.composite
def shapes(draw: st.DrawFn, ndim: int, max_size: int) -> Shapes:
    n = tuple(draw(st.integers(1, max_size)) for _ in range(ndim))
    return n, tuple(kernel_within(draw, m) for m in n)


def test_convolve2d_flips_the_kernel() -> None:
    X = torch.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    K = torch.tensor([[0, 1], [2, 3]])
    # The kernel turned 180 degrees is [[3, 2], [1, 0]].
    assert torch.equal(convolve2d(X, K), torch.tensor([[5.0, 11.0], [23.0, 29.0]]))
    assert not torch.equal(convolve2d(X, K), corr2d(X, K))  # seed 002: generally different


@PROPERTY
@given(case=shapes(2, 10), x_dtype=dtypes, k_dtype=dtypes, seed=seeds)
def test_convolve2d_matches_torch(case: Shapes, x_dtype: torch.dtype, k_dtype: torch.dtype, seed: int) -> None:
    X, K = make(case[0], x_dtype, seed), make(case[1], k_dtype, seed + 1)
    oracle = F.conv2d(f64(X)[None, None], f64(K).flip(0, 1)[None, None])[0, 0]
    for Y in on_both_paths(lambda: convolve2d(X, K)):
        assert_matches(Y, oracle, x_dtype, k_dtype)
    torch.testing.assert_close(convolve2d(X, K), corr2d(X, K.flip(0, 1)))


@PROPERTY
@given(case=shapes(1, 16), x_dtype=dtypes, k_dtype=dtypes, seed=seeds)
def test_corr1d_matches_torch(case: Shapes, x_dtype: torch.dtype, k_dtype: torch.dtype, seed: int) -> None:
    x, k = make(case[0], x_dtype, seed), make(case[1], k_dtype, seed + 1)
    oracle = F.conv1d(f64(x)[None, None], f64(k)[None, None])[0, 0]
    for y in on_both_paths(lambda: corr1d(x, k)):
        assert_matches(y, oracle, x_dtype, k_dtype)


@PROPERTY
@given(case=shapes(3, 6), x_dtype=dtypes, k_dtype=dtypes, seed=seeds)
def test_corr3d_matches_torch(case: Shapes, x_dtype: torch.dtype, k_dtype: torch.dtype, seed: int) -> None:
    X, K = make(case[0], x_dtype, seed), make(case[1], k_dtype, seed + 1)
    oracle = F.conv3d(f64(X)[None, None], f64(K)[None, None])[0, 0]
    for Y in on_both_paths(lambda: corr3d(X, K)):
        assert_matches(Y, oracle, x_dtype, k_dtype)


def test_corr1d_small_example() -> None:
    assert torch.equal(corr1d(torch.tensor([0, 1, 2, 3, 4]), torch.tensor([1, 2])),
                       torch.tensor([2.0, 5.0, 8.0, 11.0]))


def test_gradcheck() -> None:
    def f64_leaf(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(convolve2d, (f64_leaf(4, 5), f64_leaf(2, 3)))
    assert torch.autograd.gradcheck(corr1d, (f64_leaf(7), f64_leaf(3)))
    assert torch.autograd.gradcheck(corr3d, (f64_leaf(3, 4, 4), f64_leaf(2, 2, 3)))


def test_on_device(device: torch.device) -> None:
    x = torch.arange(5.0, device=device)
    X2 = torch.arange(9.0, device=device).reshape(3, 3)
    X3 = torch.arange(27.0, device=device).reshape(3, 3, 3)
    for Y in (corr1d(x, x[:2]), convolve2d(X2, X2[:2, :2]), corr3d(X3, X3[:2, :2, :2])):
        assert Y.device == x.device and Y.dtype == torch.float32


@pytest.mark.parametrize(("func", "X", "K", "message"), [
    (corr1d, torch.ones(5), torch.ones(6), "larger than"),
    (corr1d, torch.ones(5, 1), torch.ones(2), "x must be 1-dimensional"),
    (corr1d, torch.ones(5), torch.ones(2, 1), "k must be 1-dimensional"),
    (corr1d, torch.ones(5), torch.ones(0), "must not be empty"),
    (corr3d, torch.ones(3, 3), torch.ones(2, 2), "X must be 3-dimensional"),
    (corr3d, torch.ones(3, 3, 3), torch.ones(2, 2), "K must be 3-dimensional"),
    (corr3d, torch.ones(3, 3, 3), torch.ones(1, 1, 4), "larger than"),
    (convolve2d, torch.ones(3, 3), torch.ones(2, 4), "larger than"),
    (convolve2d, torch.ones(3, 3), torch.ones(2, 2, 2), "K must be 2-dimensional"),
])
def test_bad_arguments(func: object, X: torch.Tensor, K: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        func(X, K)  # type: ignore[operator]


@pytest.mark.parametrize("func", [convolve2d, corr1d, corr3d])
def test_from_scratch_uses_no_library_convolution(func: object) -> None:
    assert library_convolutions_used(func) == set()  # type: ignore[arg-type]
