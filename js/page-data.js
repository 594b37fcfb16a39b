// The data of a standalone page (attnwidget/figures/page/), read back: bytes unpacked,
// references resolved, a selection looked up in a panel's table, a saved frame cut to a
// zoom region, an overlay's query row taken from the rows it holds. Pure functions: no DOM.
//
// A panel's `table` maps a selection (the JSON list of its `keys`) to a state, an index in
// the page's `states`; a state holds {"__ref__": i} where its frame codes, images and label
// lists were, an index in `shared`, where each is stored once: bytes as {"__bytes__": base64}
// or deflated, {"__deflate__": base64, length, order?, shape?}. A state's parts are decoded
// when it is first shown (a few recent ones are kept), so the first frame paints without
// decoding the others.

/**
 * Bytes of a base64 string.
 * @param {string} text
 * @returns {Uint8Array}
 */
export function fromBase64(text) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Base64 of bytes.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function toBase64(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/**
 * The bytes of a stored item (attnwidget/figures/page/store.py `packed`): base64, or a zlib
 * stream inflated with DecompressionStream, stored column by column where `order` says so.
 * @param {{__bytes__?: string, __deflate__?: string, length?: number, order?: string, shape?: number[]}} item
 * @returns {Promise<Uint8Array>}
 */
export async function unpack(item) {
  if (typeof item.__bytes__ === "string") return fromBase64(item.__bytes__);
  if (typeof item.__deflate__ !== "string") throw new Error("the page holds data in a form this runtime does not read");
  if (typeof DecompressionStream !== "function") {
    throw new Error("this browser cannot inflate the page's frames (it has no DecompressionStream): open the page in a current browser");
  }
  const stream = new Blob([fromBase64(item.__deflate__)]).stream().pipeThrough(new DecompressionStream("deflate"));
  let bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  if (bytes.length !== item.length) throw new Error(`a frame inflated to ${bytes.length} bytes, not ${item.length}`);
  if (item.order === "columns") {
    const [rows, cols] = item.shape;
    const out = new Uint8Array(bytes.length);
    for (let c = 0, i = 0; c < cols; c++) for (let r = 0; r < rows; r++, i++) out[r * cols + c] = bytes[i];
    bytes = out;
  }
  return bytes;
}

/**
 * Resolve the references of a value against `shared`: bytes become DataViews (as anywidget
 * hands a bytes trait to a view), label lists the lists. The `keep` most recently used bytes
 * stay decoded.
 * @param {any[]} shared
 * @param {number} [keep]
 * @returns {(value: any) => Promise<any>}
 */
export function resolver(shared, keep = 48) {
  const decoded = new Map(); // index -> Promise<DataView>, most recent last
  const one = (i) => {
    const item = shared[i];
    if (item === undefined) return Promise.reject(new Error(`the page refers to part ${i}, which it does not hold`));
    if (Array.isArray(item) || item === null || typeof item !== "object") return Promise.resolve(item);
    let hit = decoded.get(i);
    if (hit) decoded.delete(i);
    else hit = unpack(item).then((b) => new DataView(b.buffer, b.byteOffset, b.byteLength));
    decoded.set(i, hit);
    while (decoded.size > keep) decoded.delete(decoded.keys().next().value);
    return hit;
  };
  const resolve = async (value) => {
    if (Array.isArray(value)) return Promise.all(value.map(resolve));
    if (value === null || typeof value !== "object") return value;
    if (typeof value.__ref__ === "number") return one(value.__ref__);
    if ("__bytes__" in value || "__deflate__" in value) {
      const b = await unpack(value);
      return new DataView(b.buffer, b.byteOffset, b.byteLength);
    }
    const names = Object.keys(value);
    const parts = await Promise.all(names.map((n) => resolve(value[n])));
    return Object.fromEntries(names.map((n, i) => [n, parts[i]]));
  };
  return resolve;
}

/**
 * A selection's key in a table: the JSON list of its values of `keys` (as Python's key_of).
 * @param {string[]} keys
 * @param {Object<string, any>} sel
 * @returns {string}
 */
export function keyOf(keys, sel) {
  return JSON.stringify(keys.map((k) => (sel[k] === undefined ? null : sel[k])));
}

/** Whether a `difference` value names a class-difference map. */
export const isDiff = (value) => value !== null && value !== undefined;

/**
 * The entry a panel shows for a selection: the selection itself, else with the mean of heads,
 * else the mean of samples, at the site's first step where the step is not the site's. A
 * class-difference map is stored once under the panel's `difference.ignored` (and `forced`)
 * values; the choices of those controls are kept in the selection returned.
 * @param {{keys: string[], table: Object<string, number>, options?: {layers: any[]}, difference?: any}} panel
 * @param {Object<string, any>} s the selection wanted
 * @returns {[Object<string, any>, number, string] | null} the selection found, its state's index
 *   and the key it is stored under
 */
export function findEntry(panel, s) {
  const layers = panel.options && panel.options.layers;
  const info = layers ? layers.find((l) => l.index === s.layer) : null;
  if (layers && !info) return null;
  const steps = !info || info.steps.includes(s.step) ? [s.step] : [info.steps[0]];
  const diff = panel.difference && isDiff(s.difference) ? panel.difference : null;
  for (const step of steps) {
    for (const head of [s.head, "mean"]) {
      for (const sample of [s.sample, "mean"]) {
        const cand = Object.assign({}, s, { head, sample, step }, diff ? diff.ignored : {}, diff ? diff.forced : {});
        const key = keyOf(panel.keys, cand);
        const idx = panel.table[key];
        if (idx === undefined) continue;
        if (diff) for (const n of Object.keys(diff.ignored)) cand[n] = s[n];
        return [cand, idx, key];
      }
    }
  }
  return null;
}

/**
 * Bits (one 0/1 per cell) packed as numpy.packbits packs them, in base64 (js/outline.js unpacks them).
 * @param {Uint8Array} bits
 * @returns {string}
 */
export function packBits(bits) {
  const out = new Uint8Array(Math.ceil(bits.length / 8));
  for (let i = 0; i < bits.length; i++) if (bits[i]) out[i >> 3] |= 0x80 >> (i & 7);
  return toBase64(out);
}

/** One 0/1 per cell of base64 packed bits. */
function bitsOf(text, count) {
  const bytes = fromBase64(text);
  if (bytes.length * 8 < count) throw new Error(`the outline holds ${bytes.length * 8} cells, not ${count}`);
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = (bytes[i >> 3] >> (7 - (i & 7))) & 1;
  return out;
}

/**
 * The part of a matrix frame inside a zoom region (full-resolution [r0, r1, c0, c1]), cut from the
 * saved frame at whole cells: codes, labels, significance outline, region and shape; the colour
 * range stays the saved frame's (js/page-range.js inRange then shows it in the range chosen). The
 * frame itself where there is no region or nothing to cut.
 * @param {any} data a resolved state
 * @param {number[] | null} region
 */
export function crop(data, region) {
  const meta = data && data._frame_meta;
  if (!region || !meta || meta.error || !Array.isArray(meta.region) || !data._frame) return data;
  const [R0, R1, C0, C1] = meta.region;
  const [br, bc] = meta.block || [1, 1];
  const [h, w] = meta.shape;
  if (!h || !w) return data;
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const r0 = clamp(Math.floor((region[0] - R0) / br), 0, h - 1);
  const r1 = clamp(Math.ceil((region[1] - R0) / br), r0 + 1, h);
  const c0 = clamp(Math.floor((region[2] - C0) / bc), 0, w - 1);
  const c1 = clamp(Math.ceil((region[3] - C0) / bc), c0 + 1, w);
  if (r0 === 0 && r1 === h && c0 === 0 && c1 === w) return data;
  const cut = (src) => {
    const out = new Uint8Array((r1 - r0) * (c1 - c0));
    for (let r = r0; r < r1; r++) out.set(src.subarray(r * w + c0, r * w + c1), (r - r0) * (c1 - c0));
    return out;
  };
  const codes = cut(new Uint8Array(data._frame.buffer, data._frame.byteOffset, data._frame.byteLength));
  const more = {};
  if (typeof meta.outline === "string") more.outline = packBits(cut(bitsOf(meta.outline, h * w)));
  return Object.assign({}, data, {
    _frame: new DataView(codes.buffer),
    _frame_meta: Object.assign({}, meta, more, {
      shape: [r1 - r0, c1 - c0],
      region: [R0 + r0 * br, Math.min(R1, R0 + r1 * br), C0 + c0 * bc, Math.min(C1, C0 + c1 * bc)],
      row_labels: (meta.row_labels || []).slice(r0, r1),
      col_labels: (meta.col_labels || []).slice(c0, c1),
    }),
  });
}

/**
 * An overlay state that shows no single image ({"__white__": shape}: a mean over samples, a class
 * statistic) with a white image of the size shown last, so the canvas keeps its size.
 * @param {any} data a resolved state
 * @param {{shape?: number[]} | null} shown the image header shown now
 */
export function withWhite(data, shown) {
  if (!data || !data._image || !data._image.__white__) return data;
  const shape = (shown && shown.shape) || data._image.__white__;
  return Object.assign({}, data, {
    _image: new DataView(new Uint8Array(shape[0] * shape[1] * 4).fill(255).buffer),
    _image_meta: Object.assign({}, data._image_meta, { shape }),
  });
}

/**
 * An overlay state showing another query row, from the rows it holds (`_rows`, `_rows_meta`):
 * that row's codes on the patch grid, with its own colour range, title and caption. The state as
 * it is where it holds no rows, or no such row.
 * @param {any} data a resolved state
 * @param {number} query full-resolution query index
 */
export function queryRow(data, query) {
  const rows = data && data._rows_meta;
  if (!rows || !data._rows || !data._frame_meta || data._frame_meta.error) return data;
  const [count, patches] = rows.shape;
  if (!Number.isInteger(query) || query < 0 || query >= count) return data;
  const all = new Uint8Array(data._rows.buffer, data._rows.byteOffset, data._rows.byteLength);
  if (all.length !== count * patches) throw new Error(`the overlay's rows hold ${all.length} codes, not ${count * patches}`);
  const meta = Object.assign({}, data._frame_meta, { shape: rows.grid });
  rows.fields.forEach((name, i) => { meta[name] = rows.rows[query][i]; });
  const codes = all.slice(query * patches, (query + 1) * patches);
  return Object.assign({}, data, { _frame: new DataView(codes.buffer), _frame_meta: meta, query });
}

/**
 * The query row of the patch at (row, col) of an overlay's patch grid, or null where the state
 * holds no rows (the page was saved with one query row) or the patch is outside the grid.
 * @param {any} data a resolved overlay state
 * @param {number} row
 * @param {number} col
 * @returns {number | null}
 */
export function patchQuery(data, row, col) {
  const rows = data && data._rows_meta;
  if (!rows || !data._rows) return null;
  const [gr, gc] = rows.grid;
  if (!Number.isInteger(row) || !Number.isInteger(col) || row < 0 || col < 0 || row >= gr || col >= gc) return null;
  const query = rows.skipped + row * gc + col;
  return query < rows.shape[0] ? query : null;
}
