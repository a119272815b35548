"""`python -m reference`: the seeds' worked examples, computed by the reference."""

from __future__ import annotations

import torch

from . import corr2d, corr2d_multi_in, corr2d_pad_stride, horizontal_edge_kernel


def main() -> int:
    X = torch.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    K = torch.tensor([[0, 1], [2, 3]])
    print("corr2d of the 3x3 example with K = [[0, 1], [2, 3]] (seed 002, figure 5.1):")
    print(corr2d(X, K), end="\n\n")

    image = torch.ones(6, 8)
    image[:, 2:6] = 0
    print("the 6x8 image, columns 2..5 black (seed 002, section 5.1.3):")
    print(image)
    print("its vertical edges, corr2d(X, [[1, -1]]):")
    print(corr2d(image, torch.tensor([[1.0, -1.0]])))
    print("horizontal_edge_kernel() on the transposed image:")
    print(corr2d(image.t(), horizontal_edge_kernel()), end="\n\n")

    feat = torch.tensor([[4, 1, 7, 5], [4, 4, 2, 5], [7, 7, 2, 4], [1, 0, 2, 4]])
    print("padding='same' with the 2x2 kernel [[1, 0], [2, 1]] (seed 004):")
    print(corr2d_pad_stride(feat, torch.tensor([[1, 0], [2, 1]]), padding="same"), end="\n\n")

    X2 = torch.stack([torch.arange(9).reshape(3, 3), torch.arange(1, 10).reshape(3, 3)])
    K2 = torch.stack([torch.tensor([[0, 1], [2, 3]]), torch.tensor([[1, 2], [3, 4]])])
    print("two input channels (seed 003, section 6.4.1):")
    print(corr2d_multi_in(X2, K2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
