"""``attnwidget run``: its options, and the run from a model and inputs to the files.

A run loads the model (:mod:`.models`), reads its inputs (:mod:`.inputs`),
captures each input on its own with :func:`attnwidget.capture` (a data set
with :func:`attnwidget.collect`), labels the capture (:mod:`.runner`) and
writes the guides' files (:mod:`.outputs`), then the page and the capture
file if asked. With several inputs each one's files go into a folder of
``--out`` named after it (``input_0``, the image's stem), and ``--capture
run.npz`` writes ``run_input_0.npz`` ...; a single input writes into ``--out``
itself. Every failure is a :class:`~attnwidget.cli.CommandError`: one line on
stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import webbrowser
from typing import Any

import numpy as np
import torch

from ..cli import MAX_DPI, CommandError, _emit, parse_class_names, printable
from ..errors import check_head
from . import outputs
from .inputs import Input, batch_inputs, batch_labels, batches, read_inputs
from .models import DTYPES, load_checkpoint, load_factory, load_folder, offline, place
from .runner import HFRunner, Runner, from_factory
from .stacks import check_layers, stacks

__all__ = ["add_parser", "run", "EXAMPLES"]

EXAMPLES = """\
examples, one per kind of run:
  text, a Hugging Face folder (encoder):
    attnwidget run --model ./all-MiniLM-L6-v2 --input "The cat sat on the mat." --out figs/
  text with generation (decoder or encoder-decoder), seed 004's files:
    attnwidget run --model ./my-bart --input "안녕하세요" --generate 20 --layer -1 --out figs/
    attnwidget run --model ./my-gpt2 --file prompts.txt --generate 8 --html --show
  an image, seed 001's files:
    attnwidget run --model ./my-vit --image cat.jpg --layer 0 --head 2 --no-avg-heads --save-raw
  audio:
    attnwidget run --model ./my-wav2vec2 --audio clip.wav --out figs/
  a labelled data set, seed 000's files:
    attnwidget run --factory mypkg.models:build --checkpoint best.pth \\
        --dataset mypkg.data:eval_batches --num-samples 100 --class-names 0=spoof,1=bonafide
  a factory with its own recipe (the EEG lesson: seed 003's files):
    attnwidget run --factory notebooks.lessons.factories:eeg --num-samples 5 --out figs/

--layer N counts the layers of each stack (the decoder's and the encoder's; -1 is the last);
for data sets and factory examples it is a site index or name, as in attnwidget export.
Nothing is downloaded: --model is a folder save_pretrained wrote, loaded offline.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``run`` subcommand to the ``attnwidget`` parser's subparsers."""
    p = sub.add_parser(
        "run",
        help="run a model on inputs and write the guides' figures",
        description="Run a model on inputs, capture its attention and write the guides' figures.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", metavar="DIR", help="a local Hugging Face model folder (save_pretrained)")
    which.add_argument(
        "--factory", metavar="MODULE:FUNCTION", help="a function returning the model (the README's protocol)"
    )
    p.add_argument("--checkpoint", metavar="FILE", help="a state dict to load into the model (weights_only)")
    i = p.add_argument_group("inputs")
    i.add_argument("--input", action="append", metavar="TEXT", help="a text to run (repeatable)")
    i.add_argument("--file", metavar="FILE", help="a text file, one input per line")
    i.add_argument("--image", nargs="+", action="extend", metavar="PATH", help="image file(s)")
    i.add_argument("--audio", nargs="+", action="extend", metavar="PATH", help="WAV file(s)")
    i.add_argument(
        "--dataset", metavar="MODULE:FUNCTION", help="a function returning (inputs, labels) batches"
    )
    i.add_argument(
        "--num-samples", type=int, metavar="N", help="samples of --dataset (100) or a factory example"
    )
    i.add_argument(
        "--keep", choices=["samples", "stats", "both"], default="samples", help="what --dataset keeps"
    )
    i.add_argument(
        "--generate", type=int, metavar="N", help="greedy generation of N new tokens, with the cache"
    )
    s = p.add_argument_group("selection")
    s.add_argument(
        "--layer", action="append", metavar="N", help="layer(s) to draw (repeatable; -1: the last)"
    )
    s.add_argument("--head", help="head of the figures: an index, 'mean' (default) or 'max'")
    s.add_argument("--no-avg-heads", action="store_true", help="show the --head given, not the mean of heads")
    s.add_argument("--heads", help="heads to capture: all (default), mean, max or a list such as 0,3")
    s.add_argument("--max-size", type=int, metavar="N", help="pool each map to at most N x N cells")
    s.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, mps")
    s.add_argument("--dtype", choices=list(DTYPES), help="the model's weights' dtype")
    o = p.add_argument_group("output")
    o.add_argument("--out", default="attn_vis", metavar="DIR", help="output folder (default attn_vis)")
    o.add_argument("--format", default="png", choices=["png", "pdf", "svg"], help="figure format")
    o.add_argument("--dpi", type=int, default=150, help=f"resolution (default 150, at most {MAX_DPI})")
    o.add_argument("--save-raw", action="store_true", help="also write attn_raw_layer_{i}.npy per site")
    o.add_argument("--html", action="store_true", help=f"also write {outputs.PAGE}, the explorer offline")
    o.add_argument(
        "--capture", metavar="FILE", help="save the capture (.npz, for aw.load or attnwidget export)"
    )
    o.add_argument("--class-names", help="label names, e.g. 0=spoof,1=bonafide")
    o.add_argument("--show", action="store_true", help="write the page, print its path and open it")
    o.add_argument("--force", action="store_true", help="replace files of this run that exist already")
    o.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


# ---------------------------------------------------------------------- options


def _figure_head(args) -> Any:
    """The head the figures show, in the model's numbering."""
    if args.head is None:
        if args.no_avg_heads:
            raise CommandError("--no-avg-heads needs --head H, the head to show instead of the mean")
        return "mean"
    if args.head in ("mean", "max"):
        if args.no_avg_heads:
            raise CommandError(f"--no-avg-heads asks for one head, and --head {args.head} for all of them")
        return args.head
    try:
        return int(args.head)
    except ValueError:
        raise CommandError(f"--head must be an int, 'mean' or 'max', not {args.head!r}") from None


def _capture_heads(text: str | None) -> Any:
    if text is None or text == "all":
        return "all"
    if text in ("mean", "max"):
        return text
    try:
        heads = [int(h) for h in text.split(",") if h.strip()]
    except ValueError:
        heads = []
    if not heads or any(h < 0 for h in heads):
        raise CommandError(f"--heads must be all, mean, max or head indices such as 0,3; not {text!r}")
    return heads


def _check(args) -> None:
    """Refuse options that do not go together, before anything loads."""
    if args.dpi <= 0 or args.dpi > MAX_DPI:
        raise CommandError(f"--dpi must be between 1 and {MAX_DPI}, not {args.dpi}")
    for opt in ("num_samples", "generate", "max_size"):
        v = getattr(args, opt)
        if v is not None and v < 1:
            raise CommandError(f"--{opt.replace('_', '-')} must be at least 1, not {v}")
    given = [o for o, v in (("--input", args.input), ("--file", args.file), ("--image", args.image),
                            ("--audio", args.audio)) if v]  # fmt: skip
    if args.dataset and given:
        raise CommandError(f"--dataset runs its own batches; leave out {', '.join(given)}")
    if args.keep != "samples" and not args.dataset:
        raise CommandError("--keep chooses what --dataset keeps; it needs --dataset")
    if args.generate is not None and args.factory:
        raise CommandError("--generate is for --model folders; a factory's forward decides how it generates")
    if args.generate is not None and args.dataset:
        raise CommandError("--generate runs on --input/--file texts, not on --dataset batches")


def _head_index(head: Any, captured: Any) -> Any:
    """The figure head among the heads captured (``--heads 0,3 --head 3`` is the second kept)."""
    if not isinstance(head, int) or not isinstance(captured, list):
        if isinstance(head, int) and captured in ("mean", "max"):
            raise CommandError(
                f"--head {head}: the capture keeps only the {captured} of heads (--heads {captured})"
            )
        return head
    if head not in captured:
        raise CommandError(
            f"--head {head} is not among the heads captured (--heads {','.join(map(str, captured))})"
        )
    return captured.index(head)


# ---------------------------------------------------------------------- the run


def _oom_or(e: BaseException, what: str) -> CommandError:
    """One line for an exception of the model: out of memory (with the options that help), or what failed."""
    text = str(e).strip().splitlines()
    first = text[0] if text else type(e).__name__
    oom = isinstance(e, (MemoryError, torch.OutOfMemoryError)) or (
        isinstance(e, RuntimeError)
        and any(m in str(e).lower() for m in ("out of memory", "can't allocate memory"))
    )
    if oom:
        return CommandError(
            f"out of memory while running {what} ({first[:160]}); capture less: --max-size 256 pools each "
            "map to at most 256 x 256 cells, --heads mean keeps one map per site; or fewer --num-samples"
        )
    return CommandError(f"the model could not take {what}: {type(e).__name__}: {first[:300]}")


def _runner(args) -> Runner:
    if args.model is not None:
        runner: Runner = HFRunner(
            load_folder(args.model, device=args.device, dtype=args.dtype), args.generate
        )
    else:
        runner = from_factory(load_factory(args.factory), args.factory)
        runner.model = place(runner.model, args.device, args.dtype)
    if args.checkpoint:
        load_checkpoint(runner.model, args.checkpoint)
    return runner


def _capture_options(args) -> dict:
    return {"heads": _capture_heads(args.heads), "max_size": args.max_size}


def _capture_one(runner: Runner, inp: Input, options: dict):
    import attnwidget as aw

    try:
        with torch.no_grad(), aw.capture(runner.model, **options) as cap:
            output = runner.run(inp.value, inp.kind)
    except CommandError:
        raise
    except Exception as e:
        raise _oom_or(e, inp.label) from None
    if not cap.sites:
        raise CommandError(
            f"no attention ran in {runner.name} for {inp.label}: attnwidget found no attention site "
            "(see the README: aw.tap, or capture(include=..., extract=...) in a factory of your own)"
        )
    try:
        tokens = runner.tokens(cap, inp.value, output)
    except Exception as e:
        raise CommandError(
            f"{runner.name}: tokens() failed for {inp.label}: {type(e).__name__}: {e}"
        ) from None
    if tokens is not None:
        cap.tokens = tokens
    return cap, output


def _collect(runner: Runner, args, options: dict):
    import attnwidget as aw

    data = batches(args.dataset)
    first, data = _peek(data)
    predictions: list = []

    def forward(model, batch):
        out = runner.run(batch_inputs(batch), "batch")
        predictions.append(runner.predict(out))
        return out

    has_labels = batch_labels(first) is not None
    try:
        cap = aw.collect(
            runner.model,
            data,
            num_samples=args.num_samples or 100,
            forward=forward,
            labels=batch_labels if has_labels else None,
            keep=args.keep,
            progress=not args.quiet,
            **options,
        )
    except CommandError:
        raise
    except Exception as e:
        raise _oom_or(e, f"the batches of --dataset {args.dataset}") from None
    if cap is None:  # another rank of torch.distributed: rank 0 writes the files
        raise CommandError("attnwidget run collects on one process; run it without torch.distributed")
    if args.keep != "stats" and predictions and all(p is not None for p in predictions):
        pred = np.concatenate(predictions)
        if len(pred) >= cap.num_samples:
            cap.predictions = pred[: cap.num_samples]
    return cap


def _peek(data):
    it = iter(data)
    first = next(it)
    return first, itertools.chain([first], it)


def _class_names(args, runner: Runner, cap) -> dict | None:
    names = dict(runner.class_names or {})
    names.update(parse_class_names(args.class_names, cap) if args.class_names else {})
    return names or None


def _jobs(cap, inp: Input | None, output: Any, runner: Runner, args, head: Any, class_names) -> list:
    fmt, dpi = args.format, args.dpi
    if runner.recipe is not None:
        try:
            figures = runner.recipe(
                cap, inp.value if inp else None, output, head=head, layers=args.layer, class_names=class_names
            )
        except CommandError:
            raise
        except Exception as e:
            raise CommandError(f"{runner.name}: recipe() failed: {type(e).__name__}: {e}") from None
        jobs = outputs.recipe_jobs(figures, fmt=fmt, dpi=dpi, who=runner.name)
        sites = _sites_by_index(cap, args.layer)
    elif inp is not None and inp.kind in ("text", "image"):
        found = stacks(cap)
        check_layers(args.layer, found)
        for site in _sites_by_stack(cap, args.layer):
            try:
                check_head(head, cap.num_heads(site), site, cap.sites.index(site))
            except IndexError as e:
                raise CommandError(str(e.args[0] if e.args else e)) from None
        if inp.kind == "text":
            jobs = outputs.text_jobs(cap, layers=args.layer, head=head, fmt=fmt, dpi=dpi)
        else:
            jobs = outputs.image_jobs(cap, inp.value, layers=args.layer, head=head, fmt=fmt, dpi=dpi)
        sites = _sites_by_stack(cap, args.layer)
    else:
        jobs = outputs.gallery_jobs(
            cap, layers=args.layer, head=head, class_names=class_names, fmt=fmt, dpi=dpi
        )
        sites = _sites_by_index(cap, args.layer)
    if args.save_raw:
        jobs += outputs.raw_jobs(cap, sites)
    if args.html or args.show:
        image = inp.value if inp and inp.kind == "image" else None
        first = next((s for s in sites if cap.kinds[s] != "weights"), sites[0] if sites else None)
        jobs.append(outputs.page_job(cap, image=image, class_names=class_names, site=first))
    return jobs


def _sites_by_index(cap, layers) -> list[str]:
    from ..cli import _resolve_layers

    return _resolve_layers(layers, cap) or list(cap.sites)


def _sites_by_stack(cap, layers) -> list[str]:
    from .stacks import chosen_layers

    found = stacks(cap)
    out = [found.cross[n] for n in chosen_layers(layers, len(found.cross))]
    out += [d for n in chosen_layers(layers, len(found.cross)) if (d := found.decoder[n]) is not None]
    out += [found.encoder[n] for n in chosen_layers(layers, len(found.encoder))]
    return [s for s in cap.sites if s in out]


def _capture_path(path: str, name: str, several: bool) -> str:
    if not several:
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}_{name}{ext or '.npz'}"


