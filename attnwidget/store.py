"""The Capture: what a capture block recorded, and its .npz file format.

One axis order everywhere: attention sites ("self" and "cross") hold arrays
``[sample, head, query, key]`` per step; "weights" sites (tapped tensors that
are not query x key) hold any shape whose first axis is ``sample``, with the
axis names in ``cap.axes[layer]``.

Files are plain ``.npz`` archives with one JSON header; loading never
unpickles, so a crafted file cannot run code.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Iterable

import numpy as np

from .errors import listing as _listing

__all__ = ["Capture", "load", "ATTENTION_AXES"]

ATTENTION_AXES = ("sample", "head", "query", "key")
_FORMAT = "attnwidget-capture"
_VERSION = 1


class Capture:
    """Attention recorded by :func:`attnwidget.capture` or :func:`attnwidget.collect`.

    Attributes
    ----------
    layers : list of str
        Site names (the model's own module paths), in the order they first ran.
    kinds : dict
        Site name -> ``"self"``, ``"cross"`` or ``"weights"``.
    axes : dict
        Site name -> axis names of the arrays ``get`` returns.
    steps : int
        Number of forward calls of the model inside the block.
    labels, predictions : numpy.ndarray or None
        Per-sample class labels and predictions (set by ``collect``).
    tokens : list of str, dict or None
        Token strings: one list for both axes, or ``{"query": [...], "key": [...]}``,
        or per site ``{layer: {"query": [...], "key": [...]}}``.
    info : dict
        Site name -> how it was reduced: ``heads``, ``rows``, ``block``
        (query and key pooling factors), ``query_len``/``key_len`` before pooling.
    metadata : dict
        Free-form JSON-serialisable facts (model class, options, ...).
    stats : dict
        Streaming statistics from ``collect(..., keep="stats"|"both")``:
        ``{layer: {step: {"classes": [...], "count": [C], "mean"/"var"/"min"/"max":
        [C, *sample_shape], "entropy": [C, head]}}}`` (see :mod:`attnwidget.stats`).
        A site may hold statistics and no per-sample arrays.
    """

    def __init__(self) -> None:
        self.layers: list[str] = []
        self.kinds: dict[str, str] = {}
        self.axes: dict[str, tuple[str, ...]] = {}
        self.info: dict[str, dict[str, Any]] = {}
        self.steps: int = 0
        self.labels: np.ndarray | None = None
        self.predictions: np.ndarray | None = None
        self.tokens: Any = None
        self.metadata: dict[str, Any] = {}
        self.stats: dict[str, dict[int, dict[str, Any]]] = {}
        # layer -> {step -> array}
        self._data: dict[str, dict[int, np.ndarray]] = {}

    # ------------------------------------------------------------------ build
    def add(self, layer: str, step: int, array: np.ndarray, *, kind: str,
            axes: Iterable[str] = ATTENTION_AXES, info: dict | None = None) -> None:
        """Record one site's array for one step (used by the capture engine)."""
        axes = tuple(axes)
        if kind not in ("self", "cross", "weights"):
            raise ValueError(f"kind must be 'self', 'cross' or 'weights', not {kind!r}")
        if array.ndim != len(axes):
            raise ValueError(
                f"site {layer!r}: array has {array.ndim} axes {tuple(array.shape)} "
                f"but {len(axes)} axis names {axes} were given")
        if layer not in self._data:
            self.layers.append(layer)
            self._data[layer] = {}
            self.kinds[layer] = kind
            self.axes[layer] = axes
            self.info[layer] = dict(info or {})
        elif self.axes[layer] != axes:
            raise ValueError(f"site {layer!r} was recorded with axes {self.axes[layer]}, now {axes}")
        self._data[layer][step] = array
        self.steps = max(self.steps, step + 1)

    def add_stats(self, layer: str, step: int, stats: dict[str, Any], *, kind: str,
                  axes: Iterable[str] = ATTENTION_AXES, info: dict | None = None) -> None:
        """Record one site's statistics for one step (used by ``collect``); registers the site if new."""
        axes = tuple(axes)
        if layer not in self._data:
            if kind not in ("self", "cross", "weights"):
                raise ValueError(f"kind must be 'self', 'cross' or 'weights', not {kind!r}")
            self.layers.append(layer)
            self._data[layer] = {}
            self.kinds[layer] = kind
            self.axes[layer] = axes
            self.info[layer] = dict(info or {})
        self.stats.setdefault(layer, {})[step] = stats
        self.steps = max(self.steps, step + 1)

    # ------------------------------------------------------------------ read
    def layer_name(self, layer: int | str) -> str:
        """The site name for a layer given by index or by name."""
        if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
            n = len(self.layers)
            if not self.layers:
                raise IndexError("this capture holds no attention sites")
            if not -n <= layer < n:
                raise IndexError(
                    f"layer {layer} is out of range: this capture has {n} sites "
                    f"(0..{n - 1}): {_listing(self.layers)}")
            return self.layers[layer]
        if isinstance(layer, str):
            if layer in self._data:
                return layer
            raise KeyError(f"no site named {layer!r}; sites are: {_listing(self.layers)}")
        raise TypeError(f"layer must be an int index or a site name, not {type(layer).__name__}")

    def get(self, layer: int | str, step: int = 0) -> np.ndarray:
        """Attention of one site at one step.

        Returns
        -------
        numpy.ndarray
            ``[sample, head, query, key]`` for attention sites; the tapped
            shape (axis names in ``axes[layer]``) for ``"weights"`` sites.
        """
        name = self.layer_name(layer)
        steps = self._data[name]
        if not isinstance(step, (int, np.integer)) or isinstance(step, bool):
            raise TypeError(f"step must be an int, not {type(step).__name__}")
        if step < 0:
            step += self.steps
        if step not in steps:
            if not steps and name in self.stats:
                raise IndexError(
                    f"site {name!r} holds statistics only (collected with keep='stats'): read "
                    f"cap.stats[{name!r}] or frame(cap, {name!r}, stat='mean')")
            ran = sorted(steps)
            raise IndexError(
                f"site {name!r} has no step {step}: the model ran {self.steps} step(s) "
                f"and this site ran at steps {_listing(ran)}")
        return steps[step]

    def steps_of(self, layer: int | str) -> list[int]:
        """The steps at which a site ran."""
        return sorted(self._data[self.layer_name(layer)])

    @property
    def num_samples(self) -> int:
        for per_step in self._data.values():
            for a in per_step.values():
                return int(a.shape[0])
        return 0

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for s in self._data.values() for a in s.values())

    def tokens_for(self, layer: int | str) -> tuple[list[str] | None, list[str] | None]:
        """Query and key token strings for a site, from ``tokens``."""
        return split_tokens(self.tokens, self.layer_name(layer), self.kinds.get(self.layer_name(layer)))

    def __repr__(self) -> str:
        lines = [f"<Capture: {len(self.layers)} sites, {self.steps} step(s), "
                 f"{self.num_samples} sample(s), {self.nbytes / 2**20:.1f} MiB>"]
        for name in self.layers[:12]:
            if not self._data[name]:  # statistics only
                s = self.stats[name][min(self.stats[name])]
                lines.append(f"  {name}  {self.kinds[name]}  statistics of {int(s['count'][0])} "
                             f"sample(s), {dict(zip(self.axes[name][1:], s['mean'].shape[1:]))}")
                continue
            a = self._data[name][min(self._data[name])]
            lines.append(f"  {name}  {self.kinds[name]}  {dict(zip(self.axes[name], a.shape))}")
        if len(self.layers) > 12:
            lines.append(f"  ... and {len(self.layers) - 12} more")
        return "\n".join(lines)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> str:
        """Write everything to one ``.npz`` file, atomically. Returns the path."""
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
        header = {
            "format": _FORMAT, "version": _VERSION,
            "layers": self.layers, "kinds": self.kinds,
            "axes": {k: list(v) for k, v in self.axes.items()},
            "info": self.info, "steps": self.steps,
            "tokens": self.tokens, "metadata": self.metadata,
            "arrays": {},
        }
        arrays: dict[str, np.ndarray] = {}
        for i, name in enumerate(self.layers):
            for step, a in self._data[name].items():
                key = f"a{i}_s{step}"
                arrays[key] = np.ascontiguousarray(a)
                header["arrays"].setdefault(name, {})[str(step)] = key
        for i, name in enumerate(self.layers):
            for step, st in self.stats.get(name, {}).items():
                entry = header.setdefault("stats", {}).setdefault(name, {})[str(step)] = {
                    "classes": list(st["classes"]), "arrays": {}}
                for field, a in st.items():
                    if field != "classes":
                        arrays[f"t{i}_s{step}_{field}"] = np.ascontiguousarray(a)
                        entry["arrays"][field] = f"t{i}_s{step}_{field}"
        if self.labels is not None:
            arrays["labels"] = np.asarray(self.labels)
        if self.predictions is not None:
            arrays["predictions"] = np.asarray(self.predictions)
        arrays["header"] = np.array(json.dumps(header, default=_json_default))
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path


