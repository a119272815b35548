"""Side-by-side heatmaps of a public comparison: expected, the student's, and their difference.

Each value is a square block of its colour from one of matplotlib's
colormaps, laid out with numpy and encoded by Pillow as a 256-colour PNG: a
millisecond or two a picture, where a matplotlib figure took hundreds, and a
batch draws some for every student. The picture holds pixels alone; its
titles and colour scales (`Heatmaps.panels`) are text on the page beside it
(grader.report.feedback).
"""

from __future__ import annotations

import dataclasses
import functools
import io

import matplotlib
import numpy as np
import torch
from matplotlib.colors import to_rgb
from PIL import Image

from grader.authoring.comparison import Comparison

VALUES_COLORMAP = "viridis"
DIFFERENCE_COLORMAP = "RdBu_r"   # diverging: white where the values agree, red above, blue below
OUTLINE_COLOR = "#111111"
NOT_A_NUMBER_COLOR = "#ff00ff"
FRAME_COLOR = "#888888"          # around each panel, so that an all-white difference still shows
GAP = 16                         # white pixels between panels
PANEL_SIDE = 240                 # pixels a panel's longer side aims at
CELL_PIXELS = (4, 40)            # the smallest and largest block of one value
LEVELS = 126                     # colours of each colormap: two of them and four plain colours fill a palette

# The palette: these plain colours, then LEVELS colours of each colormap, low to high.
_PLAIN = ("#ffffff", FRAME_COLOR, OUTLINE_COLOR, NOT_A_NUMBER_COLOR)
_WHITE, _FRAME, _OUTLINE, _NOT_A_NUMBER = range(len(_PLAIN))
_COLORMAPS = (VALUES_COLORMAP, DIFFERENCE_COLORMAP)


@dataclasses.dataclass(frozen=True)
class Scale:
    """Which colours stand for which values: `low` and below get the colormap's first, `high` and above its last."""
    colormap: str
    low: float
    high: float


@dataclasses.dataclass(frozen=True)
class Panel:
    name: str                    # "expected", "yours" or "yours - expected"
    plane: tuple[int, ...]       # which 2D plane of a 3D+ tensor it shows; () for the whole tensor
    width: int                   # in pixels, its frame included
    scale: Scale


@dataclasses.dataclass(frozen=True)
class Heatmaps:
    png: bytes
    panels: tuple[Panel, ...]    # left to right, GAP pixels apart
    outlined: bool               # some values of the difference are outside the tolerance, and outlined
    not_a_number: bool           # some value is NaN, drawn in NOT_A_NUMBER_COLOR


def heatmaps(comparison: Comparison) -> Heatmaps | None:
    """The panels, or None when there is nothing to draw side by side
    (a shape-only check, an answer that is not a tensor, a single number)."""
    expected, actual = comparison.expected, comparison.actual
    if expected is None or actual is None or expected.dim() == 0 or actual.dim() == 0:
        return None
    if expected.numel() == 0 or actual.numel() == 0:
        return None
    same_shape = expected.shape == actual.shape
    outside: torch.Tensor | None = None
    if same_shape and comparison.verdict in ("match", "wrong_values"):
        # The stored values are the float64 values the verdict compared, so this is that verdict, cell by cell.
        outside = ~torch.isclose(actual, expected, rtol=comparison.rtol, atol=comparison.atol, equal_nan=False)
    where = _plane_index(expected, outside)
    actual_where = where if same_shape else _plane_index(actual, None)
    planes = [("expected", where, _plane(expected, where)), ("yours", actual_where, _plane(actual, actual_where))]
    if same_shape:
        planes.append(("yours - expected", where, _plane(actual - expected, where)))
    values = Scale(VALUES_COLORMAP, *_limits(np.concatenate([planes[0][2].ravel(), planes[1][2].ravel()])))
    scales = [values, values]
    if same_shape:
        reach = _limits(np.abs(planes[2][2]).ravel())[1] or 1.0
        scales.append(Scale(DIFFERENCE_COLORMAP, -reach, reach))
    cell = _cell_pixels(max(max(p.shape) for _, _, p in planes))
    images = [_panel(p, scale, cell) for (_, _, p), scale in zip(planes, scales, strict=True)]
    outlined = False
    if outside is not None:
        outside_here = _plane(outside, where)
        outlined = bool(outside_here.any())
        if outlined:
            _outline(images[2], outside_here, cell)
    return Heatmaps(
        png=_png(images),
        panels=tuple(Panel(name, plane, image.shape[1], scale)
                     for (name, plane, _), image, scale in zip(planes, images, scales, strict=True)),
        outlined=outlined,
        not_a_number=any(bool(np.isnan(p).any()) for _, _, p in planes))


