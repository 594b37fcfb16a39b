// Runtime of a standalone attnwidget page (written by attnwidget.figures.to_html).
// It stands in for the kernel: a tiny anywidget-style `model` whose frames come
// from the table embedded in the page, and plain <select> controls that pick them.
// Everything shown from the data is set with textContent, never as HTML.

const awPage = async (viewModule) => {
  const status = document.getElementById("aw-status");
  const fail = (err) => {
    status.textContent = `This page could not draw the view: ${err && err.message ? err.message : err}`;
    status.className = "aw-error";
    document.body.dataset.awReady = "error";
    console.error(err);
  };
  try {
    const revive = (key, value) => {
      if (value && typeof value === "object" && typeof value.__bytes__ === "string") {
        const bin = atob(value.__bytes__);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        return new DataView(bytes.buffer);
      }
      return value;
    };
    const DATA = JSON.parse(document.getElementById("aw-data").textContent, revive);
    const SEL = DATA.keys;  // layer, head, sample, label, step (stat, difference, scale where there are some)
    const keyOf = (s) => JSON.stringify(SEL.map((k) => s[k]));
    let applied = Object.fromEntries(SEL.map((k) => [k, DATA.initial[k]]));

    // ---------------------------------------------------------------- model
    const listeners = new Map();
    const state = Object.assign({}, DATA.initial);
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
        return { type: "ok", id, layer: state.layer, head: state.head };
      }
      if (msg.type === "zoom") {
        return { type: "error", id, message: "zooming computes new frames and needs a running kernel; this page holds the frames it was saved with" };
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
      if (!found) return false;
      const [sel, idx] = found;
      const changed = [];
      const put = (name, value) => {
        if (state[name] !== value) { state[name] = value; changed.push(name); }
      };
      if (entering) {
        before = {};
        if (SEL.includes("scale") && state.scale !== sel.scale) before.scale = state.scale;
        if (DIFF.colormap && state.colormap !== DIFF.colormap) {
          before.colormap = state.colormap;
          put("colormap", DIFF.colormap);
        }
      } else if (leaving) {
        if (before.colormap && state.colormap === DIFF.colormap) put("colormap", before.colormap);
        before = {};
      }
      const data = DATA.states[idx];
      for (const name of Object.keys(data)) put(name, data[name]);
      for (const n of SEL) put(n, sel[n]);
      for (const n of changed) emit(`change:${n}`, model, state[n]);
      if (changed.length) emit("change", model);
      applied = sel;
      syncControls();
      document.body.dataset.awSelection = keyOf(sel);
      bump();
      return true;
    };
    // tests and scripts wait on this: it grows by one after every change the page applies
    const bump = () => {
      document.body.dataset.awVersion = String(Number(document.body.dataset.awVersion || 0) + 1);
    };

    // ---------------------------------------------------------------- controls
    const bar = document.getElementById("aw-controls");
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
    const fill = (sel, items, current) => {
      sel.replaceChildren();
      for (const [value, text] of items) {
        const o = document.createElement("option");
        o.value = JSON.stringify(value);
        o.textContent = text;
        sel.append(o);
      }
      sel.value = JSON.stringify(current);
      // a choice of one is noise, except the layer, whose name says what is shown
      sel.closest("label").hidden = items.length < 2 && sel !== controls.layer;
    };
    const syncControls = () => {
      const info = layerInfo(state.layer);
      const stats = DATA.options.stats || [];
      fill(controls.layer, DATA.options.layers.map((l) => [l.index, l.name]), state.layer);
      fill(controls.head, info.heads.map((h) => [h, typeof h === "number" ? `head ${h}` : h]), state.head);
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
      if (controls.colormap) fill(controls.colormap, DATA.options.colormaps.map((c) => [c, c]), state.colormap);
      if (controls.scale) fill(controls.scale, DATA.options.scales.map((c) => [c, c]), state.scale);
      // a difference map ignores the class, the statistic and the sample (and is drawn linear)
      const diff = DIFF !== null && isDiff(state.difference);
      for (const n of ["label", "stat", "sample", "scale"]) if (controls[n]) controls[n].disabled = diff;
      // a class filter that cannot apply to this site: disabled, with its one-line reason
      if (info.class_reason) controls.label.disabled = true;
      controls.label.title = info.class_reason || "";
      note.textContent = diff ? "" : info.class_reason || "";
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
    bar.append(note);
    syncControls();
    document.body.dataset.awSelection = keyOf(state);

    // ---------------------------------------------------------------- the view
    let widget = viewModule && "default" in viewModule ? viewModule.default : viewModule;
    if (typeof widget === "function") widget = await widget();
    if (!widget || typeof widget.render !== "function") {
      throw new Error("the view's module has no default export with render({model, el})");
    }
    if (typeof widget.initialize === "function") await widget.initialize({ model });
    const root = document.getElementById("aw-root");
    await widget.render({ model, el: root });
    status.textContent = "";
    document.body.dataset.awReady = "1";
  } catch (err) {
    fail(err);
  }
};
