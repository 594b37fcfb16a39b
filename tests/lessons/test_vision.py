"""Lesson 2: the digits ViT classifies, and its CLS token looks at the ink."""

import numpy as np
import pytest
import torch
from lessons import vision
from lessons._cache import trained

import attnwidget as aw


def test_patchify_keeps_pixels_in_grid_order():
    img = torch.arange(64, dtype=torch.float32).reshape(1, 8, 8)
    p = vision.patchify(img)
    assert p.shape == (1, 16, 4)
    assert p[0, 0].tolist() == [0, 1, 8, 9]  # top-left 2x2
    assert p[0, 5].tolist() == [18, 19, 26, 27]  # row 1, column 1
    assert vision.tokens()[:2] == ["CLS", "0,0"] and len(vision.tokens()) == 17


def test_ink_mask_finds_ink():
    img = np.zeros((1, 8, 8), np.float32)
    img[0, 2:4, 4:6] = 1.0
    mask = vision.ink_mask(img)
    assert mask.sum() == 1 and mask[0, 1, 2]
    att = np.zeros((1, 4, 4))
    att[0, 1, 2] = 3
    att[0, 0, 0] = 1
    assert vision.ink_mass(att, img) == {"on_ink": 0.75, "ink_area": 1 / 16}


@pytest.fixture(scope="module")
def captured():
    model, report = trained(vision, steps=800)
    _, _, images, labels = vision.load_digits()
    images = images[:100]
    with aw.capture(model) as cap:
        logits = model(torch.from_numpy(images))
    return model, report, cap, images, labels[:100], logits


def test_classifies_held_out_digits(captured):
    _, report, _, _, labels, logits = captured
    assert report["test_accuracy"] >= 0.8
    assert (logits.argmax(-1).numpy() == labels).mean() >= 0.8


def test_capture_has_one_site_per_layer(captured):
    _, _, cap, images, _, _ = captured
    assert vision.self_attention_layers(cap) == [f"layers.{i}.self_attn" for i in range(3)]
    assert cap.get("layers.0.self_attn").shape == (100, 4, 17, 17)
    assert vision.cls_attention(cap, 0).shape == (100, 4, 4)
    r = vision.cls_rollout(cap)
    assert r.shape == (100, 4, 4) and np.allclose(r.sum(axis=(1, 2)), 1, atol=1e-5)


def test_cls_attention_lies_mostly_on_ink(captured):
    _, _, cap, images, _, _ = captured
    best = max(
        vision.ink_mass(vision.cls_attention(cap, name), images)["on_ink"]
        for name in vision.self_attention_layers(cap)
    )
    area = vision.ink_mass(vision.cls_attention(cap, 0), images)["ink_area"]
    assert best > 0.6 and best > area + 0.15
    assert vision.ink_mass(vision.cls_rollout(cap), images)["on_ink"] > area
