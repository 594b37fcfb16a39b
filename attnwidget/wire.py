"""Frames on the wire: a 2D float array <-> uint8 codes with a value scale.

A frame crosses to the browser as one byte per cell (``bytes`` trait or a
``model.send`` buffer) plus a small JSON header, never as JSON lists of
floats. ``quantize`` is also what the figures use before colouring, so the
PNG export and the canvas agree pixel for pixel.
"""

from __future__ import annotations

import numpy as np

__all__ = ["quantize", "dequantize", "value_range", "encode", "SCALES", "TOP", "NAN_CODE"]

SCALES = ("linear", "log")
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
    finite = v[np.isfinite(v)]
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


def quantize(values: np.ndarray, vmin: float, vmax: float, scale: str = "linear") -> np.ndarray:
    """Map values to uint8 codes ``0..TOP`` over ``[vmin, vmax]`` (linear or log scale); NaN -> ``NAN_CODE``.

    Infinities clip to the ends of the range (they are values beyond it); NaN
    is no value at all and gets a code, and so a colour, of its own.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, not {scale!r}")
    v = np.asarray(values, dtype=np.float64)
    if scale == "log":
        lo, hi = np.log(max(vmin, LOG_FLOOR)), np.log(max(vmax, LOG_FLOOR * 10))
        v = np.log(np.clip(v, LOG_FLOOR, None))
    else:
        lo, hi = float(vmin), float(vmax)
    nan = np.isnan(v)
    t = (v - lo) / (hi - lo if hi > lo else 1.0)
    t = np.nan_to_num(t, nan=0.0, posinf=1.0, neginf=0.0)
    codes = np.clip(np.rint(t * TOP), 0, TOP).astype(np.uint8)
    if nan.any():
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
