"""frame(): the selection -> 2D function shared by widgets and figures."""

import numpy as np
import pytest

from attnwidget._frame import frame, select_samples
from attnwidget.store import Capture


@pytest.fixture
def cap():
    rng = np.random.default_rng(1)
    c = Capture()
    c.add("attn", 0, rng.random((4, 3, 6, 6)).astype(np.float32), kind="self")
    c.add("attn", 1, rng.random((4, 3, 1, 7)).astype(np.float32), kind="self")
    c.add("layer_weights", 0, rng.random((4, 5)).astype(np.float32), kind="weights", axes=("sample", "layer"))
    c.add(
        "temporal",
        0,
        rng.random((4, 5, 9)).astype(np.float32),
        kind="weights",
        axes=("sample", "layer", "frame"),
    )
    c.labels = np.array([0, 1, 1, 0])
    c.tokens = [f"t{i}" for i in range(6)]
    return c


def test_head_and_sample_selection(cap):
    a = cap.get("attn")
    assert np.allclose(frame(cap, 0, head=2, sample=1).values, a[1, 2])
    assert np.allclose(frame(cap, 0, head="mean", sample=0).values, a[0].mean(0))
    assert np.allclose(frame(cap, 0, head="max", sample=3).values, a[3].max(0))
    f = frame(cap, 0, head=1, sample="mean", label=1)
    assert np.allclose(f.values, a[[1, 2], 1].mean(0))
    # the sample index walks only the class's samples
    assert np.allclose(frame(cap, 0, head=0, sample=1, label=0).values, a[3, 0])


def test_labels_steps_and_tokens(cap):
    f = frame(cap, "attn", head=0, step=1, assembled=False)
    assert f.shape == (1, 7) and f.row_axis == "query" and f.col_axis == "key"
    # the steps chain as a KV cache (6 x 6, then 1 x 7): by default the step shows the rows so far
    whole = frame(cap, "attn", head=0, step=1)
    assert whole.shape == (7, 7) and whole.selection["assembled"]
    np.testing.assert_array_equal(whole.values[6], f.values[0])
    f0 = frame(cap, "attn")
    assert f0.row_labels == cap.tokens and f0.col_labels == cap.tokens


def test_region_and_pooling(cap):
    a = cap.get("attn")[0, 0]
    f = frame(cap, 0, head=0, region=(1, 4, 2, 6))
    assert np.allclose(f.values, a[1:4, 2:6]) and f.row_labels == ["t1", "t2", "t3"]
    g = frame(cap, 0, head=0, size=3)
    assert g.shape == (3, 3) and g.block == (2, 2)
    assert np.isclose(g.values[0, 0], a[:2, :2].mean())
    assert g.row_labels[0] == "t0…t1"


def test_weights_sites(cap):
    lw = cap.get("layer_weights")
    f = frame(cap, "layer_weights", sample="mean", label=1)
    # 1D weights per sample: samples of the class are the rows
    assert f.row_axis == "sample" and f.col_axis == "layer"
    assert np.allclose(f.values, lw[[1, 2]])
    t = frame(cap, "temporal", sample=2)
    assert (t.row_axis, t.col_axis) == ("layer", "frame")
    assert np.allclose(t.values, cap.get("temporal")[2])


def test_bad_selections_say_what_exists(cap):
    with pytest.raises(IndexError, match="3 head"):
        frame(cap, 0, head=5)
    with pytest.raises(IndexError, match="class 1 has 2 sample"):
        frame(cap, 0, sample=2, label=1)
    with pytest.raises(ValueError, match=r"labels present: \[0, 1\]"):
        select_samples(cap, 7)
    with pytest.raises(ValueError, match="empty"):
        frame(cap, 0, region=(3, 3, 0, 2))


def test_titles_name_the_head_reduction_and_every_sample_index(cap):
    # an index names the head; "mean"/"max" say what they reduce
    assert "head 2" in frame(cap, 0, head=2).title
    assert "mean of heads" in frame(cap, 0, head="mean").title
    assert "max of heads" in frame(cap, 0, head="max").title
    # sample 0 is a sample like any other
    assert "sample 0" in frame(cap, 0, sample=0).title
    assert "sample 3" in frame(cap, 0, sample=3).title
    assert "mean of samples" in frame(cap, 0, sample="mean").title
    # weights of one value per sample show every sample of the class as rows: no title names one
    assert "sample" not in frame(cap, "layer_weights", sample=1).title
    assert "sample 2" in frame(cap, "temporal", sample=2).title
