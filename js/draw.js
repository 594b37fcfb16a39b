// Pure drawing helpers shared by the views: no DOM, so vitest runs them in node.
// Colours come only from the generated LUTs (js/colormaps.js), code -> RGB,
// so a canvas pixel equals the pixel of a PNG exported with the same LUT.
import { TOP } from "./colormaps.js";

// the byte order of this machine's 32-bit words: a packed RGBA pixel is written as one word
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The 256 colours of a table as packed RGBA words in this machine's byte order (alpha 255).
 * @param {Uint8Array} lut 768 bytes, RGB per code
 * @returns {Uint32Array}
 */
function palette(lut) {
  const bytes = new Uint8Array(1024);
  for (let c = 0, k = 0, j = 0; c < 256; c++, k += 3, j += 4) {
    bytes[j] = lut[k];
    bytes[j + 1] = lut[k + 1];
    bytes[j + 2] = lut[k + 2];
    bytes[j + 3] = 255;
  }
  return new Uint32Array(bytes.buffer);
}

/**
 * Colour uint8 codes with a 256-entry RGB table into an RGBA buffer.
 *
 * One 32-bit word per pixel from a packed palette (4.6 ms for 512 x 512 codes written byte by
 * byte in headless Chromium, the largest part of drawing a frame); byte by byte where the
 * buffer is not word-aligned or the machine is big-endian.
 * @param {Uint8Array} codes one code per pixel
 * @param {Uint8Array} lut 768 bytes, RGB per code
 * @param {Uint8ClampedArray} [out] reused when it has the right length
 * @returns {Uint8ClampedArray} 4 bytes per code, alpha 255
 */
export function colorize(codes, lut, out) {
  if (lut.length !== 768) throw new Error(`a colour table has 768 bytes (256 RGB), not ${lut.length}`);
  const n = codes.length;
  const rgba = out && out.length === n * 4 ? out : new Uint8ClampedArray(n * 4);
  if (LITTLE_ENDIAN && rgba.byteOffset % 4 === 0) {
    const words = new Uint32Array(rgba.buffer, rgba.byteOffset, n);
    const pal = palette(lut);
    for (let i = 0; i < n; i++) words[i] = pal[codes[i]];
    return rgba;
  }
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const k = codes[i] * 3;
    rgba[j] = lut[k];
    rgba[j + 1] = lut[k + 1];
    rgba[j + 2] = lut[k + 2];
    rgba[j + 3] = 255;
  }
  return rgba;
}

/**
 * Codes of a vertical colorbar, top = TOP (254, the highest value code), bottom = 0;
 * the NaN code never appears in it.
 * @param {number} height rows
 * @returns {Uint8Array}
 */
export function colorbarCodes(height) {
  const out = new Uint8Array(height);
  for (let y = 0; y < height; y++) {
    out[y] = height === 1 ? TOP : Math.round(TOP * (1 - y / (height - 1)));
  }
  return out;
}

/** Strides labels are thinned to: every label, then round steps (every 2nd, 5th, 10th, 20th, 25th ...). */
const STRIDES = [1, 2, 5, 10, 20, 25, 50];

/**
 * The smallest round stride (1, 2, 5, 10, 20, 25, 50, 100, ...) at least `least`.
 * @param {number} least
 * @returns {number}
 */
export function roundStride(least) {
  if (!(least > 1)) return 1;
  for (let scale = 1; ; scale *= 100) {
    for (const s of STRIDES) if (s * scale >= least) return s * scale;
  }
}

/**
 * Which labels to draw so they do not overlap: every `stride`-th one, the stride a round
 * number (labels 0, 10, 20 ... of 200 samples, not 0, 6, 12 ...), and drawn labels' centres
 * at least `minGap` pixels apart (a label's height plus a little air: their boxes never touch).
 * @param {number} count labels on the axis
 * @param {number} length pixels the axis spans
 * @param {number} [minGap] smallest pixels between the centres of two drawn labels
 * @returns {number[]} indices of the labels to draw
 */
