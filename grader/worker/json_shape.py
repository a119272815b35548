"""How a JSON text nests, measured without parsing it.

`json.loads` recurses, and builds every value before anyone can count them:
a hostile text (a notebook, a worker's reply) must be measured first. This
reads the bytes in numpy's passes, without recursion: 50 MB of brackets cost
a fraction of a second.
"""

from __future__ import annotations

import dataclasses

import numpy as np

_CHUNK = 1 << 20
_QUOTE, _COMMA, _OPENING, _CLOSING = ord('"'), ord(","), (ord("["), ord("{")), (ord("]"), ord("}"))


@dataclasses.dataclass(frozen=True)
class Shape:
    deepest: int      # how deep the arrays and objects nest
    left_open: int    # more than 0: the text was cut short; less than 0: more closed than opened
    containers: int   # arrays and objects
    objects: int
    values: int       # about how many values it holds: its arrays, objects and commas


def shape(text: bytes | bytearray) -> Shape:
    """The shape of `text`, brackets inside strings left out."""
    # Backslashes occur only in strings, in pairs read left to right, as bytes.replace reads them:
    # without its escaped backslashes and quotes, a text's quotes alternate, opening and closing.
    unescaped = bytes(text).replace(b"\\\\", b"").replace(b'\\"', b"")
    depth, deepest, quotes_before, containers, objects, commas = 0, 0, 0, 0, 0, 0
    for start in range(0, len(unescaped), _CHUNK):
        chunk = np.frombuffer(unescaped, dtype=np.uint8, count=min(_CHUNK, len(unescaped) - start), offset=start)
        quotes = np.cumsum(chunk == _QUOTE) + quotes_before
        outside_strings = quotes % 2 == 0
        opening = outside_strings & ((chunk == _OPENING[0]) | (chunk == _OPENING[1]))
        closing = outside_strings & ((chunk == _CLOSING[0]) | (chunk == _CLOSING[1]))
        levels = np.cumsum(opening.astype(np.int64) - closing) + depth
        containers += int(np.count_nonzero(opening))
        objects += int(np.count_nonzero(outside_strings & (chunk == _OPENING[1])))
        commas += int(np.count_nonzero(outside_strings & (chunk == _COMMA)))
        deepest, depth, quotes_before = max(deepest, int(levels.max())), int(levels[-1]), int(quotes[-1])
    return Shape(deepest, depth, containers, objects, containers + commas)
