"""aw.compare: two checkpoints of a real model, a run against itself, a difference made on purpose, files, mismatches."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import attnwidget as aw
from attnwidget._names import FilesExistError
from attnwidget.analysis import Comparison, compare, outline_cells, significance_figure
from attnwidget.errors import CaptureMismatchError, UnknownSiteError
from attnwidget.store import Capture


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# ---------------------------------------------------------------- two checkpoints of a real model


def tiny_gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=100, n_positions=32)
    return GPT2LMHeadModel(config).eval()


def inputs(n=12, length=10, seed=1):
    return torch.randint(0, 100, (n, length), generator=torch.Generator().manual_seed(seed))


def train_to_copy_the_previous_token(model, steps=40, seed=0):
    """A few seeded steps of a task solved by looking one token back: attention has to move."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        ids = torch.randint(0, 100, (16, 10), generator=g)
        logits = model(ids).logits[:, 1:]
        loss = F.cross_entropy(logits.reshape(-1, 100), ids[:, :-1].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def checkpoints():
    model = tiny_gpt2()
    ids = inputs()
    with torch.no_grad(), aw.capture(model) as before:
        model(ids)
    train_to_copy_the_previous_token(model)
    with torch.no_grad(), aw.capture(model) as after:
        model(ids)
    return before, after


def test_two_checkpoints_compare_site_by_site(checkpoints):
    before, after = checkpoints
    cmp = compare(before, after, names=("init", "trained"))
    assert isinstance(cmp, Comparison) and cmp.paired and cmp.sites == before.sites
    assert len(cmp.sites) == 2
    site = cmp.sites[1]
    a_site, b_site, d_site = cmp.site_names(site)
    assert (a_site, b_site, d_site) == (f"{site} · init", f"{site} · trained", f"{site} · init − trained")
    shown = cmp.capture
    assert shown.sites[3:] == [a_site, b_site, d_site]
    assert shown.metadata["difference_sites"] == [cmp.site_names(s)[2] for s in cmp.sites]
    # paired: every sample of both, and the per-sample difference exactly
    assert np.array_equal(shown.get(a_site), before.get(site))
    assert np.array_equal(shown.get(d_site), before.get(site) - after.get(site))
    assert np.abs(shown.get(d_site)).max() > 1e-3  # training moved the attention
    # the means the figure draws: the difference of the means
    means = cmp.means
    assert means.get(d_site).shape == (1,) + before.get(site).shape[1:]
    assert np.allclose(means.get(d_site)[0], before.get(site).mean(0) - after.get(site).mean(0), atol=1e-6)
    # the test is Welch's between the two runs' head-mean maps, corrected over the cells
    stats = pytest.importorskip("scipy.stats")
    for name in cmp.sites:
        s = cmp.significance(name, head="mean")
        assert s.n_a == s.n_b == 12 and s.difference.shape == (10, 10)
        assert s.title.endswith("of 10^2 cells differ at q < 0.05")
        assert "init (n=12) vs trained (n=12)" in s.caption
        xa, xb = before.get(name).mean(1, dtype=np.float64), after.get(name).mean(1, dtype=np.float64)
        with warnings.catch_warnings():  # scipy warns on the constant cells, checked apart below
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = stats.ttest_ind(xa, xb, equal_var=False)
        # constant in both runs (keys after a causal query, the first query's one key): no difference, p = 1
        constant = (xa.std(0) == 0) & (xb.std(0) == 0)
        assert constant[np.triu_indices(10, 1)].all() and np.all(s.p[constant] == 1.0)
        assert np.allclose(s.t[~constant], ref.statistic[~constant], rtol=1e-6)
        assert np.allclose(s.p[~constant], ref.pvalue[~constant], rtol=1e-6)
    # the first layer learned to look one token back: most of its cells moved
    first = cmp.significance(0, head="mean")
    assert first.count >= 20 and first.mask[np.arange(1, 10), np.arange(0, 9)].sum() >= 5
    # the explorer and the frames show the three sites
    assert aw.show(shown) is not None
    assert aw.frame(shown, d_site, sample=3).values.shape == (10, 10)
    fig = cmp.figure(0)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["init", "trained"]
    assert first.title in fig._suptitle.get_text()
    outlined = [c for c in fig.axes[2].collections if type(c).__name__ == "LineCollection"]
    assert len(outlined) == 1


def test_a_run_compared_with_itself_has_no_difference_and_no_significant_cell(checkpoints):
    before, _ = checkpoints
    cmp = compare(before, before, names=("LA", "DF"))
    for site in cmp.sites:
        assert not cmp.capture.get(cmp.site_names(site)[2]).any()
        for head in (None, "mean", 0):
            s = cmp.significance(site, head=head)
            assert s.count == 0 and not s.mask.any() and np.all(s.difference == 0)
        assert "0 of 10^2 cells differ" in cmp.figure(site)._suptitle.get_text()


# ---------------------------------------------------------------- a difference known by construction


def made_runs(n_a=40, n_b=30, seed=0):
    """Run b leans on key 0 from queries 0..2 (logit +2); everything else is drawn alike."""
    rng = np.random.default_rng(seed)
    a = softmax_rows(rng.normal(0, 1, (n_a, 2, 6, 6)))
    logits = rng.normal(0, 1, (n_b, 2, 6, 6))
    logits[:, :, :3, 0] += 2.0
    b = softmax_rows(logits)
    return (
        Capture.from_attentions({"layers.0": a.astype(np.float32)}),
        Capture.from_attentions({"layers.0": b.astype(np.float32)}),
    )


def test_a_difference_made_on_purpose_is_found_and_only_there():
    a, b = made_runs()
    cmp = compare(a, b, names=("plain", "leaning"))
    assert not cmp.paired and cmp.capture is cmp.means  # 40 and 30 samples: the means
    assert cmp.capture.get("layers.0 · plain").shape == (1, 2, 6, 6)
    s = cmp.significance(0, head="mean")
    assert s.mask[:3, 0].all() and s.difference[:3, 0].max() < -0.2  # plain - leaning < 0 on key 0
    assert not s.mask[3:].any()  # rows 3.. are drawn alike: nothing found there
    every = cmp.significance(0)  # every head's cells
    assert every.mask.shape == (2, 6, 6) and every.mask[:, :3, 0].all() and not every.mask[:, 3:].any()
    fig = cmp.figure(0, head="mean")
    lines = [c for c in fig.axes[2].collections if c.__class__.__name__ == "LineCollection"]
    assert len(lines) == 1 and len(lines[0].get_segments()) > 0
    assert fig.axes[2].get_title() == "plain − leaning (outlined: q < 0.05)"
    assert s.title in fig._suptitle.get_text()
    # one sample of each is no test: the figure says so
    one_a, one_b = made_runs(1, 1)
    single = compare(one_a, one_b)
    assert "no test" in single.figure(0)._suptitle.get_text()
    with pytest.raises(ValueError, match="at least 2 samples"):
        single.significance(0)
    with pytest.raises(ValueError, match="not paired"):
        cmp.figure(0, sample=0)


def test_outline_cells_draws_the_border_of_the_marked_cells():
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    mask = np.zeros((4, 5), bool)
    mask[1:3, 1:3] = True  # a 2 x 2 block: 8 unit edges around it
    mask[0, 4] = True  # a corner cell: 4 edges
    lines = outline_cells(ax, mask)
    segments = [tuple(map(tuple, s)) for s in lines.get_segments()]
    assert len(segments) == 12
    assert ((0.5, 0.5), (1.5, 0.5)) in segments and ((2.5, 1.5), (2.5, 2.5)) in segments
    assert outline_cells(ax, np.zeros((3, 3), bool)) is None


def test_significance_figure_outlines_a_class_difference(tmp_path):
    a, b = made_runs(30, 30)
    both = np.concatenate([a.get(0), b.get(0)])
    cap = Capture.from_attentions({"layers.0": both})
    cap.labels = np.repeat([0, 1], 30)
    s = aw.significance(cap, 0, 1, site=0, head=1)
    fig = significance_figure(s, path=tmp_path / "sig.png")
    assert (tmp_path / "sig.png").stat().st_size > 0
    assert s.title in fig._suptitle.get_text() and s.count >= 3
    per_head = significance_figure(aw.significance(cap, 0, 1, site=0))
    assert [ax.get_title() for ax in per_head.axes[:2]] == ["head 0", "head 1"]


# ---------------------------------------------------------------- files


def test_save_writes_one_figure_per_site_and_never_over_a_file(checkpoints, tmp_path):
    before, after = checkpoints
    cmp = compare(before, after, names=("init", "trained"))
    written = cmp.save(tmp_path / "figs")
    assert [p.rsplit("/", 1)[-1] for p in written] == ["compare_layer0.png", "compare_layer1.png"]
    for p in written:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FilesExistError, match="already exist"):
        cmp.save(tmp_path / "figs")
    assert len(cmp.save(tmp_path / "figs", overwrite=True, fmt="svg")) == 2
    # one site chosen: its file keeps the site's index in the run
    one = compare(before, after, sites=[1])
    assert [p.rsplit("/", 1)[-1] for p in one.save(tmp_path / "one")] == ["compare_layer1.png"]