export function thinLabels(count, length, minGap = 12) {
  if (count <= 0 || length <= 0) return [];
  const stride = roundStride((minGap * count) / length);
  const out = [];
  for (let i = 0; i < count; i += stride) out.push(i);
  return out;
}

/**
 * The boxes, along their axis, of the labels drawn at `indices`: [start, end] pixels, each
 * `size` pixels long (the text's height) about the centre of its row or column.
 * @param {number[]} indices
 * @param {number} origin pixel where the axis starts (layout.y for rows, layout.x for columns)
 * @param {number} cell pixels per row or column
 * @param {number} size the text's height in pixels
 * @returns {number[][]}
 */
export function labelBoxes(indices, origin, cell, size) {
  return indices.map((i) => {
    const centre = origin + (i + 0.5) * cell;
    return [centre - size / 2, centre + size / 2];
  });
}

/**
 * Shorten a label to at most `max` characters (an ellipsis marks the cut).
 * @param {string} text
 * @param {number} max
 * @returns {string}
 */
export function clip(text, max) {
  const s = String(text);
  return s.length <= max ? s : s.slice(0, Math.max(1, max - 1)) + "…";
}

/** A matrix that fills at least this share of the plot box on both sides keeps square cells. */
export const SQUARE_FILL = 0.6;
/** The short side of a skinny matrix is drawn at least this share of the box (its cells widened). */
export const SHORT_SHARE = 0.6;
/** A widened cell is at most this many pixels along the widened side: a 1 x N row is a strip, not a block. */
export const MOST_CELL = 72;
/** Nor is the short side drawn under this (or the whole box): a strip, never a hairline. */
export const LEAST_SIDE = 48;

/**
 * The widened cell's side for the short side of a skinny matrix: `count` cells across `room` pixels,
 * whose square cells would be `cell` pixels. At least the square cell; aiming at SHORT_SHARE of the
 * room, at most MOST_CELL a cell (unless the square cell is bigger) and never past the room.
 * @param {number} cell the square cell's side
 * @param {number} count cells along the short side
 * @param {number} room pixels of the box along the short side
 * @returns {number}
 */
export function shortCell(cell, count, room) {
  const want = Math.min((SHORT_SHARE * room) / count, MOST_CELL);
  const least = Math.min(room, LEAST_SIDE) / count;
  return Math.min(Math.max(cell, want, least), room / count);
}

/**
 * Where a rows x cols matrix sits in a plot box, sized by its aspect.
 *
 * Square cells where the matrix then fills at least 60% of the box on both sides
 * (SQUARE_FILL). A skinny matrix (a 200 x 9 layer-weights table, a 32 x 4 cross-attention,
 * a 1 x N generation row) would be a sliver that way: its long side still spans the box,
 * and its short side is drawn at least 60% of the box (SHORT_SHARE) by widening its cells
 * (a 200 x 9 table: 264 px wide, its cells 29 px wide and 2.2 px tall), a widened cell at
 * most 72 px (MOST_CELL: a 1 x N row is a 72 px strip, not a 264 px block) and the short
 * side never under 48 px (LEAST_SIDE: a 1 x 300 row's cells are bars, never hairlines).
 * @param {number} rows
 * @param {number} cols
 * @param {{x: number, y: number, width: number, height: number}} box
 * @returns {{x: number, y: number, width: number, height: number, cellW: number, cellH: number, rows: number, cols: number}}
 */
export function fitMatrix(rows, cols, box) {
  const cell = Math.min(box.width / cols, box.height / rows);
  let cellW = cell;
  let cellH = cell;
  const fills = (cell * cols) / box.width >= SQUARE_FILL && (cell * rows) / box.height >= SQUARE_FILL;
  if (!fills) {
    // the side the square cells left short is widened; the long side keeps the cell it has
    const wide = (cell * cols) / box.width >= (cell * rows) / box.height;
    if (wide) cellH = shortCell(cell, rows, box.height);
    else cellW = shortCell(cell, cols, box.width);
  }
  return { x: box.x, y: box.y, width: cellW * cols, height: cellH * rows, cellW, cellH, rows, cols };
}

