// Codecs: what the kernel sends (bytes traits, header dicts) -> typed arrays.
// A `bytes` trait arrives as a DataView; frames are uint8 codes, one per cell,
// with {shape, vmin, vmax, scale} in a separate header (attnwidget/wire.py), sent as
// their zlib stream where that is smaller (wire.deflate_codes; inflated here).
import { NAN_CODE, TOP } from "./colormaps.js";
import { inflate, isZlib } from "./inflate.js";

/** Same floor as attnwidget/wire.py LOG_FLOOR. */
export const LOG_FLOOR = 1e-6;

/**
 * View any binary value the kernel may send as a Uint8Array, without copying.
 * @param {DataView|ArrayBuffer|Uint8Array|null|undefined} buf
 * @returns {Uint8Array}
 */
export function toBytes(buf) {
  if (buf == null) return new Uint8Array(0);
  if (buf instanceof Uint8Array) return buf;
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  if (ArrayBuffer.isView(buf)) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  throw new TypeError(`expected binary data (DataView, ArrayBuffer or Uint8Array), got ${typeof buf}`);
}

// the codes inflated from each stream received (a frame is read more than once: held, then drawn)
const INFLATED = new WeakMap();

/**
 * Check a frame's codes against its header and return them as [h, w] codes. Fewer
 * bytes than rows x columns that begin as a zlib stream are the codes' stream (the
 * kernel deflates a frame where that pays): they are inflated, once per buffer received.
 * @param {DataView|ArrayBuffer|Uint8Array} buf uint8 codes, row-major, or their zlib stream
 * @param {{shape: number[], dtype?: string}} meta
 * @returns {{codes: Uint8Array, rows: number, cols: number}}
 */
export function decodeFrame(buf, meta) {
  let codes = toBytes(buf);
  if (!meta || !Array.isArray(meta.shape) || meta.shape.length !== 2) {
    throw new Error("frame header has no 2D shape");
  }
  if (meta.dtype && meta.dtype !== "uint8") throw new Error(`frame dtype must be uint8, not ${meta.dtype}`);
  const [rows, cols] = meta.shape;
  if (codes.length < rows * cols && isZlib(codes)) {
    const known = buf !== null && typeof buf === "object" ? INFLATED.get(buf) : undefined;
    if (known && known.length === rows * cols) codes = known;
    else {
      codes = inflate(codes, rows * cols);
      if (buf !== null && typeof buf === "object") INFLATED.set(buf, codes);
    }
  }
  if (codes.length !== rows * cols) {
    throw new Error(`frame has ${codes.length} bytes but its shape ${rows}x${cols} needs ${rows * cols}`);
  }
  return { codes, rows, cols };
}

/**
 * The approximate value of a code (inverse of wire.quantize); NAN_CODE is NaN.
 * @param {number} code 0..TOP, or NAN_CODE
 * @param {number} vmin
 * @param {number} vmax
 * @param {"linear"|"log"} [scale]
 * @returns {number}
 */
export function dequantize(code, vmin, vmax, scale = "linear") {
  if (code === NAN_CODE) return NaN;
  const t = code / TOP;
  if (scale === "log") {
    const lo = Math.log(Math.max(vmin, LOG_FLOOR));
    const hi = Math.log(Math.max(vmax, LOG_FLOOR * 10));
    return Math.exp(lo + t * (hi - lo));
  }
  return vmin + t * (vmax - vmin);
}

/**
 * Split the head grid's single message into one code array per thumbnail.
 * @param {DataView|ArrayBuffer|Uint8Array} buf all thumbnails' codes, concatenated
 * @param {{thumbs: {layer: number, head: number, shape: number[], offset: number, vmin: number, vmax: number}[]}} meta
 * @returns {{layer: number, head: number, rows: number, cols: number, codes: Uint8Array, vmin: number, vmax: number}[]}
 */
export function splitThumbs(buf, meta) {
  const bytes = toBytes(buf);
  return (meta && meta.thumbs ? meta.thumbs : []).map((t) => {
    const [rows, cols] = t.shape;
    const end = t.offset + rows * cols;
    if (end > bytes.length) {
      throw new Error(`thumbnail layer ${t.layer} head ${t.head} ends at byte ${end}, past the ${bytes.length} received`);
    }
    return { layer: t.layer, head: t.head, rows, cols, codes: bytes.subarray(t.offset, end), vmin: t.vmin, vmax: t.vmax };
  });
}

/**
 * Short human form of a value for tooltips and colorbar ticks.
 * @param {number} v
 * @returns {string}
 */
export function formatValue(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(2);
  return v.toPrecision(3).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

/**
 * An exact value for the tooltip: 6 significant digits (what float32 holds), no trailing zeros.
 * @param {number} v
 * @returns {string}
 */
export function formatExact(v) {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e6)) return v.toExponential(5).replace(/\.?0+e/, "e");
  return v.toPrecision(6).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

/**
 * The float32 values of a binary message buffer (a row the kernel sent), copied so the
 * array is aligned whatever the buffer's offset.
 * @param {DataView|ArrayBuffer|Uint8Array} buf little-endian float32 values
 * @returns {Float32Array}
 */
export function toFloats(buf) {
  const bytes = toBytes(buf);
  if (bytes.length % 4 !== 0) throw new Error(`float32 values need a multiple of 4 bytes, not ${bytes.length}`);
  return new Float32Array(bytes.slice().buffer);
}

/**
 * The tooltip's value line for a hovered cell of the tooltip machine (js/ui.js tooltipMachine):
 * the exact float32 value, else the colour code's value marked ≈, else "…" while it is asked for.
 * @param {{status: string, value?: number, row: number, col: number}} cell
 * @param {Uint8Array} codes the frame's codes, row-major
 * @param {number} cols
 * @param {{vmin: number, vmax: number, scale?: string}} meta
 * @returns {string}
 */
export function valueLine(cell, codes, cols, meta) {
  if (cell.status === "exact") {
    return Number.isNaN(cell.value) ? "value NaN" : `value ${formatExact(/** @type {number} */ (cell.value))}`;
  }
  if (cell.status === "approximate") {
    const v = dequantize(codes[cell.row * cols + cell.col], meta.vmin, meta.vmax, meta.scale);
    return Number.isNaN(v) ? "value NaN" : `value ≈ ${formatValue(v)} (colour code)`;
  }
  return "value …";
}
