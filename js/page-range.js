// The colour range of a standalone page, as the explorer's "colour range" control chooses it:
// each frame's own min..max ("this frame"), fixed 0..1, or one range shared by every head and step
// of the site. Pure functions: no DOM.
//
// The page embeds every frame coded over its own range (attnwidget/figures/page/table.py), the
// finest codes it has; another range is the same codes coded again through a 256-entry table
// (each code's value, as attnwidget/wire.py dequantize gives it, coded over the new range as
// wire.quantize codes it). A range that holds the frame's own (0..1, the site's) loses nothing
// but the codes it no longer needs. The shared range is computed here, from the frames the page
// holds for the site (every head and step of it embedded, for the same sample, class, statistic,
// difference and scale): the page can show no frame outside it, zoom included. Where the frames
// are pooled it is the range of the pooled cells the page shows, not of the full-resolution
// frames the kernel's shared range reads.

import { dequantize, LOG_FLOOR } from "./codecs.js";
import { NAN_CODE, TOP } from "./colormaps.js";

export { LOG_FLOOR, NAN_CODE, TOP };

/** The choices of the colour-range control, as the explorer's (attnwidget/widgets/controls.py). */
export const RANGE_CHOICES = [["frame", "this frame"], ["fixed", "fixed 0–1"], ["shared", "shared"]];

/** The value a code stands for over [vmin, vmax] (wire.dequantize), NaN for NAN_CODE. */
export const codeValue = dequantize;

/**
 * The code of a value over [vmin, vmax] (wire.quantize): 0..TOP, clipped; NaN -> NAN_CODE.
 * @param {number} value
 * @param {number} vmin
 * @param {number} vmax
 * @param {string} scale
 */
export function valueCode(value, vmin, vmax, scale = "linear") {
  if (Number.isNaN(value)) return NAN_CODE;
  let v = value;
  let lo = vmin;
  let hi = vmax;
  if (scale === "log") {
    lo = Math.log(Math.max(vmin, LOG_FLOOR));
    hi = Math.log(Math.max(vmax, LOG_FLOOR * 10));
    v = Math.log(Math.max(v, LOG_FLOOR));
  }
  let t = (v - lo) / (hi > lo ? hi - lo : 1);
  if (!Number.isFinite(t)) t = t > 0 ? 1 : 0;
  return Math.min(TOP, Math.max(0, Math.round(t * TOP)));
}

/**
 * The table that codes a frame coded over `from` again over `to`: new code = table[old code].
 * @param {[number, number]} from
 * @param {[number, number]} to
 * @param {string} scale
 * @returns {Uint8Array} 256 entries (NAN_CODE stays NAN_CODE)
 */
export function recodeTable(from, to, scale = "linear") {
  const out = new Uint8Array(256);
  for (let c = 0; c <= TOP; c++) out[c] = valueCode(codeValue(c, from[0], from[1], scale), to[0], to[1], scale);
  out[NAN_CODE] = NAN_CODE;
  return out;
}

/** Whether a frame's own range is symmetric about zero (a difference map, linear). */
export const isSymmetric = (meta) => meta.scale !== "log" && meta.vmin < 0 && meta.vmin === -meta.vmax;

/**
 * The fixed range (wire.fixed_range): [0, 1], [LOG_FLOOR, 1] on the log scale, [-1, 1] for a
 * difference map.
 * @param {string} scale
 * @param {boolean} symmetric
 * @returns {[number, number]}
 */
export function fixedRange(scale = "linear", symmetric = false) {
  if (symmetric && scale !== "log") return [-1, 1];
  return [scale === "log" ? LOG_FLOOR : 0, 1];
}

/**
 * The colour range of values spanning an extent (wire.value_range of those values): their
 * min..max (the smallest positive one on the log scale), -m..m for a difference map, a range of
 * nothing widened as the kernel widens it.
 * @param {{lo: number, hi: number, pos: number} | null} extent lo, hi: the finite extremes;
 *   pos: the smallest positive value (Infinity: none)
 * @param {string} scale
 * @param {boolean} symmetric
 * @returns {[number, number]}
 */
export function extentRange(extent, scale = "linear", symmetric = false) {
  const e = extent || { lo: Infinity, hi: -Infinity, pos: Infinity };
  const none = !(e.hi >= e.lo);
  if (symmetric && scale !== "log") {
    const m = none ? 0 : Math.max(Math.abs(e.lo), Math.abs(e.hi));
    return m > 0 ? [-m, m] : [-1, 1];
  }
  let lo;
  let hi;
  if (scale === "log") {
    if (none || !Number.isFinite(e.pos) || !(e.hi > 0)) return [LOG_FLOOR, 1];
    lo = Math.max(e.pos, LOG_FLOOR);
    hi = e.hi;
  } else {
    if (none) return [0, 1];
    lo = e.lo;
    hi = e.hi;
  }
  if (hi <= lo) hi = lo + (scale === "linear" ? 1 : lo);
  return [lo, hi];
}