@functools.cache
def color_stops(colormap: str, count: int = 9) -> tuple[str, ...]:
    """`count` evenly spaced colours of a colormap, low to high, as CSS hex: for a legend beside the picture."""
    rgba = matplotlib.colormaps[colormap](np.linspace(0.0, 1.0, count), bytes=True)
    return tuple("#{:02x}{:02x}{:02x}".format(*color[:3]) for color in rgba.tolist())


def _plane_index(values: torch.Tensor, outside: torch.Tensor | None) -> tuple[int, ...]:
    """Which 2D plane of a 3D+ tensor to draw: the one with the first wrong value, else the first."""
    if values.dim() <= 2:
        return ()
    if outside is not None and bool(outside.any()):
        return tuple(int(i) for i in outside.nonzero()[0][:-2])
    return (0,) * (values.dim() - 2)


def _plane(values: torch.Tensor, where: tuple[int, ...]) -> np.ndarray:
    plane = values[where] if where else values
    return (plane.reshape(1, -1) if plane.dim() == 1 else plane).numpy()


def _limits(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    return (low - 0.5, high + 0.5) if low == high else (low, high)


def _cell_pixels(longest_side: int) -> int:
    smallest, largest = CELL_PIXELS
    return min(largest, max(smallest, PANEL_SIDE // longest_side))


def _panel(plane: np.ndarray, scale: Scale, cell: int) -> np.ndarray:
    """Palette indices: each value a cell x cell block, in a one-pixel frame.

    As a matplotlib norm and colormap would: `low` and below get the first colour,
    `high` and above the last, NaN its own."""
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN, and stays NaN
        level = np.floor((plane - scale.low) / (scale.high - scale.low) * LEVELS)
    first = len(_PLAIN) + LEVELS * _COLORMAPS.index(scale.colormap)
    colors = np.where(np.isnan(level), _NOT_A_NUMBER, first + np.clip(np.nan_to_num(level), 0, LEVELS - 1))
    blocks = np.repeat(np.repeat(colors.astype(np.uint8), cell, axis=0), cell, axis=1)
    return np.pad(blocks, 1, constant_values=_FRAME)


def _outline(framed: np.ndarray, outside: np.ndarray, cell: int) -> None:
    """Draw the border of every block whose value is outside the tolerance, in place."""
    width = 2 if cell >= 12 else 1
    edge = np.zeros(cell, dtype=bool)
    edge[:width] = edge[-width:] = True
    rows, cols = outside.shape
    on_an_edge = np.tile(edge, rows)[:, None] | np.tile(edge, cols)[None, :]
    in_an_outside_block = np.repeat(np.repeat(outside, cell, axis=0), cell, axis=1)
    framed[1:-1, 1:-1][on_an_edge & in_an_outside_block] = _OUTLINE


def _png(panels: list[np.ndarray]) -> bytes:
    height = max(p.shape[0] for p in panels)
    width = sum(p.shape[1] for p in panels) + GAP * (len(panels) - 1)
    canvas = np.full((height, width), _WHITE, dtype=np.uint8)
    left = 0
    for panel in panels:
        canvas[:panel.shape[0], left:left + panel.shape[1]] = panel
        left += panel.shape[1] + GAP
    image = Image.fromarray(canvas)
    image.putpalette(_palette())
    buffer = io.BytesIO()
    # Pillow writes no text chunks (no version, no date): the same values always make the same bytes.
    image.save(buffer, format="PNG", compress_level=1)  # flat blocks: the fastest level is small enough
    return buffer.getvalue()


@functools.cache
def _palette() -> bytes:
    plain = np.array([[round(channel * 255) for channel in to_rgb(color)] for color in _PLAIN], dtype=np.uint8)
    ramps = [matplotlib.colormaps[name].resampled(LEVELS)(np.arange(LEVELS), bytes=True)[:, :3] for name in _COLORMAPS]
    return np.concatenate([plain, *ramps]).tobytes()