/**
 * The cell under a point, or null outside the matrix.
 * @param {{x: number, y: number, cellW: number, cellH: number, rows: number, cols: number}} layout
 * @param {number} px
 * @param {number} py
 * @returns {{row: number, col: number} | null}
 */
export function cellAt(layout, px, py) {
  const col = Math.floor((px - layout.x) / layout.cellW);
  const row = Math.floor((py - layout.y) / layout.cellH);
  if (row < 0 || col < 0 || row >= layout.rows || col >= layout.cols) return null;
  return { row, col };
}

/**
 * Full-resolution region covered by displayed cells [row0, row1) x [col0, col1).
 * @param {{region: number[], block: number[], full_shape: number[]}} meta
 * @param {number} row0
 * @param {number} row1
 * @param {number} col0
 * @param {number} col1
 * @returns {number[]} [r0, r1, c0, c1] in full-resolution indices
 */
export function cellsToRegion(meta, row0, row1, col0, col1) {
  const [R0, R1, C0, C1] = meta.region;
  const [br, bc] = meta.block;
  return [
    Math.max(R0, R0 + row0 * br), Math.min(R1, R0 + row1 * br),
    Math.max(C0, C0 + col0 * bc), Math.min(C1, C0 + col1 * bc),
  ];
}

/**
 * Full-resolution index of a displayed row or column (its first one when pooled).
 * @param {{region: number[], block: number[]}} meta
 * @param {"query"|"key"} axis query = rows, key = columns
 * @param {number} cell displayed index
 * @returns {number}
 */
export function cellToIndex(meta, axis, cell) {
  return axis === "query" ? meta.region[0] + cell * meta.block[0] : meta.region[2] + cell * meta.block[1];
}

/**
 * Displayed cell of a full-resolution index, or -1 when it is outside the region shown.
 * @param {{region: number[], block: number[]}} meta
 * @param {"query"|"key"} axis
 * @param {number} index
 * @returns {number}
 */
export function indexToCell(meta, axis, index) {
  const [lo, hi] = axis === "query" ? [meta.region[0], meta.region[1]] : [meta.region[2], meta.region[3]];
  if (index < lo || index >= hi) return -1;
  return Math.floor((index - lo) / (axis === "query" ? meta.block[0] : meta.block[1]));
}

/**
 * Region after zooming by `factor` (< 1 zooms in) around a full-resolution point.
 * @param {number[]} region current [r0, r1, c0, c1]
 * @param {number[]} full [rows, cols] of the whole matrix
 * @param {number} row full-resolution row under the pointer
 * @param {number} col full-resolution column under the pointer
 * @param {number} factor new span / old span
 * @returns {number[] | null} new region, or null when it covers everything
 */
export function zoomAround(region, full, row, col, factor) {
  const axis = (lo, hi, at, n) => {
    const span = Math.min(n, Math.max(1, Math.round((hi - lo) * factor)));
    const t = hi > lo ? (at - lo) / (hi - lo) : 0.5;
    let start = Math.round(at - t * span);
    start = Math.min(Math.max(0, start), n - span);
    return [start, start + span];
  };
  const [r0, r1] = axis(region[0], region[1], row, full[0]);
  const [c0, c1] = axis(region[2], region[3], col, full[1]);
  if (r0 === 0 && c0 === 0 && r1 === full[0] && c1 === full[1]) return null;
  return [r0, r1, c0, c1];
}

/**
 * Bilinear upsampling of a code grid (pixel centres aligned, edges clamped).
 * @param {Uint8Array} codes rows x cols
 * @param {number} rows
 * @param {number} cols
 * @param {number} height output rows
 * @param {number} width output columns
 * @returns {Uint8Array} height x width codes
 */
