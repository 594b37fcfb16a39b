"""The sweep: every control of the explorer, the standalone page and ``attnwidget export``, on every
site of every lesson's capture.

**The captures** are those the notebooks show: each notebook's code cells run,
as its kernel would run them in ``notebooks/``, up to its last ``aw.show``,
with ``aw.show`` recording what it is given (so an edit of a notebook is
swept as it is; trained weights come from the lessons' cache, figures go to a
temporary folder). That is every ``aw.show`` of the gallery and of each lesson,
plus one variant a user makes of the EEG lesson: its 320 epochs labelled with
their sleep stage, so that the class filter meets sites whose sample counts
(960 and 16) are not the labels'.

**The explorer** is driven as a user's clicks drive it: the values of its
controls are set (``explorer.controls``, and the weights view's own site
control), never its traits. The space is every site x head choice (each head,
"mean", "max") x class ("all samples" and each) x statistic (where shown) x
step (first and last) x sample (first, last, "mean"). The sample and step axes
are sampled at their two ends (and the mean) because nothing branches on an
index in between. A control that is hidden offers nothing to click and is
left as it is; one that is disabled counts as passing only where it says why
(its tooltip, and the note under the controls). After every change the state
each view sends is checked: no error text, a frame with cells, row and column
labels of the frame's size, a code for every cell, a finite colour range, and
no NaN cell except in a mean over samples with padding. Where one sample is
shown, the slider's readout and the frame's title name it (``cap.sample_name``).

**The page** (``to_html`` of each canvas view of the explorer): every
combination its controls offer (site x head x first/last step x class x each
listed sample x statistic) must find an embedded state of its own, and each
is checked as above; its per-site sample names must be ``cap.sample_name``'s.

**The command line** (``attnwidget export`` of the capture saved with the
tokens and class names it was shown with): every site with the first sample
and the first head, then, on the first or the last site alone (a figure takes
a second to draw), the last sample (``--sample -1``) with the max over heads,
the mean sample, and the first and the last class. Each must exit 0, print
nothing on stderr but notes, and write non-blank figures.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import itertools
import json
import pathlib
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import attnwidget as aw
from attnwidget.wire import NAN_CODE

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT / "notebooks") not in sys.path:
    sys.path.insert(0, str(ROOT / "notebooks"))


NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_NAMES = sorted(p.stem for p in NOTEBOOKS.glob("[0-9]*.ipynb"))


@dataclass
class Shown:
    """One ``aw.show(source, **kwargs)`` call of a notebook, and the capture it shows."""

    source: Any  # a Capture, or an aw.record recorder
    kwargs: dict = field(default_factory=dict)

    @property
    def cap(self):
        return getattr(self.source, "capture", self.source)


# ---------------------------------------------------------------- the captures, as the notebooks build them
def _code_cells(notebook: str) -> list:
    import nbformat

    nb = nbformat.read(NOTEBOOKS / f"{notebook}.ipynb", as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


def _show_ids(notebook: str) -> list[str]:
    """``"04_eeg_sleep:04-05"`` for each cell of a notebook that calls ``aw.show``."""
    return [f"{notebook}:{c.id}" for c in _code_cells(notebook) if "aw.show(" in c.source]


def _run_notebook(notebook: str, figures: pathlib.Path) -> tuple[dict[str, Shown], dict]:
    """Run a notebook's code cells up to its last ``aw.show``, as a kernel in ``notebooks/`` would,
    its figures written under ``figures``; every ``aw.show`` call is recorded (and still made, so
    the notebook's own use of the explorer works). Returns ``{show id: Shown}`` and the notebook's
    names."""
    import matplotlib

    matplotlib.use("Agg")
    cells = _code_cells(notebook)
    last = max(i for i, c in enumerate(cells) if "aw.show(" in c.source)
    calls: dict[str, Shown] = {}
    signature = inspect.signature(aw.show)
    real = aw.show
    current = [""]

    def show(*args, **kwargs):
        given = dict(signature.bind(*args, **kwargs).arguments)
        source = given.pop("cap")
        given.update(given.pop("kwargs", {}))
        calls[current[0]] = Shown(source, {k: v for k, v in given.items() if v is not None})
        return real(*args, **kwargs)

    namespace: dict = {"__name__": "__notebook__"}
    aw.show = show
    try:
        for cell in cells[: last + 1]:
            current[0] = f"{notebook}:{cell.id}"
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Agg's plt.show() says it shows nothing
                exec(compile(cell.source, current[0], "exec"), namespace)
            if "FIGURES" in namespace:  # the set-up cell imported it: figures go to the test's folder
                namespace["FIGURES"] = figures
    finally:
        aw.show = real
    return calls, namespace


def _eeg_by_epoch(shown: Shown, namespace: dict) -> Shown:
    """A user's variant of the EEG lesson: each of the 320 epochs labelled with its stage, so that the
    class filter meets sites of 960 and 16 samples, which the labels do not name."""
    from lessons import eeg

    with tempfile.TemporaryDirectory() as folder:
        cap = aw.load(shown.cap.save(pathlib.Path(folder) / "eeg.npz"))
    cap.labels = np.asarray(namespace["stages"]).reshape(-1)
    cap.predictions = np.asarray(namespace["predicted"]).reshape(-1)
    cap.metadata["class_names"] = dict(enumerate(eeg.STAGES))  # titles name the stages too
    return Shown(cap, dict(shown.kwargs))


@functools.cache
def _notebook_shows(notebook: str) -> dict[str, Shown]:
    figures = pathlib.Path(tempfile.mkdtemp(prefix=f"aw-sweep-{notebook}-"))
    calls, namespace = _run_notebook(notebook, figures)
    if notebook == "04_eeg_sleep":
        calls[f"{notebook}:by-epoch"] = _eeg_by_epoch(calls[f"{notebook}:04-05"], namespace)
    return calls


#: every aw.show of every notebook (the gallery's included), plus the EEG lesson labelled per epoch
NAMES = [name for nb in NOTEBOOK_NAMES for name in _show_ids(nb)] + ["04_eeg_sleep:by-epoch"]


def shown(name: str) -> Shown:
    """The capture one ``aw.show`` call of a notebook shows, built once per test session."""
    return _notebook_shows(name.split(":")[0])[name]


# ---------------------------------------------------------------- what a state must be
def _frame_problems(where: str, meta: dict, codes: bytes, labels: dict | None, nan_ok: bool) -> list[str]:
    """What is wrong with one frame a view sends (empty when nothing is)."""
    if meta.get("error"):
        return [f"{where}: error text {meta['error']!r}"]
    h, w = meta["shape"]
    out = []
    if h * w == 0 or len(codes) != h * w:
        out.append(f"{where}: {len(codes)} codes for a {h}x{w} frame")
    if labels is not None and (len(labels["rows"]) != h or len(labels["cols"]) != w):
        out.append(f"{where}: {len(labels['rows'])}x{len(labels['cols'])} labels for a {h}x{w} frame")
    if not (np.isfinite(meta["vmin"]) and np.isfinite(meta["vmax"])):
        out.append(f"{where}: colour range {meta['vmin']}..{meta['vmax']}")
    if not nan_ok and (np.frombuffer(codes, np.uint8) == NAN_CODE).any():
        out.append(f"{where}: NaN cells where every cell has a value")
    return out


def _padded(cap, layer: int, step: int) -> bool:
    """Whether some position of the site is padding (a mean over samples may then have empty cells)."""
    mask = cap.valid_mask(layer, step)
    return mask is not None and not (mask[0].all() and mask[1].all())


def state_problems(ex, where: str) -> list[str]:
    """Everything wrong with what the explorer's views and controls show now."""
    from attnwidget._view_state import sample_index

    cap, c = ex.cap, ex.controls
    sel = ex.selection()
    nan_ok = sel["sample"] == "mean" and _padded(cap, sel["layer"], sel["step"])
    out = []
    for name in ("heatmap", "overlay"):
        view = getattr(ex, name)
        if view is not None:
            out += _frame_problems(f"{where} {name}", view._frame_meta, view._frame, view._labels, nan_ok)
    if ex.weights is not None:
        canvas = ex.weights.canvas
        out += _frame_problems(f"{where} weights", canvas._frame_meta, canvas._frame, canvas._labels, nan_ok)
    if ex.headgrid is not None:
        meta = ex.headgrid._thumbs_meta
        if meta.get("error"):
            out.append(f"{where} headgrid: error text {meta['error']!r}")
        else:
            heads = cap.num_heads(ex.headgrid.layer)
            if len(meta["thumbs"]) != heads:
                out.append(f"{where} headgrid: {len(meta['thumbs'])} thumbnails for {heads} heads")
            for th in meta["thumbs"]:
                part = ex.headgrid._thumbs[th["offset"] : th["offset"] + th["shape"][0] * th["shape"][1]]
                out += _frame_problems(f"{where} headgrid head {th['head']}", {**th}, part, None, nan_ok)
    if ex.headstats is not None:
        note = ex.headstats.message.value
        if note and ex.headstats.STATS_NOTE not in note:
            out.append(f"{where} headstats: error text {note!r}")
        elif not ex.headstats.stats.get("entropy"):
            out.append(f"{where} headstats: no bars")
    # a disabled control counts only where it says why
    for name, why in c.reasons().items():
        w = getattr(c, name)
        if w.layout.display == "none":
            continue
        if not w.disabled or not why or w.tooltip != why:
            out.append(
                f"{where} control {name}: disabled={w.disabled}, tooltip {w.tooltip!r}, reason {why!r}"
            )
        elif name != "sample" and why not in c.note.value:
            out.append(f"{where} control {name}: its reason {why!r} is not in the note {c.note.value!r}")
    for name in ("label", "stat", "sample", "mean", "difference"):
        w = getattr(c, name)
        if w.disabled and w.layout.display != "none" and name not in c.reasons():
            out.append(f"{where} control {name}: disabled without a reason")
    # one sample shown: the slider's readout and the title name it
    index = sample_index(cap, sel)
    site = cap.site_name(sel["layer"])
    if index is not None and c.sample.layout.display != "none" and cap.kinds[site] != "weights":
        name = cap.sample_name(site, index)
        if c.sample_name.value != name:
            out.append(f"{where}: the slider's readout says {c.sample_name.value!r}, not {name!r}")
        if ex.heatmap is not None and name not in ex.heatmap._frame_meta.get("title", ""):
            out.append(f"{where}: the title {ex.heatmap._frame_meta.get('title')!r} does not say {name!r}")
    return out


# ---------------------------------------------------------------- the explorer, clicked through
def _options(widget) -> list:
    return [value for _, value in widget.options]


def _clickable(widget) -> bool:
    return widget.layout.display != "none" and not widget.disabled


def _ends(slider) -> list[int]:
    return list(dict.fromkeys([slider.min, slider.max])) if slider.layout.display != "none" else [None]


def sweep_explorer(ex) -> tuple[int, list[str]]:
    """Click through the explorer's control space (see the module docstring); returns how many
    states were checked and every problem found."""
    c = ex.controls
    checked, problems = 0, []

    def check(where: str) -> None:
        nonlocal checked
        checked += 1
        problems.extend(state_problems(ex, where))

    for layer in _options(c.layer):
        c.layer.value = layer
        for step in _ends(c.step):
            if step is not None:
                c.step.value = step
            heads = _options(c.head) if c.head.layout.display != "none" else [None]
            for head in heads:
                if head is not None:
                    c.head.value = head
                # a disabled class filter cannot be clicked: the class stays as it is (its reason is checked)
                labels = _options(c.label) if _clickable(c.label) else [None]
                for label in labels:
                    if label is not None:
                        c.label.value = label
                    stats = _options(c.stat) if _clickable(c.stat) else [None]
                    for stat in stats:
                        if stat is not None:
                            c.stat.value = stat
                        for sample in ("first", "last", "mean"):
                            if c.mean.layout.display == "none" or not _clickable(c.mean):
                                if sample != "first":
                                    continue  # nothing to walk here: the state as it is
                            elif sample == "mean":
                                c.mean.value = True
                            else:
                                c.mean.value = False
                                c.sample.value = c.sample.min if sample == "first" else c.sample.max
                            where = f"site {layer} step {step} head {head} class {label} stat {stat}"
                            check(f"{where} sample {sample} ({ex.selection()})")
                if _clickable(c.difference):
                    for pair in _options(c.difference)[1:]:
                        c.difference.value = pair
                        check(f"site {layer} step {step} head {head} difference {pair}")
                    c.difference.value = _options(c.difference)[0]
    if ex.weights is not None and ex.weights.site.layout.display != "none":
        for site in _options(ex.weights.site):  # the weights view's own site control
            ex.weights.site.value = site
            check(f"weights site {site}")
    return checked, problems


def _report(problems: list[str], most: int = 25) -> str:
    head = "\n".join(problems[:most])
    return f"{len(problems)} problem(s):\n{head}" + ("\n..." if len(problems) > most else "")


@pytest.mark.parametrize("name", NAMES)
def test_every_control_works_on_every_site_of_the_explorer(name):
    shown_ = shown(name)
    ex = aw.show(shown_.source, **shown_.kwargs)
    opened = state_problems(ex, "as opened")
    checked, problems = sweep_explorer(ex)
    assert checked >= len(ex.controls.layer.options)
    assert not opened + problems, _report(opened + problems)


# ---------------------------------------------------------------- the standalone page
def _page_data(path: str) -> dict:
    """The table a page written by ``to_html`` embeds, its shared parts resolved, bytes as bytes."""
    from attnwidget.figures.html import read_page

    return read_page(path, resolve=True)


def _page_state_problems(where: str, state: dict, nan_ok: bool) -> list[str]:
    if "_thumbs_meta" in state:  # a head grid: every thumbnail of the site
        meta = state["_thumbs_meta"]
        if meta.get("error"):
            return [f"{where}: error text {meta['error']!r}"]
        out = [] if meta["thumbs"] else [f"{where}: no thumbnails"]
        for th in meta["thumbs"]:
            part = state["_thumbs"][th["offset"] : th["offset"] + th["shape"][0] * th["shape"][1]]
            out += _frame_problems(f"{where} head {th['head']}", th, part, None, nan_ok)
        return out
    meta = state["_frame_meta"]
    labels = {"rows": meta.get("row_labels", []), "cols": meta.get("col_labels", [])}
    return _frame_problems(where, meta, state["_frame"], labels, nan_ok)


def sweep_page(view, path) -> tuple[int, list[str]]:
    """Every combination the page's controls offer must find an embedded state of its own (no
    fallback to another head or sample), and every state must be a frame (see the module docstring)."""
    cap = view.cap
    aw.to_html(view, path)
    data = _page_data(path)
    keys, table, options = data["keys"], data["table"], data["options"]
    problems: list[str] = []
    checked = 0
    for info in options["layers"]:
        layer = info["index"]
        site = cap.layers[layer]
        for step, head, label in itertools.product(
            dict.fromkeys([info["steps"][0], info["steps"][-1]]), info["heads"], options["labels"]
        ):
            label = label["value"]
            samples = options["samples"][json.dumps(label)]  # what the page's sample control lists
            for sample, stat in itertools.product(samples, [s for s, _ in options["stats"]] or [None]):
                sel = dict(layer=layer, head=head, sample=sample, label=label, step=step, stat=stat)
                sel.update(difference=None, scale=data["initial"].get("scale"))
                key = json.dumps([sel[k] for k in keys], separators=(",", ":"), ensure_ascii=False)
                where = f"page {sel}"
                checked += 1
                if key not in table:
                    problems.append(f"{where}: not embedded")
                    continue
                nan_ok = sample == "mean" and _padded(cap, layer, step)
                problems += _page_state_problems(where, data["states"][table[key]], nan_ok)
        # the page names a site's own samples
        for label_key, names in info["sample_names"].items():
            label = json.loads(label_key)
            for k, text in zip(info["samples"][label_key][1:], names[1:]):
                index = aw_sample_index(cap, layer, info["steps"][0], label, k)
                if index is not None and text != cap.sample_name(site, index):
                    problems.append(f"page site {site} class {label} sample {k}: named {text!r}")
    return checked, problems


def aw_sample_index(cap, layer, step, label, sample):
    from attnwidget._view_state import sample_index

    return sample_index(cap, dict(layer=layer, head="mean", sample=sample, label=label, step=step))


def _page_views(ex) -> list:
    """The canvas views of an explorer that a page can be written of."""
    views = [ex.heatmap, ex.headgrid, ex.overlay, ex.weights]
    return [v for v in views if v is not None]


@pytest.mark.parametrize("name", NAMES)
def test_every_choice_of_the_standalone_page_finds_its_frame(name, tmp_path):
    shown_ = shown(name)
    ex = aw.show(shown_.source, **shown_.kwargs)
    problems, checked = [], 0
    for i, view in enumerate(_page_views(ex)):
        n, found = sweep_page(view, tmp_path / f"view{i}.html")
        checked += n
        problems += [f"{type(view).__name__}: {p}" for p in found]
    assert checked > 0
    assert not problems, _report(problems)


# ---------------------------------------------------------------- attnwidget export
def _saved(shown_: Shown, folder: pathlib.Path) -> pathlib.Path:
    """The capture saved as a user saves it to export it: with the tokens and class names it was shown with."""
    cap = aw.load(shown_.cap.save(folder / "given.npz"))
    tokens = shown_.kwargs.get("tokens")
    if tokens is not None:
        cap.tokens = tokens
    if shown_.kwargs.get("class_names"):
        cap.metadata["class_names"] = dict(shown_.kwargs["class_names"])
    return pathlib.Path(cap.save(folder / "run.npz"))


def _export_runs(cap) -> list[list[str]]:
    """The command lines swept: every site with the first sample and head; then, on the first or the
    last site alone (a figure takes a second to draw), the last sample with the max over heads, the
    mean sample with the mean head, and the first and the last class (on the first and the last
    site whose samples the labels name)."""
    from attnwidget._view_state import labels_fit

    first, last = "0", str(len(cap.layers) - 1)
    runs = [
        ["--sample", "0", "--head", "0"],
        ["--layer", first, "--sample", "-1", "--head", "max"],
        ["--layer", last, "--sample", "mean"],
    ]
    labelled = [str(i) for i, n in enumerate(cap.layers) if labels_fit(cap, n, cap.site_steps(n)[0])]
    classes = cap.classes()
    for label, layer in zip(dict.fromkeys(classes[:1] + classes[-1:]), labelled[:1] + labelled[-1:]):
        runs.append(["--layer", layer, "--class", str(label), "--sample", "-1"])
    return runs


def _image_problems(path: pathlib.Path) -> list[str]:
    from PIL import Image

    if path.stat().st_size == 0:
        return [f"{path.name}: empty"]
    if path.suffix not in (".png", ".gif"):
        return []
    with Image.open(path) as im:
        pixels = np.asarray(im.convert("RGB"))
    return [] if np.ptp(pixels) > 0 else [f"{path.name}: a blank picture"]


@pytest.mark.parametrize("name", NAMES)
def test_export_draws_every_site_with_every_sample_head_and_class(name, tmp_path, capsys):
    from attnwidget.cli import main

    shown_ = shown(name)
    run = _saved(shown_, tmp_path)
    capsys.readouterr()  # what building the capture printed
    problems = []
    for i, args in enumerate(_export_runs(aw.load(run))):
        out = tmp_path / f"out{i}"
        code = main(["export", str(run), "--out", str(out), "--quiet", *args])
        err = capsys.readouterr().err
        said = [line for line in err.splitlines() if line and "note:" not in line]
        if code != 0 or said:
            problems.append(f"export {' '.join(args)}: exit {code}, {said}")
            continue
        written = sorted(out.iterdir())
        if not written:
            problems.append(f"export {' '.join(args)}: no file")
        for path in written:
            problems += [f"export {' '.join(args)}: {p}" for p in _image_problems(path)]
    assert not problems, _report(problems)


# ---------------------------------------------------------------- the EEG lesson's samples, by name
def test_eeg_sites_walk_their_own_named_samples():
    from lessons import eeg

    shown_ = shown("04_eeg_sleep:04-05")
    cap = shown_.cap
    ex = aw.show(shown_.source, **shown_.kwargs)
    c = ex.controls
    lasts = {}
    for site in cap.layers:
        c.layer.value = cap.layers.index(site)
        c.mean.value = True  # the mean of every site's own samples
        assert ex.heatmap._frame_meta["error"] is None, ex.heatmap._frame_meta["error"]
        assert c.sample_name.value == f"mean of {cap.samples_of(site)} samples"
        c.mean.value = False
        lasts[site] = c.sample.max
    assert lasts == {
        "temporal.self_attn": 959,
        "channel": 319,
        "epochs.0.self_attn": 15,
        "epochs.1.self_attn": 15,
    }
    c.layer.value = cap.layers.index("temporal.self_attn")
    c.sample.value = eeg.temporal_sample(3, 5, 1)  # the flattening the model does, channel fastest
    assert c.sample_name.value == "sequence 3 · epoch 5 · EEG2"
    assert "sequence 3 · epoch 5 · EEG2" in ex.heatmap._frame_meta["title"]
    np.testing.assert_allclose(
        ex.heatmap.frame().values, cap.get("temporal.self_attn")[eeg.temporal_sample(3, 5, 1)].mean(axis=0)
    )
    # an index past the next site's last sample is clamped to it, not an error
    c.sample.value = 900
    c.layer.value = cap.layers.index("channel")
    assert ex.sample == 319 and c.sample_name.value == "sequence 15 · epoch 19"


def test_a_class_filter_applies_where_the_labels_name_the_samples_and_says_why_elsewhere():
    from lessons import eeg

    shown_ = shown("04_eeg_sleep:by-epoch")  # 320 labels: one stage per epoch
    cap = shown_.cap
    ex = aw.show(shown_.source, **shown_.kwargs)
    c = ex.controls
    n2 = eeg.STAGES.index("N2")
    c.layer.value = cap.layers.index("channel")
    c.label.value = cap.classes().index(n2)
    assert not c.label.disabled and c.note.value == ""
    count = int((cap.labels == n2).sum())
    c.mean.value = False
    assert c.sample.max == count - 1
    c.sample.value = 2
    index = int(np.flatnonzero(cap.labels == n2)[2])
    assert c.sample_name.value == cap.sample_name("channel", index)
    assert "true N2" in ex.heatmap._frame_meta["title"]
    c.layer.value = cap.layers.index("temporal.self_attn")  # 960 samples: the labels do not say which
    assert c.label.disabled and "temporal.self_attn holds 960 samples" in c.note.value
    assert c.label.tooltip == c.reasons()["label"]
    assert ex.heatmap._frame_meta["error"] is None and "N2" not in ex.heatmap._frame_meta["title"]
    assert ex.label == n2  # kept: back on the channel site the class filter applies again
    c.layer.value = cap.layers.index("channel")
    assert not c.label.disabled and ex.heatmap.frame_selection()["label"] == n2


def test_export_file_names_say_which_sample_they_draw(tmp_path):
    from lessons import eeg

    from attnwidget.cli import main

    run = _saved(shown("04_eeg_sleep:04-05"), tmp_path)
    index = eeg.temporal_sample(3, 5, 1)
    out = tmp_path / "named"
    assert (
        main(["export", str(run), "--out", str(out), "--quiet", "--layer", "0", "--sample", str(index)]) == 0
    )
    names = sorted(p.name for p in out.iterdir())
    assert names and all("sequence_3_epoch_5_EEG2" in n for n in names), names
