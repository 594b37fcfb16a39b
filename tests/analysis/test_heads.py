"""aw.heads: each role score against its closed-form value on synthetic attention, and the table it returns."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import attnwidget as aw
from attnwidget.analysis import ROLES, HeadRoles, heads_figure
from attnwidget.errors import SelectionError
from attnwidget.store import Capture

T = 10


def capture_of(*maps, kind="self", info=None, samples=1):
    """A capture of one site whose heads are the given [query, key] maps (repeated over samples)."""
    cap = Capture()
    arr = np.stack(maps)[None].repeat(samples, 0).astype(np.float32)
    cap.add("site", 0, arr, kind=kind, info=info)
    return cap


def previous_map(n=T):
    m = np.zeros((n, n))
    m[0, 0] = 1
    m[np.arange(1, n), np.arange(n - 1)] = 1
    return m


def sink_map(n=T):
    m = np.zeros((n, n))
    m[:, 0] = 1
    return m


def causal_uniform(n=T):
    m = np.tril(np.ones((n, n)))
    return m / m.sum(-1, keepdims=True)


def test_a_pure_previous_token_head():
    (row,) = aw.heads(capture_of(previous_map()))
    assert row["role"] == "previous"
    assert row["previous"] == pytest.approx(1.0)
    assert row["own"] == pytest.approx(0.0)
    # rows 1..9 are scored (row 0 sees one key); only row 1's previous token is the first
    assert row["rows"] == T - 1
    assert row["first"] == pytest.approx(1 / (T - 1))
    assert row["broad"] == pytest.approx(0.0) and row["entropy"] == pytest.approx(0.0)
    assert row["max"] == pytest.approx(1.0)
    # row i sees i + 1 keys of which i carry no weight
    assert row["sparsity"] == pytest.approx(np.mean([i / (i + 1) for i in range(1, T)]))
    assert math.isnan(row["same"]) and math.isnan(row["induction"])  # no tokens given


def test_a_sink_head_and_an_own_token_head():
    sink, own = aw.heads(capture_of(sink_map(), np.eye(T)))
    assert sink["role"] == "first" and sink["first"] == pytest.approx(1.0)
    assert sink["previous"] == pytest.approx(1 / (T - 1))  # row 1's previous token is the first
    assert own["role"] == "own" and own["own"] == pytest.approx(1.0) and own["previous"] == 0


def test_uniform_heads_are_broad_causal_or_not():
    full, causal = aw.heads(capture_of(np.full((T, T), 1 / T), causal_uniform()))
    # together the two heads are not causal: every row sees all T keys
    assert full["broad"] == pytest.approx(1.0) and full["role"] == "broad"
    assert full["entropy"] == pytest.approx(math.log(T))
    assert full["previous"] == pytest.approx(1 / T) and full["local"] == pytest.approx(
        np.mean([(min(i + 2, T - 1) - max(i - 2, 0) + 1) / T for i in range(T)])
    )
    # the causal head seen alongside a bidirectional one: its row i spreads over i + 1 of T keys
    expected = np.mean([math.log(i + 1) / math.log(T) for i in range(T)])
    assert causal["broad"] == pytest.approx(expected)
    # alone, the site is read as causal, and the same head is perfectly broad
    (alone,) = aw.heads(capture_of(causal_uniform()))
    assert alone["broad"] == pytest.approx(1.0) and alone["rows"] == T - 1
    assert alone["previous"] == pytest.approx(np.mean([1 / (i + 1) for i in range(1, T)]))
    assert alone["sparsity"] == 0


def test_local_window_counts_plus_minus_w():
    band = np.zeros((T, T))
    for i in range(T):
        lo, hi = max(i - 3, 0), min(i + 3, T - 1)
        band[i, lo : hi + 1] = 1 / (hi - lo + 1)
    (w2,) = aw.heads(capture_of(band))
    (w3,) = aw.heads(capture_of(band), window=3)
    assert w3["local"] == pytest.approx(1.0)
    expected = np.mean(
        [(min(i + 2, T - 1) - max(i - 2, 0) + 1) / (min(i + 3, T - 1) - max(i - 3, 0) + 1) for i in range(T)]
    )
    assert w2["local"] == pytest.approx(expected)
    assert w3["role"] == "local"


def test_induction_and_same_token_need_tokens():
    seq = ["a", "b", "c", "d", "e", "a", "b", "c", "d", "e"]
    ind = np.zeros((T, T))
    same = np.zeros((T, T))
    for q in range(T):
        ind[q, q - 4 if q >= 5 else 0] = 1  # after the earlier copy of seq[q] came seq[q - 4]
        same[q, q - 5 if q >= 5 else q] = 1  # the earlier copy itself
    induction, copy = aw.heads(capture_of(ind, same), tokens=seq)
    assert induction["induction"] == pytest.approx(1.0) and induction["role"] == "induction"
    assert copy["same"] == pytest.approx(1.0) and copy["induction"] == pytest.approx(0.0)
    # same: rows 5..9 have another copy; in the first half only row q's own token matches
    assert induction["same"] == pytest.approx(0.0)
    assert copy["role"] == "same"
    # tokens per sample: the second sample has no repeat, so only the first sample's rows count
    two = capture_of(ind, same, samples=2)
    rows = aw.heads(two, tokens=[seq, list("abcdefghij")])
    assert rows[0]["induction"] == pytest.approx(1.0)


def test_zero_rows_and_padding_are_not_valid_positions():
    m = previous_map(6)
    padded = np.zeros((T, T))
    padded[:6, :6] = m
    # collect zero-pads a shorter sample: rows and keys past its length are padding
    cap = Capture()
    arr = np.stack([np.stack([padded]), np.stack([previous_map(T)])]).astype(np.float32)
    cap.add("site", 0, arr, kind="self", info={"padded": True})
    (row,) = aw.heads(cap)
    assert row["rows"] == 5 + (T - 1)
    assert row["previous"] == pytest.approx(1.0)
    # the padding of the short sample does not count as keys that got no weight
    expected = np.mean([i / (i + 1) for i in range(1, 6)] + [i / (i + 1) for i in range(1, T)])
    assert row["sparsity"] == pytest.approx(expected)


def test_mask_names_padding_the_capture_cannot_see():
    # a bidirectional head with padding masked by a finite value: padded keys get 0, padded rows spread
    w = np.zeros((T, T))
    w[:, :6] = 1 / 6
    cap = capture_of(w)
    (unmasked,) = aw.heads(cap)
    assert unmasked["broad"] == pytest.approx(math.log(6) / math.log(T))
    mask = np.zeros((1, T), bool)
    mask[0, :6] = True
    (masked,) = aw.heads(cap, mask=mask)
    assert masked["broad"] == pytest.approx(1.0) and masked["rows"] == 6
    with pytest.raises(ValueError, match="one row per sample"):
        aw.heads(cap, mask=np.ones((2, T)))
    # a mask of another length describes other sites: this one is read without it
    (other,) = aw.heads(cap, mask=np.ones((1, T + 3)))
    assert other["broad"] == unmasked["broad"] and other["rows"] == T


def test_kv_cache_step_queries_are_the_last_positions():
    # one query row at position 7 of 8 keys, attending to position 6
    cap = Capture()
    w = np.zeros((1, 2, 1, 8), np.float32)
    w[0, 0, 0, 6] = 1
    w[0, 1, 0, 7] = 1
    cap.add("site", 0, w, kind="self")
    prev, own = aw.heads(cap)
    assert prev["previous"] == 1 and prev["own"] == 0 and prev["role"] == "previous"
    assert own["own"] == 1 and own["previous"] == 0


def test_cross_attention_has_no_shared_positions():
    w = np.zeros((6, 4))
    w[:, 0] = 1
    (row,) = aw.heads(capture_of(w, kind="cross"))
    assert row["first"] == 1 and row["role"] == "first"
    for score in ("previous", "own", "local", "induction"):
        assert math.isnan(row[score])
    # same token compares query and key tokens
    copy = np.zeros((3, 3))
    copy[0, 2] = copy[1, 0] = copy[2, 1] = 1
    (row,) = aw.heads(
        capture_of(copy, kind="cross"), tokens={"query": ["x", "y", "z"], "key": ["y", "z", "x"]}
    )
    assert row["same"] == 1


def test_heads_of_a_real_model_a_table_pandas_takes():
    pd = pytest.importorskip("pandas")
    torch.manual_seed(0)
    model = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True), 2
    ).eval()
    x = torch.randn(3, 7, 16)
    with aw.capture(model) as cap:
        model(x)
    roles = aw.heads(cap)
    assert isinstance(roles, HeadRoles) and isinstance(roles, list) and len(roles) == 8
    frame = pd.DataFrame(roles)
    assert list(frame.columns) == list(roles.columns) and frame.shape == (8, len(roles.columns))
    arr = roles.to_numpy()
    assert arr.dtype.names == roles.columns and arr.shape == (8,)
    assert np.array_equal(arr["broad"], frame["broad"].to_numpy())
    assert np.array_equal(roles.array["head"], [0, 1, 2, 3] * 2)
    for score in ("previous", "first", "own", "local", "broad", "max", "sparsity"):
        assert ((arr[score] >= 0) & (arr[score] <= 1)).all(), score
    assert set(arr["role"]) <= set(ROLES) | {"other"}
    assert roles.grid("broad").shape == (2, 4)
    best = roles.best("previous")[0]
    assert best["previous"] == arr["previous"].max()
    # the scores agree with the weights: head 0's own-token score is the mean diagonal
    w = cap.get(0).astype(np.float64)[:, 0]
    assert roles[0]["own"] == pytest.approx(np.mean([w[:, i, i] for i in range(7)]), rel=1e-5)


def test_heads_figure_is_drawn_and_saved(tmp_path):
    cap = capture_of(previous_map(), sink_map(), np.full((T, T), 1 / T))
    fig = heads_figure(cap, path=tmp_path / "roles.png")
    assert (tmp_path / "roles.png").stat().st_size > 1000
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["previous", "first", "broad"]
    # the previous-token cell is drawn in the previous role's colour
    from matplotlib.colors import to_rgb

    from attnwidget.analysis import ROLE_COLORS

    rgb = ax.get_images()[0].get_array()[0, 0]
    assert np.allclose(rgb, to_rgb(ROLE_COLORS["previous"]), atol=1e-6)


def test_an_empty_key_axis_scores_nothing_and_does_not_fail():
    cap = Capture()
    cap.add("site", 0, np.zeros((2, 3, 4, 0), np.float32), kind="cross")
    rows = aw.heads(cap)
    assert len(rows) == 3 and all(r["rows"] == 0 and math.isnan(r["broad"]) for r in rows)
    assert [f for f in aw.check(cap)] == []


def test_errors_say_what_to_do():
    cap = capture_of(previous_map())
    with pytest.raises(SelectionError, match="ran at steps 0"):
        aw.heads(cap, step=3)
    with pytest.raises(ValueError, match="window"):
        aw.heads(cap, window=-1)
    tapped = Capture()
    tapped.add("gate", 0, np.ones((2, 3), np.float32), kind="weights", axes=("sample", "token"))
    with pytest.raises(SelectionError, match="self- or cross-attention"):
        aw.heads(tapped)
    with pytest.raises(ValueError, match="one token sequence per sample"):
        aw.heads(capture_of(previous_map(), samples=2), tokens=[list("abcdefghij")] * 3)


def test_statistics_alone_are_scored_on_their_mean_map():
    class Shift(torch.nn.Module):
        def forward(self, x):
            n = x.shape[1]
            mask = torch.zeros(n, n, dtype=torch.bool)
            mask[0, 0] = True
            mask[torch.arange(1, n), torch.arange(n - 1)] = True
            q = x[:, None]
            return F.scaled_dot_product_attention(q, q, q, attn_mask=mask)

    data = [(torch.randn(4, 6, 8), torch.tensor([0, 1, 0, 1])) for _ in range(2)]
    cap = aw.collect(Shift().eval(), data, keep="stats", labels=1, progress=False)
    (row,) = aw.heads(cap)
    assert row["source"] == "mean map" and row["previous"] == pytest.approx(1.0, abs=1e-6)
