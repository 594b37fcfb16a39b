"""aw.record in a training loop: training is bit-identical with and without it, and what it keeps."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _record_models import VOCAB, TinyTransformer

import attnwidget as aw


def _noisy_forward(model, batch):
    # a probe that draws from every generator a training loop may use: each must be put back
    torch.rand(3)
    np.random.rand(2)
    random.random()
    return model(batch)


def _train(steps: int, every: int | None):
    """A seeded loop drawing batches from torch, numpy and Python's random; returns losses, weights, rec."""
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    model = TinyTransformer()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    probe = torch.arange(8)[None] % VOCAB
    rec = aw.record(model, probe, every=every, forward=_noisy_forward) if every else None
    model.train()
    losses = []
    for _ in range(steps):
        x = torch.randint(0, VOCAB, (4, 8))
        x[:, int(np.random.randint(0, 8))] = random.randrange(VOCAB)
        loss = F.cross_entropy(model(x).flatten(0, 1), x.roll(1, dims=1).flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
        if rec is not None:
            rec.step()
    return torch.stack(losses), model.state_dict(), rec


def test_training_is_bit_identical_with_and_without_the_recorder():
    plain_losses, plain_weights, _ = _train(12, None)
    losses, weights, rec = _train(12, 3)
    assert rec.labels == [0, 3, 6, 9, 12] and rec.capture.steps == 5
    assert torch.equal(losses, plain_losses)
    assert plain_weights.keys() == weights.keys()
    for name, value in plain_weights.items():
        assert torch.equal(weights[name], value), name
    # the weights changed as training went, so each record saw another model
    first, last = rec.capture.get(0, step=0), rec.capture.get(0, step=4)
    assert not np.array_equal(first, last)


def test_every_generator_is_put_back_exactly(tiny):
    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    rec = aw.record(tiny, torch.zeros(1, 6, dtype=torch.long), forward=_noisy_forward, start=False)
    before = torch.get_rng_state(), np.random.get_state(), random.getstate()
    rec.record()
    after = torch.get_rng_state(), np.random.get_state(), random.getstate()
    assert torch.equal(before[0], after[0])
    assert before[1][0] == after[1][0] and np.array_equal(before[1][1], after[1][1])
    assert before[1][2:] == after[1][2:]
    assert before[2] == after[2]
    # and the probe did draw from them: without putting back, the next numbers would differ
    torch.manual_seed(5)
    torch.rand(3)
    drawn = torch.rand(1)
    torch.set_rng_state(after[0])
    assert not torch.equal(torch.rand(1), drawn)


def test_modes_per_module_come_back_and_the_probe_runs_in_eval_without_grad(tiny):
    tiny.train()
    tiny.layer.eval()  # a frozen block stays in eval mode after the record
    modes = {name: m.training for name, m in tiny.named_modules()}
    inside = []

    def forward(model, batch):
        inside.append(([m.training for m in model.modules()], torch.is_grad_enabled()))
        return model(batch)

    rec = aw.record(tiny, torch.zeros(2, 5, dtype=torch.long), forward=forward)
    assert {name: m.training for name, m in tiny.named_modules()} == modes
    assert tiny.training and not tiny.layer.training and tiny.drop.training
    flags, grad = inside[0]
    assert not any(flags) and grad is False
    assert all(p.grad is None for p in tiny.parameters())
    assert rec.capture.steps == 1


def test_the_probe_is_fed_as_collect_feeds_a_batch(tiny):
    tiny.eval()
    x = torch.arange(6)[None] % VOCAB
    with torch.no_grad(), aw.capture(tiny) as direct:
        tiny(x)
    site = direct.layers[0]

    class Keyword(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, tokens):
            return self.inner(tokens)

    forms = [
        (tiny, x, None),  # a tensor: model(probe)
        (tiny, (x, torch.tensor([1])), None),  # a tuple: model(probe[0])
        (Keyword(tiny), {"tokens": x}, None),  # a dict: model(**probe)
        (tiny, {"ids": x}, lambda m, b: m(b["ids"])),  # forward=
    ]
    for model, probe, forward in forms:
        rec = aw.record(model, probe, forward=forward)
        name = [n for n in rec.capture.layers if n.endswith(site)][0]
        np.testing.assert_array_equal(rec.capture.get(name, step=0), direct.get(site))
    with pytest.raises(TypeError, match="forward=lambda model, batch"):
        aw.record(tiny, "not a batch")


def test_step_counts_optimiser_steps_and_records_when_due(tiny):
    rec = aw.record(tiny, torch.zeros(1, 4, dtype=torch.long), every=2)
    assert [rec.step() for _ in range(5)] == [False, True, False, True, False]
    assert rec.labels == [0, 2, 4] and rec.count == 5
    assert rec(6) is True and rec(6) is False  # a step number given twice is recorded once
    assert rec.step(7) is False and rec.count == 7
    assert rec.record(label=100) is rec.capture and rec.labels == [0, 2, 4, 6, 100]
    assert rec.capture.metadata["step_labels"] == [0, 2, 4, 6, 100]
    assert rec.capture.metadata["step_label_name"] == "training step"
    assert "5 record(s)" in repr(rec)


def test_bad_arguments_say_what_to_do(tiny):
    probe = torch.zeros(1, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="every must be a positive int"):
        aw.record(tiny, probe, every=0)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        aw.record(lambda x: x, probe)
    rec = aw.record(tiny, probe, start=False)
    with pytest.raises(ValueError, match="an int >= 0"):
        rec.step(-1)
    tiny.train()
    twice = aw.record(tiny, probe, forward=lambda m, b: (m(b), m(b)), start=False)
    with pytest.raises(ValueError, match="ran the model 2 times"):
        twice.record()
    assert tiny.training and twice.labels == []  # a failed record leaves the model as it was
    with pytest.raises(ValueError, match="recorded nothing yet"):
        aw.show(rec)


def test_the_capture_saves_loads_and_animates(tiny, tmp_path):
    tokens = ["a", "b", "c", "d"]
    rec = aw.record(tiny, torch.arange(4)[None], every=1, tokens=tokens, heads="mean")
    for _ in range(3):
        rec.step()
    cap = aw.load(rec.capture.save(tmp_path / "training.npz"))
    assert cap.steps == 4 and cap.metadata["step_labels"] == [0, 1, 2, 3]
    assert cap.tokens == tokens and cap.num_heads(0) == 1
    for step in range(4):
        np.testing.assert_array_equal(cap.get(0, step=step), rec.capture.get(0, step=step))
    fr = aw.frame(cap, 0, step=2)
    assert fr.title.endswith("training step 2") and fr.col_labels == tokens
    gif = aw.animate(cap, tmp_path / "training.gif", layer=0)
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames == 4