def load(path: str | os.PathLike) -> Capture:
    """Read a capture written by :meth:`Capture.save`. Never unpickles."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no capture file at {path!r}")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "header" not in z.files:
                raise ValueError("it has no attnwidget header")
            header = json.loads(str(z["header"]))
            if header.get("format") != _FORMAT:
                raise ValueError(f"its header says format {header.get('format')!r}")
            cap = Capture()
            cap.steps = int(header["steps"])
            cap.tokens = header.get("tokens")
            cap.metadata = header.get("metadata") or {}
            for name in header["layers"]:
                cap.layers.append(name)
                cap.kinds[name] = header["kinds"][name]
                cap.axes[name] = tuple(header["axes"][name])
                cap.info[name] = header["info"].get(name, {})
                cap._data[name] = {int(s): z[k] for s, k in header["arrays"].get(name, {}).items()}
            for name, per_step in (header.get("stats") or {}).items():
                cap.stats[name] = {int(s): dict({f: z[k] for f, k in st["arrays"].items()},
                                                classes=st["classes"])
                                   for s, st in per_step.items()}
            if "labels" in z.files:
                cap.labels = z["labels"]
            if "predictions" in z.files:
                cap.predictions = z["predictions"]
    except (ValueError, KeyError, OSError, json.JSONDecodeError, EOFError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"{path!r} is not a readable attnwidget capture: {e}") from None
    return cap


def split_tokens(tokens: Any, layer: str | None = None, kind: str | None = None):
    """Normalise the ``tokens`` forms into ``(query_tokens, key_tokens)``."""
    if tokens is None:
        return None, None
    if isinstance(tokens, dict):
        if layer is not None and layer in tokens:
            return split_tokens(tokens[layer], None, kind)
        if "query" in tokens or "key" in tokens:
            q, k = tokens.get("query"), tokens.get("key")
            if kind == "self":
                # self-attention reads one sequence on both axes
                q = q if q is not None else k
                k = q if "key" not in tokens else k
            return _strs(q), _strs(k)
        if kind is not None and kind in tokens:
            return split_tokens(tokens[kind], None, kind)
        return None, None
    toks = _strs(tokens)
    return toks, toks


def _strs(seq):
    return None if seq is None else [str(t) for t in seq]


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"cannot store {type(o).__name__} in a capture header")
