"""What an explorer's standalone page embeds for its colour range and its head roles.

The page codes every frame over its own range whatever the explorer's colour range (the page
codes them again for the range chosen in it: ``js/page-range.js``) and starts on the explorer's
choice; the head statistics carry the head roles the widget's picker shows, computed with the
widget's ``roles_for``, and leave them out, saying why, past ``ROLES_CELLS``.
"""

from __future__ import annotations

import numpy as np

import attnwidget as aw
from attnwidget.figures.html import page_table, resolved
from attnwidget.figures.page import panels


def test_frames_are_coded_over_their_own_range_and_the_page_starts_on_the_explorers(text_capture):
    ex = aw.show(text_capture)
    ex.color_range = "fixed"
    data = page_table(ex)
    assert data["initial"]["color_range"] == "fixed"
    frames = [st for st in data["states"] if (st.get("_frame_meta") or {}).get("data_min") is not None]
    assert frames
    for st in frames[:20]:
        meta = st["_frame_meta"]
        assert meta["color_range"] == "frame"
        # the frame's own range: from its least value (a difference map's: symmetric), not 0..1
        assert meta["vmin"] == meta["data_min"] or meta["vmin"] == -meta["vmax"]
    # the codes are the frame's own: the same as the widget's at color_range="frame"
    ex.color_range = "frame"
    ex.layer, ex.head, ex.step = 1, 2, 1
    key = data["table"][f'[1,2,0,null,1,"{ex.heatmap.scale}"]']
    assert resolved(data, data["states"][key])["_frame"] == ex.heatmap._frame


def test_head_statistics_carry_the_widgets_head_roles(text_capture):
    ex = aw.show(text_capture)
    data = page_table(ex)
    stats = next(p for p in data["panels"] if p["id"] == "headstats")
    ex.headstats.show = "roles"
    for layer in (0, 2):
        ex.layer = layer
        index = stats["table"][f"[{layer},0,null,0]"]
        roles = data["states"][index]["roles"]
        assert list(roles["bars"]) == list(panels.ROLES)
        for role, values in ex.headstats.stats.items():
            np.testing.assert_allclose(roles["bars"][role], values, rtol=1e-12)
        # the widget's caption, as text
        assert roles["caption"] in ex.headstats.caption.value
        assert roles["title"] == "head roles (aw.heads)"


def test_head_roles_are_left_out_of_a_page_too_large_to_score_them(text_capture, monkeypatch):
    cells = panels.roles_cells(text_capture)
    assert cells == sum(
        int(np.prod(text_capture.get(n, s).shape))
        for n in text_capture.layers
        if text_capture.kinds[n] != "weights"
        for s in text_capture.steps_of(n)
    )
    monkeypatch.setattr(panels, "ROLES_CELLS", cells - 1)
    data = page_table(aw.show(text_capture))
    stats = next(p for p in data["panels"] if p["id"] == "headstats")
    roles = [data["states"][i]["roles"] for i in stats["table"].values()]
    assert all(r.get("skipped") for r in roles)
    assert "not in this page" in roles[0]["error"] and "M cells" in roles[0]["error"]
    # the statistics themselves are all there
    assert all("entropy" in data["states"][i]["bars"] for i in stats["table"].values())
