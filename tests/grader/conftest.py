from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.execute import Zygote
from grader.pipeline import start_zygote

TOY_ASSIGNMENTS = Path(__file__).parent / "assignments"


@pytest.fixture(scope="session")
def toy_assignments() -> Iterator[Path]:
    """The grader's own fixture assignment ('toy'), and a fixed course secret."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVGRADE_ASSIGNMENTS", str(TOY_ASSIGNMENTS))
        patch.setenv("CONVGRADE_SECRET", "tests-secret")
        yield TOY_ASSIGNMENTS


@pytest.fixture(scope="session")
def zygote(toy_assignments: Path) -> Iterator[Zygote]:
    """One zygote for the session: starting one costs a torch import."""
    with start_zygote() as shared:
        yield shared


def running_as_root() -> bool:
    return os.geteuid() == 0
