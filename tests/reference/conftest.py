from __future__ import annotations

import pytest
import torch

CUDA_PARAM = pytest.param("cuda", marks=pytest.mark.cuda)


@pytest.fixture(params=["cpu", CUDA_PARAM])
def device(request: pytest.FixtureRequest) -> torch.device:
    """Every device test runs on the CPU, and on CUDA where there is one."""
    return torch.device(request.param)
