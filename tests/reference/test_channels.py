from __future__ import annotations

import ast
import inspect
import textwrap

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from reference import (
    corr2d,
    corr2d_multi_in,
    corr2d_multi_in_out,
    corr2d_multi_in_out_1x1,
)

from ._reference_testing import (
    FEW,
    PROPERTY,
    assert_matches,
    dtypes,
    f64,
    large_input_paths,
    library_convolutions_used,
    make,
    on_both_paths,
    seeds,
)

# d2l section 6.4.1's two-channel example (seed 003).
X_TWO = torch.tensor([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
                      [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
K_TWO = torch.tensor([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])


MultiCase = tuple[int, int, tuple[int, ...], tuple[int, ...]]


@st.composite
def multi_case(draw: st.DrawFn) -> MultiCase:
    """(c_i, c_o, (n_h, n_w), (k_h, k_w)) with 1x1, full-size, tall and wide kernels."""
    n = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    k = tuple(draw(st.one_of(st.just(1), st.just(m), st.integers(1, m))) for m in n)
    return draw(st.integers(1, 5)), draw(st.integers(1, 5)), n, k


def test_seed_003_two_channel_example() -> None:
    assert torch.equal(corr2d_multi_in(X_TWO, K_TWO), torch.tensor([[56.0, 72.0], [104.0, 120.0]]))
    # d2l's multi-output example: K, K + 1, K + 2 stacked as three output channels.
    K3 = torch.stack((K_TWO, K_TWO + 1, K_TWO + 2), 0)
    Y = corr2d_multi_in_out(X_TWO, K3)
    assert Y.shape == (3, 2, 2)
    assert torch.equal(Y[0], torch.tensor([[56.0, 72.0], [104.0, 120.0]]))
    assert torch.equal(Y, torch.tensor([[[56.0, 72.0], [104.0, 120.0]],
                                        [[76.0, 100.0], [148.0, 172.0]],
                                        [[96.0, 128.0], [192.0, 224.0]]]))


@pytest.mark.slow
@PROPERTY
@given(case=multi_case(), x_dtype=dtypes, k_dtype=dtypes, seed=seeds)
def test_corr2d_multi_in_matches_torch(case: MultiCase, x_dtype: torch.dtype, k_dtype: torch.dtype,
                                       seed: int) -> None:
    c_i, _, n, k = case
    X, K = make((c_i, *n), x_dtype, seed), make((c_i, *k), k_dtype, seed + 1)
    oracle = F.conv2d(f64(X)[None], f64(K)[None])[0, 0]
    for Y in on_both_paths(lambda: corr2d_multi_in(X, K)):
        assert_matches(Y, oracle, x_dtype, k_dtype)


@pytest.mark.slow
@PROPERTY
@given(case=multi_case(), x_dtype=dtypes, k_dtype=dtypes, seed=seeds)
def test_corr2d_multi_in_out_matches_torch(case: MultiCase, x_dtype: torch.dtype, k_dtype: torch.dtype,
                                           seed: int) -> None:
    c_i, c_o, n, k = case
    X, K = make((c_i, *n), x_dtype, seed), make((c_o, c_i, *k), k_dtype, seed + 1)
    oracle = F.conv2d(f64(X)[None], f64(K))[0]
    for Y in on_both_paths(lambda: corr2d_multi_in_out(X, K)):
        assert_matches(Y, oracle, x_dtype, k_dtype)


@FEW
@given(case=multi_case(), seed=seeds)
def test_corr2d_multi_in_is_the_sum_of_per_channel_corr2d(case: MultiCase, seed: int) -> None:
    c_i, _, n, k = case
    X, K = make((c_i, *n), torch.float64, seed), make((c_i, *k), torch.float64, seed + 1)
    expected = sum(corr2d(x, kernel) for x, kernel in zip(X, K, strict=False))  # d2l's definition
    torch.testing.assert_close(corr2d_multi_in(X, K), expected)


@PROPERTY
@given(c_i=st.integers(1, 6), c_o=st.integers(1, 6), h=st.integers(1, 8), w=st.integers(1, 8),
       x_dtype=dtypes, k_dtype=dtypes, seed=seeds)
def test_corr2d_multi_in_out_1x1_matches_torch(c_i: int, c_o: int, h: int, w: int, x_dtype: torch.dtype,
                                               k_dtype: torch.dtype, seed: int) -> None:
    X, K = make((c_i, h, w), x_dtype, seed), make((c_o, c_i, 1, 1), k_dtype, seed + 1)
    oracle = F.conv2d(f64(X)[None], f64(K))[0]
    assert_matches(corr2d_multi_in_out_1x1(X, K), oracle, x_dtype, k_dtype)
    assert_matches(corr2d_multi_in_out(X, K), oracle, x_dtype, k_dtype)


def test_corr2d_multi_in_out_1x1_d2l_example() -> None:
    torch.manual_seed(0)
    X = torch.normal(0, 1, (3, 3, 3))
    K = torch.normal(0, 1, (2, 3, 1, 1))
    assert float((corr2d_multi_in_out_1x1(X, K) - corr2d_multi_in_out(X, K)).abs().sum()) < 1e-6


def test_corr2d_multi_in_out_1x1_is_one_matrix_product_without_loops() -> None:
    tree = ast.parse(textwrap.dedent(inspect.getsource(corr2d_multi_in_out_1x1)))
    loops = (ast.For, ast.While, ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)
    assert not any(isinstance(node, loops) for node in ast.walk(tree))


@pytest.mark.slow
@FEW
@given(case=multi_case(), seed=seeds)
def test_gradients_match_torch_on_both_paths(case: MultiCase, seed: int) -> None:
    c_i, c_o, n, k = case
    X = make((c_i, *n), torch.float64, seed).requires_grad_()
    K = make((c_o, c_i, *k), torch.float64, seed + 1).requires_grad_()
    theirs = F.conv2d(X[None], K)[0]
    G = torch.randn_like(theirs)
    expected = torch.autograd.grad(theirs, (X, K), G)
    for ours in on_both_paths(lambda: corr2d_multi_in_out(X, K)):
        assert ours.requires_grad
        torch.testing.assert_close(ours, theirs)
        for got, want in zip(torch.autograd.grad(ours, (X, K), G), expected, strict=False):
            torch.testing.assert_close(got, want)


@pytest.mark.slow
def test_gradcheck() -> None:
    X = torch.randn(3, 5, 6, dtype=torch.float64, requires_grad=True)
    K = torch.randn(2, 3, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(corr2d_multi_in_out, (X, K))
    assert torch.autograd.gradgradcheck(corr2d_multi_in_out, (X, K), fast_mode=True)
    with large_input_paths():
        assert torch.autograd.gradcheck(corr2d_multi_in_out, (X, K), fast_mode=True)
    assert torch.autograd.gradcheck(corr2d_multi_in, (X, K[0]))
    assert torch.autograd.gradcheck(corr2d_multi_in_out_1x1, (X, K[:, :, :1, :1].detach().requires_grad_()))


def test_on_device(device: torch.device) -> None:
    X = X_TWO.to(device).requires_grad_()
    K = torch.stack((K_TWO, K_TWO + 1)).to(device)
    for Y in (corr2d_multi_in(X, K_TWO.to(device)), corr2d_multi_in_out(X, K),
              corr2d_multi_in_out_1x1(X, K[:, :, :1, :1])):
        assert Y.device == X.device
        (grad,) = torch.autograd.grad(Y.sum(), X)
        assert grad.device == X.device
    assert torch.equal(corr2d_multi_in(X, K_TWO.to(device)).detach().cpu(),
                       torch.tensor([[56.0, 72.0], [104.0, 120.0]]))


@pytest.mark.parametrize(("func", "X", "K", "message"), [
    (corr2d_multi_in, torch.ones(2, 3, 3), torch.ones(3, 2, 2), "2 input channels but K"),
    (corr2d_multi_in, torch.ones(3, 3), torch.ones(1, 2, 2), "X must be 3-dimensional"),
    (corr2d_multi_in, torch.ones(2, 3, 3), torch.ones(2, 2), "K must be 3-dimensional"),
    (corr2d_multi_in, torch.ones(2, 3, 3), torch.ones(2, 4, 2), "larger than"),
    (corr2d_multi_in_out, torch.ones(2, 3, 3), torch.ones(4, 3, 2, 2), "2 input channels but K"),
    (corr2d_multi_in_out, torch.ones(2, 3, 3), torch.ones(2, 2, 2), "K must be 4-dimensional"),
    (corr2d_multi_in_out, torch.ones(1, 2, 3, 3), torch.ones(2, 2, 2, 2), "X must be 3-dimensional"),
    (corr2d_multi_in_out, torch.ones(2, 3, 3), torch.ones(1, 2, 2, 4), "larger than"),
    (corr2d_multi_in_out_1x1, torch.ones(2, 3, 3), torch.ones(4, 3, 1, 1), "2 input channels but K"),
    (corr2d_multi_in_out_1x1, torch.ones(2, 3, 3), torch.ones(4, 2, 3, 3), "1x1 kernel"),
    (corr2d_multi_in_out_1x1, torch.ones(2, 3, 3), torch.ones(4, 2), "K must be 4-dimensional"),
])
def test_bad_arguments(func: object, X: torch.Tensor, K: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        func(X, K)  # type: ignore[operator]


@pytest.mark.parametrize("func", [corr2d_multi_in, corr2d_multi_in_out])
def test_from_scratch_uses_no_library_convolution(func: object) -> None:
    assert library_convolutions_used(func) == set()  # type: ignore[arg-type]
