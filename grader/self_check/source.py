"""The self-check's cells: what a kernel ran (its input history) -> the code cells of a submission.

`from grader import check; check()` is not the student's work: graded, it
would reach into the grader (the static check scores that 0 on every test)
and start a check inside the check. So the statements that import or call
the self-check are taken out, here for a kernel's history and in the load
stage for a saved notebook, and both graders see the same cells.

Imports nothing heavy: a student's kernel loads it on `check()`, and IPython
(already there in a kernel) only for a cell in IPython's own syntax.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Iterator, Sequence

from grader.grading import shell_lines

CHECK_MODULES = ("grader", "grader.self_check.check")   # where `check` is imported from
RESET = re.compile(r"^%reset(?P<flags>(?:[ \t]+-(?:f|s|-aggressive))*)[ \t]*$")  # clears the namespace


@dataclasses.dataclass(frozen=True)
class HistoryCell:
    number: int      # In [number], as the student saw it
    source: str


@dataclasses.dataclass
class _Names:
    """The names a notebook has bound to the self-check so far."""
    check: set[str] = dataclasses.field(default_factory=set)     # `check`, or its alias
    package: set[str] = dataclasses.field(default_factory=set)   # `grader`, or its alias
    translation_left: int = shell_lines.IPYTHON_BUDGET                     # what IPython's translation may still cost


def without_self_check(cells: Sequence[str]) -> tuple[str, ...]:
    """Each cell without the statements that import or call the self-check,
    in order (an import in one cell names the call in the next); each becomes
    `pass`, so that what is left parses and every other line stays where it
    was. A cell with none is returned as it is; one with nothing else left is ""."""
    names = _Names()
    return tuple(_without_check(source, names, stop_at_check=False) for source in cells)


def submission_cells(history: Sequence[tuple[int, str]], *, running: int | None = None) -> tuple[HistoryCell, ...]:
    """The cells of a kernel's history `(number, raw source)` that make up its state, in execution order.

    A cell run twice is there twice (the kernel's state is their sequence),
    a cell that raised is kept (it raises again, and what it did before that
    counts), and `%reset` starts again from the line after it. The `running`
    cell (the one that calls `check()`) counts only up to its first check:
    what follows has not run yet. Cells left empty are dropped."""
    history = list(history)
    for position in range(len(history) - 1, -1, -1):
        number, source = history[position]
        after_reset = _after_last_reset(source)
        if after_reset is not None:
            history = [(number, after_reset), *history[position + 1:]]
            break
    names = _Names()
    cells = []
    for number, source in history:
        kept = _without_check(source, names, stop_at_check=number == running)
        if kept.strip():
            cells.append(HistoryCell(number, kept))
    return tuple(cells)


def _after_last_reset(source: str) -> str | None:
    """What follows a cell's last top-level `%reset` line (with flags only), or None if it has none."""
    lines = shell_lines.LINE_BREAK.split(source)
    resets = [index for index, line in enumerate(lines) if RESET.match(line)]
    return "\n".join(lines[resets[-1] + 1:]) if resets else None


def _without_check(source: str, names: _Names, *, stop_at_check: bool) -> str:
    if not (names.check or names.package) and "check" not in source and "grader" not in source:
        return source
    parsed = _parsed(source, names)
    if parsed is None:
        return source  # a cell that does not parse did not run either, or a cell magic runs its body as text
    tree, translated = parsed
    removed: list[ast.stmt] = []
    for index, statement in enumerate(tree.body):
        if _is_check(statement, names):
            if stop_at_check and _calls_check(statement, names):
                removed += tree.body[index:]
                break
            removed.append(statement)
        else:
            removed += _nested_checks(statement, names)
            _forget_rebound(statement, names)
    if not removed:
        return source
    if len(removed) == len(tree.body):
        return ""
    lines = shell_lines.LINE_BREAK.split(source)
    if translated is not None:
        translated_lines = shell_lines.LINE_BREAK.split(translated)
        spanned = {line for s in removed for line in range(s.lineno - 1, (s.end_lineno or s.lineno))}
        if any(line >= len(lines) or line >= len(translated_lines) or lines[line] != translated_lines[line]
               for line in spanned):
            return source  # IPython's translation moved them: leave the cell as the student wrote it
    return _spliced(lines, removed)


def _parsed(source: str, names: _Names) -> tuple[ast.Module, str | None] | None:
    """The cell as Python, and its translation if it needed one: first ours, line for line and in linear
    time, then IPython's own, for small cells and within the submission's budget."""
    if source.lstrip().startswith("%%"):
        return None
    try:
        return ast.parse(source), None
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    ours = shell_lines.translated(source)
    try:
        return ast.parse(ours), ours
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    cost = shell_lines.ipython_cost(source)
    if cost is None or cost > names.translation_left:
        return None
    names.translation_left -= cost
    translated = shell_lines.ipython_translated(source)
    try:
        return (ast.parse(translated), translated) if translated is not None else None
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _is_check(statement: ast.stmt, names: _Names) -> bool:
    """An import of the self-check (its names are recorded) or a statement that only calls it."""
    if isinstance(statement, ast.ImportFrom) and statement.module in CHECK_MODULES and statement.level == 0 \
            and all(alias.name == "check" for alias in statement.names):
        names.check.update(alias.asname or alias.name for alias in statement.names)
        return True
    if isinstance(statement, ast.Import) and all(alias.name == "grader" for alias in statement.names):
        names.package.update(alias.asname or alias.name for alias in statement.names)
        return True
    return _calls_check(statement, names)


def _nested_checks(statement: ast.stmt, names: _Names) -> list[ast.stmt]:
    """The self-check's statements inside a compound one (`if __name__ == "__main__": check()`,
    `for name in names: check(name)`), in the order they are written."""
    if not isinstance(statement, _COMPOUND):
        return []  # a simple statement holds none: no walk over every expression of a cell of them
    inner = [node for node in ast.walk(statement) if isinstance(node, ast.stmt) and node is not statement]
    return [node for node in sorted(inner, key=lambda node: (node.lineno, node.col_offset)) if _is_check(node, names)]


_COMPOUND = tuple(getattr(ast, name) for name in (
    "FunctionDef", "AsyncFunctionDef", "ClassDef", "If", "For", "AsyncFor", "While", "With", "AsyncWith", "Try",
    "TryStar", "Match") if hasattr(ast, name))


def _calls_check(statement: ast.stmt, names: _Names) -> bool:
    """`check(...)`, `result = check(...)`, `print(check(...))`, `display(check(...))`, `grader.check(...)`."""
    value: ast.expr | None = None
    if isinstance(statement, (ast.Expr, ast.Assign, ast.AnnAssign)):
        value = statement.value
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("print", "display") \
            and len(value.args) == 1 and not value.keywords:
        value = value.args[0]
    if not isinstance(value, ast.Call):
        return False
    function = value.func
    if isinstance(function, ast.Name):
        return function.id in names.check
    return (isinstance(function, ast.Attribute) and function.attr == "check" and isinstance(function.value, ast.Name)
            and function.value.id in names.package)


def _forget_rebound(statement: ast.stmt, names: _Names) -> None:
    """A name the notebook binds to something of its own is no longer the self-check."""
    for bound in _bound_names(statement):
        names.check.discard(bound)
        names.package.discard(bound)


def _bound_names(statement: ast.stmt) -> Iterator[str]:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield statement.name
    elif isinstance(statement, (ast.Import, ast.ImportFrom)):
        yield from ((alias.asname or alias.name).split(".")[0] for alias in statement.names)
    elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        for target in targets:
            yield from (node.id for node in ast.walk(target) if isinstance(node, ast.Name))


def _spliced(lines: list[str], removed: list[ast.stmt]) -> str:
    """The source with each removed statement's text replaced by `pass`, which keeps the rest valid
    (`x = 1; check()` -> `x = 1; pass`) and every other line where it was."""
    for statement in sorted(removed, key=lambda s: (s.lineno, s.col_offset), reverse=True):
        first, last = statement.lineno - 1, (statement.end_lineno or statement.lineno) - 1
        start = _column(lines[first], statement.col_offset)
        end = _column(lines[last], statement.end_col_offset or 0)
        lines[first:last + 1] = [lines[first][:start] + "pass" + lines[last][end:]]
    return "\n".join(lines)


def _column(line: str, utf8_offset: int) -> int:
    """ast's columns count UTF-8 bytes; a str slices by characters."""
    return len(line.encode("utf-8")[:utf8_offset].decode("utf-8", errors="ignore"))
