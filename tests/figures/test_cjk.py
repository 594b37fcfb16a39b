"""Korean and Japanese tokens draw as glyphs, not boxes, with the fonts of ``attnwidget[cjk]``.

The fonts come from ``koreanize-matplotlib`` (NanumGothic) and ``matplotlib-fontja``
(IPAexGothic), test dependencies: without them these tests fail and say what to install.
"Not a box" is checked three ways: the saved PNG (two Hangul tokens of the same length,
which as boxes are the same picture, differ), each character against matplotlib's own
missing-glyph drawing (a font without the character), and each character's font (found
from the label's own families) having the glyph.
"""

from __future__ import annotations

import sys
import warnings

import matplotlib
import numpy as np
import pytest
from matplotlib import font_manager, ft2font, image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

import attnwidget as aw
from attnwidget.figures import fonts, heatmap, save_figure

TOKENS = "안녕하세요 세계 번역".split() + ["こんにちは"]
#: a font matplotlib ships that has no Hangul and no kana: what a character looks like unfound
NO_CJK = "DejaVu Sans"


@pytest.fixture(scope="module", autouse=True)
def cjk_packages():
    found = fonts.cjk_font_files()
    missing = [package.replace("_", "-") for family, package, _ in fonts.CJK_FONTS if family not in found]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not installed: the fonts of attnwidget[cjk] are test "
            f"dependencies; run pip install -e '.[test]'"
        )


def _capture():
    a = np.random.default_rng(4).random((1, 2, len(TOKENS), len(TOKENS))).astype(np.float32)
    return aw.Capture.from_attentions({"x": a})


def _save(fig, path, dpi: int = 100) -> list[str]:
    """Save through the exporter; the warnings it gives, as text."""
    fig.set_dpi(dpi)  # so the canvas's label places are the PNG's pixels
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        save_figure(fig, path, dpi=dpi)
    return [str(w.message) for w in caught]


def _boxes(messages: list[str]) -> list[str]:
    return [m for m in messages if "show as boxes" in m or "missing from font" in m]


def _ink(text: str, prop: FontProperties) -> np.ndarray:
    """``text`` drawn alone, large, in ``prop``; the red channel cropped to its ink."""
    fig = Figure(figsize=(4, 1), dpi=100)
    fig.text(0.02, 0.25, text, fontproperties=prop, fontsize=36)
    canvas = FigureCanvasAgg(fig)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reference drawing of a missing glyph warns
        canvas.draw()
    return _crop(np.asarray(canvas.buffer_rgba())[..., 0])


