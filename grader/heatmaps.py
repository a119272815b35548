"""Side-by-side heatmaps of a public comparison: expected, the student's, and their difference.

Drawn with matplotlib's object API on the Agg canvas, never pyplot: no global
figure state, no display, so pages can be built in a batch's threads.
"""

from __future__ import annotations

import io
import threading

import matplotlib
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PatchCollection
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from grader.comparison import Comparison

VALUES_COLORMAP = "viridis"
DIFFERENCE_COLORMAP = "RdBu_r"   # diverging: white where the values agree, red above, blue below
OUTLINE_COLOR = "#111111"
NOT_A_NUMBER_COLOR = "#ff00ff"

# matplotlib promises no thread safety, and a batch builds pages in several threads.
_drawing = threading.Lock()


def heatmaps_png(comparison: Comparison) -> bytes | None:
    """A PNG of the panels, or None when there is nothing to draw side by side
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
    panels = [(_title("expected", where), _plane(expected, where)),
              (_title("yours", actual_where), _plane(actual, actual_where))]
    if same_shape:
        panels.append((_title("yours - expected", where), _plane(actual - expected, where)))
    with _drawing:
        return _draw(panels, None if outside is None else _plane(outside, where))


def _plane_index(values: torch.Tensor, outside: torch.Tensor | None) -> tuple[int, ...]:
    """Which 2D plane of a 3D+ tensor to draw: the one with the first wrong value, else the first."""
    if values.dim() <= 2:
        return ()
    if outside is not None and bool(outside.any()):
        return tuple(int(i) for i in outside.nonzero()[0][:-2])
    return (0,) * (values.dim() - 2)


def _title(name: str, where: tuple[int, ...]) -> str:
    return f"{name}\n[{', '.join(str(i) for i in where)}, :, :]" if where else name


def _plane(values: torch.Tensor, where: tuple[int, ...]) -> torch.Tensor:
    plane = values[where] if where else values
    return plane.reshape(1, -1) if plane.dim() == 1 else plane


def _draw(panels: list[tuple[str, torch.Tensor]], outside: torch.Tensor | None) -> bytes:
    rows = max(p.shape[0] for _, p in panels)
    cols = max(p.shape[1] for _, p in panels)
    cell = min(0.4, max(0.04, 2.4 / max(rows, cols)))
    # No tick labels or numbers in cells: text is most of matplotlib's drawing
    # time, and the page prints the values beside the picture anyway.
    panel_width = max(cols * cell, 0.9) + 1.0           # room for the title and a color bar
    figure = Figure(figsize=(len(panels) * panel_width, max(rows * cell, 0.5) + 0.7), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    figure.subplots_adjust(left=0.02, right=0.95, bottom=0.05, top=0.8, wspace=0.45)
    low, high = _limits(torch.cat([panels[0][1].reshape(-1), panels[1][1].reshape(-1)]))
    for position, (ax, (title, plane)) in enumerate(zip(axes, panels)):
        if position == 2:
            reach = _limits(plane.abs().reshape(-1))[1] or 1.0
            image = ax.imshow(plane.numpy(), cmap=_colormap(DIFFERENCE_COLORMAP), vmin=-reach, vmax=reach,
                              interpolation="nearest")
            if outside is not None and bool(outside.any()):
                ax.add_collection(PatchCollection(
                    [Rectangle((j - 0.5, i - 0.5), 1, 1) for i, j in outside.nonzero().tolist()],
                    facecolor="none", edgecolor=OUTLINE_COLOR, linewidth=1.5 if cell > 0.12 else 0.5))
        else:
            image = ax.imshow(plane.numpy(), cmap=_colormap(VALUES_COLORMAP), vmin=low, vmax=high,
                              interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if position > 0:  # expected and yours share one scale, so one color bar serves both
            bar = figure.colorbar(image, ax=ax, fraction=0.05, pad=0.03)
            bar.ax.tick_params(labelsize=7)
    buffer = io.BytesIO()
    # No version stamp in the PNG: the same values always make the same bytes.
    figure.savefig(buffer, format="png", bbox_inches="tight", pad_inches=0.08, metadata={"Software": None})
    return buffer.getvalue()


def _limits(values: torch.Tensor) -> tuple[float, float]:
    finite = values[torch.isfinite(values)]
    if finite.numel() == 0:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    return (low - 0.5, high + 0.5) if low == high else (low, high)


def _colormap(name: str) -> Colormap:
    return matplotlib.colormaps[name].with_extremes(bad=NOT_A_NUMBER_COLOR)
