// js/page-controls.js
var headName = (h) => typeof h === "number" ? `head ${h}` : `${h} of heads`;
function controlChoices(main, state, opts = {}) {
  const own = opts.own || {};
  const options = main.options;
  const info = options.layers.find((l) => l.index === state.layer) || options.layers[0];
  const stats = options.stats || [];
  const diff = Boolean(main.difference) && state.difference !== null && state.difference !== void 0;
  const out = {};
  const add = (name, items, value, shown = true) => {
    out[name] = {
      items,
      value,
      hidden: !shown || items.length < 2 && name !== "layer",
      disabled: false,
      title: ""
    };
  };
  add("layer", options.layers.map((l) => [l.index, l.name]), state.layer);
  add("head", info.heads.map((h) => [h, headName(h)]), state.head);
  add("label", options.labels.map((l) => [l.value, l.name]), state.label);
  if (main.keys.includes("stat")) add("stat", stats, state.stat);
  if (main.keys.includes("difference")) {
    add("difference", [[null, "none"], ...options.differences.map((d) => [d.value, d.name])], diff ? state.difference : null);
  }
  const labelKey = JSON.stringify(state.label === void 0 ? null : state.label);
  const samples = (info.samples || {})[labelKey] || options.samples[labelKey] || ["mean"];
  const names = (info.sample_names || {})[labelKey];
  const meanName = stats.length ? "class statistic" : "mean of samples";
  const sampleName = (s, i) => typeof s === "number" ? names ? names[i] : `sample ${s}` : meanName;
  add("sample", samples.map((s, i) => [s, sampleName(s, i)]), state.sample);
  if (samples.filter((s) => typeof s === "number").length < 2) out.sample.hidden = true;
  if (info.sample_free) out.sample.hidden = true;
  add("step", info.steps.map((s) => [s, `step ${s}`]), state.step);
  if (main.keys.includes("scale")) add("scale", (options.scales || []).map((c) => [c, c]), state.scale, !own.scale);
  if ("colormap" in state && (options.colormaps || []).length) {
    add("colormap", options.colormaps.map((c) => [c, c]), state.colormap, !own.colormap);
  }
  const why = "a class-difference map uses every sample of both classes (difference 'none' to choose)";
  for (const n of ["label", "stat", "sample", "scale"]) {
    if (out[n] && diff) Object.assign(out[n], { disabled: true, title: why });
  }
  if (info.class_reason && !diff) Object.assign(out.label, { disabled: true, title: info.class_reason });
  return { controls: out, note: diff ? "" : info.class_reason || "" };
}
function titleText(heading, controls, fixed = null) {
  if (fixed) return fixed;
  const parts = [heading || "attnwidget"];
  for (const n of ["layer", "head", "label", "stat", "difference", "sample", "step"]) {
    const c = controls[n];
    if (!c || c.disabled || c.hidden) continue;
    if ((n === "label" || n === "difference") && c.value === null) continue;
    const item = c.items.find(([v]) => JSON.stringify(v) === JSON.stringify(c.value));
    if (item) parts.push(item[1]);
  }
  return parts.join(" \xB7 ");
}
function nextStep(steps, current) {
  const at = steps.indexOf(current);
  return at >= 0 && at < steps.length - 1 ? steps[at + 1] : null;
}
function playFrom(steps, current) {
  return nextStep(steps, current) === null ? steps[0] : current;
}
function moved(options, value, by) {
  const at = options.findIndex((v) => JSON.stringify(v) === JSON.stringify(value));
  if (at < 0) return void 0;
  return options[Math.min(Math.max(at + by, 0), options.length - 1)];
}
function classPick(label) {
  return { label, sample: label === null ? 0 : "mean" };
}

// js/page-data.js
function fromBase64(text) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function toBase64(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 32768) bin += String.fromCharCode(...bytes.subarray(i, i + 32768));
  return btoa(bin);
}
async function unpack(item) {
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
function resolver(shared, keep = 48) {
  const decoded = /* @__PURE__ */ new Map();
  const one = (i) => {
    const item = shared[i];
    if (item === void 0) return Promise.reject(new Error(`the page refers to part ${i}, which it does not hold`));
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
function keyOf(keys, sel) {
  return JSON.stringify(keys.map((k) => sel[k] === void 0 ? null : sel[k]));
}
var isDiff = (value) => value !== null && value !== void 0;
function findEntry(panel, s) {
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
        if (idx === void 0) continue;
        if (diff) for (const n of Object.keys(diff.ignored)) cand[n] = s[n];
        return [cand, idx, key];
      }
    }
  }
  return null;
}
function packBits(bits) {
  const out = new Uint8Array(Math.ceil(bits.length / 8));
  for (let i = 0; i < bits.length; i++) if (bits[i]) out[i >> 3] |= 128 >> (i & 7);
  return toBase64(out);
}
function bitsOf(text, count) {
  const bytes = fromBase64(text);
  if (bytes.length * 8 < count) throw new Error(`the outline holds ${bytes.length * 8} cells, not ${count}`);
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = bytes[i >> 3] >> 7 - (i & 7) & 1;
  return out;
}
function crop(data, region) {
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
      col_labels: (meta.col_labels || []).slice(c0, c1)
    })
  });
}
function withWhite(data, shown) {
  if (!data || !data._image || !data._image.__white__) return data;
  const shape = shown && shown.shape || data._image.__white__;
  return Object.assign({}, data, {
    _image: new DataView(new Uint8Array(shape[0] * shape[1] * 4).fill(255).buffer),
    _image_meta: Object.assign({}, data._image_meta, { shape })
  });
}
function queryRow(data, query) {
  const rows = data && data._rows_meta;
  if (!rows || !data._rows || !data._frame_meta || data._frame_meta.error) return data;
  const [count, patches] = rows.shape;
  if (!Number.isInteger(query) || query < 0 || query >= count) return data;
  const all = new Uint8Array(data._rows.buffer, data._rows.byteOffset, data._rows.byteLength);
  if (all.length !== count * patches) throw new Error(`the overlay's rows hold ${all.length} codes, not ${count * patches}`);
  const meta = Object.assign({}, data._frame_meta, { shape: rows.grid });
  rows.fields.forEach((name, i) => {
    meta[name] = rows.rows[query][i];
  });
  const codes = all.slice(query * patches, (query + 1) * patches);
  return Object.assign({}, data, { _frame: new DataView(codes.buffer), _frame_meta: meta, query });
}
function patchQuery(data, row, col) {
  const rows = data && data._rows_meta;
  if (!rows || !data._rows) return null;
  const [gr, gc] = rows.grid;
  if (!Number.isInteger(row) || !Number.isInteger(col) || row < 0 || col < 0 || row >= gr || col >= gc) return null;
  const query = rows.skipped + row * gc + col;
  return query < rows.shape[0] ? query : null;
}