def test_streamed_statistics_compare_like_the_kept_samples():
    class Tilted(torch.nn.Module):
        def forward(self, x):
            q = x[:, None]
            return F.scaled_dot_product_attention(q, q, q)

    def batches(shift, seed):
        g = torch.Generator().manual_seed(seed)
        out = []
        for _ in range(4):
            x = 0.5 * torch.randn(10, 6, 4, generator=g)
            x[..., 0] = 1.0
            x[:, 0, 0] += shift  # key 0 stands out by `shift`
            out.append((x, torch.zeros(10)))
        return out

    runs = [
        aw.collect(Tilted().eval(), batches(s, i), keep="both", num_samples=None, progress=False)
        for i, s in enumerate((0.0, 3.0))
    ]
    kept = compare(*runs, names=("flat", "tilted"))
    assert kept.paired  # 40 samples each (unrelated inputs: pass paired=False to say so)
    assert not compare(*runs, paired=False).paired
    streamed = [
        aw.collect(Tilted().eval(), batches(s, i), keep="stats", progress=False)
        for i, s in enumerate((0.0, 3.0))
    ]
    stats = compare(*streamed, names=("flat", "tilted"))
    assert not stats.paired and stats.capture is stats.means
    s_kept, s_stats = kept.significance(0, head=0), stats.significance(0, head=0)
    assert s_kept.source == "samples" and s_stats.source == "stats"
    assert np.allclose(s_kept.t, s_stats.t, rtol=1e-4) and s_kept.count == s_stats.count > 0
    with pytest.raises(ValueError, match="streamed statistics"):
        stats.significance(0, head="mean")
    assert "no test" in stats.figure(0)._suptitle.get_text()
    assert stats.figure(0, head=0)._suptitle.get_text().count("cells differ") == 1


