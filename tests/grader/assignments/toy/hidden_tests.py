from __future__ import annotations

import torch
import torch.nn.functional as F

from grader.authoring.testkit import Student, expect_close, hidden_test

# A marker the adversarial tests look for: it must never reach a worker or a student.
HIDDEN_MARKER = "toy-hidden-marker-5f0c"


def _reference(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    return F.conv2d(X[None, None].double(), K[None, None].double())[0, 0]


@hidden_test(function="corr2d", points=40, hint="compare each window with the kernel, element by element")
def corr2d_matches_reference(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(7, 9, generator=rng)
    K = torch.randn(3, 2, generator=rng)
    expect_close(student.corr2d(X, K), _reference(X, K), what=f"corr2d on a random 7x9 X ({HIDDEN_MARKER})")


@hidden_test(function="corr2d", points=20, hint="the output has n - k + 1 rows and columns")
def corr2d_shape_law(student: Student, rng: torch.Generator) -> None:
    h, w = (int(v) for v in torch.randint(4, 9, (2,), generator=rng))
    expect_close(student.corr2d(torch.ones(h, w), torch.ones(2, 3)), (h - 1, w - 2), what="corr2d's output")


@hidden_test(function="scale", points=20, hint="scale(x) doubles every value")
def scale_doubles(student: Student, rng: torch.Generator) -> None:
    x = torch.randn(5, generator=rng)
    expect_close(student.scale(x), 2 * x, what="scale(x)")
