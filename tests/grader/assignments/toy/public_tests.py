from __future__ import annotations

import torch

from grader.authoring.testkit import Student, expect_close, public_test


@public_test(function="corr2d", points=20)
def corr2d_seed_example(student: Student, rng: torch.Generator) -> None:
    X = torch.arange(9.0).reshape(3, 3)
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    expect_close(student.corr2d(X, K), torch.tensor([[19.0, 25.0], [37.0, 43.0]]),
                 what="corr2d(X, K) for the seeds' 3x3 X and 2x2 K")
