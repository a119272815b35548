"""Quoting text that a worker (student code) chose, at a bounded length.

A reply's messages, errors, notes and output, and any repr of a returned value
that a test puts into its message, end up in results.json, the feedback page
and the terminal. Each is cut where it is quoted, keeping its start and its
end (where a test message puts the student's value, or its hint), with a
marker saying how much was left out. And none of it may hold a lone
surrogate, which JSON can escape but no file or terminal can encode.
"""

from __future__ import annotations

import re
from typing import Any

QUOTE_LIMIT = 500          # one value quoted in a message: an exception's text, a note, a name
MESSAGE_LIMIT = 1000       # one whole message of a test, the values it quotes included
_MARKER = " [...{} characters cut...] "


def cut(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` if it is at most `limit` characters, else its start and end around a marker."""
    if len(text) <= limit:
        return text
    # Room for the marker with the longest count it could carry, so the result is never over `limit`.
    kept = max(limit - len(_MARKER.format(len(text))), 0)
    marker = _MARKER.format(len(text) - kept)
    head = kept * 3 // 4
    return text[:head] + marker + text[len(text) - (kept - head):]


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(tree: Any) -> tuple[Any, int]:
    """A decoded JSON tree with every lone surrogate, in keys and strings, replaced
    by U+FFFD (in place), and how many; walked without recursion, since the tree
    is the student's."""
    replaced = 0

    def fixed(text: str) -> str:
        nonlocal replaced
        new, count = _LONE_SURROGATE.subn("\ufffd", text)
        replaced += count
        return new

    pending: list[Any] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = fixed(item)
                else:
                    pending.append(item)
        elif isinstance(node, dict):
            for key in list(node):
                value = node.pop(key)
                node[fixed(key)] = fixed(value) if isinstance(value, str) else value
                if not isinstance(value, str):
                    pending.append(value)
    return (fixed(tree) if isinstance(tree, str) else tree), replaced
