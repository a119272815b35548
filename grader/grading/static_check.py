"""The second signal of the from-scratch rule: banned library calls in the source.

The dispatcher watch in the worker sees what actually ran; this reads what the
notebook says, in the grader's own process, where student code cannot
interfere. It follows aliases (`import torch.nn.functional as F`, `from
scipy.signal import convolve2d as c`) and the notebook's own helper functions
that a from-scratch function calls. What is banned is named per function by
the assignment (grader.worker.banned_calls): library convolutions by default.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator, Mapping

from grader.grading import shell_lines
from grader.worker import banned_calls

LIBRARIES = ("torch", "numpy", "scipy")


def library_convolutions(cells: tuple[str, ...], functions: Iterable[str],
                         may_not_call: Mapping[str, frozenset[str]] | None = None) -> dict[str, set[str]]:
    """For each of `functions`, the banned library calls its source (or the
    notebook helpers it calls) names, e.g. {"corr2d": {"torch.nn.functional.conv2d"}}.
    `may_not_call`: each function's banned families; library convolutions for a function it omits."""
    aliases: dict[str, str] = {}
    definitions: dict[str, ast.AST] = {}
    for tree in parsed_cells(cells):
        for node in ast.walk(tree):
            _record_imports(node, aliases)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                definitions[node.name] = node  # the last definition wins, as when running
    found: dict[str, set[str]] = {}
    for name in functions:
        if name in definitions:
            used = _convolutions_reached(name, definitions, aliases,
                                         banned_calls.banned_for(name, may_not_call or {}))
            if used:
                found[name] = used
    return found


# What a notebook about convolutions has no reason to touch: the grader's own
# modules, the dispatcher and tracing hooks that watch it, other threads and
# processes, and the ways of reaching them without naming them.
_TAMPERING_MODULES = frozenset({"grader", "convgrade", "ctypes", "gc", "importlib", "inspect", "builtins", "_thread",
                                "threading", "multiprocessing", "concurrent", "subprocess", "pickle", "_pickle",
                                "marshal", "copyreg", "dill", "cloudpickle", "runpy", "code", "codeop", "types",
                                "operator", "traceback", "pdb", "bdb", "asyncio"})
_TAMPERING_ATTRIBUTES = frozenset({"sys.modules", "sys.settrace", "sys.setprofile", "sys.gettrace",
                                   "sys._getframe", "sys._current_frames", "sys.addaudithook", "sys.meta_path",
                                   "sys.path_hooks", "torch.utils._python_dispatch", "torch._C._unset_dispatch_mode",
                                   "torch._C._pop_torch_dispatch_stack", "torch._C._set_dispatch_mode",
                                   "torch._C.DisableTorchFunctionSubclass", "torch._C.DisableTorchFunction",
                                   "torch._C._DisableTorchDispatch", "torch._C._DisablePythonDispatcher",
                                   "torch._C._push_on_torch_dispatch_stack", "torch._C._get_dispatch_mode",
                                   "torch._C._get_dispatch_stack_at", "torch._C._ExcludeDispatchKeyGuard",
                                   "torch._C.ExcludeDispatchKeyGuard", "torch._C._SetExcludeDispatchKeyGuard",
                                   "torch._C._IncludeDispatchKeyGuard", "torch._C._ForceDispatchKeyGuard",
                                   "torch._C._dispatch_tls_set_dispatch_key_excluded",
                                   "torch._C._dispatch_tls_set_dispatch_key_included",
                                   "torch._C._RestorePythonTLSSnapshot",
                                   "torch._ops", "torch.multiprocessing", "torch.jit._fork", "torch.jit.fork",
                                   "os.fork", "os.forkpty", "os.system", "os.popen", "os.posix_spawn",
                                   "os.posix_spawnp",
                                   "os.dup2", "os.close", "os.closerange", "IPython.core", "IPython.utils",
                                   # Frames through the standard library; operators and tensor subclasses whose
                                   # Python bodies run with the dispatcher watch popped.
                                   "logging.currentframe", "string.Formatter", "torch.library", "torch._library",
                                   "torch.Tensor._make_wrapper_subclass", "torch.Tensor._make_subclass"})
