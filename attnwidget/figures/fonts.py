"""Fonts for token labels: the user's font first, then fonts that have CJK and other scripts.

Token labels are drawn with a list of font families: matplotlib takes each
character from the first family in the list that has it (font fallback, in
the Agg, PDF, PS and SVG backends). The list is set on attnwidget's own text
artists (``fontfamily=label_fonts()``); the user's ``rcParams`` are never
changed. It is:

1. the user's ``rcParams["font.family"]`` (by default ``"sans-serif"``:
   DejaVu Sans), so Latin tokens look as in every other figure;
2. the system fonts of :data:`SYSTEM_FONTS` that are installed (Noto Sans CJK,
   Malgun Gothic, ...);
3. the fonts of the optional extra ``attnwidget[cjk]``
   (``pip install 'attnwidget[cjk]'``), where installed: IPAexGothic
   (Japanese kana and kanji, from ``matplotlib-fontja``) and then NanumGothic
   (Hangul, kana and the KS X 1001 hanja, from ``koreanize-matplotlib``).
   IPAexGothic comes first so a Japanese token takes all its characters from
   one Japanese font; Hangul is only in NanumGothic.

Those two packages exist to set matplotlib's global font when imported
(``matplotlib.rc("font", family=...)``), so they are never imported here: their
font files are found with :func:`importlib.util.find_spec`, which locates a
package without running it, and registered with
``matplotlib.font_manager.fontManager.addfont``. That happens once, the first
time a figure asks for :func:`label_fonts`: registering all five files takes
about 2.5 ms (measured with ``time.perf_counter`` around the calls), so it is
not worth deferring until a label turns out to need a glyph.

Neither set covers everything: characters found only in simplified Chinese
(这, 语) are in neither font, and need a system font such as Noto Sans CJK SC.
:func:`missing_glyph_advice` says which install helps, for the warning
:func:`attnwidget.figures.save_figure` gives when a glyph is drawn as a box.

The fonts are installed by pip from PyPI under their own licenses; attnwidget
ships none of them. IPAexGothic: the IPA Font License v1.0 (OSI approved;
redistribution and embedding in documents allowed; the license text is in
``matplotlib_fontja/fonts/``). NanumGothic: the SIL Open Font License 1.1 of
its publisher Naver (formerly NHN); the code of ``koreanize-matplotlib`` is
MIT.
"""

from __future__ import annotations

import importlib.util
import pathlib
from functools import lru_cache

__all__ = ["SYSTEM_FONTS", "CJK_FONTS", "label_fonts", "cjk_font_files", "missing_glyph_advice"]

#: installed system fonts with CJK, Hangul, Arabic... glyphs, tried in this order
SYSTEM_FONTS = (
    "Noto Sans CJK JP",
    "Noto Sans CJK KR",
    "Noto Sans CJK SC",
    "Noto Sans",
    "Malgun Gothic",
    "AppleGothic",
    "Arial Unicode MS",
    "Unifont",
)

#: the fonts of ``attnwidget[cjk]``: (family, the package that installs it, its folder of font files)
CJK_FONTS = (("IPAexGothic", "matplotlib_fontja", "fonts"), ("NanumGothic", "koreanize_matplotlib", "fonts"))

_EXTRA = "attnwidget[cjk]"


def cjk_font_files() -> dict[str, list[pathlib.Path]]:
    """The font files of the ``attnwidget[cjk]`` packages that are installed, by family.

    The packages are located, never imported (importing them changes
    matplotlib's global font). A family whose package is not installed is
    absent.

    Returns
    -------
    dict
        Family name -> the ``.ttf``/``.otf`` files in its package's font folder
        (regular and, where shipped, bold and light weights).
    """
    found: dict[str, list[pathlib.Path]] = {}
    for family, package, folder in CJK_FONTS:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):  # a broken install reads as not installed
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        for root in spec.submodule_search_locations:
            files = sorted(
                p for p in pathlib.Path(root, folder).glob("*") if p.suffix.lower() in (".ttf", ".otf")
            )
            if files:
                found[family] = files
                break
    return found


@lru_cache(maxsize=1)
def _registered() -> tuple[str, ...]:
    """Register the ``attnwidget[cjk]`` fonts with matplotlib, once; the families added."""
    from matplotlib import font_manager

    known = {f.fname for f in font_manager.fontManager.ttflist}
    families = []
    for family, files in cjk_font_files().items():
        for path in files:
            if str(path) not in known:
                font_manager.fontManager.addfont(path)
        families.append(family)
    return tuple(families)


@lru_cache(maxsize=1)
def _fallbacks() -> tuple[str, ...]:
    from matplotlib import font_manager

    extra = _registered()
    have = {f.name for f in font_manager.fontManager.ttflist}
    return tuple(f for f in SYSTEM_FONTS if f in have) + tuple(f for f in extra if f in have)


def label_fonts() -> list[str]:
    """Font families for token labels: the user's font, then installed fallbacks.

    The first call registers the fonts of ``attnwidget[cjk]`` with matplotlib
    where they are installed. Pass the list as ``fontfamily=`` to a text
    artist; ``rcParams`` are left alone.

    Returns
    -------
    list of str
        ``rcParams["font.family"]`` followed by the installed families of
        :data:`SYSTEM_FONTS` and :data:`CJK_FONTS`.
    """
    from matplotlib import rcParams

    lead = list(rcParams["font.family"])
    return lead + [f for f in _fallbacks() if f not in lead]


def missing_glyph_advice() -> str:
    """What to install when some characters have no glyph in any font: a sentence.

    Names ``attnwidget[cjk]`` while it is not installed; once it is, the
    characters still missing are outside its fonts, and a system font is the
    way.
    """
    have = cjk_font_files()
    if len(have) < len(CJK_FONTS):
        return (
            f"Install {_EXTRA} (pip install '{_EXTRA}') or a system font such as Noto Sans CJK to draw them."
        )
    return (
        f"The fonts of {_EXTRA} ({', '.join(have)}) lack them too (simplified Chinese, for one); "
        f"install a system font that has them, such as Noto Sans CJK SC (Debian: apt-get install "
        f"fonts-noto-cjk), then delete matplotlib's font cache (the fontlist-*.json files in "
        f"matplotlib.get_cachedir()) and start Python again."
    )
