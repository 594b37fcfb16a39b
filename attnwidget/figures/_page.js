// Runtime of a standalone attnwidget page (written by attnwidget.figures.to_html).
// It stands in for the kernel: a tiny anywidget-style `model` whose frames come
// from the table embedded in the page, and plain <select> controls that pick them.
// Everything shown from the data is set with textContent, never as HTML.
//
// The data (html.py's page_table): `table` maps a selection to a state; a state
// holds {"__ref__": i} where its frame codes, images and label lists were, an
// index in `shared`, where each is stored once: bytes as {"__bytes__": base64}
// or deflated, {"__deflate__": base64, length, order?, shape?}. A state's parts
// are decoded when it is first shown (a few recent ones are kept), so the
// first frame paints without decoding the others.

/** Bytes of a base64 string. */
const awBase64 = (text) => {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
};

/**
 * The bytes of a stored item (html.py's `packed`): base64, or a zlib stream inflated
 * with the browser's DecompressionStream, stored column by column where `order` says so.
 * @param {{__bytes__?: string, __deflate__?: string, length?: number, order?: string, shape?: number[]}} item
 * @returns {Promise<Uint8Array>}
 */
const awUnpack = async (item) => {
  if (typeof item.__bytes__ === "string") return awBase64(item.__bytes__);
  if (typeof item.__deflate__ !== "string") throw new Error("the page holds data in a form this runtime does not read");
  if (typeof DecompressionStream !== "function") {
    throw new Error("this browser cannot inflate the page's frames (it has no DecompressionStream): open the page in a current browser");
  }
  const stream = new Blob([awBase64(item.__deflate__)]).stream().pipeThrough(new DecompressionStream("deflate"));
  let bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  if (bytes.length !== item.length) throw new Error(`a frame inflated to ${bytes.length} bytes, not ${item.length}`);
  if (item.order === "columns") {
    const [rows, cols] = item.shape;
    const out = new Uint8Array(bytes.length);
    for (let c = 0, i = 0; c < cols; c++) for (let r = 0; r < rows; r++, i++) out[r * cols + c] = bytes[i];
    bytes = out;
  }
  return bytes;
};

/**
 * Resolve the references of a value against `shared`: bytes become DataViews (as
 * anywidget hands a bytes trait to a view), label lists the lists. The `keep` most
 * recently used bytes stay decoded.
 * @param {any[]} shared
 * @param {number} [keep]
 * @returns {(value: any) => Promise<any>}
 */
const awResolver = (shared, keep = 48) => {
  const decoded = new Map(); // index -> Promise<DataView>, most recent last
  const one = (i) => {
    const item = shared[i];
    if (Array.isArray(item) || item === null || typeof item !== "object") return Promise.resolve(item);
    let hit = decoded.get(i);
    if (hit) decoded.delete(i);
    else hit = awUnpack(item).then((b) => new DataView(b.buffer, b.byteOffset, b.byteLength));
    decoded.set(i, hit);
    while (decoded.size > keep) decoded.delete(decoded.keys().next().value);
    return hit;
  };
  const resolve = async (value) => {
    if (Array.isArray(value)) return Promise.all(value.map(resolve));
    if (value === null || typeof value !== "object") return value;
    if (typeof value.__ref__ === "number") return one(value.__ref__);
    if ("__bytes__" in value || "__deflate__" in value) {
      const b = await awUnpack(value);
      return new DataView(b.buffer, b.byteOffset, b.byteLength);
    }
    const names = Object.keys(value);
    const parts = await Promise.all(names.map((n) => resolve(value[n])));
    return Object.fromEntries(names.map((n, i) => [n, parts[i]]));
  };
  return resolve;
};

/**
 * The part of a matrix frame inside a zoom region (full-resolution [r0, r1, c0, c1]), cut
 * from the saved frame at whole cells: codes, labels, region and shape; the colour range
 * stays the saved frame's. The frame itself where there is no region or nothing to cut.
 * @param {any} data a resolved state
 * @param {number[] | null} region
 */
