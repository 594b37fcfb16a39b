"""The inputs of a run: text, lines of a text file, images, WAV audio, or a data set of your own.

Each input given on the command line becomes one :class:`Input`, run through
the model on its own (one capture each, as the guides run one sentence or one
image at a time). Images are opened with Pillow; WAV files are read with the
standard library's :mod:`wave` (PCM, 8 to 32 bits, any channels, mixed to
mono), so no audio library is needed. ``--dataset module:function`` names a
function that returns an iterable of batches, collected as :func:`attnwidget.collect`
collects them (:func:`batches`).
"""

from __future__ import annotations

import itertools
import os
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._names import safe_name
from ..cli import CommandError
from .specs import import_function

__all__ = [
    "Audio",
    "Input",
    "read_inputs",
    "read_texts",
    "read_wav",
    "read_image",
    "batches",
    "batch_inputs",
    "batch_labels",
]


@dataclass
class Audio:
    """A sound read from a WAV file: mono ``samples`` (float32 in [-1, 1]) at ``rate`` Hz."""

    samples: np.ndarray
    rate: int
    path: str = ""


@dataclass
class Input:
    """One input of a run.

    ``kind`` is ``"text"``, ``"image"`` (``value``: an RGB ``PIL.Image``),
    ``"audio"`` (an :class:`Audio`) or ``"example"`` (what a factory's
    ``example()`` returned); ``name`` names its output folder where a run has
    several inputs; ``label`` names it in messages.
    """

    kind: str
    value: Any
    name: str
    label: str
    path: str | None = None


def _short(text: str, most: int = 40) -> str:
    return repr(text if len(text) <= most else text[: most - 1] + "…")


def read_texts(texts: Sequence[str] | None, file: str | None) -> list[str]:
    """``--input`` texts, then the non-empty lines of ``--file``."""
    out = []
    for t in texts or []:
        if not t.strip():
            raise CommandError("--input is empty; give the text to run, e.g. --input 'The cat sat.'")
        out.append(t)
    if file is not None:
        if not os.path.isfile(file):
            raise CommandError(f"no text file {file!r} (--file takes a file with one input per line)")
        try:
            with open(file, encoding="utf-8-sig") as f:
                lines = [line.strip() for line in f]
        except UnicodeDecodeError as e:
            raise CommandError(f"--file {file!r} is not UTF-8 text: {e.reason} at byte {e.start}") from None
        except OSError as e:
            raise CommandError(f"cannot read --file {file!r}: {e.strerror or e}") from None
        lines = [line for line in lines if line]
        if not lines:
            raise CommandError(f"--file {file!r} has no line of text to run")
        out.extend(lines)
    return out


def read_image(path: str):
    """An image file as an RGB ``PIL.Image``."""
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise CommandError(f"no image file {path!r}")
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise CommandError(f"cannot read {path!r} as an image: {e}") from None


def read_wav(path: str) -> Audio:
    """A PCM WAV file (8, 16, 24 or 32-bit, any number of channels) as mono float32 :class:`Audio`."""
    if not os.path.isfile(path):
        raise CommandError(f"no audio file {path!r}")
    try:
        with wave.open(path, "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError, OSError) as e:
        raise CommandError(
            f"cannot read {path!r} as a WAV file ({e}); --audio reads PCM WAV (8 to 32-bit integers): "
            "convert other audio first, e.g. ffmpeg -i IN -c:a pcm_s16le OUT.wav"
        ) from None
    if width == 1:
        a = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        a = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:  # 24-bit little-endian: sign-extend three bytes into an int32
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        a = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / float(1 << 23)
    elif width == 4:
        a = np.frombuffer(raw, "<i4").astype(np.float32) / float(1 << 31)
    else:
        raise CommandError(f"{path!r} has {8 * width}-bit samples; --audio reads 8, 16, 24 or 32-bit PCM")
    a = a[: len(a) // channels * channels].reshape(-1, channels).mean(axis=1)
    if a.size == 0:
        raise CommandError(f"{path!r} holds no audio samples")
    return Audio(samples=np.ascontiguousarray(a, dtype=np.float32), rate=int(rate), path=path)


def read_inputs(texts: Sequence[str] | None = None, file: str | None = None,
                images: Sequence[str] | None = None, audio: Sequence[str] | None = None) -> list[Input]:  # fmt: skip
    """Every input of the command line, in the order: ``--input``, ``--file``, ``--image``, ``--audio``.

    Each gets a folder name for runs of several inputs: ``input_{k}`` for text,
    the file's stem for images and audio (``_{k}`` added where two would share one).
    """
    found: list[Input] = []
    for t in read_texts(texts, file):
        found.append(Input("text", t, f"input_{len(found)}", f"input {len(found)} ({_short(t)})"))
    for p in images or []:
        found.append(Input("image", read_image(p), _stem(p), repr(p), path=p))
    for p in audio or []:
        found.append(Input("audio", read_wav(p), _stem(p), repr(p), path=p))
    seen: dict[str, int] = {}
    for inp in found:
        seen[inp.name.casefold()] = seen.get(inp.name.casefold(), 0) + 1
    for k, inp in enumerate(found):
        if seen[inp.name.casefold()] > 1:
            inp.name = f"{inp.name}_{k}"
    return found


def _stem(path: str) -> str:
    return safe_name(os.path.splitext(os.path.basename(path))[0]) or "input"


def batches(spec: str) -> Iterable:
    """The batches ``--dataset module:function`` returns, checked to be an iterable that yields one.

    The first batch is read here (to say at once what is wrong with an empty
    data set) and yielded again first.
    """
    fn = import_function(spec, "--dataset")
    try:
        data = fn()
    except CommandError:
        raise
    except Exception as e:
        raise CommandError(
            f"--dataset {spec}: {getattr(fn, '__name__', spec)}() failed: {type(e).__name__}: {e}"
        ) from None
    try:
        it = iter(data)
    except TypeError:
        raise CommandError(
            f"--dataset {spec} returned a {type(data).__name__}, not an iterable of batches "
            "(a DataLoader, or a list of (inputs, labels) tuples)"
        ) from None
    try:
        first = next(it)
    except StopIteration:
        raise CommandError(f"--dataset {spec} yielded no batch") from None
    except Exception as e:
        raise CommandError(
            f"--dataset {spec}: reading its first batch failed: {type(e).__name__}: {e}"
        ) from None
    return itertools.chain([first], it)


def batch_inputs(batch: Any) -> Any:
    """What of a batch the model reads: ``batch[0]`` of an ``(inputs, labels)`` tuple, a dict without
    its ``labels``/``label``, else the batch."""
    if isinstance(batch, (tuple, list)) and len(batch) >= 1 and not isinstance(batch[0], str):
        return batch[0]
    if isinstance(batch, dict):
        return {k: v for k, v in batch.items() if k not in ("labels", "label")}
    return batch


def batch_labels(batch: Any) -> Any:
    """The labels of a batch: ``batch[1]`` of a tuple, ``batch["labels"]`` (or ``"label"``) of a dict; None."""
    if isinstance(batch, (tuple, list)) and len(batch) >= 2 and not isinstance(batch[0], str):
        return batch[1]
    if isinstance(batch, dict):
        return batch.get("labels", batch.get("label"))
    return None
