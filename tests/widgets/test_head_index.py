"""The head dropdown's index and the head it names (attnwidget.widgets._prefetch.head_at), the
heatmap's ``_head_index`` kept from its head, and the explorer's dropdown linked to it in the page.

The page's side (js/prefetch.js headAt, js/heatmap.js followHeadIndex) is tests/js/head-index.test.js;
a pick in a real page drawn from a held frame is tests/browser/test_prefetch_browser.py.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

import attnwidget as aw
from attnwidget.widgets._prefetch import REDUCED_HEADS, head_at, head_index


def test_index_0_is_the_mean_1_the_max_then_the_heads():
    assert REDUCED_HEADS == ("mean", "max")
    assert [head_at(i) for i in range(5)] == ["mean", "max", 0, 1, 2]
    assert all(head_index(head_at(i)) == i for i in range(40))
    assert head_index(np.int64(3)) == 5
    assert head_index(-1, heads=4) == 5  # counted from the end, as frame() reads it


@pytest.mark.parametrize("bad", [-1, 1.5, "0", None, True])
def test_what_is_no_index_is_refused_with_what_an_index_is(bad):
    with pytest.raises(ValueError, match="0 mean, 1 max, i \\+ 2 head i"):
        head_at(bad)


def test_what_is_no_head_is_refused():
    with pytest.raises(ValueError, match="'mean', 'max'"):
        head_index("min")
    with pytest.raises(ValueError, match="number of heads is unknown"):
        head_index(-1)


def test_the_mapping_is_the_explorers_dropdown(torch_cap):
    """Every option of the head dropdown sits at the index head_at maps to its value."""
    ex = aw.Explorer(torch_cap)
    options = ex.controls.head.options
    assert len(options) == 2 + torch_cap.num_heads(0)
    for index, (_, value) in enumerate(options):
        assert head_at(index) == value
    for head in ("max", 3, "mean", 1):
        ex.head = head
        assert ex.controls.head.index == ex.heatmap._head_index == head_index(head)


def test_heatmap_keeps_its_index_from_its_head(torch_cap):
    hm = aw.Heatmap(torch_cap, head=2)
    assert hm._head_index == 4
    hm.head = "max"
    assert hm._head_index == 1
    # an index alone (the dropdown's, set by the kernel and passed on in the page) changes nothing:
    # a pick made in the page sends the head with it
    hm._head_index = 0
    assert (hm.head, hm._head_index) == ("max", 1)


def test_a_pick_sent_by_the_page_sets_head_and_index_together(torch_cap):
    hm = aw.Heatmap(torch_cap, head=0)
    before = hm._frame_version
    hm.set_state({"_head_index": 5, "head": 3})  # what js/heatmap.js and the link save, in one message
    assert (hm.head, hm._head_index) == (3, 5)
    assert hm._frame_version == before + 1
    np.testing.assert_array_equal(hm.frame().values, aw.frame(torch_cap, 0, head=3, size=512).values)


def test_explorer_links_the_dropdown_index_to_the_heatmap_in_the_page(torch_cap):
    ex = aw.Explorer(torch_cap)
    links = [
        link
        for link in ex._links
        if isinstance(link, widgets.widget_link.DirectionalLink)
        and link.source == (ex.controls.head, "index")
        and link.target == (ex.heatmap, "_head_index")
    ]
    assert len(links) == 1
    assert "_head_index" in ex.heatmap.keys  # synced: the page reads it


def test_the_index_the_page_sends_is_not_echoed(torch_cap):
    """The page's link sends ``_head_index`` after every head change; an echo of it would be one more
    message back per change (ipywidgets echoes what a page sends, unless a trait says not to)."""
    hm = aw.Heatmap(torch_cap, head=0)
    sent = []
    hm._send = lambda msg, buffers=None: sent.append(msg)
    update = {"method": "update", "state": {"_head_index": 2}, "buffer_paths": []}
    hm._handle_msg({"content": {"data": update}, "buffers": []})  # what the link saves
    assert sent == []  # head 0's own index: nothing to say
    update = {"method": "update", "state": {"_head_index": 0}, "buffer_paths": []}
    hm._handle_msg({"content": {"data": update}, "buffers": []})  # the dropdown passing through 0
    assert [(m["method"], m["state"]) for m in sent] == [("update", {"_head_index": 2})]  # put back
    assert (hm.head, hm._head_index) == (0, 2)
    sent.clear()
    update = {"method": "update", "state": {"_head_index": 3, "head": 1}, "buffer_paths": []}
    hm._handle_msg({"content": {"data": update}, "buffers": []})  # a pick: the head with it
    assert [m for m in sent if m["method"] == "echo_update"] == []  # the selection is not echoed either
    assert (hm.head, hm._head_index) == (1, 3)


@pytest.mark.parametrize("view", ["Heatmap", "HeadGrid"])
def test_a_selection_made_in_the_page_is_answered_without_echo(torch_cap, view):
    """A thumbnail click or a linked control sends the selection; the kernel answers with the frame
    alone: an echo of each trait would be more messages the page handles before the frame."""
    widget = getattr(aw, view)(torch_cap, head=0)
    sent = []
    widget._send = lambda msg, buffers=None: sent.append(msg)
    update = {"method": "update", "state": {"layer": 1, "head": 2}, "buffer_paths": []}
    widget._handle_msg({"content": {"data": update}, "buffers": []})
    assert (widget.layer, widget.head) == (1, 2)
    assert [m["state"] for m in sent if m["method"] == "echo_update"] == []
    if view == "Heatmap":
        assert any("_frame_meta" in m["state"] for m in sent if m["method"] == "update"), sent
