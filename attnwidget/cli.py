"""The ``attnwidget`` command: ``info`` about a saved capture, ``export`` its gallery, ``run`` a model.

Examples::

    attnwidget info run.npz
    attnwidget export run.npz --out figs/ --class-names 0=spoof,1=bonafide
    attnwidget export run.npz --out figs/ --layer 3 --head 0 --format pdf --dpi 300
    python -m attnwidget export run.npz --out figs/ --class spoof
    attnwidget export LA.npz --compare DF.npz --names LA,DF --out figs/
    attnwidget run --model ./my-bart --input "march twenty first" --generate 12 --out figs/

``run`` goes from a model and its inputs to the guides' figures (see
:mod:`attnwidget.run`; ``attnwidget run --help`` has an example per kind).
``export a.npz --compare b.npz`` writes ``compare_layer{N}.png`` per site:
run a, run b and their difference (:func:`attnwidget.compare`); runs whose
sites or shapes differ are refused, naming them.

A capture of class statistics (``aw.collect(..., keep="stats"|"both")``) also
gets each class's mean map and each class minus the first per attention site;
``--class`` may name a class that has statistics but no kept sample (its mean
maps alone). Errors (a missing or corrupt file, an unknown layer, head or
class, an output folder that is a file or cannot be written, a full disk)
print one line on stderr and exit with status 2, without a traceback.

``export`` writes nothing before its checks pass: ``--out`` must be a folder (or
not exist yet), no file of the export may exist there unless ``--force`` is
given, and no file may be the capture being read (``--raw`` writes
``capture.npz``), ``--force`` or not. Each file is written to a temporary name
and renamed, so a failure part-way leaves whole files only, and a symlink in
``--out`` is replaced, never written through. File names keep a readable prefix
of long site and class names plus a hash (under 200 bytes in all), and names
equal but for case get a hash each, so they stay apart on macOS and Windows.
``--dpi`` is at most :data:`MAX_DPI`, and a figure above 300 megapixels is
refused before it is drawn.

Sites may keep different numbers of samples (a model that flattens epochs or
channels into its batch axis): ``info`` gives each site's count and what its
samples are named (``Capture.name_samples``). ``export --sample`` is checked
against every site exported before anything is drawn (``-1`` is each site's
last), and ``--class`` leaves out, with a note on stderr, the sites whose
samples the labels do not name.

``info`` escapes control characters (``\\x1b``, ``\\r``, ...) in everything
it prints: a file's site names, tokens and metadata cannot drive the terminal.
A mistyped option is one line too (``attnwidget run: error: ...``), exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import listing

__all__ = ["main", "parse_class_names", "describe", "printable", "MAX_DPI"]

#: the largest ``--dpi``: a 14 x 10 inch heatmap at 1200 dpi is 200 megapixels
MAX_DPI = 1200

# control (Cc), format (Cf: bidi overrides, zero-width), surrogate and line/paragraph separator characters
_ESCAPED = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def printable(text: Any) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\u202e``).

    What ``attnwidget`` prints comes from the file: a site name holding
    ``\\x1b[2J`` must show as those characters, not clear the screen.
    """
    out = []
    for ch in str(text):
        if unicodedata.category(ch) in _ESCAPED:
            o = ord(ch)
            out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")
        else:
            out.append(ch)
    return "".join(out)


def _emit(text: str, stream) -> None:
    """Write one escaped line, in whatever encoding the stream takes (never a UnicodeEncodeError)."""
    enc = getattr(stream, "encoding", None) or "utf-8"
    stream.write(text.encode(enc, "backslashreplace").decode(enc, "replace") + "\n")
    stream.flush()


class CommandError(Exception):
    """A problem with the user's input, reported as one line without a traceback."""


def parse_class_names(text: str | None, cap=None) -> dict:
    """Class names from ``"0=spoof,1=bonafide"`` (or ``"spoof,bonafide"`` in label order).

    Without ``text``, the capture's ``metadata["class_names"]`` is used.
    """
    names: dict = {}
    stored = cap.metadata.get("class_names") if cap is not None else None
    if isinstance(stored, dict):
        names.update({_label_value(k): str(v) for k, v in stored.items()})
    elif isinstance(stored, list):  # ["spoof", "bonafide"]: names of labels 0, 1, ...
        names.update({i: str(v) for i, v in enumerate(stored)})
    if not text:
        return names
    items = [s.strip() for s in text.split(",") if s.strip()]
    if all("=" in s for s in items):
        for s in items:
            k, v = s.split("=", 1)
            names[_label_value(k.strip())] = v.strip()
        return names
    if any("=" in s for s in items):
        raise CommandError(f"--class-names must be all 'label=name' pairs or all names, not {text!r}")
    labels = (_known_classes(cap) if cap is not None else []) or list(range(len(items)))
    if len(items) != len(labels):
        raise CommandError(
            f"--class-names gives {len(items)} names but the capture has {len(labels)} classes: {labels}"
        )
    return dict(zip(labels, items))