// js/page-model.js
function createModel(state, hooks = {}) {
  const listeners = /* @__PURE__ */ new Map();
  const dirty = /* @__PURE__ */ new Set();
  const emit = (event, ...args) => {
    for (const cb of [...listeners.get(event) || []]) {
      try {
        cb(...args);
      } catch (e) {
        console.error(e);
      }
    }
  };
  const model = {
    get: (name) => state[name],
    // set(name, value), or set({name: value, ...}) as a Backbone model (ipywidgets') takes it
    set: (name, value) => {
      const entries = name !== null && typeof name === "object" ? Object.entries(name) : [[name, value]];
      for (const [n, v] of entries) {
        state[n] = v;
        dirty.add(n);
      }
    },
    save_changes: () => {
      const names = [...dirty];
      dirty.clear();
      for (const n of names) emit(`change:${n}`, model, state[n]);
      if (names.length) emit("change", model);
      if (names.length && hooks.saved) hooks.saved(names);
    },
    on: (events, cb) => {
      for (const ev of String(events).split(/\s+/).filter(Boolean)) {
        if (!listeners.has(ev)) listeners.set(ev, []);
        listeners.get(ev).push(cb);
      }
    },
    off: (events, cb) => {
      if (!events) {
        listeners.clear();
        return;
      }
      for (const ev of String(events).split(/\s+/).filter(Boolean)) {
        if (!cb) listeners.delete(ev);
        else listeners.set(ev, (listeners.get(ev) || []).filter((f) => f !== cb));
      }
    },
    send: (content) => {
      const reply = hooks.answer ? hooks.answer(content || {}) : { type: "error", message: "nothing answers here" };
      Promise.resolve(reply).then((r) => queueMicrotask(() => emit("msg:custom", r, [])));
    }
  };
  const put = (entries) => {
    const changed = [];
    for (const [name, value] of entries) {
      if (state[name] !== value) {
        state[name] = value;
        changed.push(name);
      }
    }
    for (const n of changed) emit(`change:${n}`, model, state[n]);
    if (changed.length) emit("change", model);
    return changed;
  };
  return { model, put, emit, state };
}

// js/colormaps.js
var TOP = 254;
var NAN_CODE = 255;

// js/inflate.js
var LENGTH_BASE = new Uint16Array([
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  10,
  11,
  13,
  15,
  17,
  19,
  23,
  27,
  31,
  35,
  43,
  51,
  59,
  67,
  83,
  99,
  115,
  131,
  163,
  195,
  227,
  258
]);
var LENGTH_EXTRA = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]);
var DIST_BASE = new Uint16Array([
  1,
  2,
  3,
  4,
  5,
  7,
  9,
  13,
  17,
  25,
  33,
  49,
  65,
  97,
  129,
  193,
  257,
  385,
  513,
  769,
  1025,
  1537,
  2049,
  3073,
  4097,
  6145,
  8193,
  12289,
  16385,
  24577
]);
var DIST_EXTRA = new Uint8Array([0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]);
var CLEN_ORDER = new Uint8Array([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]);

// js/codecs.js
var LOG_FLOOR = 1e-6;
function dequantize(code, vmin, vmax, scale = "linear") {
  if (code === NAN_CODE) return NaN;
  const t = code / TOP;
  if (scale === "log") {
    const lo = Math.log(Math.max(vmin, LOG_FLOOR));
    const hi = Math.log(Math.max(vmax, LOG_FLOOR * 10));
    return Math.exp(lo + t * (hi - lo));
  }
  return vmin + t * (vmax - vmin);
}

