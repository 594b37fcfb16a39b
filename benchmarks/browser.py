"""Benchmark the widget in headless Chromium: change -> repaint latency, bytes, first paint.

What is measured, all in one run, in a real JupyterLab page:

1. **Change latency.** A notebook shows ``aw.Heatmap`` views of captures at
   128, 512 and 2048 tokens (a real, randomly initialised 2-layer BERT run
   under ``aw.capture``). For each size, 20 layer changes and 20 head changes
   are made *in Python* (``hm.layer = ...`` sent as an execute request on the
   notebook's kernel). The kernel stamps ``time.time()`` just before the
   assignment; the page stamps ``performance.timeOrigin + performance.now()``
   when the view's ``data-frame-version`` attribute changes (a
   MutationObserver; the view sets it right after drawing, inside a
   requestAnimationFrame callback) and again in the first task after that,
   i.e. after the frame holding the new canvas was rendered. Both stamps read
   the same system clock (same machine); a calibration step checks that a
   kernel stamp always falls between the page's send and receive stamps.
   Latency = page "after paint" stamp - kernel stamp; median of 20.
   The page's own round trip (request sent -> after paint) is shown too.
2. **Bytes per change.** Playwright records every WebSocket frame the page
   receives; the kernel's ``comm_msg`` frames during a change are decoded
   (Jupyter's v1 kernel WebSocket protocol) and summed: the binary buffers
   (the frame codes) and the whole frames (JSON headers, labels, value range
   included). Compared with the number of cells the view displays.
3. **Whole-model first paint.** A BERT-base-shaped model (12 layers x 12
   heads, hidden 768, random weights) captured at 512 tokens; a cell builds
   ``HeadGrid(cap, mode="model")`` (144 thumbnails) next to a ``Heatmap``
   (one full 512 x 512 head) and displays them; time from the kernel stamp
   before construction to both views' first repaint. Against it: CircuitsVis's
   ``attention_heads`` for the same 144 heads at 512 tokens, in its offline
   inlined form (``render_local``; see ``_circuitsvis/render.py``), opened from
   a file; time from navigation start until all 145 of its canvases are drawn
   (or the timeout). Also one layer (12 heads) of the same tensors, and that
   layer cut to 256 tokens, the size of the reference measured elsewhere
   (18.8 MB, about 25 s): a check that the paint detector sees a paint.

Usage::

    python benchmarks/browser.py                 # everything (~5 minutes on 2 cores)
    python benchmarks/browser.py --no-circuitsvis --repeats 5   # quick
    python benchmarks/browser.py --json out.json

Targets (issue 3): under 50 ms median per change at 512 tokens; bytes per
change at most 1.1x the displayed cells; whole-model first paint at 512
tokens under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(HERE / "_circuitsvis"))

from aw_browser import Server, launch_browser, missing, open_notebook, pw, run_all, run_cell, write_notebook  # noqa: E402

LATENCY_TARGET_MS = 50.0
BYTES_TARGET = 1.1
FIRST_PAINT_TARGET_S = 1.0

SETUP = """
import json, time
import numpy as np
import torch
import ipywidgets as widgets
import attnwidget as aw
from transformers import BertConfig, BertModel

torch.manual_seed(0)
SIZES = {sizes!r}
small = BertModel(BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                             intermediate_size=128, max_position_embeddings=max(SIZES) + 8,
                             initializer_range=0.3)).eval()
caps, views = {{}}, {{}}
for n in SIZES:
    with aw.capture(small) as c, torch.no_grad():
        small(input_ids=torch.randint(5, 1000, (1, n)))
    caps[n] = c
    views[n] = aw.Heatmap(c, tokens=[f"w{{i}}" for i in range(n)], layer=0, head=0)
    views[n].add_class(f"bench-hm-{{n}}")

base = BertModel(BertConfig(initializer_range=0.3)).eval()   # BERT-base shape: 12 layers x 12 heads
with aw.capture(base) as cap_model, torch.no_grad():
    base(input_ids=torch.randint(5, 30000, (1, {model_tokens})))
MODEL_TOKENS = [f"w{{i}}" for i in range({model_tokens})]
print("ready")
"""

MODEL_VIEW = """
_t0 = time.time()
grid = aw.HeadGrid(cap_model, mode="model", tokens=MODEL_TOKENS)
main = aw.Heatmap(cap_model, layer=0, head=0, tokens=MODEL_TOKENS)
grid.add_class("bench-grid"); main.add_class("bench-main")
display(widgets.HBox([grid, main]))
print(repr(_t0), grid._thumbs_meta.get("compute_ms"), main._frame_meta.get("compute_ms"),
      len(grid._thumbs), len(main._frame))