def _label_value(text: Any) -> Any:
    if isinstance(text, str):
        try:
            return int(text)
        except ValueError:
            return text
    return text


def _known_classes(cap) -> list:
    """Class labels of the kept samples and of the statistics, each once, sorted."""
    return cap.classes()


def _resolve_class(value: str, cap, class_names: dict) -> Any:
    """The label ``--class`` names (a label or a class name), among kept samples and statistics."""
    known = _known_classes(cap)
    if not known:
        raise CommandError(
            "this capture has no labels and no class statistics, so --class cannot "
            "filter it; collect it with aw.collect(..., labels=...)"
        )
    for lab in known:
        if class_names.get(lab) == value:
            return lab
    v = _label_value(value)
    if v in known:
        return v
    listing = ", ".join(f"{p}" + (f" ({class_names[p]})" if p in class_names else "") for p in known)
    raise CommandError(f"unknown class {value!r}; classes are: {listing}")


def _resolve_layers(values: Sequence[str] | None, cap) -> list[str] | None:
    if not values:
        return None
    out = []
    for v in values:
        key: Any = int(v) if v.lstrip("-").isdigit() else v
        try:
            out.append(cap.layer_name(key))
        except (IndexError, KeyError) as e:
            raise CommandError(f"unknown layer {v!r}: {e.args[0] if e.args else e}") from None
    return out


def _resolve_head(value: str | None) -> Any:
    if value is None:
        return "mean"
    if value in ("mean", "max"):
        return value
    try:
        return int(value)
    except ValueError:
        raise CommandError(f"--head must be an int, 'mean' or 'max', not {value!r}") from None


def _exported_sites(cap, asked: list[str] | None, label: Any, sample: Any) -> list[str] | None:
    """The sites an export draws (None: all), checked before anything is drawn.

    A class (``--class``, or the per-class figures of tapped weights) needs
    labels that name a site's samples: sites whose sample count is another
    than the labels' are left out, with a note on stderr. ``--sample`` must
    be a sample of every attention site exported.
    """
    from ._view_state import labels_fit

    names = list(cap.layers) if asked is None else list(asked)

    def unlabelled(name: str) -> bool:
        # kept samples the labels do not name: no class filter, no per-class figures there
        kept = cap.steps_of(name)
        classed = label is not None or cap.kinds[name] == "weights"
        return bool(kept) and cap.labels is not None and classed and not labels_fit(cap, name, kept[0])

    left = [n for n in names if unlabelled(n)]
    if left:
        names = [n for n in names if n not in left]
        what = f"class {label!r}" if label is not None else "per-class figures"
        if not names:
            raise CommandError(
                f"no site can show {what}: the {len(cap.labels)} labels name none of their samples "
                f"({listing(f'{n} ({cap.samples_of(n)} samples)' for n in left)})"
            )
        _emit(
            printable(
                f"attnwidget export: note: {what} leaves out {len(left)} site(s) whose samples the "
                f"{len(cap.labels)} labels do not name: "
                + listing(f"{n} ({cap.samples_of(n)} samples)" for n in left)
            ),
            sys.stderr,
        )
    if isinstance(sample, int):
        short = []
        for n in names:
            kept = cap.steps_of(n)
            if cap.kinds[n] == "weights" or not kept:
                continue
            count = cap.get(n, kept[0]).shape[0]
            if label is not None:
                count = int(np.count_nonzero(np.asarray(cap.labels) == label))
                if count == 0 and cap.has_stats(n):
                    continue  # a class with statistics alone: its figures are the class statistics
            if not -count <= sample < count:
                short.append(f"{n} ({count})")
        if short:
            of = f" of class {label!r}" if label is not None else ""
            raise CommandError(
                f"--sample {sample} is out of range for {len(short)} site(s), with these samples{of}: "
                f"{listing(short)}; give a smaller --sample, -1 for each site's last, 'mean', "
                "or --layer to choose sites"
            )
    return None if asked is None and not left else names


