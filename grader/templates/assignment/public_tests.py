"""Public tests of `{{name}}`: students read them and run them (`grade NB --public`).

Give the lecture's worked examples here, with messages that say what to fix.
Every test is `(student, rng) -> None`; see docs/authoring.md for the whole API.
"""

from __future__ import annotations

import torch

from grader.testkit import Student, expect_close, public_test


@public_test(function="{{function}}", points=30)
def {{function}}_lecture_example(student: Student, rng: torch.Generator) -> None:
    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    expect_close(student.{{function}}(X, K), torch.tensor([[19.0, 25.0], [37.0, 43.0]]),
                 what="{{function}}(X, K) for the lecture's 3x3 X and 2x2 K",
                 hint="each output is the sum of the window under K times K, element by element")
