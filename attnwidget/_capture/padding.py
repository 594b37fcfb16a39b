"""Which query and key positions of each sample are padding, read from the masks a model passed.

Pure functions on torch tensors, run on the model's device; each is one
reduction over a mask (never a pass over the weights). Validity is a pair of
bool tensors ``query [sample, query]`` and ``key [sample, key]``, True where a
position is not padding; None stands for "every position valid".

Three sources, most authoritative first (the engine decides per axis):

1. **The model's own input mask** (:class:`InputMasks`): Hugging Face models
   take ``attention_mask`` ``[batch, length]`` of 0/1 (1 = a real token), and
   encoder-decoders also ``decoder_attention_mask`` (x-transformers' wrappers:
   ``mask``, True = a real token). It is *the* padding mask, mapped to a site
   by :func:`from_input_masks` where the lengths match.
2. **The attention call's mask**: ``scaled_dot_product_attention``'s
   ``attn_mask`` (:func:`sdpa_validity`), ``nn.MultiheadAttention``'s
   ``key_padding_mask`` and ``attn_mask`` (:func:`mha_validity`). A mask says
   which keys each ``(head, query)`` row may attend, and padding is read off
   it by :func:`from_mask` (the rule is written there).
3. For a self-attention site whose queries and keys are one sequence (as many
   queries as keys), a query position is padding where its key position is
   (:func:`self_queries`): a bidirectional encoder lets padded queries attend
   the real keys, so their rows alone do not show it.

A float mask entry counts as masked when it is at most :data:`MASKED` (-1e4):
``-inf``, ``torch.finfo(dtype).min`` (Hugging Face's eager masks, float16's
-65504 included), ``-1e9``, and the ``-10000.0`` older models add.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch

from .sdpa import _mask4d

__all__ = [
    "MASKED",
    "attended",
    "from_mask",
    "sdpa_validity",
    "mha_validity",
    "self_queries",
    "stored_positions",
    "InputMasks",
    "from_input_masks",
]

#: a float mask entry at or below this is masked (``-inf``, ``finfo(dtype).min``, ``-1e9``, ``-1e4``)
MASKED = -1e4

Validity = tuple[torch.Tensor, torch.Tensor]


def attended(mask: torch.Tensor, *, true_means_masked: bool = False) -> torch.Tensor:
    """Where a mask lets a query attend a key, as bool.

    ``mask``: a bool mask (True = attend, sdpa's convention; True = masked with
    ``true_means_masked``, ``nn.MultiheadAttention``'s) or an additive float
    mask (an entry at most :data:`MASKED` is masked; NaN too).
    """
    if mask.dtype == torch.bool:
        return mask.logical_not() if true_means_masked else mask
    if mask.is_floating_point():
        return mask > MASKED
    return mask == 0 if true_means_masked else mask != 0  # integer masks: 0 / 1 as bool


# mask elements per chunk of query rows (16 Mi): reading a long sequence's mask costs no mask-sized copy
CHUNK_ELEMENTS = 1 << 24


def from_mask(
    mask: torch.Tensor, n_samples: int, n_query: int, *, true_means_masked: bool = False
) -> Validity:
    """Valid queries ``[sample, query]`` and keys ``[sample, key]`` of a mask ``[s, h, q, key]``.

    ``mask`` is read by :func:`attended` (bool True = attend, or masked with
    ``true_means_masked``; float additive); its sample, head and query axes
    may be 1 (broadcast). The rule:

    - a **query** is padding where its row attends no key, for every head
      (a left-padded position of a causal model; a fully padded sample);
    - a **key** is padding for a sample where no row of that sample attends
      it, counting only rows that attend some key. A causal mask's last key is
      seen by the last row, so a causal mask alone flags nothing; a sliding
      window's keys are each seen by their own row.
    - rows that attend *every* key while a later row of the same head masks
      some key are not counted either: that is how a fully masked row looks
      after Hugging Face's fix for left padding under older torch
      (``AttentionMaskConverter._unmask_unattended``), which lets a padded
      query attend everything so its softmax is not NaN. The last row of a
      causal mask attends every key, but no row comes after it.

    Known limits: with fewer queries than keys (a KV-cache step), keys a
    sliding window has left behind are masked for every row and read as
    padding here; where the model's ``attention_mask`` maps to the site it
    decides instead (see :func:`from_input_masks`). A fully padded sample
    after the fix above attends everything and reads as valid.

    The mask is read in chunks of query rows, so no mask-sized copy is made.
    """
    s, h, q, n_key = mask.shape
    step = max(1, CHUNK_ELEMENTS // max(1, s * h * n_key))
    any_key, every_key = [], []
    for start in range(0, q, step):
        chunk = attended(mask[:, :, start : start + step], true_means_masked=true_means_masked)
        any_key.append(chunk.any(dim=-1))
        every_key.append(chunk.all(dim=-1))
    any_row, all_row = torch.cat(any_key, -1), torch.cat(every_key, -1)  # [s, h, q]
    partial = any_row & ~all_row
    # is there a row after this one (same sample, head) that masks some key but not all?
    after = partial.flip(-1).cumsum(-1).flip(-1) - partial.to(torch.long)
    counted = any_row & ~(all_row & (after > 0))
    keys = torch.zeros(s, n_key, dtype=torch.bool, device=mask.device)
    for start in range(0, q, step):
        chunk = attended(mask[:, :, start : start + step], true_means_masked=true_means_masked)
        seen = chunk & counted[:, :, start : start + step, None]
        keys |= seen.any(dim=-2).any(dim=-2)
    queries = any_row.any(dim=1)  # [s, q]
    return queries.expand(n_samples, n_query), keys.expand(n_samples, n_key)


def sdpa_validity(call: dict) -> Validity | None:
    """Validity from a bound ``scaled_dot_product_attention`` call's ``attn_mask`` (None without one).

    ``is_causal`` never marks padding (torch refuses it together with a mask),
    so a call without ``attn_mask`` has none. Samples are the query's leading
    axes but the last (heads), flattened as the engine stores them.
    """
    mask, query, key = call.get("attn_mask"), call["query"], call["key"]
    if not isinstance(mask, torch.Tensor) or query.ndim < 2 or key.ndim < 2:
        return None
    lead = tuple(query.shape[:-2])
    n_samples = 1
    for n in lead[:-1]:
        n_samples *= n
    n_query, n_key = query.shape[-2], key.shape[-2]
    if mask.shape[-1] != n_key or n_query == 0 or n_key == 0:
        return None
    m = _mask4d(mask, lead)
    return None if m is None else from_mask(m, n_samples, n_query)


def mha_validity(call: dict) -> Validity | None:
    """Validity from a bound ``F.multi_head_attention_forward`` call (None where it has no masks).

    ``key_padding_mask`` ``[sample, key]`` (or ``[key]`` unbatched): True, or a
    float at most :data:`MASKED`, is padding. ``attn_mask`` ``[query, key]`` or
    ``[sample * heads, query, key]``: bool True is masked, float additive.
    Both are read together by :func:`from_mask`, as one bool mask (the size of
    the additive mask :func:`attnwidget._capture.mha.mha_weights` builds). Keys
    added by ``bias_k`` / ``add_zero_attn`` are not the caller's: no validity.
    """
    attn_mask, padding = call.get("attn_mask"), call.get("key_padding_mask")
    if attn_mask is None and padding is None:
        return None
    if call.get("bias_k") is not None or call.get("add_zero_attn") or call.get("static_k") is not None:
        return None
    query, key = call["query"], call["key"]
    batched = query.dim() == 3
    n_query, n_key = query.shape[0], key.shape[0]
    n_samples = query.shape[1] if batched else 1
    n_heads = call["num_heads"]
    if n_query == 0 or n_key == 0:
        return None
    attend = torch.ones(1, 1, 1, n_key, dtype=torch.bool, device=query.device)
    if attn_mask is not None:
        a = attended(attn_mask, true_means_masked=True)
        attend = attend & (
            a.reshape(1, 1, n_query, n_key) if a.dim() == 2 else a.reshape(n_samples, n_heads, n_query, n_key)
        )
    if padding is not None:
        attend = attend & attended(padding, true_means_masked=True).reshape(n_samples, 1, 1, n_key)
    return from_mask(attend, n_samples, n_query)


def self_queries(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """For a self-attention site with as many queries as keys: a query is padding where its key is."""
    return queries & keys


def _pool_any(valid: torch.Tensor, block: int) -> torch.Tensor:
    """Block-pool ``[sample, n]`` as ``max_size=`` pools positions: a block is valid where any of its is."""
    if block <= 1:
        return valid
    n = valid.shape[-1]
    nb = -(-n // block)
    pad = nb * block - n
    if pad:
        valid = torch.cat([valid, valid.new_zeros(valid.shape[0], pad)], dim=-1)
    return valid.reshape(valid.shape[0], nb, block).any(dim=-1)


def stored_positions(queries: torch.Tensor, keys: torch.Tensor, info: dict) -> Validity:
    """Validity at the positions of the stored array: the query rows ``rows=`` kept, then the blocks
    ``max_size=`` pooled (``info`` as the reducer describes a site)."""
    rows = info.get("rows")
    if rows is not None:
        n = queries.shape[-1]
        queries = queries[:, [r % n for r in rows]]
    bq, bk = info.get("block") or (1, 1)
    return _pool_any(queries, int(bq)), _pool_any(keys, int(bk))


# ---------------------------------------------------------------------- the model's input masks
_NAMES = ("attention_mask", "decoder_attention_mask")
#: other names of ``attention_mask`` ``[batch, length]`` (True = a real token), by the package of the
#: model's class: x-transformers' wrappers take ``mask=``. Read only for those packages, whose
#: convention is known (elsewhere a ``mask`` may mean True = padded, or be causal)
_ALIASES = {"x_transformers": {"attention_mask": "mask"}}


def _aliases(model: torch.nn.Module) -> dict[str, str]:
    package = type(model).__module__.split(".")[0]
    return _ALIASES.get(package, {})


def _positions(forward: Callable, aliases: dict[str, str] | None = None) -> dict[str, int]:
    """Positional index of each mask parameter of ``forward`` (bound method: no ``self``)."""
    wanted = set(_NAMES) | set((aliases or {}).values())
    try:
        params = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):
        return {}
    out = {}
    for i, p in enumerate(params):
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            break
        if p.name in wanted:
            out[p.name] = i
    return out


def as_padding_mask(value) -> torch.Tensor | None:
    """A 2-D ``[batch, length]`` mask of 0/1 (bool, int or float; 1 = a real token) as bool, else None.

    Anything else (a 4-D mask, an additive float mask) is not read: its
    meaning is the model's own.
    """
    if not isinstance(value, torch.Tensor) or value.ndim != 2 or value.is_complex():
        return None
    if value.dtype == torch.bool:
        return value
    if not bool(((value == 0) | (value == 1)).all()):
        return None
    return value != 0


class InputMasks:
    """The padding masks of the captured model's current call, read by forward pre-hooks.

    ``attention_mask`` and ``decoder_attention_mask`` of the model's outermost
    forward call (positional arguments bound through its signature), replaced
    at each call; and ``attention_mask`` of its encoder's own forward, which
    Hugging Face ``generate`` runs by itself before the first decoding step.
    """

    def __init__(self, model: torch.nn.Module, modules: dict[int, tuple[str, torch.nn.Module]]):
        self.masks: dict[str, torch.Tensor | None] = {}
        self._aliases = _aliases(model)
        self._model_positions = _positions(model.forward, self._aliases)
        config = getattr(model, "config", None)
        self.encoder_decoder = bool(getattr(config, "is_encoder_decoder", False)) or (
            "decoder_attention_mask" in self._params(model.forward)
        )
        self.encoder: torch.nn.Module | None = None
        self.encoder_path: str | None = None  # module path of the encoder, where the model names one
        get_encoder = getattr(model, "get_encoder", None)
        if self.encoder_decoder and callable(get_encoder):
            try:
                encoder = get_encoder()
            except Exception:  # noqa: BLE001 -- a model's own accessor; no encoder is the answer
                encoder = None
            entry = modules.get(id(encoder)) if isinstance(encoder, torch.nn.Module) else None
            if entry is not None and entry[1] is encoder and encoder is not model and entry[0]:
                self.encoder, self.encoder_path = encoder, entry[0]
        self._encoder_positions = _positions(self.encoder.forward) if self.encoder is not None else {}

    @staticmethod
    def _params(forward) -> set[str]:
        try:
            return set(inspect.signature(forward).parameters)
        except (TypeError, ValueError):
            return set()

    @staticmethod
    def _read(name: str, positions: dict[str, int], args, kwargs) -> torch.Tensor | None:
        value = kwargs.get(name) if kwargs else None
        if value is None and name in positions and len(args) > positions[name]:
            value = args[positions[name]]
        return as_padding_mask(value)

    def read_model_call(self, args, kwargs) -> None:
        """The model's outermost call: its masks replace the last call's."""
        self.masks = {n: self._read(n, self._model_positions, args, kwargs) for n in _NAMES}
        for name, alias in self._aliases.items():
            if self.masks.get(name) is None:
                self.masks[name] = self._read(alias, self._model_positions, args, kwargs)

    def read_encoder_call(self, args, kwargs) -> None:
        """The encoder's call (inside the model's forward, or by itself under ``generate``)."""
        self.masks["attention_mask"] = self._read("attention_mask", self._encoder_positions, args, kwargs)

    def region(self, site: str) -> str | None:
        """``"encoder"`` or ``"decoder"`` for a site of an encoder-decoder whose encoder is known."""
        if not self.encoder_decoder or self.encoder_path is None:
            return None
        return "encoder" if site.startswith(self.encoder_path + ".") else "decoder"


def _last(mask: torch.Tensor | None, n: int, n_samples: int) -> torch.Tensor | None:
    """The last ``n`` positions of a ``[batch, length]`` mask (a KV-cache step's queries), where it fits."""
    if mask is None or mask.shape[0] != n_samples or n > mask.shape[1]:
        return None
    return mask[:, mask.shape[1] - n :]


def _exact(mask: torch.Tensor | None, n: int, n_samples: int) -> torch.Tensor | None:
    """The mask where it is ``[n_samples, n]``, else None."""
    if mask is None or mask.shape != (n_samples, n):
        return None
    return mask


def from_input_masks(
    masks: InputMasks, site: str, kind: str, n_samples: int, n_query: int, n_key: int
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Validity of a site's queries and keys from the model's input masks, each None where none maps.

    A mask maps where its batch is the site's samples and its length the
    site's key length (queries: the last ``n_query`` positions, so a KV-cache
    step's one query takes the newest token's entry). Which mask:

    - a decoder-only or encoder-only model: ``attention_mask`` for self sites;
      nothing for its cross sites (their keys are not the input's tokens);
    - an encoder-decoder: its encoder's self sites take ``attention_mask``; its
      decoder's self sites ``decoder_attention_mask`` (never the encoder's, even
      where the lengths coincide); cross sites take keys from
      ``attention_mask`` and queries from ``decoder_attention_mask``. Where the
      model does not name its encoder (``get_encoder()``), self sites take
      nothing.
    """
    enc, dec = masks.masks.get("attention_mask"), masks.masks.get("decoder_attention_mask")
    if kind == "self":
        if masks.encoder_decoder:
            region = masks.region(site)
            source = enc if region == "encoder" else dec if region == "decoder" else None
        else:
            source = enc
        keys = _exact(source, n_key, n_samples)
        return (_last(source, n_query, n_samples) if keys is not None else None), keys
    if kind == "cross" and masks.encoder_decoder:
        return _last(dec, n_query, n_samples), _exact(enc, n_key, n_samples)
    return None, None
