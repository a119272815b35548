"""Why a name the tests need is not defined: the notebook cell that failed before defining it.

A cell with a SyntaxError never runs, and one that raises stops before the
rest of it: every name it would have defined is missing, and every test of
those names fails. Each such test says which cell cost it, by the cell's
position as the student sees it in their notebook (every cell counts,
markdown included), so that the student fixes the cause, not the symptom:
"cell 7 has a SyntaxError (line 3): invalid syntax, so corr2d is not defined".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from grader.records import CellOutcome

# A line that defines a name at the top level (a def, a class, an assignment), read
# line by line: a cell with a SyntaxError cannot be parsed, and this needs no more.
_DEFINITION = re.compile(r"^(?:(?:async[ \t]+)?def|class)[ \t]+([^\W\d]\w*)|^([^\W\d]\w*)[ \t]*(?::[^=\n]*)?=(?!=)",
                         re.MULTILINE)
_SYNTAX = re.compile(r"(?:SyntaxError|IndentationError|TabError)\b")


def cell_label(positions: Sequence[int], index: int) -> str:
    """The code cell at `index` as the student finds it: "cell 7" (its place among all cells)."""
    return f"cell {positions[index]}" if index < len(positions) else f"code cell {index + 1}"


def defined_at_top_level(source: str) -> set[str]:
    return {def_name or assigned for def_name, assigned in _DEFINITION.findall(source)}


def failure_text(outcome: CellOutcome, label: str) -> str:
    """What happened to a cell that did not run cleanly, as a clause: "cell 7 has a SyntaxError (line 3): ..."."""
    message = outcome.message
    if message.startswith("not run"):
        return f"{label} was {message}"
    if outcome.status == "timeout":
        return f"{label} {message}"
    if outcome.status == "crashed":
        return f"{label} crashed: it {message}"
    if _SYNTAX.match(message):
        return f"{label} has {'an' if message.startswith('I') else 'a'} {message}"
    return f"{label} raised {message}"


def lost_names(cells: Sequence[str], positions: Sequence[int], outcomes: Iterable[CellOutcome],
               wanted: Iterable[str]) -> dict[str, str]:
    """name -> why it is not defined, for each wanted name that a failed cell would
    have defined (the last such cell, as the last definition is the one that counts)."""
    wanted = set(wanted)
    lost: dict[str, str] = {}
    for outcome in outcomes:
        if outcome.status == "ok" or not 0 <= outcome.index < len(cells):
            continue
        cause = failure_text(outcome, cell_label(positions, outcome.index))
        for name in sorted(defined_at_top_level(cells[outcome.index]) & wanted):
            lost[name] = f"{cause}, so {name} is not defined"
    return lost


def cell_notes(positions: Sequence[int], outcomes: Iterable[CellOutcome], lost: Mapping[str, str]) -> list[str]:
    """One note for each cell that did not run cleanly, with the graded names it cost."""
    notes = []
    for outcome in outcomes:
        if outcome.status == "ok":
            continue
        cause = failure_text(outcome, cell_label(positions, outcome.index))
        cost = sorted(name for name, why in lost.items() if why.startswith(cause + ", so "))
        notes.append(cause + (f", so {_listed(cost)} {'is' if len(cost) == 1 else 'are'} not defined" if cost else ""))
    return notes


def _listed(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
