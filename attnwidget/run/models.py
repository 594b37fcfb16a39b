"""The model of a run: a local Hugging Face folder loaded offline, or the model a factory returns.

``--model DIR`` is a folder written by ``save_pretrained`` (``config.json``,
weights, and the tokenizer, image processor or feature extractor saved next to
them). It is loaded with the Auto class whose mapping names the architecture
the folder was saved as (:data:`AUTO_CLASSES`: ``BartForConditionalGeneration``
-> ``AutoModelForSeq2SeqLM``, ``GPT2LMHeadModel`` -> ``AutoModelForCausalLM``,
``ViTForImageClassification`` -> ``AutoModelForImageClassification`` ...;
``AutoModel`` for a bare ``BertModel``), always with ``local_files_only=True``
and the Hugging Face offline switches on, so nothing is fetched. A folder
whose loading would need the network (a hub name instead of a folder, no
weights, code of its own through ``auto_map``) is refused before transformers
is asked, with one line that says what to do.

``--factory module:function`` calls your function (see :mod:`attnwidget.run.runner`
for what it may return), and ``--checkpoint FILE`` loads a state dict into the
model with ``torch.load(..., weights_only=True)``: tensors and plain containers
only, never arbitrary pickled objects.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from ..cli import CommandError
from ..errors import listing
from .specs import import_function

__all__ = [
    "AUTO_CLASSES",
    "HFModel",
    "auto_class",
    "load_folder",
    "load_factory",
    "load_checkpoint",
    "place",
    "offline",
]

#: (Auto class, its mapping of model type -> architecture names): the first whose mapping holds the
#: architecture a folder was saved as loads it; ``AutoModel`` loads the rest
AUTO_CLASSES = (
    ("AutoModelForSeq2SeqLM", "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES"),
    ("AutoModelForSpeechSeq2Seq", "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES"),
    ("AutoModelForCausalLM", "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"),
    ("AutoModelForImageClassification", "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES"),
    ("AutoModelForAudioClassification", "MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES"),
    ("AutoModelForCTC", "MODEL_FOR_CTC_MAPPING_NAMES"),
    ("AutoModelForSequenceClassification", "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES"),
    ("AutoModelForTokenClassification", "MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES"),
    ("AutoModelForMaskedLM", "MODEL_FOR_MASKED_LM_MAPPING_NAMES"),
)
#: the environment switches that keep Hugging Face libraries off the network
OFFLINE_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
)
DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float64": torch.float64,
}


@dataclass
class HFModel:
    """A loaded Hugging Face folder: the model and what turns inputs into its calls.

    ``kind`` is ``"encoder"``, ``"decoder"`` (a causal LM) or ``"encoder-decoder"``;
    ``takes`` the inputs it has a preprocessor for (``"text"``, ``"image"``, ``"audio"``).
    """

    path: str
    model: torch.nn.Module
    auto: str
    kind: str
    tokenizer: Any = None
    image_processor: Any = None
    feature_extractor: Any = None
    takes: list[str] = field(default_factory=list)


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Hugging Face's offline switches on and transformers' own logging quiet, restored afterwards."""
    saved = {k: os.environ.get(k) for k in OFFLINE_ENV}
    os.environ.update(dict.fromkeys(OFFLINE_ENV, "1"))
    level = bars = None
    try:
        import transformers

        level = transformers.logging.get_verbosity()
        bars = transformers.utils.logging.is_progress_bar_enabled()
        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:  # a factory run needs no transformers
        pass
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if level is not None:
            import transformers

            transformers.logging.set_verbosity(level)
            if bars:
                transformers.utils.logging.enable_progress_bar()


def _read_config(path: str) -> dict:
    """``config.json`` of a folder, after the checks that keep loading off the network."""
    if not os.path.exists(path):
        hint = ""
        if re.fullmatch(r"[\w.-]+(/[\w.-]+)?", path) and not path.startswith("."):
            hint = (
                "; attnwidget run loads local folders only and never downloads: fetch the model once "
                f"(huggingface-cli download {path} --local-dir DIR) and pass --model DIR"
            )
        raise CommandError(f"no model folder {path!r}{hint}")
    if not os.path.isdir(path):
        raise CommandError(
            f"--model {path!r} is a file, not a model folder; give the folder save_pretrained wrote, "
            "or load a state dict with --factory module:function --checkpoint FILE"
        )
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        raise CommandError(
            f"{path!r} is not a Hugging Face model folder: it has no config.json; write one with "
            "model.save_pretrained(folder), or use --factory for another model"
        )
    try:
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise CommandError(f"cannot read {config_path!r}: {e}") from None
    if not isinstance(config, dict):
        raise CommandError(f"{config_path!r} is not a JSON object")
    if config.get("auto_map"):
        raise CommandError(
            f"{path!r} needs model code of its own (auto_map: {listing(config['auto_map'], 3)}), which "
            "transformers would import from the folder or download; attnwidget run never runs such "
            "code: build the model in your own module and pass --factory module:function"
        )
    if not any(os.path.exists(os.path.join(path, w)) for w in WEIGHT_FILES):
        raise CommandError(
            f"{path!r} has no weights ({' or '.join(WEIGHT_FILES[::2])}), so loading it would need the "
            "network; save the model there with model.save_pretrained(folder)"
        )
    return config


