"""The factory protocol: how an input becomes a forward call, its tokens, and the figures a run writes.

``--factory module:function`` calls ``function()`` with no arguments. It returns
a ``torch.nn.Module`` (each input is then passed as ``model(input)``, a dict as
``model(**input)``), or any object with these attributes, of which only
``model`` is required:

=========================================  ==================================================
``model``                                  the ``torch.nn.Module`` whose attention is captured
``forward(input)``                         runs one input inside the capture and returns the
                                           output: ``input`` is a ``--input`` text, a
                                           ``PIL.Image`` (``--image``), an :class:`~attnwidget.run.inputs.Audio`
                                           (``--audio``), the inputs of a ``--dataset`` batch,
                                           or what ``example`` returned
``tokens(cap, input, output)``             token strings for ``cap.tokens`` (one list,
                                           ``{"query", "key"}``, or per site), or None
``example(num_samples)``                   the factory's own input, run when the command
                                           line gives none (``num_samples`` may be None)
``recipe(cap, input, output, **options)``  the run's figures instead of the default ones:
                                           ``{file stem: Figure, or a function returning
                                           one}``; options are ``head``, ``layers`` (the
                                           ``--layer`` values or None) and ``class_names``
``class_names``                            label -> name (a dict, or a list in label order)
``predict(output)``                        per-sample predictions of a data-set batch
                                           (default: the argmax of 2-D logits)
=========================================  ==================================================

:class:`Runner` holds what a run needs of any model; :class:`HFRunner` is the
same for a Hugging Face folder: it tokenizes text, preprocesses images and
audio, and generates greedily with the KV cache for decoders and
encoder-decoders (``--generate N``).
"""

from __future__ import annotations

import inspect
import math
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..cli import CommandError, _emit, printable
from .inputs import Audio
from .models import HFModel
from .stacks import stacks

__all__ = ["Runner", "HFRunner", "from_factory", "to_model", "DEFAULT_NEW_TOKENS"]

#: tokens an encoder-decoder generates when ``--generate`` is not given (its decoder needs some to read)
DEFAULT_NEW_TOKENS = 20
_MEMBERS = ("forward", "tokens", "example", "recipe", "predict")


def to_model(value: Any, model: torch.nn.Module) -> Any:
    """Tensors in ``value`` (also inside dicts, lists and tuples) moved to the model's device, floating
    ones cast to the dtype of its floating parameters."""
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    if param is None:
        return value

    def move(v):
        if isinstance(v, torch.Tensor):
            return v.to(param.device, dtype=param.dtype if v.is_floating_point() else None)
        if isinstance(v, dict):
            return {k: move(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)) and v and all(isinstance(x, torch.Tensor) for x in v):
            return type(v)(move(x) for x in v)
        return v

    return move(value)


def call_model(model: torch.nn.Module, value: Any) -> Any:
    """``model(**value)`` for a dict, ``model(value)`` otherwise, with tensors on the model's device."""
    value = to_model(value, model)
    if isinstance(value, dict):
        return model(**value)
    return model(value)


class Runner:
    """What a run needs of a model: the module, how an input is run, its tokens, figures, classes.

    Built by :func:`from_factory` from what a ``--factory`` returns; the
    attributes are those of the protocol in the module docstring (None where
    the factory does not give one).
    """

    #: the kinds of input the runner reads (None: whatever its forward takes)
    takes: list[str] | None = None

    def __init__(self, model: torch.nn.Module, *, forward: Callable | None = None,
                 tokens: Callable | None = None, example: Callable | None = None,
                 recipe: Callable | None = None, class_names: Any = None,
                 predict: Callable | None = None, name: str = "") -> None:  # fmt: skip
        self.model = model
        self._forward = forward
        self._tokens = tokens
        self.example = example
        self.recipe = recipe
        self.class_names = _class_names(class_names, name)
        self._predict = predict
        self.name = name or type(model).__name__

    def run(self, value: Any, kind: str = "example") -> Any:
        """Run one input (inside the capture); returns the output."""
        if self._forward is not None:
            return self._forward(value)
        return call_model(self.model, value)

    def tokens(self, cap, value: Any, output: Any) -> Any:
        """Token strings for the capture of one input, or None."""
        return self._tokens(cap, value, output) if self._tokens is not None else None

    def predict(self, output: Any) -> np.ndarray | None:
        """Per-sample predictions of a batch's output: the factory's ``predict``, else the argmax of
        2-D logits (``output`` or ``output.logits``), else None."""
        if self._predict is not None:
            pred = self._predict(output)
            return None if pred is None else np.asarray(_numpy(pred)).reshape(-1)
        logits = getattr(output, "logits", output)
        if isinstance(logits, torch.Tensor) and logits.ndim == 2:
            return logits.argmax(-1).cpu().numpy()
        return None

    def summary(self, value: Any, output: Any) -> str | None:
        """One line about the output worth printing (a generated text), or None: a factory's output
        that is a list of token strings (a translation) is printed joined by spaces."""
        if isinstance(output, (list, tuple)) and output and all(isinstance(t, str) for t in output):
            return " ".join(output)
        return None