// js/page-range.js
var RANGE_CHOICES = [["frame", "this frame"], ["fixed", "fixed 0\u20131"], ["shared", "shared"]];
var codeValue = dequantize;
function valueCode(value, vmin, vmax, scale = "linear") {
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
function recodeTable(from, to, scale = "linear") {
  const out = new Uint8Array(256);
  for (let c = 0; c <= TOP; c++) out[c] = valueCode(codeValue(c, from[0], from[1], scale), to[0], to[1], scale);
  out[NAN_CODE] = NAN_CODE;
  return out;
}
var isSymmetric = (meta) => meta.scale !== "log" && meta.vmin < 0 && meta.vmin === -meta.vmax;
function fixedRange(scale = "linear", symmetric = false) {
  if (symmetric && scale !== "log") return [-1, 1];
  return [scale === "log" ? LOG_FLOOR : 0, 1];
}
function extentRange(extent, scale = "linear", symmetric = false) {
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
function joinExtents(a, b) {
  if (!a) return b;
  if (!b) return a;
  return { lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi), pos: Math.min(a.pos, b.pos) };
}
function metaExtent(meta) {
  if (!meta || meta.error || meta.data_min == null || meta.data_max == null) return null;
  const lo = Number(meta.data_min);
  const hi = Number(meta.data_max);
  const pos = meta.scale === "log" ? Number(meta.vmin) : lo > 0 ? lo : Infinity;
  return { lo, hi, pos };
}
function codesExtent(codes, range, scale = "linear") {
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
function formatRange(lo, hi) {
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
function rangeCaption(mode, range, own = "") {
  const parts = [];
  if (mode === "fixed") parts.push(`fixed colour range ${formatRange(range[0], range[1])}`);
  else if (mode === "shared") {
    parts.push(`shared colour range ${formatRange(range[0], range[1])} (every head and step of the site in this page)`);
  }
  if (own) parts.push(own);
  return parts.join(" \xB7 ");
}
function siteKey(keys, sel) {
  return JSON.stringify(keys.filter((k) => k !== "head" && k !== "step").map((k) => sel[k] === void 0 ? null : sel[k]));
}
function siteGroups(panel) {
  const groupOf = /* @__PURE__ */ new Map();
  const members = /* @__PURE__ */ new Map();
  for (const [key, index] of Object.entries(panel.table)) {
    const values = JSON.parse(key);
    const g = siteKey(panel.keys, Object.fromEntries(panel.keys.map((k, i) => [k, values[i]])));
    groupOf.set(key, g);
    if (!members.has(g)) members.set(g, /* @__PURE__ */ new Set());
    members.get(g).add(index);
  }
  return { groupOf, members };
}
function inRange(data, mode, shared, opts = {}) {
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
  const caption = [rangeCaption(mode, range, meta.caption || ""), opts.note || ""].filter(Boolean).join(" \xB7 ");
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
function thumbsInRange(data, mode, shared) {
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
    _thumbs_meta: Object.assign({}, meta, { thumbs, color_range: mode })
  });
}
function thumbsExtent(data) {
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
function storedExtent(state, query = null) {
  const rows = state && state._rows_meta;
  if (rows && Number.isInteger(query) && query >= 0 && query < rows.shape[0] && state._frame_meta) {
    const meta = Object.assign({}, state._frame_meta);
    rows.fields.forEach((name, i) => {
      meta[name] = rows.rows[query][i];
    });
    return metaExtent(meta);
  }
  return metaExtent(state && state._frame_meta);
}

// js/page-panel.js
var SELECTION = ["layer", "head", "sample", "label", "step", "stat", "difference"];
async function widgetOf(module) {
  let m = await module;
  if (m && typeof m.render !== "function" && m.default) m = m.default;
  if (typeof m === "function") m = await m();
  if (!m || typeof m.render !== "function") throw new Error("the view's module has no default export with render({model, el})");
  return m;
}
var ViewPanel = class {
  /**
   * @param {any} page the page: `resolve`, `states`, `select(want, panel)`, `saved(panel, names)`,
   *   `pickQuery(query)`, `say(text)`
   * @param {any} data the panel's data (attnwidget/figures/page/table.py view_table)
   * @param {HTMLElement} el where the view draws
   */
  constructor(page, data, el2) {
    this.page = page;
    this.data = data;
    this.id = data.id;
    this.kind = data.kind;
    this.keys = data.keys;
    this.el = el2;
    this.diff = data.difference || null;
    this.before = this.diff && this.diff.before || {};
    this.zoom = null;
    this.saved = null;
    this.shownKey = null;
    this.groups = null;
    this.extents = /* @__PURE__ */ new Map();
    this.frames = 0;
  }
  /** Decode the first state and make the model. */
  async init() {
    let state = withWhite(await this.page.resolve(this.data.initial), null);
    this.saved = state;
    if (state._rows_meta && Number.isInteger(state.query)) state = queryRow(state, state.query);
    this.hasRegion = "region" in state;
    if (state._frame_meta || state._thumbs_meta) state._frame_version = 0;
    const made = createModel(state, { saved: (names) => this.page.saved(this, names), answer: (msg) => this.answer(msg) });
    this.state = made.state;
    this.model = made.model;
    this.put = made.put;
    const found = findEntry(this.data, this.state);
    this.shownKey = found ? found[2] : null;
    if ((this.page.range || "frame") !== "frame") await this.reRange();
  }
  /** Draw the view into the panel's element. */
  async render(module) {
    const widget = await widgetOf(module);
    if (typeof widget.initialize === "function") await widget.initialize({ model: this.model });
    this.cleanup = await widget.render({ model: this.model, el: this.el });
    const scales = this.data.options && this.data.options.scales || [];
    for (const node of this.el.querySelectorAll("select.aw-scale")) node.hidden = scales.length < 2;
    for (const node of this.el.querySelectorAll("select.aw-mode, select.aw-dpi")) node.hidden = true;
  }
  /** The options of the site shown. */
  layerInfo(layer = this.state.layer) {
    return (this.data.options.layers || []).find((l) => l.index === layer);
  }
  /**
   * The entry of a selection: `want` over what the panel shows now. Null where the panel holds
   * none. Leaving a difference map goes back to the scale shown before it.
   * @param {Object<string, any>} want
   */
  plan(want) {
    const s = {};
    for (const n of this.keys) s[n] = n in want ? want[n] : this.state[n];
    const entering = Boolean(this.diff) && !isDiff(this.state.difference) && isDiff(s.difference);
    const leaving = Boolean(this.diff) && isDiff(this.state.difference) && !isDiff(s.difference);
    if (leaving && this.keys.includes("scale") && !("scale" in want) && this.before.scale !== void 0) {
      s.scale = this.before.scale;
    }
    let found = findEntry(this.data, s);
    if (!found && leaving && s.scale !== this.state.scale) {
      s.scale = this.state.scale;
      found = findEntry(this.data, s);
    }
    if (!found) return null;
    return { sel: found[0], index: found[1], key: found[2], entering, leaving };
  }
  /** The decoded state of an entry (and, in a shared colour range, its site's extent). */
  async load(plan) {
    const data = await this.page.resolve(this.page.states[plan.index]);
    if (this.page.range === "shared") await this.siteExtent(plan.key);
    return data;
  }
  /**
   * The extent of every frame the panel holds for the site of an entry (its heads and steps), for
   * the query row shown on an overlay: from the headers as stored, a head grid's from its codes.
   * @param {string | null} key the entry's table key
   */
  async siteExtent(key = this.shownKey) {
    if (key === null) return null;
    if (!this.groups) this.groups = siteGroups(this.data);
    const group = this.groups.groupOf.get(key);
    if (group === void 0) return null;
    const query = Number.isInteger(this.state.query) ? this.state.query : null;
    const id = `${group}|${query}`;
    if (!this.extents.has(id)) {
      let e = null;
      for (const index of this.groups.members.get(group)) {
        const stored = this.page.states[index];
        e = joinExtents(e, stored._thumbs_meta ? thumbsExtent(await this.page.resolve(stored)) : storedExtent(stored, query));
      }
      this.extents.set(id, e);
    }
    return this.extents.get(id);
  }
  /** Show an entry: its selection and data into the model, with the colormap a difference map wants. */
  show(plan, data) {
    const extra = [];
    const diff = this.diff;
    if (plan.entering) {
      this.before = {};
      if (this.keys.includes("scale") && this.state.scale !== plan.sel.scale) this.before.scale = this.state.scale;
      if (diff.colormap && this.state.colormap !== diff.colormap) {
        this.before.colormap = this.state.colormap;
        extra.push(["colormap", diff.colormap]);
      }
    } else if (plan.leaving) {
      if (this.before.colormap && this.state.colormap === diff.colormap) extra.push(["colormap", this.before.colormap]);
      this.before = {};
    }
    for (const n of this.keys) extra.push([n, plan.sel[n]]);
    this.shownKey = plan.key;
    this.showData(data, extra);
  }
  /**
   * Put a state's data into the model: the query row asked for, cut to the zoom region, in the
   * page's colour range; and `extra`.
   */
  showData(data, extra = [], zoomed = false) {
    data = withWhite(data, this.state._image_meta);
    this.saved = data;
    let shown = Number.isInteger(this.state.query) ? queryRow(data, this.state.query) : data;
    const cut = crop(shown, this.zoom);
    const mode = this.page.range || "frame";
    const query = Number.isInteger(this.state.query) ? this.state.query : null;
    const shared = mode === "shared" ? this.extents.get(`${this.groupKey()}|${query}`) || null : null;
    if (shown._thumbs_meta) {
      shown = thumbsInRange(shown, mode, shared);
    } else {
      shown = inRange(cut, mode, shared, { zoomed: cut !== shown, note: cut !== shown ? zoomNote(cut) : "" });
    }
    const entries = [...extra, ...Object.entries(shown)];
    if ("color_range" in this.state) entries.push(["color_range", mode]);
    if (this.hasRegion && zoomed) entries.push(["region", this.zoom]);
    entries.push(["_frame_version", ++this.frames]);
    this.put(entries);
  }
  /** The site group of the entry shown (js/page-range.js siteKey), or undefined. */
  groupKey() {
    if (!this.groups) this.groups = siteGroups(this.data);
    return this.groups.groupOf.get(this.shownKey);
  }
  /** Show the entry shown again in another colour range (the page's `range`). */
  async reRange() {
    if (!this.saved) return;
    if (this.page.range === "shared") await this.siteExtent();
    this.showData(this.saved);
  }
  /** Show another query row of an overlay (the saved state's own where it holds no rows). */
  setQuery(query) {
    if (!this.saved || !this.saved._rows_meta) return false;
    if (query < 0 || query >= this.saved._rows_meta.shape[0]) return false;
    this.put([["query", query]]);
    if (this.page.range === "shared") {
      this.siteExtent().then(() => {
        this.showData(this.saved);
        this.page.changed();
      });
    } else {
      this.showData(this.saved);
    }
    return true;
  }
  /** The kernel's answers to the view's messages, from the embedded tables. */
  answer(msg) {
    const id = msg.id;
    const err = (message) => ({ type: "error", id, message });
    switch (msg.type) {
      case "select": {
        const want = {};
        if ("layer" in msg) want.layer = msg.layer;
        if ("head" in msg) want.head = msg.head;
        const got = this.page.select(want, this);
        return got ? { type: "ok", id, layer: got.layer, head: got.head } : err("this page holds no frame for that selection");
      }
      case "move": {
        const info = this.layerInfo();
        const what = msg.what;
        const options = what === "layer" ? this.data.options.layers.map((l) => l.index) : what === "head" ? info && info.heads : what === "step" ? info && info.steps : null;
        if (!options || msg.by !== 1 && msg.by !== -1) return err("move needs what='layer'|'head'|'step' and by=+1|-1");
        const next = moved(options, this.state[what], msg.by);
        const got = next === void 0 ? null : this.page.select({ [what]: next }, this);
        return got ? { type: "ok", id, layer: got.layer, head: got.head, step: got.step } : err("this page holds no frame for that selection");
      }
      case "zoom": {
        const region = Array.isArray(msg.region) && msg.region.length === 4 ? msg.region.map(Number) : null;
        const meta = this.saved && this.saved._frame_meta || {};
        const whole = !region || Array.isArray(meta.region) && region[0] <= meta.region[0] && region[1] >= meta.region[1] && region[2] <= meta.region[2] && region[3] >= meta.region[3];
        this.zoom = whole ? null : region;
        this.showData(this.saved, [], true);
        this.page.changed();
        const now = this.state._frame_meta || {};
        return { type: "ok", id, region: now.region, shape: now.shape };
      }
      case "save": {
        const canvas = this.el.querySelector("canvas");
        if (!canvas) return err("this page has nothing drawn to save");
        const name = `${(this.data.view || "view").toLowerCase()}.png`;
        const a = document.createElement("a");
        a.href = canvas.toDataURL("image/png");
        a.download = name;
        document.body.append(a);
        a.click();
        a.remove();
        return { type: "ok", id, path: `${name} (downloaded: the picture on screen)`, name };
      }
      case "row":
        return err("exact values need a running kernel; the page shows each colour code's value");
      case "held":
        return { type: "ok", id };
      case "pick": {
        const query = patchQuery(this.saved, msg.row, msg.col);
        if (query === null) {
          return err("another query row needs a running kernel; this page holds the query it was saved with");
        }
        this.page.pickQuery(query, this);
        return { type: "ok", id, query };
      }
      default:
        return err(`unknown message type ${JSON.stringify(msg.type)}`);
    }
  }
};
function zoomNote(data) {
  const meta = data && data._frame_meta || {};
  const [br, bc] = meta.block || [1, 1];
  if (br === 1 && bc === 1) return "";
  return `zoomed into the ${br}\xD7${bc}-pooled cells this page holds, not recomputed at full resolution`;
}

// js/page-charts.js
var STAT_COLORS = { entropy: "#1f77b4", max: "#ff7f0e", sparsity: "#2ca02c" };
var ROLE_COLORS = ["#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
var CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
function valueRange(series) {
  const all = series.flat().filter((v) => Number.isFinite(v));
  const lo = Math.min(0, ...all);
  const hi = all.length ? Math.max(...all) : lo;
  const top = (hi > lo ? hi : lo + 1) * 1.05;
  return [lo, top > lo ? top : lo + 1];
}
function barRects(series, box, range) {
  const n = Math.max(0, ...series.map((s) => s.length));
  if (!n || !series.length) return [];
  const group = box.width / n;
  const w = group * 0.8 / series.length;
  const [lo, hi] = range;
  const at = (v) => box.y + box.height * (1 - (Math.min(Math.max(v, lo), hi) - lo) / (hi - lo));
  const zero = at(0);
  const out = [];
  series.forEach((values, s) => {
    values.forEach((value, i) => {
      const v = Number.isFinite(value) ? value : 0;
      const top = at(v);
      out.push({
        series: s,
        index: i,
        value,
        x: box.x + i * group + group * 0.1 + s * w,
        y: Math.min(top, zero),
        w,
        h: Math.abs(zero - top)
      });
    });
  });
  return out;
}
function linePoints(values, box, range) {
  const [lo, hi] = range;
  const n = values.length;
  return values.map((v, i) => {
    const x = box.x + (n > 1 ? i / (n - 1) * box.width : box.width / 2);
    const y = box.y + box.height * (1 - ((Number.isFinite(v) ? v : lo) - lo) / (hi - lo));
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  }).join(" ");
}
function labelIndices(count, width, gap = 16) {
  if (count <= 0) return [];
  const every = Math.max(1, Math.ceil(count * gap / Math.max(width, 1)));
  const out = [];
  for (let i = 0; i < count; i += every) out.push(i);
  return out;
}
var SVG = "http://www.w3.org/2000/svg";
function el(doc, tag, attrs = {}, text = null) {
  const node = doc.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = String(text);
  return node;
}
function chart(doc, spec) {
  const width = spec.width || 240;
  const height = spec.height || 120;
  const box = { x: 34, y: 18, width: width - 44, height: height - (spec.axis ? 46 : 34) };
  const range = spec.range || valueRange(spec.series);
  const svg = el(doc, "svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: `aw-chart aw-chart-${spec.kind || "bars"}` });
  svg.dataset.values = JSON.stringify(spec.series);
  svg.append(el(doc, "text", { x: box.x, y: 12, "font-size": 12, "font-weight": 600, fill: "currentColor" }, spec.title));
  const fmt2 = (v) => Math.abs(v) >= 10 || v === 0 ? v.toFixed(0) : v.toPrecision(2);
  for (const v of range) {
    const y = box.y + box.height * (1 - (v - range[0]) / (range[1] - range[0]));
    svg.append(el(doc, "text", { x: box.x - 4, y: y + 4, "font-size": 10, "text-anchor": "end", fill: "currentColor" }, fmt2(v)));
    svg.append(el(doc, "line", { x1: box.x, x2: box.x + box.width, y1: y, y2: y, stroke: "#bbb", "stroke-width": 0.5 }));
  }
  const n = Math.max(0, ...spec.series.map((s) => s.length));
  const marked = Number.isInteger(spec.marked) && spec.marked >= 0 && spec.marked < n ? spec.marked : null;
  if (spec.lines) {
    spec.series.forEach((values, s) => {
      svg.append(el(doc, "polyline", {
        points: linePoints(values, box, range),
        fill: "none",
        stroke: spec.colors[s % spec.colors.length],
        "stroke-width": 1.5
      }));
    });
  } else {
    for (const r of barRects(spec.series, box, range)) {
      const rect = el(doc, "rect", {
        x: r.x.toFixed(1),
        y: r.y.toFixed(1),
        width: Math.max(0.5, r.w).toFixed(1),
        height: r.h.toFixed(1),
        fill: spec.colors[r.series % spec.colors.length],
        class: "aw-bar",
        opacity: marked === null || marked === r.index ? 1 : 0.35
      });
      if (marked === r.index) {
        rect.setAttribute("stroke", "currentColor");
        rect.setAttribute("stroke-width", "1.5");
        rect.classList.add("aw-bar-marked");
      }
      rect.dataset.index = String(r.index);
      const tip = el(doc, "title", {}, `${spec.names[r.index] ?? r.index}: ${Number(r.value).toPrecision(3)}`);
      rect.append(tip);
      if (spec.onPick) rect.addEventListener("click", () => spec.onPick(r.index));
      svg.append(rect);
    }
  }
  for (const i of labelIndices(n, box.width)) {
    const x = box.x + (spec.lines ? n > 1 ? i / (n - 1) * box.width : box.width / 2 : (i + 0.5) * box.width / n);
    svg.append(el(
      doc,
      "text",
      { x, y: box.y + box.height + 12, "font-size": 10, "text-anchor": "middle", fill: "currentColor" },
      spec.names[i] ?? String(i)
    ));
  }
  if (spec.axis) {
    svg.append(el(doc, "text", { x: box.x + box.width / 2, y: height - 2, "font-size": 10, "text-anchor": "middle", fill: "currentColor" }, spec.axis));
  }
  if (spec.legend && spec.legend.length) {
    let x = box.x + box.width;
    spec.legend.slice().reverse().forEach((name, k) => {
      const s = spec.legend.length - 1 - k;
      const text = Math.ceil(5.8 * String(name).length);
      svg.append(el(doc, "text", { x, y: 12, "font-size": 10, "text-anchor": "end", fill: "currentColor" }, name));
      svg.append(el(doc, "rect", { x: x - text - 13, y: 4, width: 9, height: 9, fill: spec.colors[s % spec.colors.length] }));
      x -= text + 13 + 12;
    });
  }
  return svg;
}

// js/page-stats.js
var StatsPanel = class {
  /**
   * @param {any} page the page: `resolve`, `states`, `select(want, panel)`
   * @param {any} data {id: "headstats", keys, table}
   * @param {HTMLElement} el
   */
  constructor(page, data, el2) {
    this.page = page;
    this.data = data;
    this.id = data.id;
    this.kind = "headstats";
    this.keys = data.keys;
    this.el = el2;
    this.shown = null;
    this.open = true;
    this.what = "statistics";
    this.hasRoles = Object.values(data.table).some((i) => {
      const roles = page.states[i] && page.states[i].roles;
      return Boolean(roles && roles.bars);
    });
    el2.classList.add("aw-view", "aw-headstats");
    const head = document.createElement("div");
    head.className = "aw-headstats-head";
    this.toggle = document.createElement("button");
    this.toggle.className = "aw-headstats-toggle";
    this.toggle.type = "button";
    this.toggle.title = "show or hide the head statistics";
    this.caption = document.createElement("span");
    this.caption.className = "aw-headstats-caption";
    this.picker = document.createElement("select");
    this.picker.className = "aw-headstats-show";
    this.picker.title = "entropy, max and sparsity per head, or the head roles aw.heads scores";
    for (const [value, text] of [["statistics", "statistics"], ["roles", "head roles"]]) {
      const o = document.createElement("option");
      o.value = value;
      o.textContent = text;
      this.picker.append(o);
    }
    const skipped = Object.values(data.table).map((i) => page.states[i] && page.states[i].roles).find((r) => r && r.skipped);
    this.picker.hidden = !this.hasRoles && !skipped;
    if (!this.hasRoles && skipped) {
      this.picker.disabled = true;
      this.picker.title = skipped.error;
    }
    this.picker.addEventListener("change", () => {
      this.what = this.picker.value;
      this.draw();
      this.page.changed();
    });
    head.append(this.toggle, this.picker, this.caption);
    this.charts = document.createElement("div");
    this.charts.className = "aw-page-chart aw-headstats-charts";
    this.note = document.createElement("div");
    this.note.className = "aw-note aw-headstats-note";
    el2.append(head, this.charts, this.note);
    this.toggle.addEventListener("click", () => {
      this.open = !this.open;
      this.draw();
      this.page.changed();
    });
  }
  /** The entry of a selection (the mean of samples where a sample has none of its own). */
  plan(want) {
    const found = findEntry(this.data, want);
    return found ? { sel: found[0], index: found[1] } : null;
  }
  load(plan) {
    return this.page.resolve(this.page.states[plan.index]);
  }
  show(plan, data, head) {
    this.shown = data;
    this.head = head;
    this.draw();
  }
  /** Mark another head (the bars stay). */
  mark(head) {
    if (head === this.head) return;
    this.head = head;
    this.draw();
  }
  draw() {
    const stats = this.shown || {};
    this.el.hidden = Boolean(stats.error) || !stats.bars;
    this.picker.value = this.what;
    const roles = this.what === "roles";
    const data = roles ? stats.roles || { error: "this page holds no head roles for this site" } : stats;
    this.el.dataset.show = this.what;
    this.toggle.textContent = `${this.open ? "\u25BE" : "\u25B8"} head statistics`;
    this.toggle.setAttribute("aria-expanded", String(this.open));
    this.caption.textContent = data.caption || "";
    this.note.textContent = data.error || data.note || "";
    this.charts.replaceChildren();
    this.charts.hidden = !this.open;
    if (!data.bars || !this.open) return;
    if (roles) {
      const names = Object.keys(data.bars);
      const series = names.map((r) => data.bars[r]);
      this.charts.append(chart(document, {
        title: data.title || "head roles",
        series,
        names: series[0].map((_, h) => String(h)),
        legend: names,
        colors: names.map((_, i) => ROLE_COLORS[i % ROLE_COLORS.length]),
        range: [0, 1],
        marked: Number.isInteger(this.head) ? this.head : null,
        width: Math.max(540, 90 * series[0].length + 60),
        height: 112,
        kind: "roles",
        axis: "head",
        onPick: (h) => this.page.select({ head: h }, this)
      }));
      return;
    }
    for (const [name, values] of Object.entries(data.bars)) {
      const svg = chart(document, {
        title: name,
        series: [values],
        names: values.map((_, h) => String(h)),
        colors: [STAT_COLORS[name] || "#1f77b4"],
        range: [0, 1],
        marked: Number.isInteger(this.head) ? this.head : null,
        width: 220,
        height: 112,
        kind: name,
        axis: "head",
        onPick: (h) => this.page.select({ head: h }, this)
      });
      this.charts.append(svg);
    }
  }
};
function drawProfile(el2, profile) {
  el2.replaceChildren();
  if (!profile || profile.error) {
    el2.textContent = profile ? profile.error : "";
    return;
  }
  el2.append(chart(document, {
    title: "mean weight per class",
    series: profile.series,
    names: profile.names,
    legend: profile.legend,
    colors: CLASS_COLORS,
    lines: profile.lines,
    width: 380,
    height: 300,
    kind: "profile",
    axis: profile.axis
  }));
}
var profileKey = (layer, step) => keyOf(["layer", "step"], { layer, step });

// js/page.js
var PLAY_MS = 400;
var LINKED = ["heatmap", "headgrid", "weights"];
var make = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text != null) node.textContent = String(text);
  return node;
};
function layoutPage(DATA, page) {
  const holder = document.getElementById("aw-page");
  const root = document.getElementById("aw-root");
  const L = DATA.layout;
  const places = { main: root };
  const kind = DATA.kind;
  if (!L) {
    if (kind === "weights") {
      const row = make("div", "aw-weights-row");
      root.replaceWith(row);
      places.mainChart = make("div", "aw-page-chart aw-weights-chart");
      row.append(root, places.mainChart);
    }
    return places;
  }
  holder.classList.add("aw-explorer");
  const attention = make("div", "aw-page-tab aw-page-tab-attention");
  const ids = new Set((DATA.panels || []).map((p) => p.id));
  if (kind === "weights") {
    const row = make("div", "aw-weights-row");
    places.mainChart = make("div", "aw-page-chart aw-weights-chart");
    row.append(root, places.mainChart);
    attention.append(row);
  } else {
    const main = make("div", "aw-page-main aw-explorer-main");
    const matrix = make("div", "aw-page-matrix");
    matrix.append(root);
    main.append(matrix);
    if (L.side.length) {
      matrix.classList.add("aw-beside");
      const side = make("div", "aw-page-side");
      for (const id of L.side) {
        places[id] = make("div", `aw-panel aw-panel-${id}`);
        side.append(places[id]);
      }
      main.append(side);
    }
    attention.append(main);
    for (const id of L.below) {
      places[id] = make("div", `aw-panel aw-panel-${id}`);
      attention.append(places[id]);
    }
  }
  holder.replaceChildren();
  const tabs = [];
  if (ids.has("weights")) {
    const weights = make("div", "aw-page-tab aw-page-tab-weights aw-weights-view");
    places.weightsTab = weights;
    places.weightsSite = make("div", "aw-weights-site");
    const row = make("div", "aw-weights-row");
    places.weights = make("div", "aw-panel aw-panel-weights");
    places.weightsChart = make("div", "aw-page-chart aw-weights-chart");
    row.append(places.weights, places.weightsChart);
    weights.append(places.weightsSite, row);
    if (L.tabs) {
      tabs.push(["attention", attention], ["weights", weights]);
    } else {
      holder.append(attention, weights);
    }
  } else {
    holder.append(attention);
  }
  if (tabs.length) {
    const bar = make("div", "aw-page-tabs");
    bar.setAttribute("role", "tablist");
    const buttons = tabs.map(([name, box], i) => {
      const b = make("button", `aw-tab-button aw-tab-${name}`, name);
      b.type = "button";
      b.setAttribute("role", "tab");
      b.addEventListener("click", () => {
        tabs.forEach(([, other], k) => {
          other.hidden = k !== i;
        });
        buttons.forEach((other, k) => other.setAttribute("aria-selected", String(k === i)));
        page.changed();
      });
      return b;
    });
    bar.append(...buttons);
    holder.append(bar, ...tabs.map(([, box]) => box));
    const first = Math.min(L.tab || 0, tabs.length - 1);
    tabs.forEach(([, box], k) => {
      box.hidden = k !== first;
    });
    buttons.forEach((b, k) => b.setAttribute("aria-selected", String(k === first)));
  }
  return places;
}
async function awPage(views) {
  const status = document.getElementById("aw-status");
  const fail = (err) => {
    status.textContent = `This page could not draw the view: ${err && err.message ? err.message : err}`;
    status.className = "aw-error";
    document.body.dataset.awReady = "error";
    console.error(err);
  };
  try {
    let sync = function() {
      const { controls: c, note: why } = controlChoices(DATA, main.state, { own });
      const inWeights = weightsShown();
      if (inWeights) {
        for (const n of ["layer", "head"]) c[n] = Object.assign({}, c[n], { hidden: true });
        const theirs = controlChoices(weights.data, weights.state, {}).controls;
        for (const n of ["label", "sample", "step"]) c[n] = theirs[n];
      }
      for (const [name, choice] of Object.entries(c)) if (controls[name]) fill(controls[name], choice);
      if (controls.range) {
        fill(controls.range, { items: RANGE_CHOICES, value: page.range, hidden: false, disabled: false, title: controls.range.title });
      }
      if (weights) {
        fill(controls.weights, {
          items: weights.data.options.layers.map((l) => [l.index, l.name]),
          value: weights.state.layer,
          hidden: weights.data.options.layers.length < 2,
          disabled: false,
          title: "the weights site shown"
        });
      }
      play.hidden = c.step.hidden;
      note.textContent = why;
      if (stats) stats.mark(main.state.head);
      const named = inWeights ? Object.assign({}, c, { layer: { items: [[weights.state.layer, weights.layerInfo().name]], value: weights.state.layer, hidden: false }, head: null }) : c;
      const text = titleText(DATA.heading || DATA.view, named, DATA.title);
      heading.textContent = text;
      document.title = text;
    };
    const DATA = JSON.parse(document.getElementById("aw-data").textContent);
    const resolve = resolver(DATA.shared || []);
    const bump = () => {
      document.body.dataset.awVersion = String(Number(document.body.dataset.awVersion || 0) + 1);
    };
    let latest = 0;
    let queue = Promise.resolve();
    let applied = null;
    const page = {
      resolve,
      states: DATA.states,
      say: (text) => {
        status.textContent = text;
      },
      changed: () => {
        sync();
        bump();
      },
      // the colour range every panel shows its frames in (js/page-range.js), as the explorer's
      range: ["frame", "fixed", "shared"].includes(DATA.initial.color_range) ? DATA.initial.color_range : "frame"
    };
    const places = layoutPage(DATA, page);
    const main = new ViewPanel(page, Object.assign({ id: "main" }, DATA), places.main);
    const panels = [main];
    let stats = null;
    for (const data of DATA.panels || []) {
      if (data.kind === "headstats") stats = new StatsPanel(page, data, places.headstats);
      else panels.push(new ViewPanel(page, data, places[data.id]));
    }
    const byKind = Object.fromEntries(panels.map((p) => [p.kind, p]));
    const weights = panels.find((p) => p.data.own_site) || null;
    const overlay = main.kind !== "overlay" ? byKind.overlay || null : null;
    const wantFor = (panel, sel, want, own2) => {
      if (panel === main) return want;
      const out = {};
      for (const n of SELECTION) if (n in sel) out[n] = sel[n];
      if (panel === weights) {
        for (const n of SELECTION) if (n in want) out[n] = want[n];
        delete out.layer;
        if (own2 !== void 0) out.layer = own2;
      }
      return out;
    };
    page.select = (want, origin = null) => {
      let own2;
      let mainWant = want;
      if (origin === weights && weights && "layer" in want) {
        own2 = want.layer;
        mainWant = Object.assign({}, want);
        delete mainWant.layer;
      }
      const first = main.plan(mainWant);
      if (!first) return null;
      const sel = first.sel;
      const plans = [[main, first]];
      for (const p of panels.slice(1)) plans.push([p, p.plan(wantFor(p, sel, want, own2))]);
      const statsPlan = stats ? stats.plan(sel) : null;
      if (origin === weights && own2 !== void 0 && !plans.find(([p]) => p === weights)[1]) return null;
      const ticket = ++latest;
      applied = sel;
      queue = queue.then(async () => {
        const loaded = await Promise.all(plans.map(([p, plan]) => plan ? p.load(plan) : null));
        const bars = statsPlan ? await stats.load(statsPlan) : null;
        if (ticket !== latest) return;
        plans.forEach(([p, plan], i) => {
          if (plan) p.show(plan, loaded[i]);
        });
        if (stats && statsPlan) stats.show(statsPlan, bars, main.state.head);
        if (stats) stats.el.hidden = stats.el.hidden || !statsPlan;
        await charts();
        sync();
        document.body.dataset.awSelection = keyOf(main.keys, main.state);
        bump();
      }).catch(fail);
      return sel;
    };
    page.saved = (panel, names) => {
      if (names.includes("color_range") && panel.state.color_range !== page.range) {
        page.setRange(panel.state.color_range);
        return;
      }
      const selected = names.filter((n) => SELECTION.includes(n) || n === "scale" && panel === main);
      if (selected.length) {
        const want = Object.fromEntries(selected.map((n) => [n, panel.state[n]]));
        if (!page.select(want, panel)) {
          status.textContent = "That choice was not saved in this page (see to_html's layers=, heads=, samples=, steps=, scales=).";
          page.select(applied);
        }
        return;
      }
      if (names.includes("colormap") && LINKED.includes(panel.kind)) {
        for (const p of panels) if (p !== panel && LINKED.includes(p.kind)) p.put([["colormap", panel.state.colormap]]);
      }
      if (names.includes("pinned") && panel === main && overlay) {
        const pin = main.state.pinned;
        overlay.setQuery(pin && pin.axis === "query" ? pin.index : 0);
      }
      page.changed();
    };
    page.setRange = (mode) => {
      page.range = mode;
      queue = queue.then(async () => {
        for (const p of panels) await p.reRange();
        sync();
        bump();
      }).catch(fail);
    };
    page.pickQuery = (query, from) => {
      from.setQuery(query);
      if (from !== main && main.kind === "heatmap") main.put([["pinned", { axis: "query", index: query }]]);
      queueMicrotask(() => page.changed());
    };
    const charts = async () => {
      for (const [panel, place] of [[main, places.mainChart], [weights || byKind.weights, places.weightsChart]]) {
        if (!panel || !place || !panel.data.charts) continue;
        const idx = panel.data.charts.table[profileKey(panel.state.layer, panel.state.step)];
        drawProfile(place, idx === void 0 ? null : await resolve(DATA.states[idx]));
      }
    };
    for (const p of panels) await p.init();
    for (const p of panels) {
      const module = views[p.kind];
      if (!module) throw new Error(`this page holds no module for its ${p.kind} view`);
      await p.render(module);
    }
    if (stats) {
      const plan = stats.plan(main.state);
      if (plan) stats.show(plan, await stats.load(plan), main.state.head);
      else stats.el.hidden = true;
    }
    await charts();
    window.__awPainted = performance.now();
    const bar = document.getElementById("aw-controls");
    const heading = document.getElementById("aw-title");
    const controls = {};
    const addSelect = (name, label, onChange, place = bar) => {
      const wrap = make("label", `aw-ctl-wrap aw-ctl-${name}-wrap`);
      const sel = make("select", `aw-ctl aw-ctl-${name}`);
      sel.addEventListener("change", () => onChange(JSON.parse(sel.value)));
      wrap.append(make("span", "", label), sel);
      place.append(wrap);
      controls[name] = sel;
      return sel;
    };
    const fill = (sel, c) => {
      sel.replaceChildren();
      for (const [value, text] of c.items) {
        const o = make("option", "", text);
        o.value = JSON.stringify(value);
        sel.append(o);
      }
      sel.value = JSON.stringify(c.value);
      sel.closest("label").hidden = c.hidden;
      sel.disabled = c.disabled;
      sel.title = c.title;
    };
    const note = make("span", "aw-note aw-ctl-note");
    const own = { colormap: Boolean(main.el.querySelector("select.aw-colormap")), scale: Boolean(main.el.querySelector("select.aw-scale")) };
    const ownRange = main.el.querySelector("select.aw-color-range");
    const rangeHere = "color_range" in main.state && !(ownRange && ownRange.style.display !== "none");
    const set = (name) => (v) => page.select({ [name]: v });
    addSelect("layer", "layer", set("layer"));
    addSelect("head", "head", set("head"));
    addSelect("label", "class", (v) => page.select(classPick(v)));
    if (main.keys.includes("stat")) addSelect("stat", "statistic", set("stat"));
    if (main.keys.includes("difference")) addSelect("difference", "difference", set("difference"));
    addSelect("sample", "sample", set("sample"));
    const stepSelect = addSelect("step", "step", set("step"));
    const weightsShown = () => Boolean(weights && DATA.layout.tabs && !places.weightsTab.hidden);
    const stepping = () => weightsShown() ? weights : main;
    const play = make("button", "aw-page-play", "\u25B6 play");
    play.type = "button";
    play.title = "play the steps";
    let timer = null;
    const stop = () => {
      clearInterval(timer);
      timer = null;
      play.textContent = "\u25B6 play";
    };
    play.addEventListener("click", () => {
      if (timer !== null) {
        stop();
        return;
      }
      const shown = stepping();
      const from = playFrom(shown.layerInfo().steps, shown.state.step);
      if (from !== shown.state.step) page.select({ step: from });
      play.textContent = "\u275A\u275A pause";
      timer = setInterval(() => {
        const next = nextStep(stepping().layerInfo().steps, stepping().state.step);
        if (next === null) stop();
        else page.select({ step: next });
      }, PLAY_MS);
    });
    stepSelect.closest("label").append(play);
    if (main.keys.includes("scale")) addSelect("scale", "scale", set("scale"));
    if (rangeHere) {
      const range = addSelect("range", "colour range", (v) => page.setRange(v));
      range.title = "colour range of every panel: this frame's own min..max, fixed 0..1, or one range shared by every head and step of the site";
    }
    if ("colormap" in main.state && (DATA.options.colormaps || []).length) {
      addSelect("colormap", "colormap", (v) => {
        main.model.set("colormap", v);
        main.model.save_changes();
      });
    }
    if (weights) {
      addSelect("weights", "weights", (v) => page.select({ layer: v }, weights), places.weightsSite);
    }
    bar.append(note);
    sync();
    applied = Object.fromEntries(main.keys.map((k) => [k, main.state[k]]));
    document.body.dataset.awSelection = keyOf(main.keys, main.state);
    status.textContent = "";
    document.body.dataset.awReady = "1";
  } catch (err) {
    fail(err);
  }
}
var page_default = { start: awPage };
export {
  PLAY_MS,
  awPage,
  page_default as default
};
