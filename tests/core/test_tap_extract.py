"""aw.tap and extract=: attention that model authors compute themselves."""

import numpy as np
import pytest
import torch
from torch import nn

import attnwidget as aw


class LayerPool(nn.Module):
    """Learned weights over a stack of layers, and attention pooling over frames (seed 000)."""

    def __init__(self, layers=4, dim=8):
        super().__init__()
        self.score = nn.Linear(dim, 1)
        self.layer_logits = nn.Parameter(torch.randn(layers))

    def forward(self, x):  # x: [sample, layer, frame, dim]
        frames = torch.softmax(self.score(x).squeeze(-1), dim=-1)
        aw.tap("temporal", frames, axes=("sample", "layer", "frame"))
        layer_w = torch.softmax(self.layer_logits, 0).expand(x.shape[0], -1)
        aw.tap("layers", layer_w)
        return (frames.unsqueeze(-1) * x).sum(2).mul(layer_w.unsqueeze(-1)).sum(1)


class OwnAttention(nn.Module):
    """Hand-written attention that keeps its weights in an attribute and returns them."""

    def __init__(self, dim=8):
        super().__init__()
        self.qk = nn.Linear(dim, 2 * dim)

    def forward(self, x):
        q, k = self.qk(x).chunk(2, -1)
        self.attn = torch.softmax(q @ k.transpose(1, 2) / 8**0.5, -1)
        return self.attn @ x, self.attn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = LayerPool()
        self.blocks = nn.ModuleList([OwnAttention(), OwnAttention()])

    def forward(self, x):
        y = self.pool(x)
        seq = x[:, 0]
        for b in self.blocks:
            seq, _ = b(seq)
        return y, seq


def test_tap_names_sites_after_the_module_and_keeps_axes():
    net, x = Net().eval(), torch.randn(3, 4, 5, 8)
    with torch.no_grad(), aw.capture(net) as cap:
        y, _ = net(x)
    assert cap.layers == ["pool.temporal", "pool.layers"]
    assert cap.kinds == {"pool.temporal": "weights", "pool.layers": "weights"}
    assert cap.axes["pool.temporal"] == ("sample", "layer", "frame")
    assert cap.get("pool.temporal").shape == (3, 4, 5)
    assert np.allclose(cap.get("pool.layers").sum(-1), 1.0, atol=1e-6)
    # outside a capture tap is the identity and records nothing
    t = torch.rand(2, 3)
    assert aw.tap("x", t) is t
    assert torch.equal(net(x)[0], y)


def test_tap_rejects_mismatched_axes_and_cleans_up():
    net = Net()
    bad = torch.rand(2, 3, 4)
    with pytest.raises(ValueError, match=r"2 axis names \('sample', 'frame'\) for a tensor with 3 axes"):
        with aw.capture(net):
            aw.tap("bad", bad, axes=("sample", "frame"))
    with pytest.raises(ValueError, match="needs axes"):
        with aw.capture(net):
            aw.tap("bad", bad)
    # the engine hooks every module through torch's global hooks: none may outlive the block
    assert not global_hooks()


def global_hooks() -> list:
    """The module hooks torch calls for every module (what ``aw.capture`` registers)."""
    from torch.nn.modules import module

    return [*module._global_forward_hooks.values(), *module._global_forward_pre_hooks.values()]


class Boom(nn.Module):
    def forward(self, x):
        raise RuntimeError("boom")


def test_global_hooks_are_registered_in_the_block_and_removed_after_it():
    net, x = Net().eval(), torch.randn(2, 4, 5, 8)
    before = global_hooks()
    with torch.no_grad(), aw.capture(net):
        assert len(global_hooks()) > len(before)  # what the checks below look at is the engine's
        net(x)
    assert global_hooks() == before
    failing = nn.Sequential(Net(), Boom())
    with pytest.raises(RuntimeError, match="boom"):
        with torch.no_grad(), aw.capture(failing):
            failing(x)
    assert global_hooks() == before


@pytest.mark.parametrize("extract", ["attn", 1, lambda module, inputs, output: module.attn])
def test_extract_by_attribute_index_or_callable(extract):
    net, x = Net().eval(), torch.randn(2, 4, 5, 8)
    with torch.no_grad(), aw.capture(net, include="blocks.*", extract=extract) as cap:
        net(x)
    assert cap.layers == ["blocks.0", "blocks.1"]
    with torch.no_grad():
        seq = x[:, 0]
        expected = net.blocks[0](seq)[1]
    assert np.allclose(cap.get("blocks.0")[:, 0], expected.numpy(), atol=1e-6)


def test_include_matching_nothing_and_models_without_attention():
    net = Net()
    with pytest.raises(
        LookupError, match=r"\['decoder\.\*'\] matched no attention site; sites that ran: pool\.temporal"
    ):
        with aw.capture(net, include=["decoder.*"]):
            net(torch.randn(1, 4, 5, 8))
    mlp = nn.Sequential(nn.Linear(3, 3), nn.ReLU())
    with pytest.raises(LookupError, match="no attention sites ran in Sequential"):
        with aw.capture(mlp):
            mlp(torch.randn(2, 3))
    with pytest.raises(TypeError, match="extract= needs include="):
        aw.capture(mlp, extract="attn")