/** Two extents as one. */
export function joinExtents(a, b) {
  if (!a) return b;
  if (!b) return a;
  return { lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi), pos: Math.min(a.pos, b.pos) };
}

/**
 * The extent of a frame from its header: its finite extremes (`data_min`, `data_max`) and, on the
 * log scale, its own range's low end (the smallest positive value, at least LOG_FLOOR).
 * @param {any} meta a frame header coded over the frame's own range
 * @returns {{lo: number, hi: number, pos: number} | null}
 */
export function metaExtent(meta) {
  if (!meta || meta.error || meta.data_min == null || meta.data_max == null) return null;
  const lo = Number(meta.data_min);
  const hi = Number(meta.data_max);
  // the log scale's own range starts at the smallest positive value; a linear one's, at the least
  const pos = meta.scale === "log" ? Number(meta.vmin) : lo > 0 ? lo : Infinity;
  return { lo, hi, pos };
}

/**
 * The extent of the values some codes stand for (a frame cut to a zoom region).
 * @param {Uint8Array} codes
 * @param {[number, number]} range what they are coded over
 * @param {string} scale
 * @returns {{lo: number, hi: number, pos: number} | null} null: every code is NaN
 */
export function codesExtent(codes, range, scale = "linear") {
  let low = 256;
  let high = -1;
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === NAN_CODE) continue;
    if (c < low) low = c;
    if (c > high) high = c;
  }
  if (high < 0) return null;
  const lo = codeValue(low, range[0], range[1], scale);
  const hi = codeValue(high, range[0], range[1], scale);
  let pos = Infinity;
  for (let c = low; c <= high && !Number.isFinite(pos); c++) {
    const v = codeValue(c, range[0], range[1], scale);
    if (v > 0 && codes.includes(c)) pos = v;
  }
  return { lo, hi, pos };
}

/** wire.py's number formats: 3 significant digits, an exponent beyond 1e-4..1e5. */
function decimals(v) {
  if (v === 0 || !Number.isFinite(v) || Math.abs(v) >= 1e5 || Math.abs(v) < 1e-4) return 0;
  const text = Number(v.toPrecision(3)).toString();
  return text.includes(".") ? text.split(".")[1].length : 0;
}

function fmt(v, places) {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-4)) return v.toExponential(2).replace(/\.?0+e/, "e").replace(/e([+-])(\d)$/, "e$10$2");
  return v === 0 ? "0" : v.toFixed(places);
}

/**
 * A range in words as the kernel's captions write it (wire.format_range): "0.110-0.113", "0-1",
 * "-0.5 to 0.5".
 * @param {number} lo
 * @param {number} hi
 */
export function formatRange(lo, hi) {
  let da;
  let db;
  if (lo > 0 && lo <= hi && hi < 10 * lo) da = db = Math.max(decimals(lo), decimals(hi));
  else [da, db] = [decimals(lo), decimals(hi)];
  let a = fmt(lo, da);
  let b = fmt(hi, db);
  while (a === b && lo !== hi && db < 10) {
    da += 1;
    db += 1;
    a = fmt(lo, da);
    b = fmt(hi, db);
  }
  return lo < 0 ? `${a} to ${b}` : `${a}-${b}`;
}

/**
 * What a frame's caption says of its colours (attnwidget/_view_state.py range_caption), before
 * what the frame's own caption says.
 * @param {string} mode "frame", "fixed" or "shared"
 * @param {[number, number]} range
 * @param {string} [own] the frame's caption as embedded
 */
export function rangeCaption(mode, range, own = "") {
  const parts = [];
  if (mode === "fixed") parts.push(`fixed colour range ${formatRange(range[0], range[1])}`);
  else if (mode === "shared") {
    parts.push(`shared colour range ${formatRange(range[0], range[1])} (every head and step of the site in this page)`);
  }
  if (own) parts.push(own);
  return parts.join(" · ");
}

/**
 * The key of the frames that share a range: a table key with its head and step left out.
 * @param {string[]} keys the panel's keys
 * @param {Object<string, any>} sel
 */
export function siteKey(keys, sel) {
  return JSON.stringify(keys.filter((k) => k !== "head" && k !== "step").map((k) => (sel[k] === undefined ? null : sel[k])));
}

/**
 * Every frame a panel holds, grouped by the site and what else but the head and step it shows.
 * @param {{keys: string[], table: Object<string, number>}} panel
 * @returns {{groupOf: Map<string, string>, members: Map<string, Set<number>>}} the group of each table
 *   key (siteKey), and the state indices of each group
 */
export function siteGroups(panel) {
  const groupOf = new Map();
  const members = new Map();
  for (const [key, index] of Object.entries(panel.table)) {
    const values = JSON.parse(key);
    const g = siteKey(panel.keys, Object.fromEntries(panel.keys.map((k, i) => [k, values[i]])));
    groupOf.set(key, g);
    if (!members.has(g)) members.set(g, new Set());
    members.get(g).add(index);
  }
  return { groupOf, members };
}