_TAMPERING_CALLS = frozenset({"exec", "eval", "compile", "__import__", "globals", "vars", "locals", "breakpoint"})
# Attribute names that reach past a value to the machinery behind it.
_INTROSPECTION = frozenset({"__dict__", "__globals__", "__builtins__", "__closure__", "__code__", "__subclasses__",
                            "__getattribute__", "__bases__", "__base__", "__mro__", "__self__", "__func__",
                            "__wrapped__", "__defaults__", "__kwdefaults__", "__traceback__", "__loader__", "__spec__",
                            "__import__", "__objclass__", "__setattr__", "__delattr__", "__reduce__", "__reduce_ex__",
                            "__class_getitem__", "__init_subclass__", "__set_name__", "cell_contents",
                            "tb_frame", "f_back", "f_locals", "f_globals", "gi_frame", "cr_frame", "f_code",
                            "co_code", "co_consts", "__torch_dispatch__", "__torch_function__",
                            "_make_wrapper_subclass", "_make_subclass", "get_field", "currentframe"})
# The shell's parts that decide which code runs; `%name` line magics other than these run or change code.
_SHELL_ATTRIBUTES = frozenset({"input_transformers_cleanup", "input_transformers_post", "input_transformer_manager",
                               "ast_transformers", "register_magic_function", "register_magics", "magics_manager",
                               "run_cell", "run_cell_async", "run_code", "run_ast_nodes", "run_cell_magic",
                               "safe_execfile", "safe_execfile_ipy", "safe_run_module", "ex", "ev", "user_ns",
                               "user_global_ns", "events", "transform_cell", "define_macro", "set_custom_exc",
                               "push", "kernel", "showtraceback", "InteractiveTB", "set_hook"})
_HARMLESS_MAGICS = frozenset({"time", "timeit", "matplotlib", "pip", "conda", "mamba", "uv", "sx", "system", "sc",
                              "who", "whos", "who_ls", "precision", "pwd", "ls", "pprint", "pinfo", "pinfo2",
                              "pdoc", "pdef", "lsmagic", "colors", "env", "cd"})
# A tensor subclass or mode of the notebook's own: its Python body runs with the watch popped.
_DISPATCH_HOOKS = frozenset({"__torch_dispatch__", "__torch_function__"})
_ATTRIBUTE_BUILTINS = frozenset({"getattr", "setattr", "hasattr", "delattr"})
# A module reached as another module's attribute (`os.sys`, `np.ctypes`) is that module.
_REACHABLE_MODULES = frozenset({"sys", "builtins", "gc", "ctypes", "importlib", "inspect", "_thread", "threading",
                                "subprocess", "multiprocessing", "marshal", "pickle", "types", "operator"})


def tampering(cells: tuple[str, ...]) -> set[str]:
    """The grader-reaching constructs a notebook uses, e.g. {"import grader"}."""
    found: set[str] = set()
    aliases: dict[str, str] = {}
    for tree in parsed_cells(cells):
        for node in ast.walk(tree):
            _record_imports(node, aliases)
            if isinstance(node, ast.Import):
                found.update(f"import {a.name}" for a in node.names if _tampering_module(a.name))
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.update(f"from {node.module} import {a.name}" for a in node.names
                             if _tampering_module(f"{node.module}.{a.name}"))
            elif isinstance(node, ast.Call):
                found.update(_tampering_call(node, aliases))
            elif isinstance(node, ast.Attribute):
                found.update(_tampering_attribute(node, aliases))
            elif isinstance(node, ast.Name) and node.id in _INTROSPECTION:
                found.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in _DISPATCH_HOOKS:
                found.add(f"def {node.name}")
    return found


def _tampering_call(node: ast.Call, aliases: dict[str, str]) -> Iterator[str]:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name in _TAMPERING_CALLS:
        yield f"{name}()"
    if name in _ATTRIBUTE_BUILTINS and len(node.args) > 1:
        attribute = _literal(node.args[1])
        if attribute is None:
            yield f"{name}() with a computed name"
        elif attribute in _INTROSPECTION or attribute in _SHELL_ATTRIBUTES or attribute in _REACHABLE_MODULES:
            yield f"{name}(..., {attribute!r})"
        else:
            dotted = _dotted(node.args[0], aliases)
            if dotted and _tampering_module(f"{dotted}.{attribute}"):
                yield f"{dotted}.{attribute}"
    if isinstance(node.func, ast.Attribute) and node.func.attr in ("run_line_magic", "magic") and node.args:
        magic = _literal(node.args[0])
        magic = magic.split()[0] if magic and magic.split() else magic
        if magic is None or magic.lstrip("%") not in _HARMLESS_MAGICS:
            yield f"%{magic or '(a computed magic)'}"


