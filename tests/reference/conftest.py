from __future__ import annotations

import pytest
import torch

CUDA_PARAM = pytest.param(
    "cuda",
    marks=[pytest.mark.cuda,
           pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")],
)


def pytest_configure(config: pytest.Config) -> None:
    # Registered here as well as in pyproject.toml so that --strict-markers
    # accepts the marker however the suite is invoked.
    config.addinivalue_line("markers", "cuda: needs a CUDA device")


@pytest.fixture(params=["cpu", CUDA_PARAM])
def device(request: pytest.FixtureRequest) -> torch.device:
    """Every device test runs on the CPU, and on CUDA where there is one."""
    return torch.device(request.param)
