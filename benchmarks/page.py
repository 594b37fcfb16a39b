"""Benchmark the standalone page (``aw.to_html``) at a real size: seconds to write, MB, first paint.

A BERT-base-shaped model (``transformers.BertConfig``: 12 layers x 12 heads,
hidden 768, random weights, ``sdpa``) runs once on 512 random tokens under
``aw.capture``. Then, each in turn, the page of

* ``aw.show(cap)``: the whole explorer, every panel it shows (the heatmap:
  12 sites x (mean, max, 12 heads) x (sample 0, mean of samples); the head
  grid: each site's 12 thumbnails, computed once per site and sample; the
  head statistics: entropy, max and sparsity per head of each site),
* ``aw.HeadGrid(cap, mode="model")``: 144 thumbnails for every selection,
* ``aw.Heatmap(cap)``: one 512 x 512 frame per selection,

is written to a temporary folder: the wall seconds of ``to_html`` (best of
``--repeats``; its process CPU seconds beside them, threads included, which
say more on a busy machine) and the file's size in MB (10^6 bytes) are
printed, with whether each target holds: under 5 s and under 10 MB (issue 13).
``attnwidget.figures`` (matplotlib with it) is imported before the clock starts. The weights
are drawn with ``initializer_range=0.3``, as ``benchmarks/browser.py`` does,
so that heads attend somewhere (with the default 0.02 every head is close to
uniform, and its colour codes are noise; ``--init 0.02`` measures that case).

For the explorer's page the selections, states and shared parts of each
panel are printed too.

Where Playwright and Chromium (``/usr/bin/chromium``) are installed, each page
is then opened headless from its file, offline, and the time from navigation
to the first picture drawn (``window.__awPainted``, which the page sets when
every panel has painted) is printed against the target of 1 s.

Usage::

    python benchmarks/page.py                 # about a minute on 2 cores
    python benchmarks/page.py --no-browser    # writing and sizes only
    python benchmarks/page.py --json out.json

The exit status is 0 only if every target measured is met.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import cpu_model  # noqa: E402

WRITE_TARGET_S = 5.0
SIZE_TARGET_MB = 10.0
PAINT_TARGET_S = 1.0
CHROMIUM = "/usr/bin/chromium"


def capture_bert(tokens: int, init: float):
    """A BERT-base-shaped model with random weights, run once on ``tokens`` random tokens."""
    import torch
    import transformers

    import attnwidget as aw

    torch.manual_seed(0)
    config = transformers.BertConfig(max_position_embeddings=max(512, tokens), initializer_range=init)
    model = transformers.BertModel._from_config(config, attn_implementation="sdpa").eval()
    ids = torch.randint(5, config.vocab_size, (1, tokens))
    with aw.capture(model) as cap, torch.no_grad():
        model(input_ids=ids)
    return cap, [f"w{i}" for i in range(tokens)]


def views(cap, tokens) -> dict:
    """The three views whose pages are written: name -> a function that makes the view."""
    import attnwidget as aw

    return {
        "aw.show(cap)": lambda: aw.show(cap, tokens=tokens),
        'aw.HeadGrid(cap, mode="model")': lambda: aw.HeadGrid(cap, tokens=tokens, mode="model"),
        "aw.Heatmap(cap)": lambda: aw.Heatmap(cap, tokens=tokens),
    }


def write(make, path: pathlib.Path, repeats: int) -> dict:
    """Seconds to write the page of a view (best of ``repeats``, the view made once), and its size."""
    import attnwidget as aw

    view = make()
    times, cpu = [], []
    for _ in range(repeats):
        started, used = time.perf_counter(), time.process_time()
        aw.to_html(view, path)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    from attnwidget.figures.html import read_page

    data = read_page(path)
    panels = [data] + data.get("panels", [])
    return {
        "seconds": min(times),
        "all_seconds": times,
        "cpu_seconds": cpu[times.index(min(times))],
        "mb": path.stat().st_size / 1e6,
        "selections": sum(len(p["table"]) for p in panels),
        "states": len(data["states"]),
        "shared": len(data["shared"]),
        # per panel: its selections and the distinct states they show
        "panels": {
            p.get("kind", "main"): {"selections": len(p["table"]), "states": len(set(p["table"].values()))}
            for p in panels
        },
    }


def paint_times(paths: dict, timeout_s: float) -> dict:
    """Seconds from navigation to the first frame drawn, per page (None where it did not paint)."""
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for name, path in paths.items():
                ctx = browser.new_context(viewport={"width": 1200, "height": 900}, offline=True)
                page = ctx.new_page()
                errors = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.goto(path.as_uri(), wait_until="commit")
                deadline = time.monotonic() + timeout_s
                painted = None
                while time.monotonic() < deadline:
                    painted = page.evaluate("window.__awPainted || null")
                    ready = page.evaluate("document.body && document.body.dataset.awReady")
                    if painted is not None or ready == "error":
                        break
                    page.wait_for_timeout(20)
                out[name] = {
                    "seconds": None if painted is None else painted / 1000.0,
                    "errors": errors,
                    "status": page.evaluate("(document.getElementById('aw-status') || {}).textContent || ''"),
                }
                ctx.close()
        finally:
            browser.close()
    return out


def browser_available() -> str | None:
    """Why the paint cannot be measured here, or None where it can."""
    if not os.path.exists(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "no Playwright (pip install playwright)"
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--init", type=float, default=0.3, help="initializer_range of the random weights")
    parser.add_argument("--repeats", type=int, default=1, help="writes per page (the best is kept)")
    parser.add_argument("--no-browser", action="store_true", help="do not measure the first paint")
    parser.add_argument("--keep", help="folder to keep the pages in (default: a temporary one)")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args(argv)

    import torch

    print(f"machine: {cpu_model()}, load {os.getloadavg()[0]:.2f} (1 min)")
    print(f"python {platform.python_version()}, torch {torch.__version__}, {platform.platform()}")
    started = time.perf_counter()
    import attnwidget.figures  # noqa: F401  (imported before the clock starts: matplotlib and all)

    print(f"import attnwidget.figures: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    cap, tokens = capture_bert(args.tokens, args.init)
    print(
        f"captured BERT-base shape (12 layers x 12 heads, random weights, initializer_range={args.init}, sdpa) "
        f"at {args.tokens} tokens in {time.perf_counter() - started:.1f} s"
    )
    folder = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="aw-html-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    results, paths, ok = {}, {}, True
    print(
        f"\n{'page':34s} {'write s':>8s} {'(CPU s)':>8s} {'< 5 s':>6s} {'MB':>7s} {'< 10 MB':>8s}"
        "  selections / states / shared parts"
    )
    for i, (name, make) in enumerate(views(cap, tokens).items()):
        path = folder / f"page{i}.html"
        r = write(make, path, args.repeats)
        results[name], paths[name] = r, path
        fast, small = r["seconds"] < WRITE_TARGET_S, r["mb"] < SIZE_TARGET_MB
        ok = ok and fast and small
        print(
            f"{name:34s} {r['seconds']:8.2f} {r['cpu_seconds']:8.2f} {'met' if fast else 'NOT':>6s} {r['mb']:7.2f} "
            f"{'met' if small else 'NOT':>8s}  {r['selections']} / {r['states']} / {r['shared']}"
        )
        if len(r["panels"]) > 1:
            parts = ", ".join(f"{k} {v['selections']} / {v['states']}" for k, v in r["panels"].items())
            print(f"{'':34s}   panels (selections / states): {parts}")
    why = "--no-browser" if args.no_browser else browser_available()
    if why is None:
        print(f"\nfirst paint in headless Chromium ({CHROMIUM}), from navigation to every panel drawn:")
        painted = paint_times(paths, timeout_s=60.0)
        for name, p in painted.items():
            results[name]["paint_seconds"] = p["seconds"]
            met = p["seconds"] is not None and p["seconds"] < PAINT_TARGET_S
            ok = ok and met
            shown = "did not paint in 60 s" if p["seconds"] is None else f"{p['seconds']:.2f} s"
            extra = f"  ({p['status'] or '; '.join(p['errors'])})" if p["seconds"] is None else ""
            print(f"{name:34s} {shown:>10s}  < 1 s {'met' if met else 'NOT met'}{extra}")
    else:
        print(f"\nfirst paint not measured: {why}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2))
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\nall targets {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
