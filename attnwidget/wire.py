"""Frames on the wire: a 2D float array <-> uint8 codes with a value scale.

A frame crosses to the browser as one byte per cell (``bytes`` trait or a
``model.send`` buffer) plus a small JSON header, never as JSON lists of
floats. ``quantize`` is also what the figures use before colouring, so the
PNG export and the canvas agree pixel for pixel.

The colour range a view uses is one of :data:`COLOR_RANGES`: the frame's own
min and max (``"frame"``, :func:`value_range`), a fixed one
(:func:`fixed_range`, ``[0, 1]``), or one shared by every head and step of a
site (computed in :mod:`attnwidget._view_state`). :func:`range_note` is the
caption that calls out a frame whose values hardly vary, whatever the range.

On its way to a live page a frame's codes are deflated where that pays
(:func:`deflate_codes`): peaky attention is mostly low codes, and a 512 x 512
frame of 262 KB often crosses in a tenth of that. The page tells the two forms
apart by length and inflates synchronously (``js/inflate.js``).
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = [
    "quantize",
    "dequantize",
    "value_range",
    "fixed_range",
    "data_extent",
    "nearly_uniform",
    "format_range",
    "range_note",
    "encode",
    "deflate_codes",
    "DEFLATE_FROM",
    "DEFLATE_WORTH",
    "SCALES",
    "COLOR_RANGES",
    "TOP",
    "NAN_CODE",
]

SCALES = ("linear", "log")
#: how a view picks its colour range: the frame's own min..max, fixed [0, 1], or one range per site
COLOR_RANGES = ("frame", "fixed", "shared")
#: codes shorter than this cross to a live page as they are
DEFLATE_FROM = 4096
#: a stream is sent only where it takes at most this share of the codes: deflating and inflating
#: cost the kernel and the page about 2 and 2.5 ms per 512 x 512 frame here, which a tenth saved
#: on a local connection does not pay back (half of a peaky frame's 262 KB does, and far more)
DEFLATE_WORTH = 0.5
#: a frame whose max - min is under this fraction of its largest magnitude is "nearly uniform"
#: (5%: a row of 9 keys at 0.110-0.113, uniform attention to the eye, spans 2.7%)
UNIFORM_FRACTION = 0.05
LOG_FLOOR = 1e-6
#: the highest value code: values map to 0..TOP over [vmin, vmax]
TOP = 254
#: the code of a NaN cell, drawn in its own colour (never the minimum's)
NAN_CODE = 255


def value_range(values: np.ndarray, scale: str = "linear", symmetric: bool = False) -> tuple[float, float]:
    """Default colour range of a frame: its min and max (positive part for log).

    ``symmetric`` (linear scale only): ``(-m, m)`` with ``m`` the largest
    absolute value, so that zero sits mid-colormap (class-difference maps on
    a diverging colormap); ``(-1, 1)`` for an all-zero frame.
    """
    v = np.asarray(values, dtype=np.float32)
    if scale != "log" and not symmetric:
        extent = data_extent(v)
        lo, hi = (0.0, 1.0) if extent is None else extent
        return (lo, hi) if hi > lo else (lo, lo + 1.0)
    finite = _finite(v)
    if symmetric and scale != "log":
        m = float(np.abs(finite).max()) if finite.size else 0.0
        m = m if m > 0 else 1.0
        return -m, m
    if scale == "log":
        finite = finite[finite > 0]
        if finite.size == 0:
            return LOG_FLOOR, 1.0
        lo, hi = float(max(finite.min(), LOG_FLOOR)), float(finite.max())
    else:
        if finite.size == 0:
            return 0.0, 1.0
        lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        hi = lo + (1.0 if scale == "linear" else lo)
    return lo, hi


def fixed_range(scale: str = "linear", symmetric: bool = False) -> tuple[float, float]:
    """The fixed colour range: ``[0, 1]`` (attention weights), ``[LOG_FLOOR, 1]`` on the log
    scale, ``[-1, 1]`` for a difference map (``symmetric``, linear)."""
    if symmetric and scale != "log":
        return -1.0, 1.0
    return (LOG_FLOOR, 1.0) if scale == "log" else (0.0, 1.0)


def _finite(v: np.ndarray) -> np.ndarray:
    """The finite values of ``v`` (``v`` itself, unflattened, when every value is: no copy)."""
    if v.size and np.isfinite(v.min()) and np.isfinite(v.max()):  # a NaN or an infinity shows here
        return v
    return v[np.isfinite(v)]


def data_extent(values: np.ndarray) -> tuple[float, float] | None:
    """``(min, max)`` of the finite values of a frame, or None when it has none."""
    v = np.asarray(values, dtype=np.float32)
    if v.size:
        lo, hi = v.min(), v.max()  # two reductions; a mask and a copy only where a value is not finite
        if np.isfinite(lo) and np.isfinite(hi):
            return float(lo), float(hi)
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return None
    return float(finite.min()), float(finite.max())


def nearly_uniform(lo: float, hi: float) -> bool:
    """Whether values spanning ``lo..hi`` hardly vary: ``hi - lo`` under 5% of the larger
    magnitude (a constant non-zero frame counts; an all-zero frame does not)."""
    top = max(abs(lo), abs(hi))
    return top > 0 and (hi - lo) < UNIFORM_FRACTION * top


def _decimals(v: float) -> int:
    """Decimals of ``v`` written to 3 significant digits (0 for 0 or an exponent form)."""
    if v == 0 or not np.isfinite(v) or abs(v) >= 1e5 or abs(v) < 1e-4:
        return 0
    text = f"{v:.3g}"
    return len(text.split(".")[1]) if "." in text else 0


def _fmt(v: float, decimals: int) -> str:
    a = abs(v)
    if a != 0 and (a >= 1e5 or a < 1e-4):
        return f"{v:.3g}"
    return "0" if v == 0 else f"{v:.{decimals}f}"


def format_range(lo: float, hi: float) -> str:
    """``"0.110-0.113"``: each end to 3 significant digits; ends of one order of magnitude
    share their decimals, with as many more as it takes to tell them apart (``" to "``
    between them where the low end is negative)."""
    if 0 < lo <= hi < 10 * lo:  # one order of magnitude: one number of decimals
        da = db = max(_decimals(lo), _decimals(hi))
    else:
        da, db = _decimals(lo), _decimals(hi)
    a, b = _fmt(lo, da), _fmt(hi, db)
    while a == b and lo != hi and db < 10:
        da, db = da + 1, db + 1
        a, b = _fmt(lo, da), _fmt(hi, db)
    return f"{a} to {b}" if lo < 0 else f"{a}-{b}"


def range_note(values: np.ndarray) -> str | None:
    """What a caption says of a frame whose values hardly vary (:func:`nearly_uniform`):
    ``"range 0.110-0.113: nearly uniform"``, ``"every value 0.125: uniform"``; None otherwise."""
    extent = data_extent(values)
    if extent is None or not nearly_uniform(*extent):
        return None
    lo, hi = extent
    if hi == lo:
        return f"every value {_fmt(lo, _decimals(lo))}: uniform"
    return f"range {format_range(lo, hi)}: nearly uniform"


def quantize(values: np.ndarray, vmin: float, vmax: float, scale: str = "linear") -> np.ndarray:
    """Map values to uint8 codes ``0..TOP`` over ``[vmin, vmax]`` (linear or log scale); NaN -> ``NAN_CODE``.

    Infinities clip to the ends of the range (they are values beyond it); NaN
    is no value at all and gets a code, and so a colour, of its own.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, not {scale!r}")
    # one float64 copy, then every step in place in it: the same arithmetic, in the same order,
    # as a chain of temporaries (each a frame-sized allocation), so the same codes
    v = np.array(values, dtype=np.float64)
    if scale == "log":
        lo, hi = np.log(max(vmin, LOG_FLOOR)), np.log(max(vmax, LOG_FLOOR * 10))
        np.log(np.clip(v, LOG_FLOOR, None, out=v), out=v)
    else:
        lo, hi = float(vmin), float(vmax)
    nan = np.isnan(v)
    any_nan = bool(nan.any())
    v -= lo
    v /= hi - lo if hi > lo else 1.0
    if any_nan:
        v[nan] = 0.0  # its code is set below; the cast must not meet a NaN
    v *= TOP
    # infinities clip to the ends here (as nan_to_num(posinf=1, neginf=0) would have put them)
    np.clip(np.rint(v, out=v), 0, TOP, out=v)
    codes = v.astype(np.uint8)
    if any_nan:
        codes[nan] = NAN_CODE
    return codes