"""

CHANGE_JS = r"""async ([code, sel, timeoutMs]) => {
    const now = () => performance.timeOrigin + performance.now();
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const root = document.querySelector(sel);
    const v0 = Number(root.dataset.frameVersion || 0);
    let tMut = null, mo = null, timer = null;
    const painted = new Promise((resolve, reject) => {
        timer = setTimeout(() => { mo.disconnect(); reject(new Error('no repaint in ' + timeoutMs + ' ms')); },
                           timeoutMs);
        mo = new MutationObserver(() => {
            if (tMut !== null || Number(root.dataset.frameVersion) <= v0) return;
            tMut = now(); mo.disconnect(); clearTimeout(timer);
            const ch = new MessageChannel();           // first task after this frame's rendering
            ch.port1.onmessage = () => resolve(now());
            ch.port2.postMessage(null);
        });
        mo.observe(root, {attributes: true, attributeFilter: ['data-frame-version']});
    });
    // the widget's state update as JupyterLab hands it over (decoded), and when the kernel sent it
    let tMsg = null, tSent = null;
    const onMsg = (_, msg) => {
        if (msg.header.msg_type === 'comm_msg' && (msg.buffers || []).length && tMut === null) {
            tMsg = now(); tSent = Date.parse(msg.header.date) + Number((msg.header.date.match(/\.\d{3}(\d+)/) || [0, '0'])[1]) / 1000;
        }
    };
    kernel.iopubMessage.connect(onMsg);
    let out = '';
    const tSend = now();
    const future = kernel.requestExecute({code, silent: false, store_history: false});
    future.onIOPub = (msg) => {
        if (msg.header.msg_type === 'stream') out += msg.content.text;
        if (msg.header.msg_type === 'error') out += 'ERROR ' + msg.content.ename + ': ' + msg.content.evalue;
    };
    try {
        await future.done;
        const tAfter = await painted;
        return {tSend, tMsg, tSent, tMut, tAfter, out};
    } finally {
        kernel.iopubMessage.disconnect(onMsg);
    }
}"""

CLOCK_JS = """async () => {
    const now = () => performance.timeOrigin + performance.now();
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    let out = '', tRecv = null;
    const tSend = now();
    const future = kernel.requestExecute({code: 'import time; print(repr(time.time()))'});
    future.onIOPub = (msg) => { if (msg.header.msg_type === 'stream') { out += msg.content.text; tRecv = now(); } };
    await future.done;
    return {tSend, tRecv, tKernel: 1000 * Number(out.trim())};
}"""

FIRST_PAINT_JS = """async ([code, sels, timeoutMs]) => {
    const now = () => performance.timeOrigin + performance.now();
    const app = window.jupyterapp, nb = app.shell.currentWidget.content;
    nb.activeCellIndex = nb.widgets.length - 1;
    await app.commands.execute('notebook:insert-cell-below');
    nb.activeCell.model.sharedModel.setSource(code);
    const t = {};
    const done = new Promise((resolve, reject) => {
        const timer = setTimeout(() => { mo.disconnect(); reject(new Error('no first paint')); }, timeoutMs);
        const check = () => {
            for (const s of sels) {
                if (t[s] === undefined) {
                    const el = document.querySelector(s);
                    if (el && Number(el.dataset.frameVersion) > 0) t[s] = now();
                }
            }
            if (sels.every(s => t[s] !== undefined)) {
                mo.disconnect(); clearTimeout(timer);
                const ch = new MessageChannel();
                ch.port1.onmessage = () => resolve(now());
                ch.port2.postMessage(null);
            }
        };
        const mo = new MutationObserver(check);
        mo.observe(document.body, {attributes: true, attributeFilter: ['data-frame-version'], subtree: true,
                                   childList: true});
    });
    const tSend = now();
    app.commands.execute('notebook:run-cell');
    const tAfter = await done;
    await new Promise(r => setTimeout(r, 300));
    const outs = nb.widgets[nb.widgets.length - 1].model.outputs.toJSON();
    const out = outs.filter(o => o.output_type === 'stream').map(o => o.text).join('');
    const errors = outs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue);
    const thumbs = document.querySelectorAll('.bench-grid canvas.aw-thumb').length;
    return {tSend, tAfter, views: t, out, errors, thumbs};
}"""

# CircuitsVis painted: all its canvases exist and the last one (the big pattern) has ink
CV_INIT = """(() => {
    const want = Number(new URLSearchParams(location.search).get('canvases'));
    function poll() {
        const root = document.querySelector('[id^=circuits-vis]');
        const cs = root ? root.querySelectorAll('canvas') : [];
        if (cs.length >= want) {
            const c = cs[cs.length - 1];
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let ink = false;
            for (let k = 3; k < d.length; k += 4 * 97) if (d[k] !== 0) { ink = true; break; }
            const thumb = cs[0].getContext('2d').getImageData(0, 0, cs[0].width, cs[0].height).data;
            let ink0 = false;
            for (let k = 3; k < thumb.length; k += 4 * 13) if (thumb[k] !== 0) { ink0 = true; break; }
            if (ink && ink0) { window.__cvPainted = performance.now(); return; }
        }
        requestAnimationFrame(poll);
    }
    requestAnimationFrame(poll);
})();"""


# ---------------------------------------------------------------------- websocket bytes
def decode_v1(frame: bytes):
    """(channel, header, content, buffer sizes) of a v1.kernel.websocket.jupyter.org frame."""
    n = int.from_bytes(frame[:8], "little")
    offsets = [int.from_bytes(frame[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(n)]
    channel = frame[offsets[0] : offsets[1]].decode()
    parts = [frame[offsets[i] : offsets[i + 1]] for i in range(1, n - 1)]
    header, content = json.loads(parts[0]), json.loads(parts[3])
    return channel, header, content, [len(b) for b in parts[4:]]


class WireLog:
    """Every kernel message the page receives, decoded when it is a widget comm_msg."""

    def __init__(self, page):
        self.frames: list[tuple[int, int]] = []  # (whole frame bytes, buffer bytes) of comm_msg
        self.undecoded = 0
        page.on("websocket", self._socket)

    def _socket(self, ws):
        if "/api/kernels/" in ws.url:
            ws.on("framereceived", self._frame)

    def _frame(self, payload):
        if isinstance(payload, str):
            if '"comm_msg"' in payload:
                self.frames.append((len(payload.encode()), 0))
            return
        try:
            channel, header, _, buffers = decode_v1(payload)
        except Exception:
            self.undecoded += 1
            return
        if channel == "iopub" and header.get("msg_type") == "comm_msg":
            self.frames.append((len(payload), sum(buffers)))

    def take(self):
        out, self.frames = self.frames, []
        return out


# ---------------------------------------------------------------------- measurements
def clock_check(page, rounds=10) -> dict:
    lo, hi = [], []
    for _ in range(rounds):
        r = page.evaluate(CLOCK_JS)
        lo.append(r["tKernel"] - r["tSend"])
        hi.append(r["tRecv"] - r["tKernel"])
    return {
        "send_to_kernel_ms_min": min(lo),
        "kernel_to_recv_ms_min": min(hi),
        "consistent": min(lo) > -1.0 and min(hi) > -1.0,
    }


def measure_changes(page, wire, n, trait, values, repeats) -> dict:
    sel = f".bench-hm-{n}"
    lat, page_rt, kernel_ms, whole, buffers = [], [], [], [], []
    parts = {"to_send": [], "to_page": [], "to_drawn": [], "to_after": []}
    current = json.loads(run_cell(page, f"print(json.dumps(views[{n}].{trait}))"))
    seq = [v for _ in range(repeats) for v in values]
    i = 0
    for _ in range(repeats):
        while seq[i % len(seq)] == current:
            i += 1
        value = seq[i % len(seq)]
        i += 1
        code = (
            f"_t0 = time.time(); views[{n}].{trait} = {value!r}; "
            f"print(repr(_t0), views[{n}]._frame_meta['compute_ms'])"
        )
        page.wait_for_timeout(60)
        wire.take()
        r = page.evaluate(CHANGE_JS, [code, sel, 30_000])
        page.wait_for_timeout(30)  # let Playwright deliver the last frame events
        frames = wire.take()
        if "ERROR" in r["out"]:
            raise RuntimeError(r["out"])
        t0, compute = r["out"].split()
        lat.append(r["tAfter"] - 1000 * float(t0))
        if r["tMsg"] is not None:
            parts["to_send"].append(r["tSent"] - 1000 * float(t0))
            parts["to_page"].append(r["tMsg"] - r["tSent"])
            parts["to_drawn"].append(r["tMut"] - r["tMsg"])
        parts["to_after"].append(r["tAfter"] - r["tMut"])
        page_rt.append(r["tAfter"] - r["tSend"])
        kernel_ms.append(float(compute))
        whole.append(sum(f[0] for f in frames))
        buffers.append(sum(f[1] for f in frames))
        current = value
    shape = json.loads(run_cell(page, f"print(json.dumps(list(views[{n}].frame().shape)))"))
    return {
        "tokens": n,
        "trait": trait,
        "median_ms": statistics.median(lat),
        "p90_ms": sorted(lat)[int(0.9 * (len(lat) - 1))],
        "page_roundtrip_ms": statistics.median(page_rt),
        "kernel_compute_ms": statistics.median(kernel_ms),
        "shape": shape,
        "cells": shape[0] * shape[1],
        "wire_bytes": statistics.median(whole),
        "buffer_bytes": statistics.median(buffers),
        "samples_ms": [round(x, 2) for x in lat],
        "breakdown_ms": {k: statistics.median(v) if v else None for k, v in parts.items()},
    }


def first_paint_ours(page) -> dict:
    r = page.evaluate(FIRST_PAINT_JS, [MODEL_VIEW, [".bench-grid", ".bench-main"], 120_000])
    if r["errors"]:
        raise RuntimeError(r["errors"])
    t0, grid_ms, main_ms, thumb_bytes, frame_bytes = r["out"].split()
    return {
        "first_paint_s": (r["tAfter"] - 1000 * float(t0)) / 1000,
        "page_roundtrip_s": (r["tAfter"] - r["tSend"]) / 1000,
        "kernel_compute_ms": float(grid_ms) + float(main_ms),
        "thumbnails": r["thumbs"],
        "payload_bytes": int(thumb_bytes) + int(frame_bytes),
    }


def first_paint_circuitsvis(path: Path, canvases: int, timeout_s: float) -> dict:
    """Open a CircuitsVis page in a fresh Chromium in a child process, killed at the timeout
    (a renderer busy parsing hundreds of megabytes does not answer Playwright's own timeouts)."""
    out = {"html_bytes": path.stat().st_size}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--cv-child", str(path), str(canvases)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s + 30)  # + browser start
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        out.update(first_paint_s=None, failure=f"not painted within {timeout_s:.0f} s")
        return out
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    try:
        out.update(json.loads(last))
    except ValueError:
        out.update(first_paint_s=None, failure=f"child failed: {stderr.strip()[-300:]}")
    if out.get("first_paint_s") is not None and out["first_paint_s"] > timeout_s:
        out.update(first_paint_s=None, failure=f"not painted within {timeout_s:.0f} s")
    return out


def cv_child(path: str, canvases: int) -> None:
    """Child process: open one CircuitsVis page and print {"first_paint_s"} as JSON."""
    with pw.sync_playwright() as p:
        browser = launch_browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(CV_INIT)
        crashed = []
        page.on("crash", lambda *_: crashed.append(True))
        try:
            page.goto(Path(path).as_uri() + f"?canvases={canvases}", wait_until="commit", timeout=0)
            page.wait_for_function("() => window.__cvPainted !== undefined", timeout=0, polling=500)
            print(json.dumps({"first_paint_s": page.evaluate("() => window.__cvPainted") / 1000}))
        except Exception as e:
            print(
                json.dumps(
                    {
                        "first_paint_s": None,
                        "failure": "renderer crashed" if crashed else f"{type(e).__name__}: {e}"[:200],
                    }
                )
            )
        browser.close()


def circuitsvis_pages(page, folder: Path, log) -> list[tuple[str, Path, int, float]]:
    """Write CircuitsVis pages for the whole model and for its first layer."""
    import numpy as np
    from render import check_same_as_circuitsvis, iife_js, write_attention_heads

    check_same_as_circuitsvis(folder)
    js, where = iife_js()
    log(f"CircuitsVis JS: {where}")
    dump = folder / "attention.npy"
    run_cell(
        page,
        f"np.save({str(dump)!r}, np.concatenate([cap_model.get(i)[0] "
        "for i in range(len(cap_model.layers))]))",
    )
    att = np.load(dump, mmap_mode="r")  # [layers*heads, q, k]
    tokens = json.loads(run_cell(page, "print(json.dumps(MODEL_TOKENS))"))
    heads = int(run_cell(page, "print(cap_model.get(0).shape[1])"))
    names = [f"L{i // heads}H{i % heads}" for i in range(att.shape[0])]
    pages = []
    n = len(tokens)
    cases = [
        (
            f"one layer ({heads} heads), 256 tokens [calibration: elsewhere 18.8 MB, ~25 s]",
            att[:heads, :256, :256],
            256,
        ),
        (f"one layer ({heads} heads), {n} tokens", att[:heads], n),
        (f"whole model ({att.shape[0]} heads), {n} tokens", att, n),
    ]
    for i, (label, a, k) in enumerate(cases):
        path = folder / f"circuitsvis-{i}.html"
        t = time.time()
        size = write_attention_heads(path, a, tokens[:k], names[: a.shape[0]], js=js)
        write_s = time.time() - t
        log(f"wrote {path.name}: {size / 1e6:.1f} MB in {write_s:.1f} s")
        pages.append((label, path, a.shape[0] + 1, write_s))
    return pages


# ---------------------------------------------------------------------- report
def report(res: dict) -> str:
    lines = []
    env = res["env"]
    lines.append(
        f"attnwidget browser benchmark — {env['chromium']}, JupyterLab {env['jupyterlab']}, "
        f"{env['cpus']} CPU(s), Python {env['python']}; 1-min load average "
        f"{env['load_start']:.1f} at start, {env['load_end']:.1f} at end (other work on the machine "
        "slows every number here)"
    )
    c = res["clock"]
    lines.append(
        f"clock check (kernel time.time() vs page timeOrigin+now): send->kernel >= "
        f"{c['send_to_kernel_ms_min']:.2f} ms, kernel->recv >= {c['kernel_to_recv_ms_min']:.2f} ms "
        f"-> {'consistent' if c['consistent'] else 'INCONSISTENT: latencies unreliable'}"
    )
    lines.append("")
    lines.append(
        "Change in Python -> repainted canvas (aw.Heatmap), median of "
        f"{res['repeats']}; bytes = widget comm_msg frames the page received per change"
    )
    hdr = (
        f"{'tokens':>6} {'change':>6} {'shown':>9} {'median ms':>9} {'p90 ms':>7} {'page rt':>8} "
        f"{'kernel':>7} {'cells':>8} {'buffers B':>10} {'wire B':>9} {'wire/cells':>10}  targets"
    )
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for r in res["changes"]:
        ratio = r["wire_bytes"] / r["cells"]
        t_ok = r["median_ms"] < LATENCY_TARGET_MS
        b_ok = ratio <= BYTES_TARGET
        lat_target = (
            f"<{LATENCY_TARGET_MS:.0f}ms {'met' if t_ok else 'MISSED'}" if r["tokens"] == 512 else "-"
        )
        lines.append(
            f"{r['tokens']:>6} {r['trait']:>6} {r['shape'][0]:>4}x{r['shape'][1]:<4} "
            f"{r['median_ms']:>9.1f} {r['p90_ms']:>7.1f} {r['page_roundtrip_ms']:>8.1f} "
            f"{r['kernel_compute_ms']:>7.1f} {r['cells']:>8} {r['buffer_bytes']:>10.0f} "
            f"{r['wire_bytes']:>9.0f} {ratio:>10.3f}  {lat_target}; "
            f"bytes<={BYTES_TARGET}x {'met' if b_ok else 'MISSED'}"
        )
    lines.append(
        "  (median ms: kernel stamp before the assignment -> first task after the repainted frame;"
        " page rt: request sent by the page -> same; kernel: frame compute in Python)"
    )
    lines.append("")
    lines.append(
        "Where the time goes (medians, ms): assignment -> kernel sends the update (header.date) -> "
        "JupyterLab hands it over decoded -> view repainted (data-frame-version) -> frame rendered"
    )
    for r in res["changes"]:
        b = r["breakdown_ms"]
        fmt = lambda v: "  n/a" if v is None else f"{v:6.1f}"  # noqa: E731
        lines.append(
            f"  {r['tokens']:>5} {r['trait']:>5}: kernel {fmt(b['to_send'])}  wire+decode "
            f"{fmt(b['to_page'])}  wait+draw {fmt(b['to_drawn'])}  render {fmt(b['to_after'])}"
        )
    lines.append("")
    fp = res["first_paint"]
    lines.append(
        f"Whole-model first paint at {res['model_tokens']} tokens "
        f"({fp['ours']['thumbnails']} thumbnails + one full head)"
    )
    ours = fp["ours"]
    lines.append(
        f"  attnwidget HeadGrid(mode='model') + Heatmap: {ours['first_paint_s']:.3f} s "
        f"(page round trip {ours['page_roundtrip_s']:.3f} s, kernel compute "
        f"{ours['kernel_compute_ms']:.0f} ms, {ours['payload_bytes'] / 1e6:.2f} MB of codes) -> "
        f"target <{FIRST_PAINT_TARGET_S:.0f} s {'met' if ours['first_paint_s'] < FIRST_PAINT_TARGET_S else 'MISSED'}"
    )
    for cv in fp.get("circuitsvis", []):
        if cv["first_paint_s"] is not None and cv["label"].startswith("whole model"):
            what = (
                f"{cv['first_paint_s']:.2f} s ({cv['first_paint_s'] / ours['first_paint_s']:.0f}x attnwidget)"
            )
        elif cv["first_paint_s"] is not None:
            what = f"{cv['first_paint_s']:.2f} s"
        else:
            what = cv["failure"]
        lines.append(
            f"  CircuitsVis attention_heads, {cv['label']}: {cv['html_bytes'] / 1e6:.1f} MB HTML "
            f"(written in {cv['write_s']:.1f} s) -> first paint {what}"
        )
    if not fp.get("circuitsvis"):
        lines.append("  CircuitsVis: not run (--no-circuitsvis)")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 512, 2048])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--model-tokens", type=int, default=512)
    ap.add_argument("--no-circuitsvis", action="store_true")
    ap.add_argument("--cv-timeout", type=float, default=120.0, help="seconds per CircuitsVis page")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--cv-child", nargs=2, metavar=("HTML", "CANVASES"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.cv_child:
        cv_child(args.cv_child[0], int(args.cv_child[1]))
        return 0
    reason = missing()
    if reason:
        print(f"cannot run: {reason}")
        return 2
    log = lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    import jupyterlab

    tmp = Path(tempfile.mkdtemp(prefix="aw-bench-"))
    server = Server("lab", tmp)
    res = {"repeats": args.repeats, "model_tokens": args.model_tokens, "changes": [], "first_paint": {}}
    try:
        setup = SETUP.format(sizes=args.sizes, model_tokens=args.model_tokens)
        cells = [setup] + [f"views[{n}]" for n in args.sizes]
        write_notebook(server.root, "bench.ipynb", cells)
        with pw.sync_playwright() as p:
            browser = launch_browser(p)
            res["env"] = {
                "chromium": f"Chromium {browser.version}",
                "jupyterlab": jupyterlab.__version__,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_start": os.getloadavg()[0],
            }
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = ctx.new_page()
            wire = WireLog(page)
            log(f"JupyterLab at {server.url}; running the setup cell (captures)")
            open_notebook(page, server, "bench.ipynb")
            run_all(page, timeout_ms=600_000)
            for n in args.sizes:
                page.wait_for_function(
                    f"() => Number(document.querySelector('.bench-hm-{n}')?.dataset.frameVersion) > 0",
                    timeout=60_000,
                )
            res["clock"] = clock_check(page)
            for n in args.sizes:
                for trait, values in (("layer", [1, 0]), ("head", [1, 2, 3, 0])):
                    log(f"{n} tokens: {args.repeats} {trait} changes")
                    res["changes"].append(measure_changes(page, wire, n, trait, values, args.repeats))
            log("whole-model first paint (attnwidget)")
            res["first_paint"]["ours"] = first_paint_ours(page)
            res["wire_undecoded_frames"] = wire.undecoded
            if not args.no_circuitsvis:
                cv = []
                for label, path, canvases, write_s in circuitsvis_pages(page, tmp, log):
                    log(f"CircuitsVis {label}: opening ({args.cv_timeout:.0f} s timeout)")
                    r = first_paint_circuitsvis(path, canvases, args.cv_timeout)
                    cv.append({"label": label, "write_s": write_s, **r})
                res["first_paint"]["circuitsvis"] = cv
            ctx.close()
            browser.close()
    finally:
        server.stop()
    res["env"]["load_end"] = os.getloadavg()[0]
    text = report(res)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