def _load(path: str):
    from .store import load

    if not os.path.exists(path):
        raise CommandError(f"no capture file at {path!r}")
    if os.path.isdir(path):
        raise CommandError(f"{path!r} is a folder, not a capture file")
    try:
        return load(path)
    except (ValueError, OSError) as e:
        raise CommandError(str(e)) from None
    except Exception as e:  # a damaged zip can fail in many ways; none should be a traceback
        raise CommandError(
            f"{path!r} is not a readable attnwidget capture: {type(e).__name__}: {e}"
        ) from None


def describe(cap, path: str | None = None, class_names: dict | None = None) -> str:
    """What a capture holds, as the text ``attnwidget info`` prints."""
    lines = []
    if path:
        lines.append(f"{path}  ({os.path.getsize(path) / 2**20:.2f} MiB on disk)")
    stats = cap.stats
    counts = sorted({cap.samples_of(n) for n in cap.layers if cap.steps_of(n)})
    samples = (
        f"{counts[0] if counts else 0} sample(s)"
        if len(counts) <= 1
        else f"{counts[0]} to {counts[-1]} sample(s) by site"
    )
    lines.append(
        f"{len(cap.layers)} site(s), {cap.steps} step(s), {samples}, "
        f"{cap.nbytes / 2**20:.2f} MiB of arrays" + (", class statistics" if stats else "")
    )
    lines.append("")
    lines.append("sites:")
    shown = {n: printable(n) for n in cap.layers}  # escaped first, so the columns line up
    width = max((len(n) for n in shown.values()), default=4)
    for i, name in enumerate(cap.layers):
        kind = printable(cap.kinds[name])
        steps = cap.steps_of(name)
        per_step = stats.get(name) or {}
        if steps:
            shape = cap.get(name, steps[0]).shape
            axes = "[" + ", ".join(f"{a}={s}" for a, s in zip(cap.axes[name], shape)) + "]"
            if per_step:
                axes += " + statistics"
        elif per_step:  # statistics only: [class, *sample_shape]
            shape = per_step[min(per_step)]["mean"].shape[1:]
            axes = "statistics [" + ", ".join(f"{a}={s}" for a, s in zip(cap.axes[name][1:], shape)) + "]"
        else:
            lines.append(f"  {i:>3}  {shown[name]:<{width}}  {kind:<7}  (empty)")
            continue
        ran_at = sorted(set(steps) | set(per_step))
        ran = f"steps {ran_at[0]}..{ran_at[-1]}" if len(ran_at) > 1 else f"step {ran_at[0]}"
        lines.append(f"  {i:>3}  {shown[name]:<{width}}  {kind:<7}  {axes}  {ran}")
        factors = cap.sample_axes.get(name)
        if factors:  # e.g. "samples: sequence 16 x epoch 20 x channel 3 (EEG1, EEG2, EEG3)"
            parts = [
                f"{f} {len(v)}" + ("" if v == [str(j) for j in range(len(v))] else f" ({listing(v, 6)})")
                for f, v in factors
            ]
            lines.append(f"  {'':>3}  {'':<{width}}  {'':<7}  samples: {' x '.join(parts)}")
    if cap.labels is not None:
        labels = np.asarray(cap.labels)
        vals, per_class = np.unique(labels, return_counts=True)
        parts = []
        for v, c in zip(vals.tolist(), per_class.tolist()):
            name = (class_names or {}).get(v)
            parts.append(f"{v}" + (f" ({name})" if name else "") + f": {c}")
        lines.append("")
        named = [n for n in cap.layers if cap.steps_of(n) and cap.samples_of(n) == len(labels)]
        whose = ""
        if len(counts) > 1:  # sites differ: say whose samples the labels name
            whose = f" (labels of the {len(labels)} samples of {listing(named, 4)})" if named else ""
        lines.append(f"classes{whose}: " + ", ".join(parts))
    if stats:
        # the counts of the first site's first step (every site sees the same samples)
        first = stats[next(iter(stats))]
        st = first[min(first)]
        parts = []
        for c, n in zip(st["classes"], np.asarray(st["count"]).tolist()):
            if isinstance(c, str) and c == "all":
                continue
            name = (class_names or {}).get(c)
            parts.append(f"{c}" + (f" ({name})" if name else "") + f": {n}")
        by_class = dict(zip(st["classes"], np.asarray(st["count"]).tolist()))
        line = f"statistics: {by_class['all']} sample(s)" if "all" in by_class else "statistics"
        lines.append(line + (f"; classes {', '.join(parts)}" if parts else ""))
    if cap.predictions is not None:
        preds = np.asarray(cap.predictions)
        line = f"predictions: {preds.shape[0]}"
        if cap.labels is not None and preds.shape == np.asarray(cap.labels).shape:
            line += f", accuracy {float((preds == np.asarray(cap.labels)).mean()):.3f}"
        lines.append(line)
    if cap.tokens is not None:
        toks = cap.tokens
        if isinstance(toks, dict):
            lines.append(
                "tokens: "
                + ", ".join(f"{k} ({len(v) if hasattr(v, '__len__') else '?'})" for k, v in toks.items())
            )
        else:
            first = " ".join(str(t) for t in list(toks)[:12])
            lines.append(f"tokens ({len(toks)}): {first}" + (" ..." if len(toks) > 12 else ""))
    if cap.metadata:
        lines.append("metadata: " + ", ".join(sorted(str(k) for k in cap.metadata)))
    # everything above may hold text from the file: no line may carry a control character
    return "\n".join(printable(line) for line in lines)


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (and the usage left to ``--help``)."""

    def error(self, message: str):
        _emit(printable(f"{self.prog}: error: {message} (see {self.prog} --help)"), sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="attnwidget", description="Capture, inspect and export attention.")
    sub = p.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print what a capture holds")
    info.add_argument("capture", help="a .npz file written by Capture.save()")
    info.add_argument("--class-names", help="e.g. 0=spoof,1=bonafide")
    ex = sub.add_parser("export", help="write the whole gallery of figures for a capture")
    ex.add_argument("capture", help="a .npz file written by Capture.save()")
    ex.add_argument("--out", required=True, help="output folder")
    ex.add_argument("--layer", action="append", help="site index or name (repeatable; default: all)")
    ex.add_argument("--head", help="head index, 'mean' (default) or 'max'")
    ex.add_argument("--class", dest="klass", help="only this class (label or class name)")
    ex.add_argument("--class-names", help="label names for titles and file names, e.g. 0=spoof,1=bonafide")
    ex.add_argument("--format", default="png", choices=["png", "pdf", "svg"], help="figure format")
    ex.add_argument("--dpi", type=int, default=150, help=f"resolution (default 150, at most {MAX_DPI})")
    ex.add_argument(
        "--sample", help="sample of the attention figures, or 'mean' (default 0; with --compare, mean)"
    )
    ex.add_argument(
        "--raw", action="store_true", help="also write .npy per site (and per statistic) and capture.npz"
    )
    ex.add_argument(
        "--compare",
        metavar="B.npz",
        help="compare the capture with this one: compare_layer{N}.png per site (a, b and a - b)",
    )
    ex.add_argument(
        "--names", help="the two runs' names with --compare, e.g. LA,DF (default: the file names)"
    )
    ex.add_argument(
        "--force",
        "--overwrite",
        dest="force",
        action="store_true",
        help="replace files of the export that already exist in --out (never the input)",
    )
    ex.add_argument("--quiet", action="store_true", help="no progress bar")
    from .run.command import add_parser  # imported here: the run room imports this module

    add_parser(sub)
    return p


def _run_names(text: str | None, a: str, b: str) -> tuple[str, str]:
    """The two runs' names of ``--compare``: ``--names LA,DF``, else the files' stems."""
    if text is None:
        first, second = (os.path.splitext(os.path.basename(p))[0] for p in (a, b))
        return (first, second) if first != second else ("a", "b")
    parts = [n.strip() for n in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise CommandError(f"--names must be two names separated by a comma, e.g. LA,DF; not {text!r}")
    if parts[0] == parts[1]:
        raise CommandError(f"--names gives {parts[0]!r} twice; the two runs need different names")
    return parts[0], parts[1]


def _compare(args, cap) -> int:
    """``export a.npz --compare b.npz``: compare_layer{N}.png per site, via :meth:`Comparison.save`."""
    from ._names import ExportError, FilesExistError
    from .analysis import compare

    for option, given in (("--class", args.klass), ("--raw", args.raw)):
        if given:
            raise CommandError(f"{option} does not go with --compare (it writes compare_layer{{N}}.png only)")
    other = _load(args.compare)
    names = _run_names(args.names, args.capture, args.compare)
    sample: Any = "mean" if args.sample in (None, "mean") else _label_value(args.sample)
    if not isinstance(sample, (int, str)) or (isinstance(sample, str) and sample != "mean"):
        raise CommandError(f"--sample must be an int or 'mean', not {args.sample!r}")
    try:
        cmp = compare(cap, other, names=names, sites=_resolve_layers(args.layer, cap))
        written = cmp.save(
            args.out,
            head=_resolve_head(args.head),
            sample=sample,
            fmt=args.format,
            dpi=args.dpi,
            overwrite=args.force,
            protect=[args.capture, args.compare],
        )
    except FilesExistError as e:
        raise CommandError(
            f"{len(e.existing)} file(s) of this comparison already exist in {e.folder!r}: "
            f"{listing(e.existing, most=5)}; add --force to replace them, or choose another --out"
        ) from None
    except ExportError as e:
        raise CommandError(str(e).replace("output folder", "--out folder")) from None
    except (IndexError, KeyError, ValueError) as e:
        raise CommandError(str(e.args[0] if e.args else e).replace("pass sites=", "pass --layer")) from None
    except OSError as e:
        raise CommandError(
            f"{e.strerror or e}" + (f": {e.filename!r}" if e.filename else "") + "; check --out and the disk"
        ) from None
    _emit(printable(f"wrote {len(written)} file(s) to {args.out}"), sys.stdout)
    return 0


def _run(args) -> int:
    if args.command == "run":
        from .run.command import run

        return run(args)
    cap = _load(args.capture)
    class_names = parse_class_names(args.class_names, cap)
    if class_names:
        cap.metadata["class_names"] = class_names  # a loaded copy: figure titles name the classes too
    if args.command == "info":
        _emit(describe(cap, args.capture, class_names), sys.stdout)
        return 0
    if args.dpi <= 0:
        raise CommandError(f"--dpi must be positive, not {args.dpi}")
    if args.dpi > MAX_DPI:
        raise CommandError(
            f"--dpi {args.dpi} is above the limit of {MAX_DPI} (a figure would take "
            f"gigabytes to draw); use --dpi {MAX_DPI} or less, or --format pdf or svg"
        )
    if args.compare is not None:
        return _compare(args, cap)
    from ._names import ExportError, FilesExistError
    from .recipes.gallery import export_gallery

    if args.names is not None:
        raise CommandError("--names names the two runs of --compare; it needs --compare")
    args.sample = "0" if args.sample is None else args.sample
    sample: Any = args.sample if args.sample == "mean" else _label_value(args.sample)
    if not isinstance(sample, (int, str)) or (isinstance(sample, str) and sample != "mean"):
        raise CommandError(f"--sample must be an int or 'mean', not {args.sample!r}")
    label = _resolve_class(args.klass, cap, class_names) if args.klass is not None else None
    layers = _exported_sites(cap, _resolve_layers(args.layer, cap), label, sample)
    try:
        written = export_gallery(
            cap,
            args.out,
            layers=layers,
            head=_resolve_head(args.head),
            label=label,
            class_names=class_names,
            fmt=args.format,
            dpi=args.dpi,
            sample=sample,
            raw=args.raw,
            progress=not args.quiet,
            overwrite=args.force,
            protect=[args.capture],
        )
    except FilesExistError as e:
        raise CommandError(
            f"{len(e.existing)} file(s) of this export already exist in {e.folder!r}: "
            f"{listing(e.existing, most=5)}; add --force to replace them, or choose "
            "another --out"
        ) from None
    except ExportError as e:
        raise CommandError(str(e).replace("output folder", "--out folder")) from None
    except (IndexError, KeyError, ValueError) as e:
        raise CommandError(e.args[0] if e.args else str(e)) from None
    except OSError as e:
        raise CommandError(
            f"{e.strerror or e}" + (f": {e.filename!r}" if e.filename else "") + "; check --out and the disk"
        ) from None
    _emit(printable(f"wrote {len(written)} file(s) to {args.out}"), sys.stdout)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input)."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except CommandError as e:
        _emit(printable(f"attnwidget {args.command}: error: {e}"), sys.stderr)
        return 2
    except BrokenPipeError:  # `attnwidget info run.npz | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        _emit(f"attnwidget {args.command}: interrupted; the files written so far are whole", sys.stderr)
        return 130
    except Exception as e:  # a bug: still one line, the traceback on request
        if os.environ.get("ATTNWIDGET_DEBUG"):
            raise
        _emit(
            printable(
                f"attnwidget {args.command}: error: unexpected {type(e).__name__}: {e}; this is "
                "a bug in attnwidget, please report it (ATTNWIDGET_DEBUG=1 shows the traceback)"
            ),
            sys.stderr,
        )
        return 2


if __name__ == "__main__":
    # `python -m attnwidget.cli` runs this file as __main__: call the imported module's main, so the
    # run room (which imports attnwidget.cli) raises the very CommandError that main catches
    from attnwidget.cli import main as _main

    sys.exit(_main())