const awCrop = (data, region) => {
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
  const src = new Uint8Array(data._frame.buffer, data._frame.byteOffset, data._frame.byteLength);
  const out = new Uint8Array((r1 - r0) * (c1 - c0));
  for (let r = r0; r < r1; r++) out.set(src.subarray(r * w + c0, r * w + c1), (r - r0) * (c1 - c0));
  return Object.assign({}, data, {
    _frame: new DataView(out.buffer),
    _frame_meta: Object.assign({}, meta, {
      shape: [r1 - r0, c1 - c0],
      region: [R0 + r0 * br, Math.min(R1, R0 + r1 * br), C0 + c0 * bc, Math.min(C1, C0 + c1 * bc)],
      row_labels: (meta.row_labels || []).slice(r0, r1),
      col_labels: (meta.col_labels || []).slice(c0, c1),
    }),
  });
};

/**
 * An overlay state that shows no single image ({"__white__": shape}: a mean over samples, a class
 * statistic) with a white image of the size shown last, so the canvas keeps its size.
 * @param {any} data a resolved state
 * @param {{shape?: number[]} | null} shown the image header shown now
 */
const awWhite = (data, shown) => {
  if (!data || !data._image || !data._image.__white__) return data;
  const shape = (shown && shown.shape) || data._image.__white__;
  return Object.assign({}, data, {
    _image: new DataView(new Uint8Array(shape[0] * shape[1] * 4).fill(255).buffer),
    _image_meta: Object.assign({}, data._image_meta, { shape }),
  });
};

