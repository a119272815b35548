from __future__ import annotations

from typing import Any, cast

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from reference import comp_conv2d, conv_output_shape, corr2d_pad_stride

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

# PyTorch's own note that its oracle copies the input for even 'same' kernels.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

PaddingArg = int | tuple[int, int] | str
StrideArg = int | tuple[int, int]
ConvCase = tuple[tuple[int, int], tuple[int, int], PaddingArg, StrideArg]

SEED_004_INPUT = torch.tensor([[4, 1, 7, 5], [4, 4, 2, 5], [7, 7, 2, 4], [1, 0, 2, 4]], dtype=torch.float32)
SEED_004_KERNEL = torch.tensor([[1, 0], [2, 1]], dtype=torch.float32)
SEED_004_SAME = torch.tensor([[16, 11, 16, 15], [25, 20, 10, 13], [9, 9, 10, 12], [1, 0, 2, 4]],
                             dtype=torch.float32)


@st.composite
def conv_case(draw: st.DrawFn) -> ConvCase:
    """Input and kernel shapes, padding (int, pair, 'valid', 'same') and stride (int, pair)."""
    n = (draw(st.integers(1, 10)), draw(st.integers(1, 10)))
    kind = draw(st.sampled_from(["int", "pair", "valid", "same"]))
    stride: StrideArg
    if kind == "same":
        stride = cast("StrideArg", draw(st.sampled_from([1, (1, 1)])))
    else:
        stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding: PaddingArg
    if kind == "int":
        padding = draw(st.integers(0, 3))
        pads = (padding, padding)
    elif kind == "pair":
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
        pads = padding
    else:
        padding, pads = kind, (0, 0)
    k = tuple(draw(st.one_of(st.just(1), st.integers(1, m + 2 * p))) for m, p in zip(n, pads, strict=False))
    if kind == "same":
        k = tuple(min(ki, 5) for ki in k)  # 'same' fits any kernel; keep them small
    return n, k, padding, stride  # type: ignore[return-value]


def formula(n: int, k: int, p: int, s: int) -> int:
    return (n + 2 * p - k) // s + 1


# -- conv_output_shape ------------------------------------------------------------

@PROPERTY
@given(case=conv_case())
def test_conv_output_shape_matches_torch(case: ConvCase) -> None:
    n, k, padding, stride = case
    shape = conv_output_shape(n, k, padding, stride)
    assert isinstance(shape, tuple) and all(type(v) is int for v in shape)
    real = F.conv2d(torch.zeros(1, 1, *n), torch.zeros(1, 1, *k), padding=padding, stride=stride).shape[2:]
    assert shape == tuple(real)
    if not isinstance(padding, str):
        p = (padding, padding) if isinstance(padding, int) else padding
        s = (stride, stride) if isinstance(stride, int) else stride
        assert shape == tuple(formula(*args) for args in zip(n, k, p, s, strict=False))


def test_conv_output_shape_seed_003_examples() -> None:
    assert conv_output_shape((8, 8), (3, 3), padding=1) == (8, 8)
    assert conv_output_shape((8, 8), (5, 3), padding=(2, 1)) == (8, 8)
    assert conv_output_shape((8, 8), (3, 3), padding=1, stride=2) == (4, 4)
    assert conv_output_shape((8, 8), (3, 5), padding=(0, 1), stride=(3, 4)) == (2, 2)
    assert conv_output_shape(torch.Size([4, 4]), (2, 2), padding="same") == (4, 4)


@pytest.mark.parametrize(("args", "message"), [
    (((8, 8), (3, 3), 0, 0), "stride must be >= 1"),
    (((8, 8), (3, 3), 0, (1, 0)), "stride must be >= 1"),
    (((8, 8), (3, 3), -1, 1), "padding must be >= 0"),
    (((2, 8), (3, 3), 0, 1), "larger than"),
    (((8, 8), (3, 3), "same", 2), "requires stride 1"),
    (((8, 8), (3, 3), "full", 1), "padding must be"),
    (((8, 8, 8), (3, 3), 0, 1), "input_shape must have 2 entries"),
    (((8, 8), (3, 3), (1, 1, 1), 1), "padding must have 2 entries"),
    (((8, 8), (0, 3), 0, 1), "kernel_shape must be >= 1"),
])
def test_conv_output_shape_bad_arguments(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        conv_output_shape(*args)


# -- corr2d_pad_stride -------------------------------------------------------------

@PROPERTY
@given(case=conv_case(), x_dtype=dtypes, k_dtype=dtypes, seed=seeds)
def test_corr2d_pad_stride_matches_torch(case: ConvCase, x_dtype: torch.dtype, k_dtype: torch.dtype,
                                         seed: int) -> None:
    n, k, padding, stride = case
    X, K = make(n, x_dtype, seed), make(k, k_dtype, seed + 1)
    oracle = F.conv2d(f64(X)[None, None], f64(K)[None, None], padding=padding, stride=stride)[0, 0]
    for Y in on_both_paths(lambda: corr2d_pad_stride(X, K, padding=padding, stride=stride)):
        assert_matches(Y, oracle, x_dtype, k_dtype)


def test_seed_004_same_padding_table() -> None:
    for Y in on_both_paths(lambda: corr2d_pad_stride(SEED_004_INPUT, SEED_004_KERNEL, padding="same")):
        assert torch.equal(Y, SEED_004_SAME)
    # Seed 004 ran nn.Conv2d itself: the layer gives the same table.
    conv = nn.Conv2d(1, 1, (2, 2), padding="same", bias=False)
    conv.weight = nn.Parameter(SEED_004_KERNEL.reshape(1, 1, 2, 2), requires_grad=False)
    assert torch.equal(comp_conv2d(conv, SEED_004_INPUT), SEED_004_SAME)
    # Integer input (as a student might type the table) gives the same floats.
    assert torch.equal(corr2d_pad_stride(SEED_004_INPUT.long(), SEED_004_KERNEL.long(), "same"), SEED_004_SAME)


def test_same_padding_puts_the_extra_row_and_column_at_the_bottom_right() -> None:
    X = torch.arange(1.0, 10.0).reshape(3, 3)
    picks_top_left = torch.tensor([[1.0, 0.0], [0.0, 0.0]])  # Y[i, j] = Xpad[i, j]
    # Top/left padding is (2-1)//2 = 0, so Y == X; bottom/right padding is 1.
    assert torch.equal(corr2d_pad_stride(X, picks_top_left, "same"), X)
    picks_bottom_right = torch.tensor([[0.0, 0.0], [0.0, 1.0]])
    expected = torch.tensor([[5.0, 6.0, 0.0], [8.0, 9.0, 0.0], [0.0, 0.0, 0.0]])
    assert torch.equal(corr2d_pad_stride(X, picks_bottom_right, "same"), expected)
    assert torch.equal(corr2d_pad_stride(X, picks_top_left, "valid"), X[:2, :2])


def test_corr2d_pad_stride_gradcheck() -> None:
    X = torch.randn(5, 6, dtype=torch.float64, requires_grad=True)
    K = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, k: corr2d_pad_stride(x, k, padding=(1, 2), stride=(2, 1)), (X, K))
    assert torch.autograd.gradcheck(lambda x, k: corr2d_pad_stride(x, k, padding="same"), (X, K))