def auto_class(config: dict) -> str:
    """The name of the Auto class that loads a folder with this ``config.json`` (see :data:`AUTO_CLASSES`)."""
    from transformers.models.auto import modeling_auto

    model_type = config.get("model_type")
    archs = config.get("architectures") or []
    for auto, mapping in AUTO_CLASSES:
        names = getattr(modeling_auto, mapping, {}).get(model_type)
        names = (names,) if isinstance(names, str) else tuple(names or ())
        if any(a in names for a in archs):
            return auto
    if not archs and config.get("is_encoder_decoder"):
        if model_type in modeling_auto.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES:
            return "AutoModelForSeq2SeqLM"
    return "AutoModel"


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


def load_folder(path: str, *, device: str = "cpu", dtype: str | None = None) -> HFModel:
    """Load a ``save_pretrained`` folder offline, with its tokenizer, image processor or feature extractor.

    Parameters
    ----------
    path : str
        The folder.
    device : str
        Where the model runs (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``).
    dtype : str, optional
        ``"float32"``, ``"float16"``, ``"bfloat16"`` or ``"float64"`` for the model's weights.

    Returns
    -------
    HFModel
    """
    config = _read_config(path)
    import transformers

    auto = auto_class(config)
    try:
        model = getattr(transformers, auto).from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError, ImportError) as e:
        raise CommandError(f"cannot load the model in {path!r}: {_first_line(e)}") from None
    loaded = HFModel(path=path, model=model, auto=auto, kind=_kind(config, auto))
    files = set(os.listdir(path))
    if files & set(TOKENIZER_FILES):
        loaded.tokenizer = _preprocessor(transformers.AutoTokenizer, path, "tokenizer")
    pre = _read_json(os.path.join(path, "preprocessor_config.json"))
    if "image_processor_type" in pre:
        loaded.image_processor = _preprocessor(transformers.AutoImageProcessor, path, "image processor")
    elif "feature_extractor_type" in pre:
        loaded.feature_extractor = _preprocessor(transformers.AutoFeatureExtractor, path, "feature extractor")
    loaded.takes = [
        what
        for what, has in (
            ("text", loaded.tokenizer),
            ("image", loaded.image_processor),
            ("audio", loaded.feature_extractor),
        )
        if has is not None
    ]
    loaded.model = place(model.eval(), device, dtype)
    return loaded


def _kind(config: dict, auto: str) -> str:
    if config.get("is_encoder_decoder"):
        return "encoder-decoder"
    return "decoder" if auto == "AutoModelForCausalLM" else "encoder"


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _preprocessor(auto: Any, path: str, what: str) -> Any:
    try:
        return auto.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError, ImportError, TypeError) as e:
        raise CommandError(f"cannot load the {what} in {path!r}: {_first_line(e)}") from None


def place(model: torch.nn.Module, device: str = "cpu", dtype: str | None = None) -> torch.nn.Module:
    """``model`` on ``device`` with weights of ``dtype``, after checking the device exists here."""
    try:
        where = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise CommandError(f"--device {device!r} is not a device torch knows: {e}") from None
    if where.type == "cuda" and not torch.cuda.is_available():
        raise CommandError(f"--device {device}: this torch sees no CUDA device; use --device cpu")
    if where.type == "cuda" and where.index is not None and where.index >= torch.cuda.device_count():
        raise CommandError(
            f"--device {device}: there are {torch.cuda.device_count()} CUDA device(s), numbered from 0"
        )
    if where.type == "mps" and not torch.backends.mps.is_available():
        raise CommandError(f"--device {device}: MPS is not available here; use --device cpu")
    if dtype is not None and dtype not in DTYPES:
        raise CommandError(f"--dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    try:
        return model.to(device=where, dtype=DTYPES[dtype] if dtype else None)
    except RuntimeError as e:
        raise CommandError(f"cannot move the model to {device}: {_first_line(e)}") from None


def load_factory(spec: str) -> Any:
    """What the ``--factory`` function returns (a model, or an object of the protocol in :mod:`.runner`)."""
    fn = import_function(spec, "--factory")
    try:
        return fn()
    except CommandError:
        raise
    except Exception as e:
        raise CommandError(
            f"--factory {spec}: {getattr(fn, '__name__', spec)}() failed: {_first_line(e)}"
        ) from None


def load_checkpoint(model: torch.nn.Module, path: str) -> None:
    """Load a state dict saved with ``torch.save`` into ``model``, tensors only (``weights_only=True``).

    The file may hold the state dict itself or a dict with it under
    ``"state_dict"``, ``"model_state_dict"`` or ``"model"`` (as training
    scripts save it next to an optimiser's state).
    """
    if not os.path.isfile(path):
        raise CommandError(f"no checkpoint file {path!r}")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CommandError(
            f"--checkpoint {path!r} holds Python objects other than tensors and plain containers; "
            "attnwidget loads checkpoints with weights_only=True and never unpickles arbitrary "
            "objects: save torch.save(model.state_dict(), FILE) instead"
        ) from None
    except Exception as e:
        raise CommandError(f"--checkpoint {path!r} is not a torch checkpoint: {_first_line(e)}") from None
    state = saved
    if isinstance(saved, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(saved.get(key), dict):
                state = saved[key]
                break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CommandError(
            f"--checkpoint {path!r} is not a state dict (names -> tensors), nor a dict holding one "
            "under 'state_dict' or 'model_state_dict'"
        )
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:
        raise CommandError(f"--checkpoint {path!r} does not fit the model: {_first_line(e)}") from None
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"the model's {listing(missing, 4)} are missing from it")
        if unexpected:
            parts.append(f"it holds {listing(unexpected, 4)}, which the model does not have")
        raise CommandError(f"--checkpoint {path!r} does not fit the model: " + "; ".join(parts))
