"""Reference solutions for every name in the curriculum (shared/CURRICULUM.md).

The grader checks student submissions against these. Functions the curriculum
marks *from scratch* (and `conv2d`, `pool2d`) use no library convolution: they
are built from slicing, multiply-adds and matrix products in `_kernels`.

Conventions: float64 input stays float64, float32 stays float32, integer and
bool input computes in float32; results live on the input's device; bad
arguments raise `ValueError` with a message.
"""

from __future__ import annotations

from .channels import corr2d_multi_in, corr2d_multi_in_out, corr2d_multi_in_out_1x1
from .convolution import convolve2d, corr1d, corr3d
from .cross_correlation import Conv2D, corr2d, horizontal_edge_kernel, learn_kernel
from .layer import conv2d, pool2d
from .padding_stride import comp_conv2d, conv_output_shape, corr2d_pad_stride

__all__ = [
    "corr2d", "Conv2D", "horizontal_edge_kernel", "learn_kernel",
    "conv_output_shape", "corr2d_pad_stride", "comp_conv2d",
    "corr2d_multi_in", "corr2d_multi_in_out", "corr2d_multi_in_out_1x1",
    "convolve2d", "corr1d", "corr3d",
    "pool2d", "conv2d",
]
