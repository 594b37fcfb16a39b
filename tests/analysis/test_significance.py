"""aw.significance: per-cell Welch tests with Benjamini-Hochberg, on known differences, on null data, on the audio lesson."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lessons import audio
from lessons._cache import trained

import attnwidget as aw
from attnwidget.analysis import benjamini_hochberg, t_two_sided
from attnwidget.analysis._significance import betainc, cells_text
from attnwidget.errors import NoLabelsError, SelectionError
from attnwidget.store import Capture


def weights_capture(values: np.ndarray, labels) -> Capture:
    cap = Capture()
    cap.add("w", 0, values.astype(np.float32), kind="weights", axes=("sample", "cell"))
    cap.labels = np.asarray(labels)
    return cap


def test_a_known_difference_is_found_and_only_there():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, size=(80, 50))
    labels = np.repeat([0, 1], 40)
    x[labels == 1, :5] += 1.5  # five cells differ by 1.5 SD
    s = aw.significance(weights_capture(x, labels), 1, 0, site="w")
    assert s.mask[:5].all() and s.count == 5
    assert s.title == "5 of 50 cells differ at q < 0.05"
    assert np.allclose(s.effect[:5], 1.5, atol=0.6)
    # the numbers are Welch's: compare with scipy's own test where scipy is installed
    stats = pytest.importorskip("scipy.stats")
    ref = stats.ttest_ind(x[labels == 1], x[labels == 0], equal_var=False)
    assert np.allclose(s.t, ref.statistic) and np.allclose(s.p, ref.pvalue)


def test_null_data_false_positive_rate_is_at_most_nominal():
    cells, seeds, alpha = 40, 300, 0.05
    raw, any_discovery = [], 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(60, cells)) * rng.uniform(0.5, 2.0, size=cells)
        s = aw.significance(weights_capture(x, np.repeat(["a", "b"], 30)), "a", "b", site="w")
        raw.append(s.p)
        any_discovery += s.count > 0
    raw = np.concatenate(raw)
    # per cell, p < alpha about alpha of the time (12000 cells: binomial SD 0.002)
    assert abs((raw < alpha).mean() - alpha) < 0.01
    # under the global null BH controls the chance of any discovery at alpha (SD about 0.013 here)
    assert any_discovery / seeds <= alpha + 0.03


def test_the_t_distribution_without_scipy_matches_scipy():
    rng = np.random.default_rng(1)
    t = np.concatenate([rng.normal(0, 4, 400), [0.0, 1e-9, 40.0, np.inf]])
    df = np.concatenate([rng.uniform(1.0, 400.0, 400), [3.0, 2.0, 5.0, 7.0]])
    mine = t_two_sided(t, df, use_scipy=False)
    assert mine[-4] == 1.0 and mine[-1] == 0.0
    special = pytest.importorskip("scipy.special")
    assert np.allclose(mine, 2 * special.stdtr(df, -np.abs(t)), rtol=1e-9, atol=1e-13)
    x = rng.uniform(0, 1, 200)
    a, b = rng.uniform(0.2, 30, 200), rng.uniform(0.2, 30, 200)
    assert np.allclose(betainc(a, b, x), special.betainc(a, b, x), rtol=1e-9, atol=1e-13)


def test_benjamini_hochberg_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.20, np.nan])
    # sorted 0.01, 0.03, 0.04, 0.20 over m = 4: 0.04, 0.06, 0.0533 -> monotone 0.04, 0.0533, 0.0533, 0.20
    q = benjamini_hochberg(p)
    assert np.allclose(q[:4], [0.04, 0.16 / 3, 0.16 / 3, 0.20]) and np.isnan(q[4])
    assert cells_text((512, 512)) == "512^2" and cells_text((4, 9, 9)) == "4 x 9^2"
    assert cells_text((32, 4)) == "32 x 4"


class Tilted(torch.nn.Module):
    """Plain self-attention over the inputs; the data decide where it looks."""

    def forward(self, x):
        q = x[:, None]  # one head
        return F.scaled_dot_product_attention(q, q, q)


def tilted_batches(n_batches=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        y = torch.randint(0, 2, (10,), generator=g)
        x = 0.5 * torch.randn(10, 6, 4, generator=g)
        x[..., 0] = 1.0  # every query shares this direction with every key ...
        x[:, 0, 0] += 3.0 * y  # ... and in class 1 key 0 stands out along it
        out.append((x, y))
    return out


def test_streamed_statistics_give_the_kept_samples_answer():
    cap = aw.collect(
        Tilted().eval(), tilted_batches(), num_samples=None, keep="both", labels=1, progress=False
    )
    from_samples = aw.significance(cap, 1, 0, site=0, source="samples")
    from_stats = aw.significance(cap, 1, 0, site=0, source="stats")
    assert from_stats.source == "stats" and from_samples.source == "samples"
    assert from_samples.n_a == from_stats.n_a and from_samples.n_b == from_stats.n_b
    assert np.allclose(from_samples.t, from_stats.t, rtol=1e-4)
    assert np.allclose(from_samples.p, from_stats.p, rtol=1e-3, atol=1e-12)
    assert from_stats.count > 0 and from_stats.mask[0, :, 0].all()  # every query leans on key 0
    assert from_stats.title.endswith("of 1 x 6^2 cells differ at q < 0.05")
    one = aw.significance(cap, 1, 0, site=0, head=0, source="stats")
    assert one.difference.shape == (6, 6) and one.title.endswith("of 6^2 cells differ at q < 0.05")
    stats_only = aw.collect(Tilted().eval(), tilted_batches(), keep="stats", labels=1, progress=False)
    auto = aw.significance(stats_only, 1, 0, site=0)
    assert auto.source == "stats" and np.allclose(auto.q, from_stats.q)


def test_significance_errors_say_what_to_do():
    x = np.random.default_rng(0).normal(size=(6, 3))
    cap = weights_capture(x, [0, 0, 0, 1, 1, 1])
    with pytest.raises(SelectionError, match="labels present: 0, 1"):
        aw.significance(cap, 0, 7, site="w")
    with pytest.raises(ValueError, match="at least 2 samples"):
        aw.significance(cap, [0], [1, 2], site="w")
    with pytest.raises(ValueError, match="alpha"):
        aw.significance(cap, 0, 1, site="w", alpha=5)
    with pytest.raises(SelectionError, match="no streamed statistics"):
        aw.significance(cap, 0, 1, site="w", source="stats")
    with pytest.raises(ValueError, match="no head axis"):
        aw.significance(cap, 0, 1, site="w", head=0)
    cap.labels = None
    with pytest.raises(NoLabelsError):
        aw.significance(cap, 0, 1, site="w")


@pytest.fixture(scope="module")
def clips():
    model, _ = trained(audio, steps=120)
    return audio.collect(model, n=200)


def test_spoof_and_bonafide_layer_weights_differ_significantly(clips):
    site = audio.site(clips, "layer_weights")
    assert np.bincount(clips.labels).tolist() == [100, 100]
    s = aw.significance(clips, 0, 1, site=site)
    assert s.n_a == s.n_b == 100
    assert s.count >= 5 and s.title == f"{s.count} of 9 cells differ at q < 0.05"
    assert np.nanmin(s.q) < 1e-6


def test_two_random_halves_of_one_class_do_not_differ(clips):
    site = audio.site(clips, "layer_weights")
    discoveries = 0
    for label in (0, 1):
        members = np.flatnonzero(clips.labels == label)
        for seed in range(10):
            half = np.random.default_rng(seed).permutation(members)
            s = aw.significance(clips, half[:50], half[50:], site=site)
            discoveries += s.count > 0
    # 20 null comparisons at a false discovery rate of 5%: one by chance at most
    assert discoveries <= 1