def dequantize(codes: np.ndarray, vmin: float, vmax: float, scale: str = "linear") -> np.ndarray:
    """Approximate values back from codes (``NAN_CODE`` -> NaN)."""
    codes = np.asarray(codes)
    t = codes.astype(np.float64) / TOP
    if scale == "log":
        lo, hi = np.log(max(vmin, LOG_FLOOR)), np.log(max(vmax, LOG_FLOOR * 10))
        out = np.exp(lo + t * (hi - lo))
    else:
        out = vmin + t * (vmax - vmin)
    return np.where(codes == NAN_CODE, np.nan, out).astype(np.float32)


def encode(
    values: np.ndarray,
    scale: str = "linear",
    vmin: float | None = None,
    vmax: float | None = None,
    symmetric: bool = False,
) -> tuple[dict, bytes]:
    """Frame -> (header, payload): payload is ``h*w`` uint8 codes, row-major (``NAN_CODE`` for NaN).

    ``symmetric``: the default range is ``(-m, m)`` (see :func:`value_range`).
    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"a frame is 2D, got shape {values.shape}")
    lo, hi = value_range(values, scale, symmetric)
    lo = lo if vmin is None else float(vmin)
    hi = hi if vmax is None else float(vmax)
    codes = quantize(values, lo, hi, scale)
    header = {"dtype": "uint8", "shape": list(codes.shape), "vmin": lo, "vmax": hi, "scale": scale}
    return header, codes.tobytes()


def deflate_codes(data: bytes) -> bytes:
    """A frame's codes as they cross to a live page: their zlib stream where it takes at most
    :data:`DEFLATE_WORTH` of them, else the codes as they are.

    The stream is zlib's level 1 with run-length matches only (``Z_RLE``): attention codes
    are mostly runs of one low code, and this finds them in half the time of the default
    match search (1.5 against 1.9 ms for a peaky 512 x 512 frame, 3.8 against 9.3 for a
    flatter one), for a stream as small or smaller. The page tells the two forms apart by
    length: the codes are exactly rows x columns bytes, a stream is shorter (``js/codecs.js``
    ``decodeFrame`` inflates it and checks its Adler-32). Whether to deflate is judged on
    the first eighth first, so codes that do not deflate (near-uniform attention is noise
    to zlib) cost one small trial.
    """
    n = len(data)
    if n < DEFLATE_FROM:
        return data
    if n >= 8 * DEFLATE_FROM:
        band = memoryview(data)[: n // 8]
        if len(_rle_stream(band)) > DEFLATE_WORTH * len(band):
            return data
    stream = _rle_stream(data)
    return stream if len(stream) <= DEFLATE_WORTH * n else data


def _rle_stream(data) -> bytes:
    packer = zlib.compressobj(1, zlib.DEFLATED, 15, 8, zlib.Z_RLE)
    return packer.compress(data) + packer.flush()
