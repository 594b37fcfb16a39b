"""The ``capture()`` block: install interceptors, name sites, count steps, always clean up.

While the block is open:

- a torch function mode sees every ``F.scaled_dot_product_attention`` and
  ``F.multi_head_attention_forward`` call (however the model imported them),
  runs it unchanged and records its weights, reduced on the call's device;
- global module forward hooks, filtered to the model's own submodules, keep
  the stack of module paths (so a call is named after the innermost module
  that made it), count the forward calls of the model (``steps``), and read
  weights that modules return themselves (Hugging Face ``eager``, ``extract=``);
- ``aw.tap`` records into the open capture;
- forward pre-hooks on the model (and an encoder-decoder's encoder) read the
  padding masks it is called with, so each stored site also records which of
  its positions are padding (``padding.py``).

Everything is removed when the block exits, also when the forward raises.
"""

from __future__ import annotations

import sys
import threading
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.overrides import TorchFunctionMode

from ..errors import listing as _listing
from ..store import ATTENTION_AXES, Capture
from .extract import as_attention, heads_of_rows, hf_eager, make_extractor, weights_of_softmax
from .fastpath import FastPathOutputs
from .mha import bind_mha, mha_weights
from .options import Reducer, patterns, site_filter
from .padding import InputMasks, from_input_masks, mha_validity, sdpa_validity, self_queries, stored_positions
from .sdpa import bind_sdpa, flash_with_lse, result_bytes, sdpa_weights, unpack_gqa
from .tap import ACTIVE, tap_axes
from .verify import check_output
from .workspace import Workspace

__all__ = ["capture", "CaptureBlock"]

_CROSS_HINTS = (
    "cross",
    "encoder_attn",
    "encdecattention",
    "enc_dec",
    "attn2",
    "multihead_attn",
    "src_attn",
    "context_attn",
)


