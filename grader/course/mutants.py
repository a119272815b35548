"""Mutants of a teaching notebook's solutions: the bugs students really write.

`mutants(cells, functions)` makes one notebook per mutation of a graded name's
solution code: an off-by-one window bound, swapped kernel axes, a flipped or
transposed kernel, a sum over the wrong axis, a dropped bias, an integer cast,
a detached result, a dropped argument check, a flipped comparison, swapped
arguments, a dropped statement. `grade audit` grades each one: it must lose
points on the function it mutates (or one built on it) and on no other.

Mutation libraries (mutmut, cosmic-ray, mutatest) mutate files on disk and run
a test command per mutant; a notebook's solution lives in cells, between
solution markers, and is graded in a worker, so this is an AST transformer.
Only lines between `### BEGIN SOLUTION` and `### END SOLUTION` are mutated
(the whole definition where a cell has no markers): the scaffolding students
are given is not theirs to get wrong.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
from collections.abc import Callable, Iterator, Sequence

from grader.course.release import CODE_BEGIN, CODE_END

Rewrite = Callable[[ast.AST], ast.AST | None]  # the node's replacement; None removes a statement


@dataclasses.dataclass(frozen=True)
class Mutant:
    function: str        # the graded name whose solution is mutated
    operator: str        # e.g. "off-by-one"
    description: str     # what changed, as source: "range(n) -> range(n - 1)"
    cells: tuple[str, ...]


def mutants(cells: Sequence[str], functions: Sequence[str], *, per_function: int = 16) -> tuple[Mutant, ...]:
    """Mutants of every graded definition in `cells`, at most `per_function` each,
    spread over the operators so that each kind of bug is represented."""
    found: dict[str, list[Mutant]] = {name: [] for name in functions}
    for index, source in enumerate(cells):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        solution_lines = _solution_lines(source)
        for position, node in enumerate(tree.body):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in found:
                for operator, description, mutated in _mutations(tree, position, solution_lines):
                    changed = list(cells)
                    changed[index] = ast.unparse(mutated)
                    found[node.name].append(Mutant(node.name, operator, description, tuple(changed)))
    return tuple(m for name in functions for m in _spread(found[name], per_function))


def _spread(candidates: list[Mutant], limit: int) -> list[Mutant]:
    """Round-robin over operators, in source order within each, up to `limit`."""
    by_operator: dict[str, list[Mutant]] = {}
    for mutant in candidates:
        by_operator.setdefault(mutant.operator, []).append(mutant)
    chosen: list[Mutant] = []
    queues = list(by_operator.values())
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return chosen


def _solution_lines(source: str) -> range | set[int]:
    """The 1-based line numbers between solution markers; every line if there are none."""
    lines: set[int] = set()
    inside = False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == CODE_BEGIN:
            inside = True
        elif stripped == CODE_END:
            inside = False
        elif inside:
            lines.add(number)
    return lines or range(1, source.count("\n") + 2)


def _mutations(tree: ast.Module, position: int, lines: range | set[int]) -> Iterator[tuple[str, str, ast.Module]]:
    definition = tree.body[position]
    nodes = [n for n in ast.walk(definition) if getattr(n, "lineno", None) in lines]
    for node in nodes:
        for operator, rewrite in _operators_for(node):
            mutated = copy.deepcopy(tree)
            target = _same_node(tree, mutated, node)
            before = ast.unparse(node)
            replacement = rewrite(target)
            if not _replace(mutated, target, replacement):
                continue
            after = ast.unparse(replacement) if replacement is not None else "(removed)"
            if after != before:
                yield operator, f"{_short(before)} -> {_short(after)}", mutated
    flipped = _flip_kernel(tree, position)
    if flipped is not None:
        yield flipped


def _short(source: str, limit: int = 60) -> str:
    line = " ".join(source.split())
    return line if len(line) <= limit else line[:limit - 3] + "..."


def _same_node(original: ast.AST, copied: ast.AST, node: ast.AST) -> ast.AST:
    """`node`'s counterpart in a deep copy: ast.walk visits both trees in the same order."""
    for a, b in zip(ast.walk(original), ast.walk(copied), strict=True):
        if a is node:
            return b
    raise LookupError("node not in tree")


def _replace(tree: ast.AST, target: ast.AST, replacement: ast.AST | None) -> bool:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if isinstance(value, list) and target in value:
                if replacement is None:
                    value.remove(target)
                    if not value:
                        value.append(ast.Pass())
                else:
                    value[value.index(target)] = replacement
                return True
            if value is target:
                if replacement is None:
                    return False
                setattr(parent, field, replacement)
                return True
    return False


def _operators_for(node: ast.AST) -> Iterator[tuple[str, Rewrite]]:
    if isinstance(node, ast.BinOp):
        yield from _arithmetic_operators(node)
    if isinstance(node, ast.Call):
        yield from _call_operators(node)
    match node:
        case ast.Assign(targets=[ast.Tuple(elts=[ast.Name(), ast.Name()])]):
            yield "swapped axes", _swap_targets
        case ast.Subscript(slice=ast.Tuple(elts=[first, second])) if not isinstance(first, ast.Slice) \
                and not isinstance(second, ast.Slice):
            yield "transposed index", _swap_index
        case ast.Slice(upper=ast.AST()):
            yield "off-by-one", _shorter_slice
        case ast.Attribute(value=ast.Name(id="torch"), attr="float32" | "float64" | "double" | "float"):
            yield "integer cast", lambda n: ast.Attribute(ast.Name("torch", ast.Load()), "int64", ast.Load())
        case ast.Return(value=ast.AST() as value) if not isinstance(value, (ast.Tuple, ast.List, ast.Constant)):
            yield "detached result", _detached
        case ast.If(body=[ast.Raise()]):
            yield "dropped check", lambda n: None
        case ast.Compare(ops=[op]) if type(op) in _COMPARISON_SWAPS:
            yield "flipped comparison", _flipped_comparison
        case ast.Expr(value=ast.Call()):
            yield "dropped statement", lambda n: None
        case ast.AugAssign():
            yield "dropped statement", lambda n: None
        case ast.Constant(value=int() | float() as number) if not isinstance(number, bool):
            yield "changed constant", lambda n: ast.Constant(n.value + 1)  # type: ignore[attr-defined]


