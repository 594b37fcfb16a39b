"""Trait validation: bad values fail with a message that says what to do."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

import attnwidget as aw
from attnwidget.store import Capture


def test_head_out_of_range_names_the_valid_heads(cap):
    hm = aw.Heatmap(cap)
    with pytest.raises(traitlets.TraitError, match=r"head 4 is out of range: layer 0 has 4 head\(s\), 0..3"):
        hm.head = 4
    with pytest.raises(traitlets.TraitError, match="'mean' or 'max'"):
        hm.head = "median"
    hm.head = "max"
    assert hm.head == "max"


def test_layer_accepts_index_or_site_name(cap):
    hm = aw.Heatmap(cap, layer="encoder.layer.2.attention")
    assert hm.layer == 2
    with pytest.raises(traitlets.TraitError, match="no site named 'nope'; sites are"):
        hm.layer = "nope"
    with pytest.raises(traitlets.TraitError, match="layer 3 is out of range"):
        hm.layer = 3


def test_sample_range_counts_within_the_class(cap):
    hm = aw.Heatmap(cap, label=1)
    hm.sample = 2  # class 1 has three samples
    with pytest.raises(traitlets.TraitError, match=r"class 1 has 3 sample\(s\)"):
        hm.sample = 3
    with pytest.raises(traitlets.TraitError, match="int or 'mean'"):
        hm.sample = "all"


def test_label_must_be_present(cap):
    hm = aw.Heatmap(cap)
    with pytest.raises(traitlets.TraitError, match=r"no sample has label 7; labels present: \[0, 1\]"):
        hm.label = 7
    hm.label = np.int64(1)  # numpy scalars become plain Python values (JSON-safe)
    assert hm.label == 1 and type(hm.label) is int


def test_label_without_labels_says_how_to_get_them(vit_cap):
    hm = aw.Heatmap(vit_cap)
    with pytest.raises(traitlets.TraitError, match="aw.collect"):
        hm.label = 0


def test_step_range(torch_cap):
    hm = aw.Heatmap(torch_cap, step=2)
    with pytest.raises(traitlets.TraitError, match=r"the model ran 3 step\(s\), 0..2"):
        hm.step = 3


def test_unknown_keyword_is_a_type_error(cap):
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'.*colormap"):
        aw.Heatmap(cap, colour="viridis")
    with pytest.raises(TypeError, match="unexpected keyword argument 'heads'"):
        aw.show(cap, heads=2)


def test_colormap_and_scale_choices(cap):
    hm = aw.Heatmap(cap)
    with pytest.raises(traitlets.TraitError):
        hm.colormap = "rainbow"
    with pytest.raises(traitlets.TraitError):
        hm.scale = "sqrt"


def test_not_a_capture():
    with pytest.raises(TypeError, match="expected an attnwidget Capture"):
        aw.Heatmap(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="holds no sites"):
        aw.Heatmap(Capture())


def test_changing_class_falls_back_to_class_mean_when_the_index_is_gone(cap):
    hm = aw.Heatmap(cap, sample=2)
    hm.label = 1  # class 1 has samples 0..2: index 2 is still valid
    assert hm.sample == 2
    hm.label = None
    hm.sample = 5
    hm.label = 0  # class 0 has 3 samples: 5 is gone
    assert hm.sample == "mean"
