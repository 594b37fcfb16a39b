"""ImageOverlay: the CLS row on the patch grid, the image as RGBA bytes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import attnwidget as aw


def test_cls_row_on_the_patch_grid(vit_cap):
    image = np.zeros((32, 32, 3), np.uint8)
    ov = aw.ImageOverlay(vit_cap, image, head=1, sample=1)
    fr = ov.frame()
    assert fr.shape == (4, 4)
    np.testing.assert_allclose(fr.values, vit_cap.get(0)[1, 1, 0, 1:].reshape(4, 4))
    assert fr.selection["skipped_keys"] == 1
    assert ov._frame_meta["shape"] == [4, 4] and len(ov._frame) == 16
    ov.query = 5
    np.testing.assert_allclose(ov.frame().values, vit_cap.get(0)[1, 1, 5, 1:].reshape(4, 4))


def test_image_travels_as_rgba_bytes(vit_cap):
    chw = torch.rand(3, 20, 30)  # a channels-first float tensor
    ov = aw.ImageOverlay(vit_cap, image=chw, patch_grid=(4, 4))
    assert ov._image_meta["shape"] == [20, 30, 4]
    pixels = np.frombuffer(ov._image, np.uint8).reshape(20, 30, 4)
    assert (pixels[..., 3] == 255).all()
    np.testing.assert_array_equal(pixels[..., 0], np.rint(chw[0].numpy() * 255).astype(np.uint8))


def test_bad_image_and_grid_say_what_to_pass(vit_cap):
    with pytest.raises(TypeError, match="needs the input image"):
        aw.ImageOverlay(vit_cap)
    with pytest.raises(ValueError, match=r"\[H, W\], \[H, W, 3\|4\]"):
        aw.ImageOverlay(vit_cap, np.zeros((2, 3, 4, 5)))
    ov = aw.ImageOverlay(vit_cap, np.zeros((8, 8)), patch_grid=(5, 5))
    assert "needs 25 keys" in ov._frame_meta["error"]


def test_opacity_is_bounded(vit_cap):
    ov = aw.ImageOverlay(vit_cap, np.zeros((8, 8, 3), np.uint8), opacity=0.3)
    assert ov.opacity == 0.3
    with pytest.raises(Exception):
        ov.opacity = 1.5
