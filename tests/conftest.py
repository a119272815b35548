from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

MakeNotebook = Callable[..., Path]


@pytest.fixture
def make_notebook(tmp_path: Path) -> MakeNotebook:
    """Write a notebook of the given code cells (strings) and return its path.

    `assignment=` puts the assignment's name in the metadata, as a release does.
    """
    counter = iter(range(1_000_000))

    def make(*cells: str, assignment: str | None = None, name: str | None = None) -> Path:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        if assignment is not None:
            nb.metadata["convgrade"] = {"assignment": assignment}
        path = tmp_path / (name or f"submission_{next(counter)}.ipynb")
        nbformat.write(nb, path)
        return path

    return make