def _check_capture_paths(paths: list[str], force: bool) -> None:
    for p in paths:
        if os.path.isdir(p):
            raise CommandError(f"--capture {p!r} is a folder; give a file name such as run.npz")
        if os.path.exists(p) and not force:
            raise CommandError(
                f"--capture {p!r} exists already; add --force to replace it, or choose another name"
            )
        parent = os.path.dirname(os.path.abspath(p))
        if not os.path.isdir(parent):
            raise CommandError(f"--capture {p!r}: no folder {parent!r} to write it in")


def _save_capture(cap, path: str, class_names: dict | None, source: dict) -> str:
    if class_names:
        cap.metadata["class_names"] = {str(k): v for k, v in class_names.items()}
    cap.metadata["run"] = source
    try:
        return cap.save(path)
    except (OSError, ValueError) as e:
        raise CommandError(f"cannot save --capture {path!r}: {e}") from None


def _open(pages: list[str]) -> None:
    """Print each page's path; open the first in a browser where there is a graphical one."""
    for p in pages:
        _emit(printable(f"page: {os.path.abspath(p)}"), sys.stdout)
    graphical = sys.platform in ("darwin", "win32") or any(
        os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")
    )
    if pages and graphical:  # a console browser (lynx, w3m) would take over the terminal: never those
        try:
            webbrowser.open("file://" + os.path.abspath(pages[0]))
        except webbrowser.Error:
            pass


