"""First-use costs, paid once in a process that others are forked from.

`warm_up` is what both sides of the grader need: torch, numpy, and
autograd's first backward through overlapping strided windows (as the
reference builds them), which imports sympy: half a second. `grade` pays it
once, in its warm start (grader.host.warm_start), before it forks the
zygote, so the tests' side and every worker share it; a library session
pays it on each side.

`warm_up_optimizers` is the first optimizer's cost: it imports
torch._dynamo, a second. A zygote that serves many submissions (a batch, an
audit) pays it once for all their workers; a worker whose notebook mentions
`optim` pays it as it starts, before its cells: never inside a call, whose
budget (grader.course.budgets) is a second or so.

Tiny tensors only, and no convolution: an operation large enough to start
the OpenMP thread pool here would make every forked child hang in its first
parallel operation, and a threaded process may not unshare.
"""

from __future__ import annotations


def warm_up() -> None:
    import numpy  # noqa: F401 - imported here so that no forked process pays for it
    import torch

    X = torch.ones(6, 7, dtype=torch.float64, requires_grad=True)
    windows = X.as_strided((2, 3, 5, 5), (7, 1, 7, 1)).reshape(6, 25)  # overlapping: reshape copies
    Y = torch.mm(torch.ones(1, 6, dtype=torch.float64), windows).view(5, 5)
    Y.backward(torch.ones(5, 5, dtype=torch.float64))


def warm_up_optimizers() -> None:
    import torch

    weight = torch.zeros(2, requires_grad=True)
    for optimizer in (torch.optim.SGD([weight], lr=0.1), torch.optim.Adam([weight], lr=0.1)):
        (weight * 2).sum().backward()
        optimizer.step()
        optimizer.zero_grad()
