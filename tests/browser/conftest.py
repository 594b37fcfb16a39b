"""Fixtures for the real-browser tests (marked ``browser``): servers, Chromium, pages.

``lab_server`` and ``nb7_server`` are session-scoped JupyterLab and Notebook 7
servers (see :class:`aw_browser.Server`); ``browser`` is one headless Chromium
for the session and ``page`` a fresh context per test that records page errors,
console errors and any JavaScript dialog (``page.dialogs``). Browser tests are
skipped, with the reason, on a machine without Chromium, Playwright or Jupyter.
"""

from __future__ import annotations

import pytest
from aw_browser import Server, launch_browser, missing, pw, watch_errors


def pytest_collection_modifyitems(config, items):
    reason = missing()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    server = Server("lab", tmp_path_factory.mktemp("jupyterlab"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nb7_server(tmp_path_factory):
    server = Server("notebook", tmp_path_factory.mktemp("notebook7"))
    yield server
    server.stop()


# ---------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def browser():
    with pw.sync_playwright() as p:
        b = launch_browser(p)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(60_000)
    pg = ctx.new_page()
    watch_errors(pg)
    yield pg
    ctx.close()
