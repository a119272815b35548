from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from reference import Conv2D, corr2d, horizontal_edge_kernel, learn_kernel

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


def edge_image() -> torch.Tensor:
    """Seed 002's 6x8 image: ones, with columns 2..5 black."""
    X = torch.ones(6, 8)
    X[:, 2:6] = 0
    return X


# -- the seeds' worked examples -------------------------------------------------

def test_seed_example_19_25_37_43() -> None:
    X = torch.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    K = torch.tensor([[0, 1], [2, 3]])
    Y = corr2d(X, K)
    assert Y.dtype == torch.float32  # integer input computes in float32, as seed 002's X.float()
    assert torch.equal(Y, torch.tensor([[19.0, 25.0], [37.0, 43.0]]))


def test_seed_edge_image_vertical_edges() -> None:
    Y = corr2d(edge_image(), torch.tensor([[1.0, -1.0]]))
    expected = torch.zeros(6, 7)
    expected[:, 1] = 1
    expected[:, 5] = -1
    assert torch.equal(Y, expected)
    # Seed 000: the same kernel sees nothing in the transposed image.
    assert torch.equal(corr2d(edge_image().t(), torch.tensor([[1.0, -1.0]])), torch.zeros(8, 5))


# -- properties against PyTorch --------------------------------------------------

@st.composite
def image_and_kernel(draw: st.DrawFn) -> tuple[tuple[int, int], tuple[int, int]]:
    """Shapes including 1x1 kernels, kernel == input, tall and wide."""
    n_h, n_w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    k_h = draw(st.one_of(st.just(1), st.just(n_h), st.integers(1, n_h)))
    k_w = draw(st.one_of(st.just(1), st.just(n_w), st.integers(1, n_w)))
    return (n_h, n_w), (k_h, k_w)


@PROPERTY
@given(shapes=image_and_kernel(), x_dtype=dtypes, k_dtype=dtypes, seed=seeds)
def test_corr2d_matches_torch(shapes: tuple[tuple[int, int], tuple[int, int]], x_dtype: torch.dtype,
                              k_dtype: torch.dtype, seed: int) -> None:
    (x_shape, k_shape) = shapes
    X, K = make(x_shape, x_dtype, seed), make(k_shape, k_dtype, seed + 1)
    oracle = F.conv2d(f64(X)[None, None], f64(K)[None, None])[0, 0]
    for Y in on_both_paths(lambda: corr2d(X, K)):
        assert_matches(Y, oracle, x_dtype, k_dtype)


@FEW
@given(shapes=image_and_kernel(), seed=seeds)
def test_corr2d_differentiable_path_agrees_with_shift_and_add(
        shapes: tuple[tuple[int, int], tuple[int, int]], seed: int) -> None:
    X = make(shapes[0], torch.float64, seed)
    K = make(shapes[1], torch.float64, seed + 1).requires_grad_()
    with torch.no_grad(), large_input_paths():
        fast = corr2d(X, K)
    tracked = corr2d(X, K)
    assert tracked.requires_grad and not fast.requires_grad
    torch.testing.assert_close(tracked.detach(), fast, rtol=1e-12, atol=1e-12)


def test_corr2d_gradcheck() -> None:
    X = torch.randn(5, 6, dtype=torch.float64, requires_grad=True)
    K = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(corr2d, (X, K))
    assert torch.autograd.gradgradcheck(corr2d, (X, K))


def test_corr2d_gradients_match_torch() -> None:
    X = torch.randn(7, 9, dtype=torch.float64, requires_grad=True)
    K = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    G = torch.randn(5, 8, dtype=torch.float64)
    ours = torch.autograd.grad(corr2d(X, K), (X, K), G)
    theirs = torch.autograd.grad(F.conv2d(X[None, None], K[None, None])[0, 0], (X, K), G)
    for a, b in zip(ours, theirs, strict=False):
        torch.testing.assert_close(a, b)


def test_corr2d_on_device(device: torch.device) -> None:
    X = torch.arange(9.0, device=device).reshape(3, 3)
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]], device=device, requires_grad=True)
    Y = corr2d(X, K)
    assert Y.device == X.device
    assert torch.equal(Y.detach().cpu(), torch.tensor([[19.0, 25.0], [37.0, 43.0]]))
    (grad,) = torch.autograd.grad(Y.sum(), K)
    assert grad.device == X.device
    with torch.no_grad():
        for Z in on_both_paths(lambda: corr2d(X.long(), K)):
            assert Z.device == X.device and torch.equal(Z.cpu(), torch.tensor([[19.0, 25.0], [37.0, 43.0]]))


