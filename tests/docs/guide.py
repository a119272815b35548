"""The authoring guide's blocks, read from docs/authoring.md, and the example assignment they assemble.

A fence's info string says what its block is (the guide's opening comment
lists them): the example assignment `guide` is assembled from the blocks
marked `assignment.toml`, `notebook`, `public_tests.py` and `hidden_tests.py`;
plain `python` blocks are scripts run in that course's folder.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import nbformat

from grader.host.paths import PROJECT_ROOT

GUIDE = PROJECT_ROOT / "docs" / "authoring.md"
EXAMPLE = "guide"                     # the assignment the guide's blocks build
PARTS = ("toml assignment.toml", "python notebook", "python public_tests.py", "python hidden_tests.py")
SCRIPT, FRAGMENT = "python", "toml"
QUOTED = ("console", "text")          # commands and outputs, quoted from real runs
FENCE = re.compile(r"^```([^`\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclasses.dataclass(frozen=True)
class Block:
    info: str          # the fence's info string, e.g. "python hidden_tests.py"
    source: str
    line: int          # of the opening fence, 1-based


def guide_blocks() -> tuple[Block, ...]:
    text = GUIDE.read_text(encoding="utf-8")
    return tuple(Block(m.group(1).strip(), m.group(2), text.count("\n", 0, m.start()) + 1)
                 for m in FENCE.finditer(text))


def blocks_of(info: str) -> tuple[Block, ...]:
    return tuple(b for b in guide_blocks() if b.info == info)


def write_example(assignments: Path) -> Path:
    """The guide's example assignment, as its blocks write it, in `assignments/guide/`."""
    folder = assignments / EXAMPLE
    folder.mkdir(parents=True)
    (declaration,) = blocks_of("toml assignment.toml")
    (folder / "assignment.toml").write_text(declaration.source)
    for part in ("public_tests.py", "hidden_tests.py"):
        (folder / part).write_text("\n\n".join(b.source for b in blocks_of(f"python {part}")))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(b.source.rstrip("\n"), id=f"guide-{index}")
                      for index, b in enumerate(blocks_of("python notebook"))]
    notebook.metadata["convgrade"] = {"assignment": EXAMPLE}
    nbformat.write(notebook, folder / f"{EXAMPLE}.ipynb")
    return folder
