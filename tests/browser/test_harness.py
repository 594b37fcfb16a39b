"""The browser harness itself: servers start, notebooks run, widgets render, kernel round-trips.

A tiny inline anywidget proves the plumbing, so a failure in the attnwidget
tests points at the widget rather than at the setup.
"""

from __future__ import annotations

import pytest
from aw_browser import kernel_eval, open_notebook, run_all, run_cell, write_notebook

pytestmark = pytest.mark.browser

TINY = '''
import anywidget, traitlets
class Tiny(anywidget.AnyWidget):
    _esm = """
    export default { render({ model, el }) {
        const b = document.createElement('button');
        b.className = 'tiny-widget';
        const draw = () => { b.textContent = 'n=' + model.get('n'); };
        b.onclick = () => { model.set('n', model.get('n') + 1); model.save_changes(); };
        model.on('change:n', draw); draw(); el.append(b);
    } };
    """
    n = traitlets.Int(0).tag(sync=True)
tiny = Tiny(n=5)
tiny
'''


@pytest.mark.parametrize("which", ["lab_server", "nb7_server"])
def test_tiny_widget_round_trip(which, page, request):
    server = request.getfixturevalue(which)
    write_notebook(server.root, "harness.ipynb", [TINY])
    open_notebook(page, server, "harness.ipynb")
    run_all(page)
    button = page.locator("button.tiny-widget")
    button.wait_for()
    assert button.text_content() == "n=5"
    run_cell(page, "tiny.n = 7")  # kernel -> browser
    page.wait_for_function("() => document.querySelector('button.tiny-widget').textContent === 'n=7'")
    button.click()  # browser -> kernel
    assert kernel_eval(page, "print(tiny.n)", "8") == "8"
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        run_cell(page, "1/0")
    assert page.errors == [], "\n\n".join(page.errors)