@pytest.mark.parametrize(("X", "K", "message"), [
    (torch.ones(3, 3, 3), torch.ones(2, 2), "X must be 2-dimensional"),
    (torch.ones(3, 3), torch.ones(2), "K must be 2-dimensional"),
    (torch.ones(3, 3), torch.ones(4, 1), "larger than"),
    (torch.ones(3, 3), torch.ones(1, 4), "larger than"),
    (torch.ones(3, 3), torch.ones(0, 2), "must not be empty"),
])
def test_corr2d_bad_arguments(X: torch.Tensor, K: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        corr2d(X, K)


# -- Conv2D -------------------------------------------------------------------------

def test_conv2d_module_parameters_and_forward() -> None:
    torch.manual_seed(0)
    layer = Conv2D((1, 2))
    names = dict(layer.named_parameters())
    assert set(names) == {"weight", "bias"}
    assert layer.weight.shape == (1, 2) and layer.bias.shape == (1,)
    assert bool(((layer.weight >= 0) & (layer.weight < 1)).all())  # torch.rand, as d2l
    assert torch.equal(layer.bias.detach(), torch.zeros(1))
    X = edge_image()
    with torch.no_grad():
        layer.bias.fill_(0.5)
    torch.testing.assert_close(layer(X), corr2d(X, layer.weight) + 0.5)
    assert Conv2D(3).weight.shape == (3, 3)


def test_conv2d_module_trains_like_seed_002() -> None:
    """Seed 002 section 5.1.4: 20 steps of plain gradient descent, lr 0.01."""
    torch.manual_seed(0)
    X = edge_image()
    Y = corr2d(X, torch.tensor([[1.0, -1.0]]))
    layer = Conv2D(kernel_size=(1, 2))
    losses = []
    for _ in range(20):
        loss = ((layer(X) - Y) ** 2).sum()
        loss.backward()
        assert layer.weight.grad is not None and layer.bias.grad is not None
        layer.weight.data -= 0.01 * layer.weight.grad
        layer.bias.data -= 0.01 * layer.bias.grad
        layer.weight.grad.fill_(0)
        layer.bias.grad.fill_(0)
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.1 * losses[0]
    torch.testing.assert_close(layer.weight.detach(), torch.tensor([[1.0, -1.0]]), atol=0.15, rtol=0)


# -- horizontal edges -------------------------------------------------------------

def test_horizontal_edge_kernel_shape() -> None:
    K = horizontal_edge_kernel()
    assert K.dim() == 2 and K.shape[0] <= 3 and K.shape[1] <= 3 and K.is_floating_point()


@FEW
@given(n_h=st.integers(4, 10), n_w=st.integers(3, 10), seed=seeds)
def test_horizontal_edge_kernel_is_blind_to_constant_and_vertical_structure(n_h: int, n_w: int,
                                                                           seed: int) -> None:
    K = horizontal_edge_kernel()
    g = make((n_w,), torch.float64, seed)
    vertical_only = g.expand(n_h, n_w)  # X[i, j] = g(j)
    assert torch.allclose(corr2d(vertical_only, K), torch.zeros(()).double(), atol=1e-12)
    assert torch.equal(corr2d(torch.full((n_h, n_w), 3.0), K), torch.zeros(n_h - K.shape[0] + 1,
                                                                          n_w - K.shape[1] + 1))


@FEW
@given(n_h=st.integers(4, 10), n_w=st.integers(3, 10), step=st.data())
def test_horizontal_edge_kernel_fires_exactly_across_a_step(n_h: int, n_w: int, step: st.DataObject) -> None:
    K = horizontal_edge_kernel()
    row = step.draw(st.integers(0, n_h - 2))  # the step lies between rows `row` and `row + 1`
    top, bottom = step.draw(st.sampled_from([(0.0, 1.0), (1.0, 0.0), (2.0, -3.0)]))
    X = torch.full((n_h, n_w), bottom)
    X[:row + 1] = top
    Y = corr2d(X, K)
    k_h = K.shape[0]
    for i in range(Y.shape[0]):
        straddles = i <= row < i + k_h - 1
        assert bool((Y[i] != 0).all()) == straddles and bool((Y[i] == 0).all()) != straddles
    # Seed 000: the edge image turned on its side has only horizontal edges.
    assert bool((corr2d(edge_image().t(), K) != 0).any())


# -- learn_kernel -------------------------------------------------------------------

def test_learn_kernel_recovers_the_edge_kernel() -> None:
    torch.manual_seed(0)
    X = edge_image()
    Y = corr2d(X, torch.tensor([[1.0, -1.0]]))
    weight, losses = learn_kernel(X, Y, (1, 2))
    assert weight.shape == (1, 2) and not weight.requires_grad
    assert len(losses) == 10 and all(isinstance(loss, float) for loss in losses)
    assert all(b <= a for a, b in itertools.pairwise(losses))
    assert losses[-1] < 0.5 and losses[-1] < 0.1 * losses[0]
    torch.testing.assert_close(weight, torch.tensor([[1.0, -1.0]]), atol=0.15, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_learn_kernel_from_any_start(seed: int) -> None:
    torch.manual_seed(seed)
    X = edge_image()
    weight, losses = learn_kernel(X, corr2d(X, torch.tensor([[1.0, -1.0]])), (1, 2), num_epochs=30)
    assert losses[-1] < losses[0]
    torch.testing.assert_close(weight, torch.tensor([[1.0, -1.0]]), atol=0.05, rtol=0)


def test_learn_kernel_bad_arguments() -> None:
    X = edge_image()
    with pytest.raises(ValueError, match="Y must have shape"):
        learn_kernel(X, torch.zeros(6, 8), (1, 2))
    with pytest.raises(ValueError, match="larger than"):
        learn_kernel(X, torch.zeros(1, 1), (7, 9))
    with pytest.raises(ValueError, match="num_epochs"):
        learn_kernel(X, torch.zeros(6, 7), (1, 2), num_epochs=-1)


# -- from scratch --------------------------------------------------------------------

@pytest.mark.parametrize("func", [corr2d, Conv2D])
def test_from_scratch_uses_no_library_convolution(func: object) -> None:
    assert library_convolutions_used(func) == set()  # type: ignore[arg-type]


def test_static_check_sees_nn_conv2d_in_learn_kernel() -> None:
    """learn_kernel is meant to use nn.Conv2d: the checker must notice it."""
    assert "nn.Conv2d" in library_convolutions_used(learn_kernel)
