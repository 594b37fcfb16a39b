"""Helpers for the real-browser tests and benchmarks: Jupyter servers, notebooks, screenshots.

Each server (one per test session, see ``conftest.py``) runs on a free localhost port with its own
config, data, runtime, settings and workspace folders, and a temporary root
folder into which the tests write their own ``.ipynb`` files (so nothing in
the repository is opened or autosaved). Kernels inherit ``PYTHONPATH`` with
the repository root, so ``import attnwidget`` finds this checkout.

Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright (never
``playwright install``). Notebooks are run through JupyterLab's command API
(``window.jupyterapp``), which waits for the kernel instead of racing it.
Screenshots go to ``artifacts/screenshots/`` for a person to look at.
See ``../shared/E2E_RECIPE.md`` for why each option is here.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("AW_CHROMIUM", "/usr/bin/chromium")
CHROME_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(os.environ.get("AW_SCREENSHOTS", ROOT / "artifacts" / "screenshots"))
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

try:
    import playwright.sync_api as pw
except ImportError:  # pragma: no cover - depends on the machine
    pw = None


def missing() -> str | None:
    """What this machine lacks for browser tests, or None."""
    if pw is None:
        return "the playwright Python package is not installed"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set AW_CHROMIUM)"
    for mod in ("jupyterlab", "notebook", "ipykernel"):
        try:
            __import__(mod)
        except ImportError:
            return f"the {mod} Python package is not installed"
    return None


# ---------------------------------------------------------------------- servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running ``jupyter lab`` or ``jupyter notebook`` with an isolated setup."""

    def __init__(self, app: str, base: Path):
        base = Path(base)
        self.app = app
        self.flavor = "lab" if app == "lab" else "notebook"
        self.base = base
        self.root = base / "root"
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = base / f"{app}.log"
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(base / "cfg"),
            JUPYTER_RUNTIME_DIR=str(base / "rt"),
            JUPYTER_DATA_DIR=str(base / "data"),
            JUPYTER_PLATFORM_DIRS="1",
            JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(base / "ws"),
            PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            MPLBACKEND="Agg",
        )
        settings = base / "settings" / "@jupyterlab"
        (settings / "apputils-extension").mkdir(parents=True, exist_ok=True)
        (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        # every cell in the DOM, so widgets far down a notebook are rendered and measurable
        (settings / "notebook-extension").mkdir(parents=True, exist_ok=True)
        (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
            json.dumps({"windowingMode": "none"})
        )
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            app,
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--JupyterNotebookApp.expose_app_in_browser=True",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.root)
        t0 = time.time()
        while time.time() - t0 < 90:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter {app} exited:\n{self.log_path.read_text()}")
            try:
                urllib.request.urlopen(self.url + "/api/status", timeout=2)
                break
            except OSError:
                time.sleep(0.25)
        else:
            self.stop()
            raise RuntimeError(f"jupyter {app} not ready in 90 s:\n{self.log_path.read_text()}")

    def notebook_url(self, name: str) -> str:
        # ?reset: Lab would otherwise restore the notebooks an earlier test opened
        if self.flavor == "lab":
            return f"{self.url}/lab/tree/{name}?reset"
        return f"{self.url}/notebooks/{name}"

    def stop(self) -> None:
        """REST shutdown stops the kernels too; fall back to terminate/kill."""
        try:
            urllib.request.urlopen(
                urllib.request.Request(self.url + "/api/shutdown", method="POST"), timeout=5
            )
            self.proc.wait(20)
        except Exception:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# ---------------------------------------------------------------------- notebooks
# One head-grid thumbnail (an element ``.aw-thumb``) read back at its native size from the grid's one
# canvas: the first device pixel of each cell (js/thumbs.js draws cell j of a rect n pixels wide from
# pixel ceil(j * n / cells)): {layer, head, h, w, rgba}
THUMB = """(t) => {
    const c = t.closest('.aw-thumbs').querySelector('canvas.aw-grid');
    const [x, y, w, h] = t.dataset.pixels.split(',').map(Number);
    const [rows, cols] = t.dataset.cells.split(',').map(Number);
    const d = c.getContext('2d').getImageData(x, y, w, h).data;
    const rgba = [];
    for (let i = 0; i < rows; i++) {
        const py = Math.ceil(i * h / rows);
        for (let j = 0; j < cols; j++) {
            const k = 4 * (py * w + Math.ceil(j * w / cols));
            rgba.push(d[k], d[k + 1], d[k + 2], d[k + 3]);
        }
    }
    return {layer: Number(t.dataset.layer), head: Number(t.dataset.head), h: rows, w: cols, rgba};
}"""

# Every thumbnail under a selector, read as THUMB reads one
THUMBS = "(sel) => [...document.querySelectorAll(sel + ' .aw-thumb')].map(" + THUMB + ")"

# A thumbnail's distinct colours and a digest of its cells (a blank or flat one has one or two)
THUMB_COLOURS = (
    "(t) => { const r = (" + THUMB + ")(t); const seen = new Set(); let digest = 0;"
    " for (let k = 0; k < r.rgba.length; k += 4) { const rgb = r.rgba[k] << 16 | r.rgba[k + 1] << 8 | r.rgba[k + 2];"
    " seen.add(rgb); digest = (digest * 31 + rgb) >>> 0; } return {colours: seen.size, digest}; }"
)


def write_notebook(folder: Path, name: str, cells: list[str]) -> Path:
    """Write a notebook of code cells (with a kernelspec, so no kernel dialog appears)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    path = Path(folder) / name
    nbformat.write(nb, path)
    return path


def open_notebook(page, server: Server, name: str, timeout_ms: int = 90_000) -> None:
    """Open a notebook and wait until its kernel is connected and idle."""
    page.goto(server.notebook_url(name))
    page.wait_for_function(
        "(name) => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " return w && w.sessionContext && w.context && w.context.path === name; }",
        arg=name,
        timeout=timeout_ms,
    )
    page.evaluate("""async () => {
        const nb = window.jupyterapp.shell.currentWidget;
        await nb.context.ready; await nb.sessionContext.ready;
    }""")
    page.wait_for_function(
        "() => { const k = window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel;"
        " return k && k.connectionStatus === 'connected' && k.status === 'idle'; }",
        timeout=timeout_ms,
    )


ERRORS_JS = """() => {
    const nb = window.jupyterapp.shell.currentWidget.content;
    const errs = [];
    nb.widgets.forEach((cell, i) => {
        if (cell.model.type !== 'code') return;
        for (const o of cell.model.outputs.toJSON()) {
            if (o.output_type === 'error')
                errs.push(`cell ${i}: ${o.ename}: ${o.evalue}\\n` + (o.traceback || []).join('\\n')
                          .replace(/\\u001b\\[[0-9;]*m/g, ''));
        }
    });
    return errs;
}"""


def run_all(page, timeout_ms: int = 180_000) -> None:
    """Run every cell and wait until the kernel is idle; fail on any error output."""
    page.evaluate("""async () => {
        await window.jupyterapp.commands.execute('notebook:run-all-cells');
    }""")
    wait_idle(page, timeout_ms)
    errors = page.evaluate(ERRORS_JS)
    if errors:
        raise AssertionError("notebook cells raised:\n" + "\n\n".join(errors))


def wait_idle(page, timeout_ms: int = 120_000) -> None:
    """Wait until every cell has an execution count and the kernel is idle."""
    page.wait_for_function(
        """() => {
        const w = window.jupyterapp.shell.currentWidget;
        const k = w.sessionContext.session?.kernel;
        const pending = w.content.widgets.some(c => c.model.type === 'code'
            && c.model.sharedModel.getSource().trim() && c.model.executionCount === null);
        return k && k.status === 'idle' && !pending;
    }""",
        timeout=timeout_ms,
    )


def run_cell(page, code: str, timeout_ms: int = 60_000) -> str:
    """Append a code cell, run it and return its text output (stream + text/plain).

    Raises AssertionError with the traceback when the cell raises.
    """
    out = page.evaluate(
        """async (code) => {
        const app = window.jupyterapp, nb = app.shell.currentWidget.content;
        nb.activeCellIndex = nb.widgets.length - 1;
        await app.commands.execute('notebook:insert-cell-below');
        nb.activeCell.model.sharedModel.setSource(code);
        await app.commands.execute('notebook:run-cell');
        const outs = nb.widgets[nb.widgets.length - 1].model.outputs.toJSON();
        return outs.map(o => {
            if (o.output_type === 'error')
                return {error: `${o.ename}: ${o.evalue}\\n` + (o.traceback || []).join('\\n')
                                .replace(/\\u001b\\[[0-9;]*m/g, '')};
            const t = o.text ?? (o.data && o.data['text/plain']) ?? '';
            return {text: Array.isArray(t) ? t.join('') : t};
        });
    }""",
        code,
    )
    errors = [o["error"] for o in out if "error" in o]
    if errors:
        raise AssertionError(f"cell raised:\n{code}\n---\n" + "\n".join(errors))
    return "".join(o.get("text", "") for o in out).strip()


def kernel_eval(page, code: str, expected: str, tries: int = 40) -> str:
    """Run a check cell again until its output equals ``expected`` (browser -> kernel
    messages are throttled by ipywidgets, so a check sent at once can see old state)."""
    out = ""
    for _ in range(tries):
        out = run_cell(page, code)
        if out == expected:
            return out
        page.wait_for_timeout(250)
    return out


def set_theme(page, name: str) -> None:
    """Switch JupyterLab's or Notebook 7's theme as Settings > Theme does ("JupyterLab Dark",
    "JupyterLab Light"), and wait until the page is in it and its canvases have drawn again."""
    page.evaluate(
        "async (theme) => { await window.jupyterapp.commands.execute('apputils:change-theme', {theme}); }",
        name,
    )
    page.wait_for_function(
        "(dark) => document.body.dataset.jpThemeLight === (dark ? 'false' : 'true')",
        arg=name.endswith("Dark"),
        timeout=30_000,
    )
    page.wait_for_timeout(1000)  # the theme's style sheet applies, the canvases draw again


def screenshot(target, name: str) -> Path:
    """Save a PNG of a page or locator under ``artifacts/screenshots/``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    target.screenshot(path=str(path))
    return path


# Errors Jupyter's own front end logs with no widget on the page (seen on this
# machine: NB7 7.6.5 throws the "schema" TypeError from notebook_core on every
# notebook load; the yjs warning is in ../shared/E2E_RECIPE.md section 11).
APP_NOISE = [
    ("reading 'schema'", "/static/notebook/notebook_core"),
    ("Not same Y.Doc", ""),
    ("yjs#509", ""),
    ("favicon", ""),
]


def watch_errors(page) -> None:
    """Record page errors and console errors in ``page.errors`` (app noise left out) and
    every JavaScript dialog in ``page.dialogs`` (dismissed)."""
    page.errors, page.dialogs = [], []

    def add(text: str) -> None:
        if not any(msg in text and where in text for msg, where in APP_NOISE):
            page.errors.append(text)

    def dialog(d) -> None:
        page.dialogs.append(d.message)
        d.dismiss()

    page.on("pageerror", lambda e: add(f"pageerror: {e}\n{e.stack}"))
    page.on("console", lambda m: m.type == "error" and add(f"console: {m.text}"))
    page.on("dialog", dialog)


def launch_browser(playwright):
    """Debian's Chromium, headless, with a fresh temporary profile."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
