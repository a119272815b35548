"""IPython's syntax (`!cmd`, `%magic args`, `files = !ls`) read as the Python it runs, without running it.

The static check and the self-check's edit of a notebook both read cells that
may hold shell lines, which are never valid Python. Our translation keeps
every line where it was, in linear time. IPython's own, the fallback for what
ours does not cover, tokenizes the whole cell once per shell line (up to 500
times): it is for small cells only, within a budget per submission, so that
a notebook of many such cells costs seconds, not the hour it would.
"""

from __future__ import annotations

import re

# The line breaks of Python's own tokenizer: splitting on these keeps ast's line numbers (str.splitlines
# also splits on form feeds and U+2028, which Python reads as part of a line).
LINE_BREAK = re.compile(r"\r\n|\r|\n")
IPYTHON_LIMIT = 20_000          # characters of one cell
IPYTHON_BUDGET = 2_000_000      # characters times passes, for one submission: about five seconds
_SHELL_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<target>[A-Za-z_][\w.]*[ \t]*=[ \t]*)?(?P<kind>!|%(?!%))(?P<rest>.*)$")
_ESCAPED = re.compile(r"^[ \t]*(?:[A-Za-z_][\w.]*[ \t]*=[ \t]*)?[!%?]|\?[ \t]*$", re.MULTILINE)


def translated(source: str) -> str:
    """Each shell line as the call IPython makes of it, every line where it was."""
    lines = []
    for line in LINE_BREAK.split(source):
        match = _SHELL_LINE.match(line)
        if match:
            rest = match["rest"].strip()
            if match["kind"] == "!":
                call = f"get_ipython().system({rest!r})"
            else:
                name, _, arguments = rest.partition(" ")
                call = f"get_ipython().run_line_magic({name!r}, {arguments.strip()!r})"
            lines.append(f"{match['indent']}{match['target'] or ''}{call}")
            continue
        lines.append(line)
    return "\n".join(lines)


def ipython_cost(source: str) -> int | None:
    """What IPython's translation of `source` costs against the budget; None for a cell too big for it."""
    if len(source) > IPYTHON_LIMIT:
        return None
    return len(source) * (1 + len(_ESCAPED.findall(source)))


def ipython_translated(source: str) -> str | None:
    """IPython's own translation of a cell, or None where it fails."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return str(TransformerManager().transform_cell(source))  # type: ignore[no-untyped-call]
    except Exception:  # noqa: BLE001 - IPython's transformers raise what they like (RuntimeError, say)
        return None
