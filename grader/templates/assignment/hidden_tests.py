"""Hidden tests of `{{name}}`: they never leave the course's machines.

Students see a hidden test's name, points and hint, never its inputs or code.
Draw every input from `rng` (seeded from the course secret and the submission).
A course keeps its model answers in `reference/`, beside `assignments/`, and
its hidden tests `import reference`; this example compares with PyTorch instead.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from grader.testkit import Student, expect_close, hidden_test


@hidden_test(function="{{function}}", points=70,
             hint="your result differs from the cross-correlation of X with K for random sizes")
def {{function}}_matches_torch_on_random_inputs(student: Student, rng: torch.Generator) -> None:
    for _ in range(3):
        k_h, k_w = (int(n) for n in torch.randint(1, 4, (2,), generator=rng))
        h, w = (int(n) for n in torch.randint(0, 6, (2,), generator=rng))
        X = torch.randn(k_h + h, k_w + w, generator=rng)
        K = torch.randn(k_h, k_w, generator=rng)
        expected = F.conv2d(X[None, None].double(), K[None, None].double())[0, 0]  # conv2d cross-correlates
        expect_close(student.{{function}}(X, K), expected,
                     what=f"{{function}}(X, K) for X of shape {tuple(X.shape)} and K of shape {tuple(K.shape)}")
