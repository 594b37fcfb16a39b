"""Small ways a picture was silently wrong: NaN cells, tokens that do not fit, a colormap typo."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import traitlets

import attnwidget as aw
from attnwidget import wire
from attnwidget.colormaps import NAN_RGB, apply, lut


def _capture(values):
    cap = aw.Capture()
    cap.add("attn", 0, np.asarray(values, dtype=np.float32), kind="self")
    return cap


def test_nan_cells_get_their_own_code_and_colour_never_the_minimum():
    values = np.array([[0.0, np.nan], [0.5, 1.0]], dtype=np.float32)
    codes = wire.quantize(values, 0.0, 1.0)
    assert codes[0, 1] == wire.NAN_CODE
    assert codes[0, 0] == 0 and codes[1, 1] == wire.TOP
    assert np.isnan(wire.dequantize(codes, 0.0, 1.0)[0, 1])
    rgb = apply(codes, "viridis")
    assert tuple(rgb[0, 1]) == NAN_RGB
    assert tuple(rgb[0, 0]) != NAN_RGB
    for name in ("viridis", "magma", "jet", "coolwarm", "YlOrRd"):
        assert NAN_RGB not in {tuple(c) for c in lut(name)[: wire.TOP + 1]}, name
    header, payload = wire.encode(values)
    assert payload[1] == wire.NAN_CODE


def test_figures_draw_nan_in_grey_and_say_so():
    pytest.importorskip("matplotlib")
    from attnwidget.figures import heatmap

    w = np.full((1, 1, 3, 3), 1 / 3, dtype=np.float32)
    w[0, 0, 1, 1] = np.nan
    fig = heatmap(_capture(w), 0, head=0)
    assert "NaN" in fig.axes[0].get_title()
    image = fig.axes[0].images[0].get_array()
    assert tuple(np.asarray(image[1, 1])[:3]) == NAN_RGB


def test_a_string_of_tokens_is_refused_not_split_into_characters():
    cap = _capture(np.full((1, 1, 3, 3), 1 / 3))
    with pytest.raises(TypeError, match="one string per position"):
        aw.frame(cap, 0, tokens="the cat sat")


def test_tokens_of_the_wrong_length_are_said_not_silently_dropped():
    cap = _capture(np.full((1, 1, 3, 3), 1 / 3))
    with pytest.warns(UserWarning, match=r"2 token\(s\) given for its 3 query positions"):
        fr = aw.frame(cap, 0, tokens=["a", "b"])
    assert fr.row_labels == ["0", "1", "2"]
    # longer tokens (a step of a longer sequence): the step's positions are the prefix
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fr = aw.frame(cap, 0, tokens=["a", "b", "c", "d"])
    assert fr.row_labels == ["a", "b", "c"] and fr.col_labels == ["a", "b", "c"]


def test_explorer_colormap_accepts_only_known_names_and_reaches_the_views():
    pytest.importorskip("anywidget")
    explorer = aw.show(_capture(np.full((1, 2, 3, 3), 1 / 3)))
    explorer.colormap = "magma"
    assert explorer.heatmap.colormap == "magma" and explorer.headgrid.colormap == "magma"
    with pytest.raises(traitlets.TraitError):
        explorer.colormap = "rainbow"
    assert explorer.heatmap.colormap == "magma"
