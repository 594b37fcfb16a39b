"""collect(checkpoint=...) resumes only the run that wrote the checkpoint: model and code are fingerprinted.

Also: predict= must give one value per sample (a ValueError naming the batch otherwise).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from _collect_models import Tiny, batches, data, model

import attnwidget as aw
from attnwidget._collect import loop as loop_module
from attnwidget._collect.checkpoint import code_text, fingerprint, read_checkpoint, write_checkpoint
from attnwidget.errors import CaptureMismatchError

OPTIONS = dict(num_samples=40, labels=1, keep="both", progress=False)


def argmax(out):
    return out.argmax(-1)


def first_half(ids, labels):
    """A checkpoint of the first 2 of 5 batches, as an interrupted run leaves it."""
    return batches(ids, labels, 8)[:2]


def start(path, m=None, **kw):
    ids, labels = data(40)
    aw.collect(
        m if m is not None else model(),
        first_half(ids, labels),
        checkpoint=path,
        **dict(OPTIONS, **{"predict": argmax, **kw}),
    )
    return ids, labels


def resume(path, m=None, **kw):
    ids, labels = data(40)
    return aw.collect(
        m if m is not None else model(),
        batches(ids, labels, 8),
        checkpoint=path,
        **dict(OPTIONS, **{"predict": argmax, **kw}),
    )


def refused(path, match: str, **kw) -> str:
    before = open(path, "rb").read()
    with pytest.raises(CaptureMismatchError, match=match) as e:
        resume(path, **kw)
    msg = str(e.value)
    assert "delete the file to start over" in msg and "another checkpoint= path" in msg
    assert open(path, "rb").read() == before, "a refused resume must leave the checkpoint as it was"
    return msg


def test_another_model_of_the_same_architecture_is_refused(tmp_path):
    path = tmp_path / "run.npz"
    start(path)
    torch.manual_seed(1)
    other = Tiny().eval()  # same names and shapes, other weights: 24 + 16 samples of two models, today
    msg = refused(path, r"the model's parameters differ \(embed\.weight, blocks\.0\.qkv\.weight", m=other)
    assert isinstance(CaptureMismatchError(msg), ValueError)


def test_a_fine_tuned_or_edited_model_is_refused_naming_the_parameter(tmp_path):
    path = tmp_path / "run.npz"
    start(path)
    m = model()
    with torch.no_grad():
        m.blocks[1].qkv.weight.add_(1e-6 * torch.randn_like(m.blocks[1].qkv.weight))  # a tiny update
    refused(path, r"parameters differ \(blocks\.1\.qkv\.weight\)\.", m=m)
    m = model()
    with torch.no_grad():
        m.blocks[0].out.weight[9, 3] += 0.05  # one weight, away from the 16 values compared exactly
    refused(path, r"parameters differ \(blocks\.0\.out\.weight\)\.", m=m)


def test_another_dtype_or_architecture_is_refused(tmp_path):
    path = tmp_path / "run.npz"
    start(path)
    refused(path, r"dtypes differ \(embed\.weight: float32 there, float64 now", m=model().double())
    torch.manual_seed(0)
    refused(
        path, r"other parameters or buffers \(only there: blocks\.1\.qkv\.weight", m=Tiny(layers=1).eval()
    )


def test_another_forward_or_predict_function_is_refused(tmp_path):
    path = tmp_path / "run.npz"
    start(path)

    def forward(m, batch):
        return m(batch[0].flip(1))

    refused(
        path, r"forward= is a different function \(default_forward there, .*forward now\)", forward=forward
    )
    refused(path, r"predict= is a different function", predict=lambda out: out.argmin(-1))


def test_another_callable_of_the_same_name_is_refused(tmp_path):
    def make(flip: bool):
        if flip:

            def forward(m, batch):
                return m(batch[0].flip(1))
        else:

            def forward(m, batch):
                return m(batch[0])

        return forward

    def scaled(k):
        def forward(m, batch):
            return m(batch[0]) * k  # same code, other closure value

        return forward

    path = tmp_path / "run.npz"
    start(path, forward=make(False))
    assert make(False).__qualname__ == make(True).__qualname__
    refused(path, "forward= is a different function", forward=make(True))
    path2 = tmp_path / "run2.npz"
    start(path2, forward=scaled(1.0))
    refused(path2, "forward= is a different function", forward=scaled(-1.0))


def test_the_same_run_resumes_and_equals_the_uninterrupted_one(tmp_path):
    path = tmp_path / "run.npz"
    start(path, predict=lambda out: out.argmax(-1))
    header, _ = read_checkpoint(str(path))
    assert header["batches"] == 2 and header["fingerprint"]["model"]["tensors"][0]["name"] == "embed.weight"
    # a fresh model built the same way, and the same lambda written on another line: the same run
    got = resume(path, predict=lambda out: out.argmax(-1))
    ids, labels = data(40)
    want = aw.collect(model(), batches(ids, labels, 8), predict=argmax, **OPTIONS)
    np.testing.assert_array_equal(got.get(0), want.get(0))
    np.testing.assert_array_equal(got.labels, want.labels)
    np.testing.assert_array_equal(got.predictions, want.predictions)
    assert got.stats["blocks.0"][0]["count"][0] == 40


def test_a_checkpoint_without_a_fingerprint_resumes_with_a_warning(tmp_path):
    path = str(tmp_path / "run.npz")
    start(path)
    header, arrays = read_checkpoint(path)
    del header["fingerprint"]  # what a checkpoint of the previous release holds
    write_checkpoint(
        path, {k: v for k, v in header.items() if k not in ("format", "version", "values")}, arrays
    )
    with pytest.warns(UserWarning, match="cannot check them"):
        cap = resume(path)
    assert cap.stats["blocks.0"][0]["count"][0] == 40


def test_the_fingerprint_is_computed_once_per_call(tmp_path, monkeypatch):
    calls = []

    def counted(*args):
        calls.append(1)
        return fingerprint(*args)

    monkeypatch.setattr(loop_module, "fingerprint", counted)
    ids, labels = data(40)
    aw.collect(model(), batches(ids, labels, 4), checkpoint=tmp_path / "run.npz", every=4, **OPTIONS)
    assert calls == [1]
    aw.collect(model(), batches(ids, labels, 4), **OPTIONS)  # no checkpoint: nothing to match
    assert calls == [1]


def test_code_text_ignores_where_the_code_is_and_keeps_what_it_does():
    a = lambda out: out.argmax(-1)  # noqa: E731
    b = [0, lambda out: out.argmax(-1)][1]
    c = lambda out: out.argmax(0)  # noqa: E731
    assert code_text(a) == code_text(b) == "lambda(out): out.argmax(-1)\ndefaults=None\nkwdefaults=None"
    assert code_text(a) != code_text(c)

    class Scale:
        def __init__(self, k):
            self.k = k

        def __call__(self, m, batch):
            return m(batch[0]) * self.k

    assert code_text(Scale(1)) == code_text(Scale(1))  # no memory address in it
    assert "0x" not in code_text(Scale(1))


def test_predict_returning_the_wrong_number_of_values_names_the_batch():
    ids, labels = data(12)
    with pytest.raises(
        ValueError,
        match=r"predict= returned 3 value\(s\) for batch 0, which has 4 sample\(s\) and "
        r"labels",
    ):
        aw.collect(
            model(), batches(ids, labels, 4), labels=1, predict=lambda out: out.argmax(-1)[:3], progress=False
        )
    with pytest.raises(ValueError, match=r"returned 8 value\(s\) for batch 0"):
        aw.collect(model(), batches(ids, labels, 4), predict=lambda out: out.reshape(-1), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cap = aw.collect(model(), batches(ids, labels, 4), labels=1, predict=argmax, progress=False)
    assert len(cap.predictions) == len(cap.labels) == 12
