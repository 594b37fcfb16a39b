"""ImageOverlay and cls_overlay take one image per sample: sample k is laid over image k.

The model is the vision lesson's ViT (seeded, untrained: where it looks does
not matter here, which image it is laid over does), captured on four digits
of two classes. Pixels are compared with the images given, both in what the
widget sends and in the figures drawn from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import attnwidget as aw
from attnwidget.figures import cls_overlay, view_figure
from attnwidget.figures.overlay import sample_images

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
if str(NOTEBOOKS) not in sys.path:
    sys.path.insert(0, str(NOTEBOOKS))

from lessons import vision  # noqa: E402

#: four held-out digits, two of class 1 and two of class 7, interleaved
PICK = [0, 1, 5, 9]


@pytest.fixture(scope="module")
def digits():
    _, _, images, labels = vision.load_digits()
    images, labels = images[PICK], labels[PICK]
    assert labels.tolist() == [1, 7, 1, 7]
    torch.manual_seed(0)
    model = vision.ViT().eval()
    with torch.no_grad(), aw.capture(model) as cap:
        model(torch.from_numpy(images))
    cap.labels = labels
    return cap, images


def rgb(image: np.ndarray) -> np.ndarray:
    """What a grey float image in 0..1 becomes on the wire and in a figure: ``[h, w, 3]`` uint8."""
    grey = np.rint(np.asarray(image, np.float64) * 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=-1)


def sent(ov) -> np.ndarray:
    """The RGB pixels of the image the widget sends now."""
    return np.frombuffer(ov._image, np.uint8).reshape(ov._image_meta["shape"])[..., :3]


def image_axes(fig):
    return next(ax for ax in fig.axes if ax.get_title() != "patch attention" and ax.images)


def overlay(cap, image, **kw):
    return aw.ImageOverlay(cap, image, patch_grid=vision.PATCH_GRID, site="layers.2.self_attn", **kw)


def bigger(image: np.ndarray, factor: int) -> np.ndarray:
    return np.kron(image, np.ones((factor, factor), image.dtype))


@pytest.mark.parametrize("form", ["list", "batch", "torch batch", "uint8 rgb batch"])
def test_sample_k_sends_image_k(digits, form):
    cap, images = digits
    given = {
        "list": [bigger(im, k + 1) for k, im in enumerate(images)],  # sizes differ
        "batch": images,  # [4, 8, 8]
        "torch batch": torch.from_numpy(images)[:, None],  # [4, 1, 8, 8]
        "uint8 rgb batch": np.stack([rgb(im) for im in images]),  # [4, 8, 8, 3]
    }[form]
    expected = [rgb(bigger(im, k + 1)) if form == "list" else rgb(im) for k, im in enumerate(images)]
    ov = overlay(cap, given)
    assert ov.num_images == 4
    for k in [0, 1, 2, 3, 1]:
        ov.sample = k
        assert ov._image_meta["sample"] == k and ov._image_meta["caption"] is None
        assert np.array_equal(sent(ov), expected[k]), k
        assert np.array_equal(ov.describe().image, expected[k])
    assert not np.array_equal(expected[0], expected[1])  # the check could fail


def test_a_sample_of_a_class_shows_its_own_image(digits):
    cap, images = digits
    ov = overlay(cap, list(images), label=7, sample=1)  # the second 7 is sample 3 of all
    assert ov._image_meta["sample"] == 3 and np.array_equal(sent(ov), rgb(images[3]))
    ov.label = 1
    assert ov._image_meta["sample"] == 2 and np.array_equal(sent(ov), rgb(images[2]))


def test_the_figure_of_sample_k_draws_image_k(digits):
    cap, images = digits
    ov = overlay(cap, images, head=1)
    for k in range(4):
        ov.sample = k
        fig = view_figure(ov)
        assert np.array_equal(np.asarray(image_axes(fig).images[0].get_array()), rgb(images[k])), k
        fig = cls_overlay(cap, "layers.2.self_attn", image=images, sample=k, grid=vision.PATCH_GRID)
        assert np.array_equal(np.asarray(image_axes(fig).images[0].get_array()), rgb(images[k])), k
    fig = cls_overlay(cap, "layers.2.self_attn", image=list(images), label=7, sample=0)
    assert np.array_equal(np.asarray(image_axes(fig).images[0].get_array()), rgb(images[1]))


def test_a_count_that_is_not_the_samples_says_what_to_pass(digits):
    cap, images = digits
    with pytest.raises(
        ValueError, match=r"3 images \(a list\) but site 'layers.2.self_attn' holds 4 samples"
    ):
        overlay(cap, list(images[:3]))
    with pytest.raises(ValueError, match=r"5 images .* holds 4 samples: pass one image per sample"):
        overlay(cap, np.concatenate([images, images[:1]]))  # [5, 8, 8]
    with pytest.raises(ValueError, match="2 images"):
        overlay(cap, torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="holds 4 samples"):
        cls_overlay(cap, image=list(images[:2]))
    with pytest.raises(ValueError, match="read channels-last"):
        overlay(cap, np.zeros((4, 3, 8, 8)))  # a numpy batch is [N, H, W, C]


def test_the_mean_over_samples_shows_no_image_and_says_so(digits):
    cap, images = digits
    ov = overlay(cap, [bigger(im, 2) for im in images], sample=2)
    ov.sample = "mean"
    assert ov.describe().image is None
    assert ov._image_meta["sample"] is None and ov._image_meta["caption"] == "no image: a mean over samples"
    assert ov._frame_meta["title"].endswith("mean of samples · query 0 · no single image")
    # white of the size shown last, so the canvas keeps its size and the heat is drawn alone
    assert ov._image_meta["shape"] == [16, 16, 4] and set(ov._image) == {255}
    fig = view_figure(ov)
    ax = image_axes(fig)
    assert ax.get_title() == "no image: a mean over samples" and len(ax.images) == 1  # the heat alone
    fig = cls_overlay(cap, image=images, sample="mean")
    assert image_axes(fig).get_title() == "no image: a mean over samples"
    ov.sample = 0
    assert (
        np.array_equal(sent(ov), rgb(bigger(images[0], 2)))
        and "no single image" not in ov._frame_meta["title"]
    )


def test_the_image_travels_only_when_the_sample_changes(digits):
    cap, images = digits
    ov = overlay(cap, images)
    changes = []
    ov.observe(lambda change: changes.append(change["name"]), names=["_image", "_image_meta"])
    first = ov._image
    ov.head = 2
    ov.query = 3
    ov.layer = 1
    assert changes == [] and ov._image is first  # not even re-encoded and assigned again
    ov.sample = 1
    assert changes == ["_image_meta", "_image"]
    ov.sample = 0
    assert ov._image is first  # a recent image is kept encoded, not encoded again
    ov.head = 0
    assert len(changes) == 4


def test_one_image_is_every_samples_as_before(digits):
    cap, images = digits
    one = rgb(images[0])
    ov = overlay(cap, one)
    assert ov.num_images == 1
    for sample in [0, 3, "mean"]:
        ov.sample = sample
        assert np.array_equal(sent(ov), one) and ov._image_meta["sample"] is None
        assert "no single image" not in ov._frame_meta["title"]
    assert np.array_equal(ov.describe().image, one)
    fig = cls_overlay(cap, image=images[0], sample="mean")
    assert np.array_equal(np.asarray(image_axes(fig).images[0].get_array()), one)


def test_how_a_3d_array_is_read(digits):
    cap, _ = digits
    assert sample_images(np.zeros((4, 8, 8)), 4) is not None  # 4 grey images for 4 samples
    assert sample_images(np.zeros((3, 8, 8)), 4) is None  # one channels-first image
    assert sample_images(np.zeros((8, 8, 3)), 8) is None  # channels last: one image
    assert sample_images(np.zeros((1, 8, 8)), 1) is None  # one grey image, either way
    with pytest.raises(ValueError, match=r"5 images \(an array of shape \(5, 8, 8\), read as \[N, H, W\]\)"):
        sample_images(np.zeros((5, 8, 8)), 4)


def test_a_new_capture_must_have_as_many_samples(digits):
    cap, images = digits
    model = vision.ViT().eval()
    ov = overlay(cap, list(images), sample=3)
    with torch.no_grad(), aw.capture(model) as two:
        model(torch.from_numpy(images[:2]))
    with pytest.raises(ValueError, match="holds 2 samples .* has 4 images, one per sample"):
        ov.capture = two
    assert ov.cap is cap and np.array_equal(sent(ov), rgb(images[3]))
    with torch.no_grad(), aw.capture(model) as again:
        model(torch.from_numpy(images))
    ov.capture = again
    assert ov.cap is again and ov._image_meta["sample"] == 3 and np.array_equal(sent(ov), rgb(images[3]))