def capture(
    model: torch.nn.Module,
    *,
    heads="all",
    rows=None,
    max_size: int | None = None,
    pool: str = "mean",
    dtype=torch.float32,
    include=None,
    exclude=None,
    extract=None,
    axes=None,
    verify: bool = False,
    warn_bytes: int | None = 2 << 30,
) -> CaptureBlock:
    """Record the attention of every forward call of ``model`` inside a ``with`` block.

    Parameters
    ----------
    model : torch.nn.Module
        The model; its outputs are not changed.
    heads : "all", "mean", "max" or list of int
        Keep every head, their mean or max (a head axis of size 1), or some heads.
    rows : list of int, optional
        Query positions to keep, e.g. ``[0]`` for a CLS token.
    max_size : int, optional
        Block-pool the query and key axes to at most this many cells. The full
        matrix is then never materialised (weights are computed in tiles).
    pool : "mean" or "max"
        How ``max_size`` pools a block.
    dtype : torch.float32 or torch.float16 (or their names)
        Storage type.
    include, exclude : glob, list of globs, or callable on site names
        Which sites to keep (names are module paths, e.g. ``"encoder.layer.*"``).
    extract : callable, str or int, optional
        For modules matched by ``include`` that compute weights themselves:
        ``fn(module, inputs, output) -> weights``, the name of the attribute
        holding them after forward, or their index in the output tuple.
    axes : sequence of str, optional
        With ``extract=``: one name per axis of what it returns, as ``aw.tap``
        takes them (``("sample", "layer", "frame")``); the site is then stored
        with those axes (kind ``"weights"`` unless they are
        ``("sample", "head", "query", "key")``). Without it, ``extract=`` must
        return ``[sample, head, query, key]`` attention (or ``[sample, query,
        key]`` with as many queries as keys); anything else is refused with an
        error saying to name the axes.
    verify : bool
        Recompute each full-resolution ``scaled_dot_product_attention`` site's
        output as ``weights @ value`` from the captured weights and raise
        :class:`attnwidget.errors.VerificationError`, naming the site, where it
        differs from the call's own output (beyond the rounding of its dtype).
        Costs one more matrix product per site.
    warn_bytes : int or None
        Warn once per block before a site's weights would take more than this
        many bytes (default 2 GiB), naming ``max_size=`` and ``heads=``, which
        avoid it. None never warns.

    Scope: a capture records the forward calls of ``model`` made in the thread
    that opened the block, and the ``aw.tap`` calls of that thread; other
    models, bare attention calls outside ``model``'s forward and other threads
    are not recorded.

    Padding: where some query or key position of a sample is padding, the
    capture records which (``cap.valid_mask(site, step)``, ``cap.valid(site,
    sample=i)``; None where nothing is padding), at the positions of the
    stored array (the rows ``rows=`` kept; a ``max_size=`` block is valid where
    any of its positions is). Read, per site and axis, from:

    - the model's own ``attention_mask`` ``[batch, length]`` of 0/1 (Hugging
      Face; passed by keyword or position), where its batch is the site's
      samples and its length the site's key length (queries: its last
      positions, so a KV-cache step's query is the newest token). In an
      encoder-decoder, encoder self-attention takes ``attention_mask``, decoder
      self-attention ``decoder_attention_mask`` only (never the encoder's),
      cross-attention keys from ``attention_mask`` and queries from
      ``decoder_attention_mask``; the encoder's own ``attention_mask`` is read
      also when ``generate`` runs the encoder by itself;
    - else the attention call's mask: ``scaled_dot_product_attention``'s
      ``attn_mask`` and ``nn.MultiheadAttention``'s ``key_padding_mask`` and
      ``attn_mask`` (bool; float entries at most -1e4 count as masked). A key
      is padding where no row of its sample attends it, a query where its row
      attends no key (``is_causal`` and causal masks flag nothing; see
      :func:`attnwidget._capture.padding.from_mask` for the whole rule);
    - a self-attention site with as many queries as keys: a query is padding
      where its key is.

    Eager attention that returns its weights, and softmax-detected attention,
    take the model's ``attention_mask`` only. ``aw.collect`` (which stores
    through a sink) records no padding yet: it warns, once, naming the first
    batch and site that held some (``padding_seen``).

    Returns
    -------
    CaptureBlock
        A context manager whose ``__enter__`` returns the :class:`Capture`.

    Examples
    --------
    >>> with aw.capture(model, heads="mean") as cap:
    ...     model(**inputs)
    >>> cap.get(0).shape   # [sample, head, query, key]
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"capture() needs a torch.nn.Module, not {type(model).__name__}")
    if extract is not None and include is None:
        raise TypeError(
            "extract= needs include= naming the modules it applies to, e.g. "
            "capture(model, include=['decoder.layers.*.attn'], extract='attn')"
        )
    reducer = Reducer(heads=heads, rows=rows, max_size=max_size, pool=pool, dtype=dtype)
    block = CaptureBlock(
        model, reducer, include, exclude, make_extractor(extract) if extract is not None else None
    )
    block.verify = bool(verify)
    if axes is not None:
        if extract is None:
            raise TypeError("axes= names the axes of what extract= returns; pass extract= too")
        block.extract_axes = (axes,) if isinstance(axes, str) else tuple(axes)
    block.warn_bytes = warn_bytes
    return block


_SOFTMAX = (F.softmax, torch.softmax, torch.Tensor.softmax, torch.special.softmax)
# products that compute attention scores in eager code: their operands tell self from cross
_PRODUCTS = (torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.bmm, torch.einsum)


class _Intercept(TorchFunctionMode):
    """Routes the attention functions (and softmax) to the session; everything else runs as is."""

    def __init__(self, session: CaptureBlock):
        super().__init__()
        self.session = session

    def __torch_function__(self, func, types, args=(), kwargs=None):
        route = _ROUTES.get(func)  # one dict look-up per torch call: every op of the model passes here
        if route is None:
            return func(*args, **(kwargs or {}))
        if route == "product":
            self.session.on_product(func, args)
            return func(*args, **(kwargs or {}))
        return getattr(self.session, route)(func, args, kwargs)


_MASKED_FILL = (torch.masked_fill, torch.Tensor.masked_fill)
_ROUTES = {
    F.scaled_dot_product_attention: "on_sdpa",
    F.multi_head_attention_forward: "on_mha",
    **dict.fromkeys(_SOFTMAX, "on_softmax"),
    **dict.fromkeys(_PRODUCTS, "product"),
    **dict.fromkeys(_MASKED_FILL, "on_masked_fill"),
}


def _is_compiled(model) -> bool:
    return type(model).__name__ == "OptimizedModule" and isinstance(
        getattr(model, "_orig_mod", None), torch.nn.Module
    )


def _force_eager():
    """Run compiled code eagerly while the block is open, where torch can (2.6 and later).

    TorchDynamo would trace the engine's hooks and function mode into the
    graph (and fail); eagerly, every attention call is the model's own,
    seen as it runs. The cost: compiled models run at eager speed inside
    the block. Outside it, the compiled code is untouched.
    """
    if "torch._dynamo" not in sys.modules:  # nothing was compiled in this process (and importing
        return None  # dynamo costs ~1 s and sympy)
    set_stance = getattr(getattr(torch, "compiler", None), "set_stance", None)
    if set_stance is None:
        return None
    stance = set_stance("force_eager")
    stance.__enter__()
    return stance


def _watch_generate(model: torch.nn.Module, cap: Capture) -> Callable | None:
    """Note how the model's ``generate`` searches, while the block is open.

    Beam search reorders its hypotheses between steps, so the rows of one sample
    at successive steps come from different hypotheses: ``cap.assembled`` must
    not put them together. How many beams ``generate`` keeps is recorded in
    ``cap.metadata["generation"]["num_beams"]`` (from its ``num_beams=`` or the
    ``generation_config`` it uses). A method of the instance stands in for the
    class's ``generate`` and is deleted when the block closes; models with a
    ``generate`` of their own instance, or none, are left alone (returns None).
    """
    original = getattr(type(model), "generate", None)
    if not callable(original) or "generate" in model.__dict__:
        return None
    bound = model.generate

    def generate(*args, **kwargs):
        given = args[1] if len(args) > 1 and hasattr(args[1], "num_beams") else None  # generate(ids, config)
        config = kwargs.get("generation_config") or given or getattr(model, "generation_config", None)
        beams = kwargs.get("num_beams", getattr(config, "num_beams", 1))
        try:
            beams = int(beams or 1)
        except (TypeError, ValueError):
            beams = 1
        seen = cap.metadata.setdefault("generation", {"num_beams": 1})
        seen["num_beams"] = max(int(seen.get("num_beams", 1)), beams)
        return bound(*args, **kwargs)

    model.__dict__["generate"] = generate
    return generate


def _storage(t: torch.Tensor) -> int:
    try:
        return t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):  # tensors without storage (nested, fake)
        return id(t)


class CaptureBlock:
    """One open capture. Use through :func:`capture`."""

    def __init__(self, model, reducer: Reducer, include, exclude, extractor: Callable | None):
        self.model = model
        self.reducer = reducer
        self.include = include
        self.keep = site_filter(include, exclude)
        self.user_include = site_filter(include, None) if include is not None else None
        self.extractor = extractor
        self.cap = Capture()
        self.cap.metadata = {
            "model": type(model).__name__,
            "options": {
                "heads": reducer.heads if isinstance(reducer.heads, str) else list(reducer.heads),
                "rows": reducer.rows,
                "max_size": reducer.max_size,
                "pool": reducer.pool,
                "dtype": str(reducer.dtype).replace("torch.", ""),
            },
        }
        self.step = -1
        self.depth = 0
        self.stack: list[str] = []
        self._stack_modules: list[torch.nn.Module] = []  # the modules of ``stack``, in step with it
        self.seen: list[str] = []  # every site that ran, kept or not
        self._calls: dict[str, int] = {}
        self._recorded: dict[int, weakref.ref] = {}  # eager weights already recorded this step (by id)
        self._storages: set[int] = set()  # storages of weights recorded this step
        self._products: list[bool | None] = []  # per stack frame: did its first q.k product share a source
        self._projected: dict[int, tuple] = {}  # id(linear output) -> (its ref, ref of its input's root)
        self._softmaxed: dict[int, str] = {}
        self._pending: dict[
            int, list
        ] = {}  # stack depth -> [site, module, probabilities, same input]  # stack depth -> module whose call recorded its softmax
        self._handles: list = []
        self._targets: set[str] = set()
        self._modules: dict[int, tuple[str, torch.nn.Module]] = {}
        self._mode: _Intercept | None = None
        self._fastpath: FastPathOutputs | None = None
        self._inputs: InputMasks | None = None  # the padding masks the model was called with
        self._stance = None  # torch.compiler.set_stance("force_eager") while the block is open
        # a torch.compile'd model is captured through the module it wraps, run eagerly
        self.model = getattr(model, "_orig_mod", model) if _is_compiled(model) else model
        model = self.model
        self.cap.metadata["model"] = type(model).__name__
        self._root_name = type(model).__name__
        # where reduced weights go instead of the Capture: ``sink(name, step, tensor, kind=, axes=,
        # info=, entropy=, valid=)`` with the tensor still on the model's device (``aw.collect`` folds each
        # site into its statistics the moment it is computed, so a batch's weights are never all
        # held at once); ``entropy``: per-head mean row entropy [sample, head] where the engine
        # had it almost free (``self.entropy`` set and sdpa_weights could), else None; ``valid``: the
        # site's (query, key) validity as numpy bool [sample, position], None where nothing is padding
        self.sink: Callable | None = None
        # with a sink: the first site whose batch held padding (aw.collect warns that it is kept in)
        self.padding_seen: str | None = None
        self.entropy = False
        # with a sink that is done with each site before the next: reuse the buffers weights are
        # computed in (see attnwidget.workspace)
        self.workspace: Workspace | None = None
        self._scratch: Workspace | None = None  # temporaries of weight computations, kept between sites
        self.verify = False
        self.extract_axes: tuple | None = None  # axis names of what extract= returns, where given
        self.warn_bytes: int | None = None
        self._warned = False
        self._thread = threading.get_ident()
        self._generate: Callable | None = None  # the model's generate, watched while the block is open

    # ------------------------------------------------------------------ block
    def __enter__(self) -> Capture:
        if ACTIVE:
            raise RuntimeError(
                "a capture is already open; close it before opening another (captures do not nest)"
            )
        self._thread = threading.get_ident()
        try:
            self._targets = self._extract_targets()
            # one global pair of hooks (registered in O(1)) instead of a pair per module:
            # a capture block costs the same for a 10-module toy and a 1,000-module LLM
            self._modules = {id(m): (name, m) for name, m in self.model.named_modules()}
            self._handles.append(register_module_forward_pre_hook(self._pre_hook))
            self._handles.append(register_module_forward_hook(self._post_hook, always_call=True))
            self._inputs = InputMasks(self.model, self._modules)
            self._handles.append(self.model.register_forward_pre_hook(self._read_masks, with_kwargs=True))
            if self._inputs.encoder is not None:
                self._handles.append(
                    self._inputs.encoder.register_forward_pre_hook(self._read_encoder_mask, with_kwargs=True)
                )
            self._fastpath = FastPathOutputs(entry[1] for entry in self._modules.values())
            self._generate = _watch_generate(self.model, self.cap)
            self._scratch = Workspace()
            self._stance = _force_eager()
            self._mode = _Intercept(self)
            self._mode.__enter__()
            ACTIVE.append(self)
        except BaseException:
            self._cleanup()
            raise
        return self.cap

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._cleanup()
        if exc_type is None:
            self._check_found()
        return False

    def _extract_targets(self) -> set[str]:
        """Modules ``extract=`` reads: those ``include`` matches, outermost only
        (``"blocks.*"`` also matches ``blocks.0.qk``, which holds no weights)."""
        if self.extractor is None:
            return set()
        targets: set[str] = set()
        for name, _ in self.model.named_modules():
            if name and self.user_include(name) and not any(name.startswith(t + ".") for t in targets):
                targets.add(name)
        if not targets:
            names = [n for n, _ in self.model.named_modules() if n]
            raise LookupError(
                f"include={self.include!r} matches no module for extract=; modules: {_listing(names)}"
            )
        return targets

    def _cleanup(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        if self._generate is not None:
            generate, self._generate = self._generate, None
            if self.model.__dict__.get("generate") is generate:
                del self.model.__dict__["generate"]
        if self._fastpath is not None:
            self._fastpath.remove()
            self._fastpath = None
        self._scratch = None
        self._inputs = None
        if self._mode is not None:
            mode, self._mode = self._mode, None
            mode.__exit__(None, None, None)
        if self._stance is not None:
            stance, self._stance = self._stance, None
            stance.__exit__(None, None, None)
        if ACTIVE and ACTIVE[-1] is self:
            ACTIVE.pop()
        self.stack.clear()
        self._stack_modules.clear()
        self._products.clear()
        self._modules.clear()

    def _check_found(self) -> None:
        if not self.seen:
            raise LookupError(
                f"no attention sites ran in {self._root_name} during the capture. attnwidget "
                "finds F.scaled_dot_product_attention calls, nn.MultiheadAttention and Hugging Face "
                "eager attention; for other attention, call aw.tap('name', weights) in the model "
                "code or pass include=[...] with extract=... (the model must run inside the block)"
            )
        if self.user_include is not None:
            kept = [s for s in self.seen if self.keep(s)]
            unmatched = [p for p in patterns(self.include) if not any(site_filter(p)(s) for s in self.seen)]
            if unmatched or not kept:
                what = f"include pattern(s) {unmatched}" if unmatched else "include"
                raise LookupError(f"{what} matched no attention site; sites that ran: {_listing(self.seen)}")

    # ------------------------------------------------------------------ hooks
    def _name_of(self, module) -> str | None:
        """The module's path in the model, or None for modules of other models."""
        entry = self._modules.get(id(module))
        return entry[0] if entry is not None and entry[1] is module else None

    def _mine(self) -> bool:
        """Is this call made in the thread that opened the block?"""
        return threading.get_ident() == self._thread

    def _in_model(self) -> bool:
        """Is the captured model, or one of its modules, running (in this thread)?

        One of its modules: Hugging Face ``generate`` runs an encoder-decoder's
        encoder by itself (``model.get_encoder()(...)``), outside the model's forward.
        """
        return (self.depth > 0 or bool(self.stack)) and self._mine()

    def _pre_hook(self, module, inputs) -> None:
        entry = self._modules.get(id(module))
        if entry is None or entry[1] is not module or threading.get_ident() != self._thread:
            return
        name = entry[0]
        if module is self.model:
            if self.depth == 0:
                self.step += 1
                self._calls.clear()
                self._recorded.clear()
                self._storages.clear()
                self._projected.clear()
            self.depth += 1
        self.stack.append(name)
        self._stack_modules.append(module)
        self._products.append(None)

    def _read_masks(self, module, args, kwargs) -> None:
        """The model's outermost call: note the padding masks it was given (``attention_mask``...)."""
        if self._inputs is not None and self.depth == 1 and self._mine():
            with torch._C.DisableTorchFunction():
                self._inputs.read_model_call(args, kwargs)

    def _read_encoder_mask(self, module, args, kwargs) -> None:
        """An encoder-decoder's encoder, also when ``generate`` runs it by itself: its ``attention_mask``."""
        if self._inputs is not None and self._mine() and self.depth <= 1:
            with torch._C.DisableTorchFunction():
                self._inputs.read_encoder_call(args, kwargs)

    def _post_hook(self, module, inputs, output) -> None:
        # runs after every module call of every model in the process: the common case
        # (a module of another model) returns after a few look-ups
        entry = self._modules.get(id(module))
        if entry is None or entry[1] is not module or threading.get_ident() != self._thread:
            return
        # the engine's own reading of tensors (``_base``, shapes, reductions) is not the model's:
        # under the block's function mode each attribute read costs ~2 us (5 ms a forward of BERT)
        with torch._C.DisableTorchFunction():
            self._after(module, entry[0], inputs, output)

    def _after(self, module, name: str, inputs, output) -> None:
        """One module of the model returned: pop its frame, note projections, record returned weights."""
        stack = self.stack
        depth = len(stack)
        if self._pending:
            self._record_pending(depth)
        by_softmax = bool(self._softmaxed) and self._softmaxed.pop(depth, None) == name
        product = None
        if stack and stack[-1] == name:
            stack.pop()
            self._stack_modules.pop()
            product = self._products.pop()
        if isinstance(module, torch.nn.Linear) and isinstance(output, torch.Tensor) and inputs:
            # where queries and keys come from: self-attention projects both from one tensor
            x, y = inputs[0], output
            while isinstance(x, torch.Tensor) and x._base is not None:
                x = x._base
            while y._base is not None:  # a linear of a 3-D input returns a view of a 2-D product
                y = y._base
            if isinstance(x, torch.Tensor):
                self._projected[id(y)] = (weakref.ref(y), weakref.ref(x))
            return
        if module is self.model:
            self.depth = max(0, self.depth - 1)
        w = None
        if name in self._targets and output is not None:  # None: the forward raised
            extracted = self.extractor(module, inputs, output)
            if self.extract_axes is not None:  # named by the user: recorded as named, never guessed
                axes = (
                    tap_axes(extracted, self.extract_axes, name)
                    if isinstance(extracted, torch.Tensor)
                    else ()
                )
                if not isinstance(extracted, torch.Tensor):
                    raise TypeError(
                        f"extract= for {name!r} returned {type(extracted).__name__}, not a tensor"
                    )
                self._record_named(self._site(name), extracted, axes, None, f"extract= for {name!r}")
                return
            w = as_attention(extracted, name)
        if w is None:
            w = hf_eager(module, inputs, output)
            if w is not None and by_softmax:  # recorded from its softmax: parents pass the same tensor on
                self._recorded[id(w)] = weakref.ref(w)
                self._storages.add(_storage(w))
                w = None
        if w is not None:
            seen = self._recorded.get(id(w))
            # parents often return the same tensor, or a view of it (Longformer permutes its bands)
            if (seen is None or seen() is not w) and _storage(w) not in self._storages:
                self._recorded[id(w)] = weakref.ref(w)
                self._storages.add(_storage(w))
                self._record_weights(name or self._root_name, w, same_input=product)

    # ------------------------------------------------------------------ sites
    def _site(self, base: str) -> str:
        """Unique name for this call of ``base`` within the step (``name#1`` for a second call)."""
        n = self._calls.get(base, 0)
        self._calls[base] = n + 1
        name = base if n == 0 else f"{base}#{n}"
        if name not in self.seen:
            self.seen.append(name)
        return name

    def _caller(self) -> str:
        return (self.stack[-1] or self._root_name) if self.stack else self._root_name

    def _kind(self, name: str, n_query: int, n_key: int, causal: bool, same_input: bool | None) -> str:
        """Self or cross: from the call itself where it tells, else from names and shapes.

        ``same_input``: whether queries and keys were projected from one tensor
        (known for ``nn.MultiheadAttention``, and for sdpa calls whose query and
        key trace back through views to the inputs of the model's own linear
        projections). Only where that is unknown (keys from a KV cache, fused
        custom projections) do module names and shapes decide.
        """
        if name in self.cap.kinds:
            return self.cap.kinds[name]
        if same_input is not None:
            return "self" if same_input else "cross"
        low = name.lower()
        if any(h in low for h in _CROSS_HINTS):
            return "cross"
        return "self" if causal or n_query == n_key else "cross"

    def _source(self, t) -> int | None:
        """The tensor a query or key was projected from (by id), through views, or None."""
        if not isinstance(t, torch.Tensor):
            return None
        root = t
        while root._base is not None:
            root = root._base
        entry = self._projected.get(id(root))
        if entry is None or entry[0]() is not root:
            return None
        source = entry[1]()  # a source freed since may share its id with a newer tensor: unknown
        return None if source is None else id(source)

    def _same_input(self, query, key) -> bool | None:
        q, k = self._source(query), self._source(key)
        return None if q is None or k is None else q == k

    def _store(
        self,
        name: str,
        w: torch.Tensor,
        kind: str,
        info: dict,
        axes=ATTENTION_AXES,
        entropy: torch.Tensor | None = None,
        valid=None,
    ) -> None:
        """Store one site's reduced weights, and which of its positions are padding.

        ``valid``: a function returning ``(query [sample, query], key [sample, key])``
        bool, True where the call's own mask shows no padding, or None where it
        shows none; called only where the model's input mask does not decide
        both axes. A sink (``aw.collect``) receives the weights and that validity
        (numpy, or None where no position is padding).
        """
        step = max(self.step, 0)
        if self.sink is not None:
            padded = None
            if tuple(axes) == ATTENTION_AXES:
                padded = self._validity(name, kind, info, tuple(w.shape), valid)
                if padded is not None and not self.padding_seen:
                    self.padding_seen = name
            self.sink(
                name, step, w.detach(), kind=kind, axes=tuple(axes), info=info, entropy=entropy, valid=padded
            )
            return
        array = w.detach().to("cpu").numpy()
        self.cap.add(name, step, array, kind=kind, axes=axes, info=info)
        if tuple(axes) == ATTENTION_AXES:
            padded = self._validity(name, kind, info, array.shape, valid)
            if padded is not None:
                self.cap.add_valid(name, step, *padded)

    def _validity(self, name: str, kind: str, info: dict, shape: tuple, valid) -> tuple | None:
        """The site's valid positions ``(query [sample, query], key [sample, key])`` as numpy bool
        arrays (see :mod:`attnwidget._capture.padding`), or None where none is padding.

        Per axis, the model's input mask decides where it maps to the site, else
        the call's mask; a self-attention site with as many queries as keys has
        its padded keys' queries padded too. Positions are the stored array's
        (``rows=``, ``max_size=`` blocks).
        """
        if kind not in ("self", "cross") or len(shape) != 4 or "query_len" not in info:
            return None
        n_samples, n_query, n_key = int(shape[0]), int(info["query_len"]), int(info["key_len"])
        with torch.no_grad():
            queries, keys = (
                from_input_masks(self._inputs, name, kind, n_samples, n_query, n_key)
                if self._inputs is not None
                else (None, None)
            )
            call = valid() if valid is not None and (queries is None or keys is None) else None
            if call is not None:
                q_call, k_call = call
                if queries is None and tuple(q_call.shape) == (n_samples, n_query):
                    queries = q_call
                if keys is None and tuple(k_call.shape) == (n_samples, n_key):
                    keys = k_call
            if kind == "self" and n_query == n_key and keys is not None:
                queries = keys if queries is None else self_queries(queries.to(keys.device), keys)
            if queries is None and keys is None:
                return None
            if queries is None:
                assert keys is not None
                queries = torch.ones(n_samples, n_query, dtype=torch.bool, device=keys.device)
            if keys is None:
                keys = torch.ones(n_samples, n_key, dtype=torch.bool, device=queries.device)
            queries, keys = stored_positions(queries, keys, info)
            if tuple(queries.shape) != (shape[0], shape[2]) or tuple(keys.shape) != (shape[0], shape[3]):
                return None
            if bool(queries.all()) and bool(keys.all()):
                return None
            return queries.cpu().numpy(), keys.cpu().numpy()

    def _record_weights(self, base: str, w: torch.Tensor, same_input: bool | None = None) -> None:
        name = self._site(base)
        if not self.keep(name):
            return
        with torch.no_grad():
            reduced, info = self.reducer.reduce(w.detach(), name)
            if _storage(reduced) == _storage(w):  # the model's own tensor: later in-place edits stay its own
                reduced = reduced.clone()
        self._store(name, reduced, self._kind(name, w.shape[2], w.shape[3], False, same_input), info)

    def _check_size(self, call: dict, name: str) -> None:
        if self.warn_bytes is None or self._warned:
            return
        size = result_bytes(call, self.reducer)
        if size > self.warn_bytes:
            self._warned = True
            warnings.warn(
                f"site {name!r}: its attention weights take {size / 2**30:.1f} GiB "
                f"{tuple(call['query'].shape[:-1]) + (call['key'].shape[-2],)}; pass max_size= (e.g. "
                "max_size=512) to pool them as they are computed, or heads='mean' or heads=[...] to "
                "keep fewer heads (warn_bytes=None silences this)",
                ResourceWarning,
                stacklevel=4,
            )

    def on_sdpa(self, func, args, kwargs):
        if not self._in_model():  # another model, a bare call, or another thread: not ours
            return func(*args, **(kwargs or {}))
        name = self._site(self._caller())
        if not self.keep(name):
            return func(*args, **(kwargs or {}))
        bound = bind_sdpa(args, kwargs)
        call = unpack_gqa(bound, self._caller_module())
        self._check_size(call, name)
        q = bound["query"]
        # autocast casts the call's inputs inside F.scaled_dot_product_attention; the kernel called
        # directly would skip that cast, so under autocast the call runs as it is
        autocast = isinstance(q, torch.Tensor) and torch.is_autocast_enabled(q.device.type)
        fast = flash_with_lse(bound) if call is bound and not autocast else None
        # the same kernel the call would have run, so the output is the same
        output = fast[0] if fast else func(*args, **(kwargs or {}))
        if isinstance(output, torch.Tensor) and output.is_floating_point():
            # under autocast the kernel ran in the output's dtype, on inputs cast to it: the weights
            # come from those (a float32 finfo.min mask is -inf in bfloat16, as for the kernel)
            mask = call["attn_mask"]
            if autocast and isinstance(mask, torch.Tensor) and mask.is_floating_point():
                mask = mask.to(output.dtype)
            call = dict(
                call, query=call["query"].to(output.dtype), key=call["key"].to(output.dtype), attn_mask=mask
            )
        with torch.autocast(q.device.type, enabled=False):  # the engine's own products stay exact
            reduced, info, entropy = sdpa_weights(
                call,
                self.reducer,
                name,
                lse=fast[1] if fast else None,
                workspace=self.workspace,
                entropy=self.entropy,
                scratch=self._scratch,
            )
            if self.verify:
                check_output(name, reduced, info, call, bound["value"], output)
        kind = self._kind(
            name,
            call["query"].shape[-2],
            call["key"].shape[-2],
            bool(call["is_causal"]),
            self._same_input(bound["query"], bound["key"]),
        )
        self._store(name, reduced, kind, info, entropy=entropy, valid=lambda: sdpa_validity(call))
        return output

    def on_product(self, func, args) -> None:
        """Note, for the module running, whether its first query.key product has one source."""
        if not self._products or self._products[-1] is not None or not self._in_model():
            return
        operands = args[1:] if func is torch.einsum else args[:2]
        if func is torch.einsum and len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = operands[0]
        if len(operands) != 2:
            return
        same = self._same_input(operands[0], operands[1])
        if same is not None:
            self._products[-1] = same

    def _product_source(self) -> bool | None:
        for same in reversed(self._products):
            if same is not None:
                return same
        return None

    def on_softmax(self, func, args, kwargs):
        """Weights an eager attention module computes and returns only when asked.

        Hugging Face DeBERTa-v2, MPNet, SpeechT5, Longformer... compute
        ``softmax(scores)`` and return the probabilities only with
        ``output_attentions=True`` (x-transformers with ``return_attn``). A softmax
        over the last axis of a ``[sample, head, query, key]`` tensor, called
        directly by a module whose class is an attention (``*Attention*``,
        ``*Attn*``, ``*Attend*``, any case) of the model, is
        recorded as that module's site; its outputs are untouched. A module that
        also returns the same tensor is not recorded twice.
        """
        result = func(*args, **(kwargs or {}))
        if not self._in_model() or not self.stack or not isinstance(result, torch.Tensor):
            return result
        module = self._caller_module()
        cls = type(module).__name__.lower() if module is not None else ""
        if not any(word in cls for word in ("attention", "attn", "attend")):
            return result
        dim = kwargs.get("dim") if kwargs else None
        if dim is None and len(args) > 1:
            dim = args[1]
        if dim not in (-1, result.ndim - 1) or result.ndim not in (3, 4) or not result.is_floating_point():
            return result
        if result.ndim == 3 and not heads_of_rows(module, result):
            return result
        # recorded when the module returns, so that what it does to the probabilities first
        # (Longformer's masked_fill of padded queries, in-place edits) is in the picture
        self._pending[len(self.stack)] = [self.stack[-1], module, result, self._product_source()]
        self._softmaxed[len(self.stack)] = self.stack[-1]
        return result

    def on_masked_fill(self, func, args, kwargs):
        """Follow a softmax's probabilities through ``masked_fill`` inside its module."""
        result = func(*args, **(kwargs or {}))
        pending = self._pending.get(len(self.stack)) if self._mine() else None
        if pending is not None and args and args[0] is pending[2] and isinstance(result, torch.Tensor):
            pending[2] = result
        return result

    def _record_pending(self, depth: int) -> None:
        pending = self._pending.pop(depth, None)
        if pending is None:
            return
        site, module, probs, same = pending
        if probs.ndim == 3:  # [batch * heads, query, key] (the bmm layout)
            probs = probs.reshape(-1, heads_of_rows(module, probs), *probs.shape[1:])
        w = weights_of_softmax(module, probs, site)
        if w is None:
            return
        for t in (pending[2], probs):
            self._recorded[id(t)] = weakref.ref(t)
            self._storages.add(_storage(t))
        self._record_weights(site, w, same_input=same)

    def _caller_module(self):
        """The innermost running module of the model (the model itself outside any)."""
        return self._stack_modules[-1] if self._stack_modules else self.model

    def on_mha(self, func, args, kwargs):
        if not self._in_model():
            return func(*args, **(kwargs or {}))
        name = self._site(self._caller())
        if self.keep(name):
            call = bind_mha(args, kwargs)
            reduced, info = mha_weights(call, self.reducer, name)
            kind = self._kind(
                name,
                call["query"].shape[0],
                call["key"].shape[0],
                bool(call["is_causal"]),
                call["query"] is call["key"],
            )
            self._store(name, reduced, kind, info, valid=lambda: mha_validity(call))
        out = func(*args, **(kwargs or {}))
        if isinstance(out, tuple) and len(out) > 1 and isinstance(out[1], torch.Tensor):
            # the weights MHA returns (need_weights=True) are this site's: not a second site
            self._recorded[id(out[1])] = weakref.ref(out[1])
            self._storages.add(_storage(out[1]))
        return out

    def record_tap(self, name: str, weights: Any, axes, kind) -> None:
        if not self._mine():  # a tap in another thread belongs to no capture of this block
            return
        if not isinstance(weights, torch.Tensor):
            raise TypeError(f"aw.tap({name!r}, ...) needs a torch.Tensor, not {type(weights).__name__}")
        if not isinstance(name, str) or not name:
            raise TypeError(f"aw.tap needs a non-empty site name, not {name!r}")
        axes = tap_axes(weights, axes, name)
        caller = self.stack[-1] if self.stack else ""
        with torch._C.DisableTorchFunction():  # the engine's own ops, not the model's
            self._record_named(
                self._site(f"{caller}.{name}" if caller else name),
                weights,
                axes,
                kind,
                f"aw.tap({name!r}, ...)",
            )

    def _record_named(self, site: str, weights: torch.Tensor, axes: tuple, kind, what: str) -> None:
        """Record a tensor whose axes are named (``aw.tap``, ``extract=`` with ``axes=``)."""
        if not self.keep(site):
            return
        w = weights.detach()
        if "sample" not in axes:
            w, axes = w.unsqueeze(0), ("sample",) + axes
        elif axes[0] != "sample":
            i = axes.index("sample")
            w = w.movedim(i, 0)
            axes = ("sample",) + axes[:i] + axes[i + 1 :]
        if kind is None:
            kind = "self" if axes == ATTENTION_AXES else "weights"
        if kind not in ("self", "cross", "weights"):
            raise ValueError(f"{what}: kind must be 'self', 'cross' or 'weights', not {kind!r}")
        if kind != "weights" and axes != ATTENTION_AXES:
            raise ValueError(f"{what}, kind={kind!r} needs axes {ATTENTION_AXES}, got {axes}")
        with torch.no_grad():
            if kind == "weights":
                out, info = w.to(self.reducer.dtype), {}
            else:
                out, info = self.reducer.reduce(w, site)
            if _storage(out) == _storage(
                weights
            ):  # the model's own tensor: later in-place edits stay its own
                out = out.clone()
        self._store(site, out, kind, info, axes=axes)