const awPage = async (viewModule) => {
  const status = document.getElementById("aw-status");
  const fail = (err) => {
    status.textContent = `This page could not draw the view: ${err && err.message ? err.message : err}`;
    status.className = "aw-error";
    document.body.dataset.awReady = "error";
    console.error(err);
  };
  try {
    const DATA = JSON.parse(document.getElementById("aw-data").textContent);
    const resolve = awResolver(DATA.shared || []);
    const SEL = DATA.keys;  // layer, head, sample, label, step (stat, difference, scale where there are some)
    const keyOf = (s) => JSON.stringify(SEL.map((k) => s[k]));
    const state = awWhite(await resolve(DATA.initial), null);
    let applied = Object.fromEntries(SEL.map((k) => [k, state[k]]));
    let saved = state;  // the state shown, as saved (before a zoom cuts it)
    let zoom = null;    // the zoom region, full resolution, or null
    const hasRegion = "region" in state;
    const root = document.getElementById("aw-root");

    // ---------------------------------------------------------------- model
    const listeners = new Map();
    const emit = (event, ...args) => {
      for (const cb of [...(listeners.get(event) || [])]) {
        try { cb(...args); } catch (e) { console.error(e); }
      }
    };
    const model = {
      get: (name) => state[name],
      set: (name, value) => { state[name] = value; model._dirty.add(name); },
      _dirty: new Set(),
      save_changes: () => {
        const names = [...model._dirty];
        model._dirty.clear();
        for (const n of names) { emit(`change:${n}`, model, state[n]); }
        if (names.length) emit("change", model);
        if (names.some((n) => SEL.includes(n))) {
          if (!select({})) {  // not embedded: say so, and go back to what is shown
            status.textContent = "That choice was not saved in this page (see to_html's layers=, heads=, samples=, steps=, scales=).";
            select(applied);
          }
        } else if (names.length) { syncControls(); bump(); }
      },
      on: (events, cb) => {
        for (const ev of String(events).split(/\s+/)) {
          if (!listeners.has(ev)) listeners.set(ev, []);
          listeners.get(ev).push(cb);
        }
      },
      off: (events, cb) => {
        if (!events) { listeners.clear(); return; }
        for (const ev of String(events).split(/\s+/)) {
          if (!cb) listeners.delete(ev);
          else listeners.set(ev, (listeners.get(ev) || []).filter((f) => f !== cb));
        }
      },
      send: (content) => {
        const reply = answer(content || {});
        queueMicrotask(() => emit("msg:custom", reply, []));
      },
    };

    // the kernel's answers to the view's messages, from the embedded table
    const answer = (msg) => {
      const id = msg.id;
      if (msg.type === "select") {
        const want = {};
        if ("layer" in msg) want.layer = msg.layer;
        if ("head" in msg) want.head = msg.head;
        const got = select(want);
        if (!got) return { type: "error", id, message: "this page holds no frame for that selection" };
        return { type: "ok", id, layer: got.layer, head: got.head };
      }
      if (msg.type === "zoom") {
        // the page cuts the saved frame (a kernel would compute the region at full resolution)
        const region = Array.isArray(msg.region) && msg.region.length === 4 ? msg.region.map(Number) : null;
        const meta = saved._frame_meta || {};
        const whole = !region || (Array.isArray(meta.region) && region[0] <= meta.region[0]
          && region[1] >= meta.region[1] && region[2] <= meta.region[2] && region[3] >= meta.region[3]);
        zoom = whole ? null : region;
        show(saved, [], true);
        status.textContent = zoom
          ? "Zoomed into the saved frame: its cells and colour range, not the region recomputed at full resolution."
          : "";
        const now = state._frame_meta || {};
        return { type: "ok", id, region: now.region, shape: now.shape };
      }
      if (msg.type === "move") {
        // arrow keys: the next layer, head or step the page offers (clamped at the ends)
        const info = layerInfo(state.layer);
        const what = msg.what;
        const options = what === "layer" ? DATA.options.layers.map((l) => l.index)
          : what === "head" ? info.heads : what === "step" ? info.steps : null;
        if (!options || (msg.by !== 1 && msg.by !== -1)) {
          return { type: "error", id, message: "move needs what='layer'|'head'|'step' and by=+1|-1" };
        }
        const at = options.findIndex((v) => JSON.stringify(v) === JSON.stringify(state[what]));
        const next = options[Math.min(Math.max(at + msg.by, 0), options.length - 1)];
        const got = at < 0 ? null : select({ [what]: next });
        return got ? { type: "ok", id, layer: got.layer, head: got.head, step: got.step }
          : { type: "error", id, message: "this page holds no frame for that selection" };
      }
      if (msg.type === "save") {
        // no kernel writes the figure: the browser downloads what the view shows
        const canvas = root && root.querySelector("canvas");
        if (!canvas) return { type: "error", id, message: "this page has nothing drawn to save" };
        const name = `${(DATA.view || "view").toLowerCase()}.png`;
        const a = document.createElement("a");
        a.href = canvas.toDataURL("image/png");
        a.download = name;
        document.body.append(a);
        a.click();
        a.remove();
        return { type: "ok", id, path: `${name} (downloaded: the picture on screen)`, name };
      }
      if (msg.type === "row") {
        return { type: "error", id, message: "exact values need a running kernel; the page shows each colour code's value" };
      }
      if (msg.type === "pick") {
        return { type: "error", id, message: "another query row needs a running kernel; this page holds the query it was saved with" };
      }
      return { type: "error", id, message: `unknown message type ${JSON.stringify(msg.type)}` };
    };

    // ---------------------------------------------------------------- selection
    // On a capture with class statistics the keys also hold `stat` and `difference`. A
    // class-difference map ignores the class, sample and statistic: it is stored once
    // under DIFF.ignored's values (the choices in those controls are kept) and drawn on
    // the linear scale (DIFF.forced) with a diverging colormap, as the widget does.
    const DIFF = DATA.difference || null;
    const isDiff = (value) => value !== null && value !== undefined;
    let before = (DIFF && DIFF.before) || {};  // what clearing the difference restores
    const layerInfo = (layer) => DATA.options.layers.find((l) => l.index === layer);
    const lookup = (s) => {
      const info = layerInfo(s.layer);
      if (!info) return null;
      const steps = info.steps.includes(s.step) ? [s.step] : [info.steps[0]];
      const diff = DIFF && isDiff(s.difference);
      for (const step of steps) {
        for (const head of [s.head, "mean"]) {
          for (const sample of [s.sample, "mean"]) {
            const cand = Object.assign({}, s, { head, sample, step }, diff ? DIFF.ignored : {},
                                       diff ? DIFF.forced : {});
            const idx = DATA.table[keyOf(cand)];
            if (idx === undefined) continue;
            if (diff) for (const n of Object.keys(DIFF.ignored)) cand[n] = s[n];
            return [cand, idx];
          }
        }
      }
      return null;
    };
    // puts a state's data (cut to the zoom region) and the selection into the model, then tells the view
    const show = (data, extra, zoomed = false) => {
      const changed = [];
      const put = (name, value) => {
        if (state[name] !== value) { state[name] = value; changed.push(name); }
      };
      for (const [name, value] of extra) put(name, value);
      data = awWhite(data, state._image_meta);
      saved = data;
      const cut = awCrop(data, zoom);
      for (const name of Object.keys(cut)) put(name, cut[name]);
      if (hasRegion && zoomed) put("region", zoom);
      for (const n of changed) emit(`change:${n}`, model, state[n]);
      if (changed.length) emit("change", model);
    };
    let latest = 0;
    let queue = Promise.resolve();
    // picks the entry of a selection; its data are decoded, then shown unless a later choice came first
    const select = (want) => {
      const s = {};
      for (const n of SEL) s[n] = n in want ? want[n] : state[n];
      const entering = DIFF && !isDiff(state.difference) && isDiff(s.difference);
      const leaving = DIFF && isDiff(state.difference) && !isDiff(s.difference);
      if (leaving && SEL.includes("scale") && !("scale" in want) && before.scale !== undefined) {
        s.scale = before.scale;
      }
      let found = lookup(s);
      if (!found && leaving && s.scale !== state.scale) { s.scale = state.scale; found = lookup(s); }
      if (!found) return null;
      const [sel, idx] = found;
      const ticket = ++latest;
      applied = sel;
      queue = queue.then(() => resolve(DATA.states[idx])).then((data) => {
        if (ticket !== latest) return;  // a later choice replaces this one
        const extra = [];
        if (entering) {
          before = {};
          if (SEL.includes("scale") && state.scale !== sel.scale) before.scale = state.scale;
          if (DIFF.colormap && state.colormap !== DIFF.colormap) {
            before.colormap = state.colormap;
            extra.push(["colormap", DIFF.colormap]);
          }
        } else if (leaving) {
          if (before.colormap && state.colormap === DIFF.colormap) extra.push(["colormap", before.colormap]);
          before = {};
        }
        for (const n of SEL) extra.push([n, sel[n]]);
        show(data, extra);
        syncControls();
        document.body.dataset.awSelection = keyOf(sel);
        bump();
      }).catch(fail);
      return sel;
    };
    // tests and scripts wait on this: it grows by one after every change the page applies
    const bump = () => {
      document.body.dataset.awVersion = String(Number(document.body.dataset.awVersion || 0) + 1);
    };

    // ---------------------------------------------------------------- the view (drawn first)
    let widget = viewModule && "default" in viewModule ? viewModule.default : viewModule;
    if (typeof widget === "function") widget = await widget();
    if (!widget || typeof widget.render !== "function") {
      throw new Error("the view's module has no default export with render({model, el})");
    }
    if (typeof widget.initialize === "function") await widget.initialize({ model });
    await widget.render({ model, el: root });
    window.__awPainted = performance.now();  // the first frame is drawn (benchmarks/html.py reads it)

    // ---------------------------------------------------------------- controls
    const bar = document.getElementById("aw-controls");
    const heading = document.getElementById("aw-title");
    const controls = {};
    const addSelect = (name, label, onChange) => {
      const wrap = document.createElement("label");
      wrap.className = `aw-ctl-wrap aw-ctl-${name}-wrap`;
      const text = document.createElement("span");
      text.textContent = label;
      const sel = document.createElement("select");
      sel.className = `aw-ctl aw-ctl-${name}`;
      sel.addEventListener("change", () => onChange(JSON.parse(sel.value)));
      wrap.append(text, sel);
      bar.append(wrap);
      controls[name] = sel;
      return sel;
    };
    // a control the view draws itself (its colormap, its colour scale) is not drawn twice
    const own = (cls) => root.querySelector(`select.${cls}`);
    const fill = (sel, items, current, shown = true) => {
      sel.replaceChildren();
      for (const [value, text] of items) {
        const o = document.createElement("option");
        o.value = JSON.stringify(value);
        o.textContent = text;
        sel.append(o);
      }
      sel.value = JSON.stringify(current);
      // a choice of one is noise, except the layer, whose name says what is shown
      sel.closest("label").hidden = !shown || (items.length < 2 && sel !== controls.layer);
    };
    const headName = (h) => (typeof h === "number" ? `head ${h}` : `${h} of heads`);
    const syncControls = () => {
      const info = layerInfo(state.layer);
      const stats = DATA.options.stats || [];
      fill(controls.layer, DATA.options.layers.map((l) => [l.index, l.name]), state.layer);
      fill(controls.head, info.heads.map((h) => [h, headName(h)]), state.head);
      fill(controls.label, DATA.options.labels.map((l) => [l.value, l.name]), state.label);
      if (controls.stat) fill(controls.stat, stats, state.stat);
      if (controls.difference) {
        const pairs = DATA.options.differences.map((d) => [d.value, d.name]);
        const shown = isDiff(state.difference) ? state.difference : null;
        fill(controls.difference, [[null, "none"], ...pairs], shown);
      }
      // the site's own samples and their names (sites may keep different numbers of samples)
      const labelKey = JSON.stringify(state.label);
      const samples = (info.samples || {})[labelKey] || DATA.options.samples[labelKey] || ["mean"];
      const names = (info.sample_names || {})[labelKey];
      // where the capture has class statistics, "mean" shows the statistic of every sample of the class
      const meanName = stats.length ? "class statistic" : "mean of samples";
      const sampleName = (s, i) => (typeof s === "number" ? (names ? names[i] : `sample ${s}`) : meanName);
      fill(controls.sample, samples.map((s, i) => [s, sampleName(s, i)]), state.sample);
      fill(controls.step, info.steps.map((s) => [s, `step ${s}`]), state.step);
      if (controls.colormap) {
        fill(controls.colormap, DATA.options.colormaps.map((c) => [c, c]), state.colormap, !own("aw-colormap"));
      }
      if (controls.scale) fill(controls.scale, DATA.options.scales.map((c) => [c, c]), state.scale, !own("aw-scale"));
      // a difference map ignores the class, the statistic and the sample (and is drawn linear)
      const diff = DIFF !== null && isDiff(state.difference);
      for (const n of ["label", "stat", "sample", "scale"]) if (controls[n]) controls[n].disabled = diff;
      // a class filter that cannot apply to this site: disabled, with its one-line reason
      if (info.class_reason) controls.label.disabled = true;
      controls.label.title = info.class_reason || "";
      note.textContent = diff ? "" : info.class_reason || "";
      retitle();
    };
    // the page's title says what the controls show (unless to_html was given a title)
    const retitle = () => {
      let text = DATA.title;
      if (!text) {
        const parts = [DATA.view || "attnwidget"];
        for (const n of ["layer", "head", "label", "stat", "difference", "sample", "step"]) {
          const c = controls[n];
          if (!c || c.disabled || c.closest("label").hidden || c.selectedIndex < 0) continue;
          if ((n === "label" || n === "difference") && JSON.parse(c.value) === null) continue;
          parts.push(c.options[c.selectedIndex].textContent);
        }
        text = parts.join(" · ");
      }
      heading.textContent = text;
      document.title = text;
    };
    const note = document.createElement("span");
    note.className = "aw-note aw-ctl-note";
    addSelect("layer", "layer", (v) => select({ layer: v }));
    addSelect("head", "head", (v) => select({ head: v }));
    addSelect("label", "class", (v) => select({ label: v }));
    if (SEL.includes("stat")) addSelect("stat", "statistic", (v) => select({ stat: v }));
    if (SEL.includes("difference")) addSelect("difference", "difference", (v) => select({ difference: v }));
    addSelect("sample", "sample", (v) => select({ sample: v }));
    addSelect("step", "step", (v) => select({ step: v }));
    if (SEL.includes("scale")) addSelect("scale", "scale", (v) => select({ scale: v }));
    if ("colormap" in state && DATA.options.colormaps.length) {
      addSelect("colormap", "colormap", (v) => { model.set("colormap", v); model.save_changes(); });
    }
    // the view's own controls for what the page did not save: a colour scale of which one was
    // embedded, a head grid's mode (the page holds the thumbnails of the mode it was saved in)
    for (const node of root.querySelectorAll("select.aw-scale")) node.hidden = (DATA.options.scales || []).length < 2;
    for (const node of root.querySelectorAll("select.aw-mode")) node.hidden = true;
    // the browser downloads the picture on screen: a resolution to choose is the kernel's figure's
    for (const node of root.querySelectorAll("select.aw-dpi")) node.hidden = true;
    bar.append(note);
    syncControls();
    document.body.dataset.awSelection = keyOf(state);
    status.textContent = "";
    document.body.dataset.awReady = "1";
  } catch (err) {
    fail(err);
  }
};