def _arithmetic_operators(node: ast.BinOp) -> Iterator[tuple[str, Rewrite]]:
    match node:
        case ast.BinOp(op=ast.Add() | ast.Sub(), right=ast.Constant(value=1)):
            yield "off-by-one", lambda n: n.left  # type: ignore[attr-defined]
        case ast.BinOp(op=ast.Add(), left=ast.Attribute(attr="bias")):
            yield "dropped bias", lambda n: n.right  # type: ignore[attr-defined]
        case ast.BinOp(op=ast.Add(), right=ast.Attribute(attr="bias")):
            yield "dropped bias", lambda n: n.left  # type: ignore[attr-defined]
        case ast.BinOp(op=ast.Mult()):
            yield "wrong operator", lambda n: ast.BinOp(n.left, ast.Add(), n.right)  # type: ignore[attr-defined]


def _call_operators(node: ast.Call) -> Iterator[tuple[str, Rewrite]]:
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    if name == "range" and node.args:
        yield "off-by-one", _shorter_range
    if name in ("sum", "mean", "amax", "max") and isinstance(node.func, ast.Attribute):
        yield "wrong axis", _other_axis
    if name in ("stack", "cat") and len(node.args) >= 2:
        yield "wrong axis", _other_axis
    if name == "flip" and isinstance(node.func, ast.Attribute):
        yield "flip dropped", lambda n: n.func.value  # type: ignore[attr-defined]
    if name in ("float", "double") and isinstance(node.func, ast.Attribute) and not node.args:
        yield "integer cast", lambda n: ast.Call(ast.Attribute(n.func.value, "long", ast.Load()), [], [])  # type: ignore[attr-defined]
    if isinstance(node.func, ast.Name) and len(node.args) == 2 and not node.keywords and name != "range":
        yield "swapped arguments", lambda n: ast.Call(n.func, n.args[::-1], [])  # type: ignore[attr-defined]


def _swap_targets(node: ast.AST) -> ast.AST:
    assert isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple)
    node.targets[0].elts.reverse()
    return node


def _swap_index(node: ast.AST) -> ast.AST:
    assert isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Tuple)
    node.slice.elts.reverse()
    return node


def _shorter_slice(node: ast.AST) -> ast.AST:
    assert isinstance(node, ast.Slice) and node.upper is not None
    node.upper = ast.BinOp(node.upper, ast.Sub(), ast.Constant(1))
    return node


def _shorter_range(node: ast.AST) -> ast.AST:
    assert isinstance(node, ast.Call)
    stop = 0 if len(node.args) == 1 else 1
    node.args[stop] = ast.BinOp(node.args[stop], ast.Sub(), ast.Constant(1))
    return node


def _other_axis(node: ast.AST) -> ast.AST:
    """`.sum()` -> `.sum(0)`; an axis d -> d + 1 (0 for -1), positional or `dim=`."""
    assert isinstance(node, ast.Call)
    for keyword in node.keywords:
        if keyword.arg in ("dim", "axis") and isinstance(keyword.value, ast.Constant):
            keyword.value = _next_axis(keyword.value)
            return node
    axis_at = 1 if isinstance(node.func, ast.Attribute) and node.func.attr in ("stack", "cat") else 0
    positional = node.args[axis_at] if len(node.args) > axis_at else None
    if isinstance(positional, ast.Constant):
        node.args[axis_at] = _next_axis(positional)
    elif len(node.args) == axis_at and not node.keywords:
        node.args.append(ast.Constant(0 if axis_at == 0 else 1))
    return node


def _next_axis(axis: ast.Constant) -> ast.Constant:
    value = axis.value
    return ast.Constant(0 if value == -1 else value + 1 if isinstance(value, int) else value)


def _detached(node: ast.AST) -> ast.AST:
    assert isinstance(node, ast.Return) and node.value is not None
    node.value = ast.Call(ast.Attribute(node.value, "detach", ast.Load()), [], [])
    return node


_COMPARISON_SWAPS: dict[type, type] = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
                                       ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}


def _flipped_comparison(node: ast.AST) -> ast.AST:
    assert isinstance(node, ast.Compare)
    node.ops = [_COMPARISON_SWAPS[type(node.ops[0])]()]
    return node


def _flip_kernel(tree: ast.Module, position: int) -> tuple[str, str, ast.Module] | None:
    """A function of (X, K, ...) that flips K on every axis first: a convolution for a cross-correlation."""
    definition = tree.body[position]
    if not isinstance(definition, ast.FunctionDef) or len(definition.args.args) < 2:
        return None
    kernel = definition.args.args[1].arg
    flip = ast.parse(f"{kernel} = {kernel}.flip(tuple(range({kernel}.dim())))").body[0]
    mutated = copy.deepcopy(tree)
    body = mutated.body[position].body  # type: ignore[attr-defined]
    docstring = int(bool(body) and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant))
    body.insert(docstring, flip)
    return "flipped kernel", f"{kernel} flipped on every axis first", mutated