/**
 * A frame shown in a colour range: its codes coded again over the range and its header's range,
 * caption and `color_range` with them. "this frame" leaves a frame as embedded, except one cut
 * to a zoom region (`zoomed`), which gets the range of the cells it shows, as a kernel's does.
 * @param {any} data a resolved state (`_frame` a DataView, `_frame_meta`), coded over its own range
 * @param {string} mode "frame", "fixed" or "shared"
 * @param {{lo: number, hi: number, pos: number} | null} shared the site's extent ("shared")
 * @param {{zoomed?: boolean, note?: string}} [opts] note: said after the caption (a zoom's)
 * @returns {any} the state to show
 */
export function inRange(data, mode, shared, opts = {}) {
  const meta = data && data._frame_meta;
  if (!meta || meta.error || !data._frame || !(meta.shape || [0])[0]) return data;
  const scale = meta.scale || "linear";
  const own = [Number(meta.vmin), Number(meta.vmax)];
  const symmetric = isSymmetric(meta);
  const codes = new Uint8Array(data._frame.buffer, data._frame.byteOffset, data._frame.byteLength);
  const extent = opts.zoomed ? codesExtent(codes, own, scale) : metaExtent(meta);
  let range = own;
  if (mode === "fixed") range = fixedRange(scale, symmetric);
  else if (mode === "shared") range = extentRange(joinExtents(shared, extent), scale, symmetric);
  else if (opts.zoomed) range = extentRange(extent, scale, symmetric);
  const caption = [rangeCaption(mode, range, meta.caption || ""), opts.note || ""].filter(Boolean).join(" · ");
  const more = { vmin: range[0], vmax: range[1], color_range: mode, caption };
  if (opts.zoomed && extent) Object.assign(more, { data_min: extent.lo, data_max: extent.hi });
  if (range[0] === own[0] && range[1] === own[1]) {
    return Object.assign({}, data, { _frame_meta: Object.assign({}, meta, more) });
  }
  const table = recodeTable(own, range, scale);
  const out = new Uint8Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = table[codes[i]];
  return Object.assign({}, data, { _frame: new DataView(out.buffer), _frame_meta: Object.assign({}, meta, more) });
}

/**
 * A head grid's thumbnails in a colour range: fixed, or one shared by `shared` (linear, as the
 * kernel codes thumbnails); "this frame" leaves them as embedded.
 * @param {any} data a resolved head-grid state (`_thumbs`, `_thumbs_meta`)
 * @param {string} mode
 * @param {{lo: number, hi: number, pos: number} | null} shared
 */
export function thumbsInRange(data, mode, shared) {
  const meta = data && data._thumbs_meta;
  if (!meta || meta.error || !data._thumbs || mode === "frame") return data;
  const all = new Uint8Array(data._thumbs.buffer, data._thumbs.byteOffset, data._thumbs.byteLength);
  const out = new Uint8Array(all);
  const symmetric = meta.thumbs.some((t) => isSymmetric({ vmin: t.vmin, vmax: t.vmax }));
  const range = mode === "fixed" ? fixedRange("linear", symmetric) : extentRange(shared, "linear", symmetric);
  const thumbs = meta.thumbs.map((t) => {
    const n = t.shape[0] * t.shape[1];
    const table = recodeTable([t.vmin, t.vmax], range, "linear");
    for (let i = t.offset; i < t.offset + n; i++) out[i] = table[all[i]];
    return Object.assign({}, t, { vmin: range[0], vmax: range[1] });
  });
  return Object.assign({}, data, {
    _thumbs: new DataView(out.buffer),
    _thumbs_meta: Object.assign({}, meta, { thumbs, color_range: mode }),
  });
}

/**
 * The extent of a head grid's thumbnails: the values their codes stand for (linear).
 * @param {any} data a resolved head-grid state
 */
export function thumbsExtent(data) {
  const meta = data && data._thumbs_meta;
  if (!meta || meta.error || !Array.isArray(meta.thumbs) || !data._thumbs) return null;
  const all = new Uint8Array(data._thumbs.buffer, data._thumbs.byteOffset, data._thumbs.byteLength);
  let e = null;
  for (const t of meta.thumbs) {
    const n = t.shape[0] * t.shape[1];
    e = joinExtents(e, codesExtent(all.subarray(t.offset, t.offset + n), [t.vmin, t.vmax], "linear"));
  }
  return e;
}

/**
 * The extent of a stored (unresolved) state of a matrix or an overlay: its frame's, or for an
 * overlay that holds every query row, that row's.
 * @param {any} state as the page stores it
 * @param {number | null} query an overlay's query row shown
 */
export function storedExtent(state, query = null) {
  const rows = state && state._rows_meta;
  if (rows && Number.isInteger(query) && query >= 0 && query < rows.shape[0] && state._frame_meta) {
    const meta = Object.assign({}, state._frame_meta);
    rows.fields.forEach((name, i) => { meta[name] = rows.rows[query][i]; });
    return metaExtent(meta);
  }
  return metaExtent(state && state._frame_meta);
}
