"""aw.record's live view in JupyterLab: the explorer shown before training follows it as it trains.

A notebook shows ``aw.show(rec)`` of a small real model, then a later cell trains it with
``rec.step()`` once per optimiser step. Without rerunning the view's cell, the page's step slider
grows to the recorded steps, the canvas repaints, and its title names the last training step.
Screenshots: ``artifacts/screenshots/record-live-{before,after}.png``.
"""

from __future__ import annotations

import pytest
from aw_browser import open_notebook, run_all, run_cell, screenshot, write_notebook

pytestmark = pytest.mark.browser

SETUP = """
import torch, attnwidget as aw
torch.manual_seed(0)
model = torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
probe = torch.randn(1, 6, 16)
rec = aw.record(model, probe, every=5)
view = aw.show(rec)
view
"""

TRAIN = """
opt = torch.optim.SGD(model.parameters(), lr=0.5)
gen = torch.Generator().manual_seed(1)
for _ in range(20):
    x = torch.randn(8, 6, 16, generator=gen)
    loss = model(x).pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
    rec.step()
print(rec.capture.steps, view.step, view.heatmap.frame().title)
"""

STATE = """() => {
    const ex = document.querySelector('.aw-explorer');
    // the step slider: the one whose label says "step"
    const slider = ex && [...ex.querySelectorAll('.widget-slider')].find(
        s => (s.querySelector('.widget-label')?.textContent || '').trim() === 'step');
    const handle = slider && slider.querySelector('.noUi-handle');
    const view = ex && ex.querySelector('.aw-heatmap');
    const title = ex && ex.querySelector('.aw-heatmap .aw-title');
    return {max: handle ? Number(handle.getAttribute('aria-valuemax')) : null,
            value: handle ? Number(handle.getAttribute('aria-valuenow')) : null,
            version: view ? Number(view.dataset.frameVersion) : 0,
            title: title ? title.textContent : ''};
}"""


def test_the_explorer_follows_training(lab_server, page):
    page.set_viewport_size({"width": 1400, "height": 1000})
    write_notebook(lab_server.root, "record_live.ipynb", [SETUP])
    open_notebook(page, lab_server, "record_live.ipynb")
    run_all(page)
    page.wait_for_selector(".aw-explorer .aw-heatmap", timeout=60_000)
    page.wait_for_function(f"() => ({STATE})().version > 0", timeout=60_000)
    before = page.evaluate(STATE)
    screenshot(page.locator(".aw-explorer").first, "record-live-before")
    out = run_cell(page, TRAIN, timeout_ms=120_000)
    steps = int(out.split()[0])
    assert steps == 5, out  # training step 0, then every 5 of 20 optimiser steps
    page.wait_for_function(
        f"(n) => {{ const s = ({STATE})(); return s.max === n - 1 && s.version > {before['version']}; }}",
        arg=steps,
        timeout=30_000,
    )
    after = page.evaluate(STATE)
    screenshot(page.locator(".aw-explorer").first, "record-live-after")
    assert before["max"] in (None, 0) or before["max"] < after["max"]
    assert after["max"] == steps - 1
    assert "20" in after["title"] or "20" in out, (after, out)  # the last recorded training step
    assert page.errors == [], "\n\n".join(page.errors)