def run(args) -> int:
    """Run the ``run`` subcommand on parsed arguments; returns the exit status (errors raise CommandError)."""
    _check(args)
    options = _capture_options(args)
    head = _head_index(_figure_head(args), options["heads"])
    items = read_inputs(args.input, args.file, args.image, args.audio)
    outputs.check_out(args.out)
    with offline():
        runner = _runner(args)
        if args.dataset:
            written, saved = _run_dataset(runner, args, options, head)
        else:
            written, saved = _run_inputs(runner, items, args, options, head)
    return _report(written, saved, args)


def _run_dataset(runner: Runner, args, options: dict, head: Any) -> tuple[list[str], list[str]]:
    """One capture of ``--dataset`` (:func:`attnwidget.collect`), its files, and the capture file."""
    if args.capture:
        _check_capture_paths([args.capture], args.force)
    cap = _collect(runner, args, options)
    names = _class_names(args, runner, cap)
    jobs = _jobs(cap, None, None, runner, args, head, names)
    written = outputs.write_jobs(jobs, args.out, overwrite=args.force, progress=not args.quiet)
    saved = [_save_capture(cap, args.capture, names, _source(args))] if args.capture else []
    return written, saved


def _run_inputs(
    runner: Runner, items: list[Input], args, options: dict, head: Any
) -> tuple[list[str], list[str]]:
    """One capture per input (the factory's example where the command line gives none), each with its files."""
    from tqdm.auto import tqdm

    if not items:
        if runner.example is None:
            raise CommandError(
                "no input: give --input TEXT, --file FILE, --image PATH, --audio PATH or --dataset "
                "module:function (or a factory with example())"
            )
        try:
            value = runner.example(args.num_samples)
        except Exception as e:
            raise CommandError(f"{runner.name}: example() failed: {type(e).__name__}: {e}") from None
        items = [Input("example", value, "example", "the factory's example")]
    several = len(items) > 1
    paths = [_capture_path(args.capture, inp.name, several) for inp in items] if args.capture else []
    _check_capture_paths(paths, args.force)
    written: list[str] = []
    saved: list[str] = []
    for k, inp in enumerate(
        tqdm(items, desc="attnwidget run", unit="input", disable=args.quiet or not several)
    ):
        cap, output = _capture_one(runner, inp, options)
        line = runner.summary(inp.value, output)
        if line is not None:
            _emit(printable(f"{inp.label} -> {line!r}"), sys.stdout)
        names = _class_names(args, runner, cap)
        jobs = _jobs(cap, inp, output, runner, args, head, names)
        folder = outputs.out_folder(args.out, inp.name, several)
        written += outputs.write_jobs(
            jobs, folder, overwrite=args.force, progress=not args.quiet and not several
        )
        if paths:
            saved.append(_save_capture(cap, paths[k], names, _source(args, inp)))
    return written, saved


def _source(args, inp: Input | None = None) -> dict:
    """What the capture file records of its run (JSON)."""
    src: dict[str, Any] = {"model": args.model, "factory": args.factory, "checkpoint": args.checkpoint}
    if inp is not None:
        src["input"] = inp.value if inp.kind == "text" else inp.path or inp.kind
    if args.dataset:
        src["dataset"] = args.dataset
    return {k: v for k, v in src.items() if v is not None}


def _report(written: list[str], saved: list[str], args) -> int:
    pages = [p for p in written if os.path.basename(p) == outputs.PAGE]
    _emit(printable(f"wrote {len(written)} file(s) to {args.out}"), sys.stdout)
    for p in saved:
        _emit(printable(f"capture: {p}"), sys.stdout)
    if args.show:
        _open(pages)
    return 0