def _crop(red: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(red < 250)
    assert rows.size, "nothing was drawn"
    return red[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    """How unlike two ink crops are, 0 (the same) to 1: the mean absolute difference, on a white pad,
    at the best of the shifts by up to a pixel.

    Text is placed to a fraction of a pixel, so one picture drawn at two places differs at its
    edges: two boxes as 9-point tick labels at 200 dpi by up to 0.08, drawn alone at one place
    by 0. A glyph and the box of its character differ by 0.29 and more.
    """
    h, w = max(a.shape[0], b.shape[0]) + 2, max(a.shape[1], b.shape[1]) + 2
    pa, pb = np.full((h, w), 255.0), np.full((h, w), 255.0)
    pa[1 : a.shape[0] + 1, 1 : a.shape[1] + 1] = a
    pb[1 : b.shape[0] + 1, 1 : b.shape[1] + 1] = b
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return min(float(np.abs(np.roll(pa, s, axis=(0, 1)) - pb).mean()) / 255 for s in shifts)


#: below: the same picture; above: different ones
ALIKE = 0.15


def _png_label_crops(png: str, fig, labels) -> dict[str, np.ndarray]:
    """The ink of each tick label in a saved PNG, found at the label's place on the canvas."""
    red = (image.imread(png)[..., 0] * 255).round()
    height = red.shape[0]
    renderer = FigureCanvasAgg(fig).get_renderer()  # the layout is the one the PNG was saved with
    crops = {}
    for t in labels:
        box = t.get_window_extent(renderer)
        top, bottom = int(height - box.y1) - 1, int(np.ceil(height - box.y0)) + 1
        left, right = int(box.x0) - 1, int(np.ceil(box.x1)) + 1
        crops[t.get_text()] = _crop(red[max(top, 0) : bottom, max(left, 0) : right])
    return crops


def _font_with(char: str, families: list[str]) -> str | None:
    """The file of the first of ``families`` that has a glyph for ``char`` (what matplotlib picks)."""
    for family in families:
        try:
            path = font_manager.findfont(FontProperties(family=family), fallback_to_default=False)
        except ValueError:
            continue
        if ft2font.FT2Font(path).get_char_index(ord(char)) != 0:
            return path
    return None


def test_hangul_and_kana_tokens_are_glyphs_in_the_png(artifacts):
    fig = heatmap(_capture(), "x", tokens=TOKENS)
    png = str(artifacts / "cjk_heatmap.png")
    assert _boxes(_save(fig, png, dpi=200)) == []
    ax = fig.axes[0]
    rows = [t for t in ax.get_yticklabels() if t.get_text()]
    assert [t.get_text() for t in rows] == TOKENS
    crops = _png_label_crops(png, fig, rows)

    # the control: the same labels drawn with a font that lacks Hangul are boxes, and two
    # two-syllable tokens are then the very same picture
    control = Figure(figsize=fig.get_size_inches(), layout="constrained")
    cax = control.add_subplot()
    cax.imshow(np.zeros((len(TOKENS), len(TOKENS))))
    size = rows[0].get_fontsize()
    cax.set_yticks(range(len(TOKENS)), TOKENS, fontfamily=[NO_CJK], fontsize=size)
    control_png = str(artifacts / "cjk_heatmap_boxes.png")
    assert _boxes(_save(control, control_png, dpi=200)), "the control should be drawn as boxes"
    boxes = _png_label_crops(control_png, control, [t for t in cax.get_yticklabels() if t.get_text()])
    assert _difference(boxes["세계"], boxes["번역"]) < ALIKE
    # ... and with the figure's own fonts they are two different words, and no token is its boxes
    assert _difference(crops["세계"], crops["번역"]) > ALIKE
    for token in TOKENS:
        assert _difference(crops[token], boxes[token]) > ALIKE, token


def test_every_token_character_has_a_glyph_not_the_box():
    fig = heatmap(_capture(), "x", tokens=TOKENS)
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    labels = [t for t in ax.get_xticklabels() + ax.get_yticklabels() if t.get_text()]
    assert sorted(t.get_text() for t in labels) == sorted(TOKENS * 2)
    box = FontProperties(family=[NO_CJK])
    for t in labels:
        families = t.get_fontfamily()
        assert "NanumGothic" in families and "IPAexGothic" in families, families
        for char in t.get_text():
            path = _font_with(char, families)
            assert path is not None, f"no font of {families} has {char!r}"
            # the reference is the missing-glyph drawing: DejaVu Sans really lacks the character
            assert ft2font.FT2Font(font_manager.findfont(box)).get_char_index(ord(char)) == 0
            ink = _ink(char, t.get_fontproperties())
            missing = _ink(char, box)
            assert _difference(ink, missing) > ALIKE, f"{char!r} is drawn as the missing-glyph box"
    # the reference is the box: the same picture for every character of one script
    assert _difference(_ink("세", box), _ink("계", box)) < ALIKE


def test_no_box_warning_and_the_users_rc_params_are_untouched(tmp_path):
    before = {k: v for k, v in matplotlib.rcParams.items() if k.startswith(("font.", "axes.unicode"))}
    fig = heatmap(_capture(), "x", tokens=TOKENS)
    for ext in ("png", "pdf", "svg"):
        assert _boxes(_save(fig, tmp_path / f"cjk.{ext}")) == [], ext
    after = {k: v for k, v in matplotlib.rcParams.items() if k.startswith(("font.", "axes.unicode"))}
    assert after == before
    assert matplotlib.rcParams["font.family"] == before["font.family"]
    # the packages set the global font when imported: they are read, never imported
    assert "koreanize_matplotlib" not in sys.modules and "matplotlib_fontja" not in sys.modules
    # the PDF embeds the two fonts it drew the tokens with
    pdf = (tmp_path / "cjk.pdf").read_bytes()
    assert b"NanumGothic" in pdf and b"IPAexGothic" in pdf


def test_label_fonts_lead_with_the_users_font():
    with matplotlib.rc_context({"font.family": ["serif"]}):
        assert fonts.label_fonts()[0] == "serif"
    families = fonts.label_fonts()
    assert families[0] == matplotlib.rcParams["font.family"][0]
    # IPAexGothic before NanumGothic: a Japanese token takes every character from one font
    assert families.index("IPAexGothic") < families.index("NanumGothic")


def test_the_warning_says_what_to_install(tmp_path, monkeypatch):
    zh = ["这个", "语言"]  # simplified-only characters: in neither font of the extra
    if any(_font_with(c, [f.name for f in font_manager.fontManager.ttflist]) for c in "这语"):
        pytest.skip("an installed system font has simplified Chinese, so nothing is drawn as a box")
    a = np.random.default_rng(0).random((1, 1, 2, 2)).astype(np.float32)
    fig = heatmap(aw.Capture.from_attentions({"x": a}), "x", tokens=zh)
    (message,) = [m for m in _save(fig, tmp_path / "zh.png") if "show as boxes" in m]
    assert "lack them too" in message and "Noto Sans CJK SC" in message
    # where the extra is not installed, the advice is to install it
    monkeypatch.setattr(fonts, "CJK_FONTS", (("NoSuchFont", "no_such_attnwidget_font_package", "fonts"),))
    assert "pip install 'attnwidget[cjk]'" in fonts.missing_glyph_advice()