export function upsample(codes, rows, cols, height, width) {
  const out = new Uint8Array(height * width);
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max(((y + 0.5) * rows) / height - 0.5, 0), rows - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, rows - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max(((x + 0.5) * cols) / width - 0.5, 0), cols - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, cols - 1);
      const wx = fx - x0;
      const top = codes[y0 * cols + x0] * (1 - wx) + codes[y0 * cols + x1] * wx;
      const bottom = codes[y1 * cols + x0] * (1 - wx) + codes[y1 * cols + x1] * wx;
      out[y * width + x] = Math.round(top * (1 - wy) + bottom * wy);
    }
  }
  return out;
}

/**
 * Blend an RGBA layer over an RGBA image: out = image * (1 - alpha) + over * alpha.
 * @param {Uint8Array|Uint8ClampedArray} image
 * @param {Uint8Array|Uint8ClampedArray} over same length as image
 * @param {number} alpha 0..1
 * @returns {Uint8ClampedArray}
 */
export function blend(image, over, alpha) {
  if (image.length !== over.length) throw new Error(`cannot blend ${over.length} bytes over ${image.length}`);
  const a = Math.min(Math.max(alpha, 0), 1);
  const out = new Uint8ClampedArray(image.length);
  for (let i = 0; i < image.length; i += 4) {
    out[i] = image[i] * (1 - a) + over[i] * a;
    out[i + 1] = image[i + 1] * (1 - a) + over[i + 1] * a;
    out[i + 2] = image[i + 2] * (1 - a) + over[i + 2] * a;
    out[i + 3] = 255;
  }
  return out;
}

/**
 * A round step (1, 2 or 5 times a power of ten) that cuts `span` into at most about `count` parts.
 * @param {number} span > 0
 * @param {number} count
 * @returns {number}
 */
export function niceStep(span, count = 5) {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw * (1 - 1e-9)) return m * mag;
  return 10 * mag;
}

/**
 * A tick value as text, with as many decimals as its step needs (0.25 steps: "0.25";
 * 0.001 steps: "0.112"); an exponent for very large or very small values.
 * @param {number} value
 * @param {number} step the distance between ticks (its decimals are the label's)
 * @returns {string}
 */
export function formatTick(value, step) {
  if (value === 0 || Math.abs(value) < step * 1e-6) return "0";
  const a = Math.abs(value);
  if (a >= 1e5 || a < 1e-4) {
    const digits = Math.max(0, Math.min(6, Math.round(Math.log10(a) - Math.log10(step))));
    return value.toExponential(digits).replace(/\.?0+e/, "e");
  }
  const decimals = Math.max(0, Math.min(10, Math.ceil(-Math.log10(step) - 1e-9)));
  return value.toFixed(decimals);
}

/**
 * Round tick values inside [vmin, vmax]: multiples of a 1-2-5 step (linear), or
 * decades, with 2x and 5x in a range of few decades (log).
 * @param {number} vmin
 * @param {number} vmax
 * @param {"linear"|"log"} scale
 * @param {number} [count] about how many
 * @returns {{value: number, label: string}[]}
 */
export function roundTicks(vmin, vmax, scale, count = 5) {
  if (!(vmax > vmin) || !Number.isFinite(vmin) || !Number.isFinite(vmax)) return [];
  const out = [];
  if (scale === "log") {
    const lo = Math.max(vmin, 1e-6);
    const hi = Math.max(vmax, 1e-5);
    const k0 = Math.ceil(Math.log10(lo) - 1e-9);
    const k1 = Math.floor(Math.log10(hi) + 1e-9);
    const decades = k1 - k0 + 1;
    const every = Math.max(1, Math.ceil(decades / count));
    const mantissas = decades <= 2 ? [1, 2, 5] : [1];
    for (let k = Math.floor(Math.log10(lo)); k <= k1; k++) {
      if ((k - k0) % every !== 0) continue;
      for (const m of mantissas) {
        const v = Number((m * 10 ** k).toPrecision(12));
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push({ value: v, label: formatTick(v, v) });
      }
    }
    return out;
  }
  const step = niceStep(vmax - vmin, count);
  for (let k = Math.ceil(vmin / step - 1e-9); k * step <= vmax + step * 1e-9; k++) {
    const v = Number((k * step).toPrecision(12));
    out.push({ value: v, label: formatTick(v, step) });
  }
  return out;
}