def test_corr2d_pad_stride_on_device(device: torch.device) -> None:
    X = SEED_004_INPUT.to(device)
    Y = corr2d_pad_stride(X, SEED_004_KERNEL.to(device), padding="same")
    assert Y.device == X.device
    assert torch.equal(Y.cpu(), SEED_004_SAME)
    Z = corr2d_pad_stride(X.double(), SEED_004_KERNEL.to(device), padding=1, stride=2)
    assert Z.device == X.device and Z.dtype == torch.float64


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"stride": 0}, "stride must be >= 1"),
    ({"stride": (1, -1)}, "stride must be >= 1"),
    ({"padding": "same", "stride": 2}, "requires stride 1"),
    ({"padding": -1}, "padding must be >= 0"),
    ({"padding": "full"}, "padding must be"),
])
def test_corr2d_pad_stride_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        corr2d_pad_stride(torch.ones(4, 4), torch.ones(3, 3), **kwargs)


def test_corr2d_pad_stride_kernel_larger_than_padded_input() -> None:
    with pytest.raises(ValueError, match="larger than the padded input"):
        corr2d_pad_stride(torch.ones(2, 4), torch.ones(5, 1), padding=1)
    assert corr2d_pad_stride(torch.ones(2, 4), torch.ones(4, 1), padding=1).shape == (1, 6)
    with pytest.raises(ValueError, match="2-dimensional"):
        corr2d_pad_stride(torch.ones(1, 4, 4), torch.ones(3, 3))


# -- comp_conv2d -----------------------------------------------------------------

@pytest.mark.parametrize(("kernel", "padding", "stride", "shape"), [
    ((3, 3), 1, 1, (8, 8)),
    ((5, 3), (2, 1), 1, (8, 8)),
    ((3, 3), 1, 2, (4, 4)),
    ((3, 5), (0, 1), (3, 4), (2, 2)),
])
def test_comp_conv2d_seed_003_shapes(kernel: tuple[int, int], padding: int | tuple[int, int],
                                     stride: int | tuple[int, int], shape: tuple[int, int]) -> None:
    conv = nn.Conv2d(1, 1, kernel_size=kernel, padding=padding, stride=stride)
    X = torch.rand(8, 8)
    Y = comp_conv2d(conv, X)
    assert Y.shape == shape
    assert conv.bias is not None
    with torch.no_grad():
        expected = corr2d_pad_stride(X, conv.weight[0, 0], padding, stride) + conv.bias
    torch.testing.assert_close(Y.detach(), expected)


def test_comp_conv2d_integer_input_and_bad_layers() -> None:
    conv = nn.Conv2d(1, 1, kernel_size=2, bias=False)
    assert comp_conv2d(conv, torch.ones(3, 3, dtype=torch.int64)).dtype == torch.float32
    with pytest.raises(ValueError, match="1 input and 1 output channel"):
        comp_conv2d(nn.Conv2d(3, 1, kernel_size=2), torch.ones(3, 3))
    with pytest.raises(ValueError, match="2-dimensional"):
        comp_conv2d(conv, torch.ones(1, 3, 3))


# -- from scratch --------------------------------------------------------------------

def test_from_scratch_uses_no_library_convolution() -> None:
    assert library_convolutions_used(corr2d_pad_stride) == set()
    assert "nn.Conv2d" not in library_convolutions_used(corr2d_pad_stride)


def test_static_check_sees_comp_conv2d_calling_its_layer() -> None:
    assert library_convolutions_used(comp_conv2d)  # it is meant to: the layer is a library convolution