# ---------------------------------------------------------------- mismatches


def test_mismatched_runs_are_refused_naming_what_differs(checkpoints):
    before, _ = checkpoints
    longer = tiny_gpt2()
    with torch.no_grad(), aw.capture(longer) as other_length:
        longer(inputs(length=7))
    with pytest.raises(
        CaptureMismatchError, match=r"'transformer\.h\.0\.attn' at step 0: a .*'query': 10.*b .*'query': 7"
    ):
        compare(before, other_length)
    fewer = Capture.from_attentions({before.sites[0]: before.get(0)})
    with pytest.raises(CaptureMismatchError, match=r"only LA has transformer\.h\.1\.attn.*sites="):
        compare(before, fewer, names=("LA", "DF"))
    assert compare(before, fewer, sites=[0]).sites == [before.sites[0]]
    with pytest.raises(CaptureMismatchError, match=r"'transformer\.h\.1\.attn' \(not in DF\)"):
        compare(before, fewer, names=("LA", "DF"), sites=before.sites)
    weights = Capture()
    weights.add(before.sites[0], 0, np.ones((12, 10), np.float32), kind="weights", axes=("sample", "cell"))
    with pytest.raises(CaptureMismatchError, match="is self .* and weights"):
        compare(fewer, weights)
    halves = Capture.from_attentions({before.sites[0]: before.get(0)[:5]})
    with pytest.raises(CaptureMismatchError, match=r"paired=True.*12 vs 5"):
        compare(fewer, halves, paired=True)
    assert not compare(fewer, halves).paired
    with pytest.raises(ValueError, match="different names"):
        compare(before, before, names=("x", "x"))
    with pytest.raises(ValueError, match="two non-empty strings"):
        compare(before, before, names=("x",))
    with pytest.raises(TypeError, match="two Captures"):
        compare(before, before.get(0))
    cmp = compare(before, before)
    with pytest.raises(UnknownSiteError, match="sites compared"):
        cmp.figure("nope")
    with pytest.raises(CaptureMismatchError, match="compared at steps 0"):
        cmp.significance(0, step=2)


def test_padding_is_left_out_of_the_means_and_of_the_test():
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    ids = torch.randint(5, 100, (6, 7), generator=torch.Generator().manual_seed(2))
    mask = torch.ones(6, 7, dtype=torch.long)
    mask[:3, 5:] = 0  # half the samples end at 5 tokens
    runs = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = BertModel._from_config(config, attn_implementation="eager").eval()
        with torch.no_grad(), aw.capture(model) as cap:
            model(input_ids=ids, attention_mask=mask)
        runs.append(cap)
    a, b = runs
    site = a.sites[0]
    cmp = compare(a, b, names=("seed 0", "seed 1"), paired=False)
    mean_a = cmp.means.get(cmp.site_names(site)[0])[0]
    # a padded query's row is no attention: cells past 5 tokens are the mean of the 3 unpadded samples
    assert np.allclose(mean_a[:, 6, :], a.get(site)[3:, :, 6, :].mean(0), atol=1e-6)
    assert np.allclose(mean_a[:, :5, :5], a.get(site)[:, :, :5, :5].mean(0), atol=1e-6)
    s = cmp.significance(site, head="mean")
    untested = np.isnan(s.q)
    assert untested[5:].all() and untested[:, 5:].all() and not untested[:5, :5].any()
    assert f"{int(untested.sum())} cell(s) padded in some sample not tested" in s.caption
    # paired: the difference site's valid positions are those valid in both runs
    paired = compare(a, b)
    q, k = paired.capture.valid_mask(paired.site_names(site)[2])
    assert np.array_equal(q, mask.numpy().astype(bool)) and np.array_equal(k, q)