/**
 * Where a value sits on a colorbar of [vmin, vmax]: 0 at the top (vmax), 1 at the bottom.
 * @param {number} value
 * @param {number} vmin
 * @param {number} vmax
 * @param {"linear"|"log"} scale
 * @returns {number}
 */
export function barPosition(value, vmin, vmax, scale) {
  let t;
  if (scale === "log") {
    const lo = Math.log(Math.max(vmin, 1e-6));
    const hi = Math.log(Math.max(vmax, 1e-5));
    t = hi > lo ? (Math.log(Math.max(value, 1e-6)) - lo) / (hi - lo) : 0;
  } else {
    t = vmax > vmin ? (value - vmin) / (vmax - vmin) : 0;
  }
  return 1 - Math.min(Math.max(t, 0), 1);
}

/**
 * The ticks of a colorbar: its two ends (`end: true`, the exact vmin and vmax) and round values
 * between them (1-2-5 steps), none closer than `minGap` pixels to another and no label twice.
 * @param {number} vmin
 * @param {number} vmax
 * @param {"linear"|"log"} scale
 * @param {number} [count] about how many round ticks
 * @param {{height?: number, minGap?: number, format?: (v: number) => string}} [options]
 *   the bar's height in pixels (default 200), the smallest gap between two labels (default 14)
 *   and how the ends are written (default: 3 significant digits)
 * @returns {{value: number, at: number, label: string, end: boolean}[]} top (vmax) first
 */
export function colorbarTicks(vmin, vmax, scale, count = 5, options = {}) {
  const height = options.height ?? 200;
  const minGap = options.minGap ?? 14;
  const ticks = roundTicks(vmin, vmax, scale, count);
  const step = scale === "log" || ticks.length < 2 ? 0 : ticks[1].value - ticks[0].value;
  const format = options.format || ((v) => formatEnd(v, step / 10));
  const ends = [{ value: vmax, at: 0, label: format(vmax), end: true }];
  if (vmax !== vmin) ends.push({ value: vmin, at: 1, label: format(vmin), end: true });
  const taken = [...ends];
  for (const t of ticks.reverse()) {
    const at = barPosition(t.value, vmin, vmax, scale);
    const near = taken.some((o) => Math.abs(o.at - at) * height < minGap || o.label === t.label);
    if (!near) taken.push({ value: t.value, at, label: t.label, end: false });
  }
  return taken.sort((a, b) => a.at - b.at);
}

/**
 * An end of a colour range as text: 3 significant digits (trailing zeros dropped), and at
 * least the decimals of `resolution` (0.110 next to ticks 0.001 apart, not 0.11). An end
 * under half the resolution is zero at it: a softmax's smallest weight, 1.3e-44 under
 * ticks 0.2 apart, is written 0.0, not as a number no tick beside it can place.
 * @param {number} v
 * @param {number} [resolution] 0: none
 * @returns {string}
 */
export function formatEnd(v, resolution = 0) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  const want = resolution > 0 ? Math.max(0, Math.min(10, Math.ceil(-Math.log10(resolution) - 1e-9) - 1)) : 0;
  if (resolution > 0 && a < resolution / 2) return (0).toFixed(want);
  if (a !== 0 && (a < 1e-4 || a >= 1e5)) return v.toExponential(2).replace(/\.?0+e/, "e");
  const short = v.toPrecision(3).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
  if (!(resolution > 0) || v === 0) return short;
  const has = short.includes(".") ? short.split(".")[1].length : 0;
  return want > has ? v.toFixed(want) : short;
}