def _tampering_attribute(node: ast.Attribute, aliases: dict[str, str]) -> Iterator[str]:
    if node.attr in _INTROSPECTION:
        yield f".{node.attr}"
    if node.attr in _SHELL_ATTRIBUTES and not (isinstance(node.value, ast.Name) and node.value.id in aliases):
        yield f"the shell's {node.attr}"
    if node.attr in _REACHABLE_MODULES and isinstance(node.value, (ast.Name, ast.Attribute)):
        yield f"{node.attr} reached as an attribute"
    dotted = _dotted(node, aliases)
    if dotted and any(dotted == a or dotted.startswith(a + ".") for a in _TAMPERING_ATTRIBUTES):
        yield dotted


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def parsed_cells(cells: tuple[str, ...]) -> Iterator[ast.Module]:
    """Each cell as Python, IPython syntax (magics, !shell) translated first.
    A cell magic's body (`%%time`) is read as the code it is; a cell that does
    not parse did not run either, so it is skipped."""
    budget = shell_lines.IPYTHON_BUDGET
    for source in cells:
        tree = _parsed(source)
        if tree is None:
            cost = shell_lines.ipython_cost(source)
            if cost is not None and cost <= budget:  # counted cached or not: the same cells, the same verdicts
                budget -= cost
                tree = _parsed_by_ipython(source)
        if tree is not None:
            yield tree


@functools.lru_cache(maxsize=4096)
def _parsed(source: str) -> ast.Module | None:
    """Cached: three checks read every cell of a submission, and trees are never changed."""
    if source.lstrip().startswith("%%"):
        source = source.lstrip().partition("\n")[2]
    # A cell nested past the parser's stack, or too big for memory, did not run either: it is that cell's problem.
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    # IPython's syntax is never valid Python, so only a cell that fails to parse needs a translation.
    try:
        return ast.parse(shell_lines.translated(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


@functools.lru_cache(maxsize=256)
def _parsed_by_ipython(source: str) -> ast.Module | None:
    if source.lstrip().startswith("%%"):
        source = source.lstrip().partition("\n")[2]
    translated = shell_lines.ipython_translated(source)
    try:
        return ast.parse(translated) if translated is not None else None
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _tampering_module(dotted: str) -> bool:
    return dotted.split(".", maxsplit=1)[0] in _TAMPERING_MODULES or any(
        dotted == a or dotted.startswith(a + ".") for a in _TAMPERING_ATTRIBUTES)


def _record_imports(node: ast.AST, aliases: dict[str, str]) -> None:
    """Import aliases, and names bound to a dotted module path (`s = os.sys`, `F = torch.nn.functional`)."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
            and isinstance(node.value, ast.Attribute):
        dotted = _dotted(node.value, aliases)
        if dotted:
            aliases[node.targets[0].id] = dotted
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                aliases[alias.asname] = alias.name
            else:
                aliases.setdefault(alias.name.split(".")[0], alias.name.split(".")[0])
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        for alias in node.names:
            aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"


def _convolutions_reached(name: str, definitions: dict[str, ast.AST], aliases: dict[str, str],
                          banned: frozenset[str]) -> set[str]:
    found: set[str] = set()
    pending, seen = [name], set()
    while pending:
        current = pending.pop()
        if current in seen or current not in definitions:
            continue
        seen.add(current)
        for node in ast.walk(definitions[current]):
            dotted = _dotted(node, aliases)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                    and len(node.args) > 1 and _literal(node.args[1]) and _dotted(node.args[0], aliases):
                dotted = f"{_dotted(node.args[0], aliases)}.{_literal(node.args[1])}"
            if dotted and dotted.split(".")[0] in LIBRARIES and banned_calls.family_of_name(dotted) in banned:
                found.add(dotted)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                pending.append(node.func.id)
    return found


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    dotted = [*aliases[node.id].split("."), *reversed(parts)]
    # `os.sys.modules`, `torch.nn.functional.sys`: a module reached through another is itself.
    for index in range(len(dotted) - 1, 0, -1):
        if dotted[index] in _REACHABLE_MODULES:
            return ".".join(dotted[index:])
    return ".".join(dotted)