def _numpy(x: Any) -> Any:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x


def _class_names(value: Any, name: str) -> dict | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, (list, tuple)):
        return dict(enumerate(str(v) for v in value))
    raise CommandError(
        f"{name}: class_names must be a dict (label -> name) or a list, not {type(value).__name__}"
    )


def from_factory(made: Any, spec: str) -> Runner:
    """A :class:`Runner` for what a ``--factory`` function returned (a module, or a protocol object)."""
    if isinstance(made, torch.nn.Module):
        return Runner(made.eval(), name=spec)
    model = getattr(made, "model", None)
    if not isinstance(model, torch.nn.Module):
        raise CommandError(
            f"--factory {spec} returned a {type(made).__name__}; it must return a torch.nn.Module, or an "
            "object whose .model is one (and optionally forward, tokens, example, recipe, class_names)"
        )
    members = {}
    for m in _MEMBERS:
        fn = getattr(made, m, None)
        if fn is not None and not callable(fn):
            raise CommandError(f"--factory {spec}: its .{m} is a {type(fn).__name__}, not a function")
        members[m] = fn
    return Runner(model.eval(), class_names=getattr(made, "class_names", None), name=spec, **members)


class HFRunner(Runner):
    """A Hugging Face folder's model with its tokenizer, image processor or feature extractor.

    Text is tokenized and run as one forward, or generated greedily with the
    KV cache (``generate`` new tokens; an encoder-decoder always generates,
    :data:`DEFAULT_NEW_TOKENS` by default); images go through the image
    processor, audio through the feature extractor (resampled to its rate
    where the file's differs, with a note).
    """

    def __init__(self, hf: HFModel, generate: int | None = None) -> None:
        config = hf.model.config
        names = getattr(config, "id2label", None) or None
        if names and all(str(v) == f"LABEL_{k}" for k, v in names.items()):
            names = None  # transformers' placeholders name nothing
        super().__init__(hf.model, class_names=names, name=hf.path)
        self.hf = hf
        self.takes: list[str] = list(hf.takes)
        if generate is not None and hf.kind == "encoder":
            raise CommandError(
                f"--generate: the model in {hf.path!r} ({type(hf.model).__name__}) is an encoder and does not "
                "generate; --generate needs a decoder (a causal LM) or an encoder-decoder"
            )
        self.generate = DEFAULT_NEW_TOKENS if generate is None and hf.kind == "encoder-decoder" else generate
        params = inspect.signature(hf.model.forward).parameters
        # the inputs forward names (a tokenizer's token_type_ids go to BERT, not to BART or GPT-2,
        # whose **kwargs take them and whose generate() then refuses them)
        self._accepted = {n for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}

    # ------------------------------------------------------------------ inputs
    def check(self, kind: str, label: str) -> None:
        """Refuse an input the folder has no preprocessor for, saying what the model takes."""
        takes = self.takes or []
        if kind in takes:
            return
        has = {"text": "a tokenizer", "image": "an image processor", "audio": "a feature extractor"}
        option = {"text": "--input/--file", "image": "--image", "audio": "--audio"}[kind]
        what = (
            " and ".join(has[t] for t in self.takes) or "no tokenizer, image processor or feature extractor"
        )
        raise CommandError(
            f"the model in {self.hf.path!r} cannot take {label} ({option}): its folder has {what}, "
            f"and {kind} needs {has[kind]}"
        )

    def _kwargs(self, encoded: Any) -> dict:
        enc = dict(encoded)
        named = {k: v for k, v in enc.items() if k in self._accepted}
        return to_model(named or enc, self.model)

    def encode(self, value: Any, kind: str) -> dict:
        """The model's keyword arguments for one input (or a list of inputs of one kind)."""
        hf = self.hf
        many = isinstance(value, list)
        if kind == "text":
            enc = dict(hf.tokenizer(value, return_tensors="pt", padding=many))
            if hf.kind != "encoder":
                # segment ids are BERT's; a decoder that takes them (GPT-2) reads them as token embeddings
                enc.pop("token_type_ids", None)
            return self._kwargs(enc)
        if kind == "image":
            return self._kwargs(hf.image_processor(images=value, return_tensors="pt"))
        fe = hf.feature_extractor
        rate = int(getattr(fe, "sampling_rate", 0) or 0)
        sounds = [self._resampled(a, rate) for a in (value if many else [value])]
        enc = fe(sounds if many else sounds[0], sampling_rate=rate or None, return_tensors="pt", padding=many)
        return self._kwargs(enc)

    @staticmethod
    def _resampled(audio: Any, rate: int) -> np.ndarray:
        if not isinstance(audio, Audio):
            return np.asarray(audio, dtype=np.float32)
        if not rate or audio.rate == rate:
            return audio.samples
        n = max(1, round(len(audio.samples) * rate / audio.rate))
        _emit(
            printable(
                f"attnwidget run: note: {audio.path or 'the audio'} is {audio.rate} Hz and the model takes "
                f"{rate} Hz: resampled by linear interpolation"
            ),
            sys.stderr,
        )
        t = np.arange(n) * (audio.rate / rate)
        return np.interp(t, np.arange(len(audio.samples)), audio.samples).astype(np.float32)

    # ------------------------------------------------------------------ runs
    def run(self, value: Any, kind: str = "text") -> Any:
        if kind == "batch":
            return self._batch(value)
        self.check(kind, repr(value) if kind == "text" else kind)
        enc = self.encode(value, kind)
        if kind == "text" and self.generate:
            return self._generate(enc)
        return {"inputs": enc, "output": self.model(**enc)}

    def _generate(self, enc: dict) -> dict:
        tok, config = self.hf.tokenizer, self.model.config
        pad = next(
            (
                p
                for p in (tok.pad_token_id, getattr(config, "pad_token_id", None), tok.eos_token_id)
                if p is not None
            ),
            0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # generation-config advice about flags greedy decoding ignores
            ids = self.model.generate(
                **enc,
                max_new_tokens=self.generate,
                do_sample=False,
                num_beams=1,
                use_cache=True,
                pad_token_id=pad,
            )
        return {"inputs": enc, "generated": ids}

    def _batch(self, value: Any) -> Any:
        """A data-set batch's inputs: texts, images or sounds as a list, or ready tensors."""
        if isinstance(value, (list, tuple)) and value:
            first = value[0]
            kind = (
                "text"
                if isinstance(first, str)
                else "audio"
                if isinstance(first, Audio)
                else "image"
                if hasattr(first, "convert") and hasattr(first, "size")
                else None
            )
            if kind is not None:
                self.check(kind, f"a batch of {kind}")
                return self.model(**self.encode(list(value), kind))
        if isinstance(value, dict):
            return self.model(**self._kwargs(value))
        return call_model(self.model, value)

    # ------------------------------------------------------------------ labels
    def tokens(self, cap, value: Any, output: Any) -> Any:
        tok = self.hf.tokenizer
        if not isinstance(output, dict):
            return None
        if "input_ids" in output["inputs"] and tok is not None:
            source = tok.convert_ids_to_tokens(output["inputs"]["input_ids"][0].tolist())
            if "generated" not in output:
                return source
            target = tok.convert_ids_to_tokens(output["generated"][0].tolist())
            if self.hf.kind == "decoder":
                return target  # prompt and generated text: every site reads it (its first n per step)
            return _seq2seq_tokens(cap, source, target)
        if "pixel_values" in output["inputs"]:
            return _patch_tokens(cap)
        if self.hf.feature_extractor is not None and isinstance(value, Audio):
            return _time_tokens(cap, len(value.samples) / value.rate)
        return None

    def summary(self, value: Any, output: Any) -> str | None:
        if not isinstance(output, dict) or "generated" not in output:
            return None
        ids = output["generated"][0]
        if self.hf.kind == "decoder":
            ids = ids[output["inputs"]["input_ids"].shape[1] :]
        return self.hf.tokenizer.decode(ids, skip_special_tokens=True)


def _seq2seq_tokens(cap, source: list[str], target: list[str]) -> dict:
    """Per-site tokens of an encoder-decoder: the encoder reads the source, the decoder the target."""
    found = stacks(cap)
    out = {}
    for site in found.encoder:
        out[site] = {"query": source, "key": source}
    for c, d in zip(found.cross, found.decoder):
        out[c] = {"query": target, "key": source}
        if d is not None:
            out[d] = {"query": target, "key": target}
    return out


def _key_length(cap) -> int | None:
    for site in cap.sites:
        if cap.kinds[site] == "self" and cap.steps_of(site):
            info = cap.info.get(site, {})
            return int(info.get("key_len") or cap.get(site, cap.steps_of(site)[0]).shape[-1])
    return None


def _patch_tokens(cap) -> list[str] | None:
    """``CLS`` and ``row,col`` per patch, where the keys are a CLS token and a square patch grid."""
    n = _key_length(cap)
    if n is None:
        return None
    side = math.isqrt(n - 1)
    if side * side == n - 1:
        return ["CLS"] + [f"{r},{c}" for r in range(side) for c in range(side)]
    side = math.isqrt(n)
    if side * side == n:
        return [f"{r},{c}" for r in range(side) for c in range(side)]
    return None


def _time_tokens(cap, seconds: float) -> list[str] | None:
    """The start time of each audio frame (``"0.12s"``), the frames spread evenly over the clip."""
    n = _key_length(cap)
    if not n:
        return None
    return [f"{i * seconds / n:.2f}s" for i in range(n)]
