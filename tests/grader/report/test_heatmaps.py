"""Heatmaps: what each panel shows, in which colours, and the same bytes for the same values."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from grader.authoring.comparison import Comparison
from grader.report.heatmaps import (
    DIFFERENCE_COLORMAP,
    FRAME_COLOR,
    GAP,
    NOT_A_NUMBER_COLOR,
    OUTLINE_COLOR,
    VALUES_COLORMAP,
    Heatmaps,
    Scale,
    heatmaps,
)

TOLERANCE = {"rtol": 1e-5, "atol": 1e-8}


def compared(expected: torch.Tensor, actual: torch.Tensor, verdict: str = "wrong_values") -> Comparison:
    return Comparison("f(x)", verdict, tuple(expected.shape), tuple(actual.shape), expected.double(),
                      actual.double(), **TOLERANCE)


def drawn(comparison: Comparison) -> tuple[Heatmaps, np.ndarray]:
    result = heatmaps(comparison)
    assert result is not None
    return result, np.asarray(Image.open(io.BytesIO(result.png)).convert("RGB"))


def panel_pixels(result: Heatmaps, pixels: np.ndarray, position: int) -> np.ndarray:
    """A panel's pixels inside its one-pixel frame."""
    left = sum(p.width for p in result.panels[:position]) + GAP * position
    panel = pixels[:, left:left + result.panels[position].width]
    rows = np.flatnonzero((panel != 255).any(axis=(1, 2)))   # its height: a shorter panel has white below it
    return panel[1:rows[-1], 1:-1]


def colors(pixels: np.ndarray) -> set[tuple[int, int, int]]:
    return {(int(r), int(g), int(b)) for r, g, b in pixels.reshape(-1, 3)}


def rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def colormap_rgb(name: str, position: float) -> tuple[int, int, int]:
    red, green, blue, _ = matplotlib.colormaps[name](position, bytes=True)
    return int(red), int(green), int(blue)


def test_expected_yours_and_the_difference_side_by_side_on_their_scales() -> None:
    expected = torch.tensor([[1.0, 2.0], [3.0, 5.0]])
    result, pixels = drawn(compared(expected, torch.tensor([[1.0, 2.0], [3.0, 4.0]])))
    assert [p.name for p in result.panels] == ["expected", "yours", "yours - expected"]
    assert [p.plane for p in result.panels] == [(), (), ()]
    assert result.panels[0].scale == result.panels[1].scale == Scale(VALUES_COLORMAP, 1.0, 5.0)
    assert result.panels[2].scale == Scale(DIFFERENCE_COLORMAP, -1.0, 1.0)
    assert pixels.shape[1] == sum(p.width for p in result.panels) + 2 * GAP
    assert (pixels[:, result.panels[0].width:result.panels[0].width + GAP] == 255).all()  # a white gap
    expected_panel = panel_pixels(result, pixels, 0)
    assert colors(expected_panel) >= {colormap_rgb(VALUES_COLORMAP, 0.0), colormap_rgb(VALUES_COLORMAP, 1.0)}
    # Each value is a square block: the top-left one is the lowest value, the bottom-right the highest.
    assert tuple(expected_panel[0, 0]) == colormap_rgb(VALUES_COLORMAP, 0.0)
    assert tuple(expected_panel[-1, -1]) == colormap_rgb(VALUES_COLORMAP, 1.0)
    assert (pixels[0, :result.panels[0].width] == rgb(FRAME_COLOR)).all()


def test_only_values_outside_the_tolerance_are_outlined() -> None:
    result, pixels = drawn(compared(torch.zeros(3, 3), torch.eye(3)))
    assert result.outlined and not result.not_a_number
    difference = panel_pixels(result, pixels, 2)
    side = difference.shape[0] // 3
    outlined = {(i, j) for i in range(3) for j in range(3)
                if tuple(difference[i * side, j * side + side // 2]) == rgb(OUTLINE_COLOR)}
    assert outlined == {(0, 0), (1, 1), (2, 2)}
    assert min(difference[side // 2, side + side // 2]) >= 240  # a value that agrees is (nearly) white
    assert tuple(difference[side + side // 2, side + side // 2]) == colormap_rgb(DIFFERENCE_COLORMAP, 1.0)
    assert rgb(OUTLINE_COLOR) not in colors(panel_pixels(result, pixels, 0)) | colors(panel_pixels(result, pixels, 1))
    matching, matching_pixels = drawn(compared(torch.eye(3), torch.eye(3), "match"))
    assert not matching.outlined and rgb(OUTLINE_COLOR) not in colors(matching_pixels)


def test_a_3d_tensor_shows_the_plane_of_its_first_wrong_value_and_nan_in_its_own_colour() -> None:
    expected = torch.zeros(3, 4, 4)
    actual = expected.clone()
    actual[2, 1, 3] = float("nan")
    result, pixels = drawn(compared(expected, actual))
    assert [p.plane for p in result.panels] == [(2,), (2,), (2,)]
    assert result.not_a_number and result.outlined
    assert rgb(NOT_A_NUMBER_COLOR) in colors(panel_pixels(result, pixels, 1))
    assert rgb(NOT_A_NUMBER_COLOR) not in colors(panel_pixels(result, pixels, 0))


def test_different_shapes_get_no_difference_and_each_its_own_plane() -> None:
    result, pixels = drawn(compared(torch.ones(2, 3, 3), torch.arange(4.0), "wrong_shape"))
    assert [(p.name, p.plane) for p in result.panels] == [("expected", (0,)), ("yours", ())]
    assert not result.outlined
    assert panel_pixels(result, pixels, 1).shape[0] < panel_pixels(result, pixels, 0).shape[0]  # one row of four


@pytest.mark.parametrize("comparison", [
    Comparison("f(x)", "match", (2, 2), (2, 2), None, torch.ones(2, 2, dtype=torch.float64)),
    Comparison("f(x)", "not_a_tensor", (2, 2), None, torch.ones(2, 2, dtype=torch.float64), None),
    Comparison("f(x)", "match", (), (), torch.tensor(1.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64)),
], ids=["shape_only", "not_a_tensor", "a_single_number"])
def test_nothing_to_draw_side_by_side(comparison: Comparison) -> None:
    assert heatmaps(comparison) is None


def test_the_same_values_always_give_the_same_bytes() -> None:
    expected = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    first = heatmaps(compared(expected, expected * 1.5))
    again = heatmaps(compared(expected.clone(), expected * 1.5))
    assert first is not None and first == again
    assert b"tEXt" not in first.png and b"iTXt" not in first.png and b"tIME" not in first.png  # no version, no date
