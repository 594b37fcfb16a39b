// Runtime of a standalone attnwidget page (attnwidget/figures/html.py to_html), bundled into
// attnwidget/static/page.js. It stands in for the kernel: each panel's view gets a model whose
// data come from the tables embedded in the page (js/page-panel.js), and one row of plain
// controls (js/page-controls.js) drives every panel, as the explorer's controls drive its views.
// Everything shown from the data is set with textContent, never as HTML.
//
// The page's data (attnwidget/figures/page/): the main panel's table at the top level, the
// explorer's other panels in `panels` (head grid, overlay, head statistics, weights) and where
// they go in `layout`. A selection is applied to every panel at once: each finds its entry, all
// are decoded, then all are shown, so no panel shows another selection than the controls.
import { classPick, controlChoices, nextStep, playFrom, titleText } from "./page-controls.js";
import { keyOf, resolver } from "./page-data.js";
import { SELECTION, ViewPanel } from "./page-panel.js";
import { StatsPanel, drawProfile, profileKey } from "./page-stats.js";
import { RANGE_CHOICES } from "./page-range.js";

/** Milliseconds between the steps Play shows (the explorer's Play: 400). */
export const PLAY_MS = 400;
/** The views whose colormap the explorer links (the overlay keeps its own). */
const LINKED = ["heatmap", "headgrid", "weights"];

const make = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text != null) node.textContent = String(text);
  return node;
};

/** The page's boxes, as the explorer lays them out; returns where each panel draws. */
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
        tabs.forEach(([, other], k) => { other.hidden = k !== i; });
        buttons.forEach((other, k) => other.setAttribute("aria-selected", String(k === i)));
        page.changed();
      });
      return b;
    });
    bar.append(...buttons);
    holder.append(bar, ...tabs.map(([, box]) => box));
    const first = Math.min(L.tab || 0, tabs.length - 1);
    tabs.forEach(([, box], k) => { box.hidden = k !== first; });
    buttons.forEach((b, k) => b.setAttribute("aria-selected", String(k === first)));
  }
  return places;
}

/**
 * Draw a page: every panel with its view module, then the controls.
 * @param {Object<string, any>} views view modules by kind (or promises of them)
 */
export async function awPage(views) {
  const status = document.getElementById("aw-status");
  const fail = (err) => {
    status.textContent = `This page could not draw the view: ${err && err.message ? err.message : err}`;
    status.className = "aw-error";
    document.body.dataset.awReady = "error";
    console.error(err);
  };
  try {
    const DATA = JSON.parse(document.getElementById("aw-data").textContent);
    const resolve = resolver(DATA.shared || []);
    const bump = () => {
      // tests and scripts wait on this: it grows by one after every change the page applies
      document.body.dataset.awVersion = String(Number(document.body.dataset.awVersion || 0) + 1);
    };
    let latest = 0;
    let queue = Promise.resolve();
    let applied = null; // the selection shown (the main panel's)
    const page = {
      resolve,
      states: DATA.states,
      say: (text) => { status.textContent = text; },
      changed: () => { sync(); bump(); },
      // the colour range every panel shows its frames in (js/page-range.js), as the explorer's
      range: ["frame", "fixed", "shared"].includes(DATA.initial.color_range) ? DATA.initial.color_range : "frame",
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
    const weights = panels.find((p) => p.data.own_site) || null; // beside attention: its own site
    const overlay = main.kind !== "overlay" ? byKind.overlay || null : null;

    /** What a panel is asked for a selection: the shared keys, its own site where it has one. */
    const wantFor = (panel, sel, want, own) => {
      if (panel === main) return want;
      const out = {};
      for (const n of SELECTION) if (n in sel) out[n] = sel[n];
      if (panel === weights) {
        // its sites keep their own samples and steps: what was asked goes to it as asked
        for (const n of SELECTION) if (n in want) out[n] = want[n];
        delete out.layer;
        if (own !== undefined) out.layer = own;
      }
      return out;
    };

    // picks every panel's entry for a selection; their data are decoded, then shown together
    // unless a later choice came first. Returns the selection found, or null where the page holds
    // none (the main panel's table decides; `origin` is the weights panel for its own site)
    page.select = (want, origin = null) => {
      let own;
      let mainWant = want;
      if (origin === weights && weights && "layer" in want) {
        own = want.layer;
        mainWant = Object.assign({}, want);
        delete mainWant.layer;
      }
      const first = main.plan(mainWant);
      if (!first) return null;
      const sel = first.sel;
      const plans = [[main, first]];
      for (const p of panels.slice(1)) plans.push([p, p.plan(wantFor(p, sel, want, own))]);
      const statsPlan = stats ? stats.plan(sel) : null;
      if (origin === weights && own !== undefined && !plans.find(([p]) => p === weights)[1]) return null;
      const ticket = ++latest;
      applied = sel;
      queue = queue.then(async () => {
        const loaded = await Promise.all(plans.map(([p, plan]) => (plan ? p.load(plan) : null)));
        const bars = statsPlan ? await stats.load(statsPlan) : null;
        if (ticket !== latest) return; // a later choice replaces this one
        plans.forEach(([p, plan], i) => { if (plan) p.show(plan, loaded[i]); });
        if (stats && statsPlan) stats.show(statsPlan, bars, main.state.head);
        if (stats) stats.el.hidden = stats.el.hidden || !statsPlan;
        await charts();
        sync();
        document.body.dataset.awSelection = keyOf(main.keys, main.state);
        bump();
      }).catch(fail);
      return sel;
    };

    // a view set and saved traits: a selection goes through the page; a colormap goes to the
    // views the explorer links; a row pinned on the matrix is the overlay's query row
    page.saved = (panel, names) => {
      if (names.includes("color_range") && panel.state.color_range !== page.range) {
        page.setRange(panel.state.color_range); // a view's own colour-range choice (a page of one view)
        return;
      }
      const selected = names.filter((n) => SELECTION.includes(n) || (n === "scale" && panel === main));
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

    // another colour range: every panel shows the frame it shows in it (after what is queued)
    page.setRange = (mode) => {
      page.range = mode;
      queue = queue.then(async () => {
        for (const p of panels) await p.reRange();
        sync();
        bump();
      }).catch(fail);
    };

    // a patch clicked on the overlay: its row there, and pinned on the matrix (as the explorer)
    page.pickQuery = (query, from) => {
      from.setQuery(query);
      if (from !== main && main.kind === "heatmap") main.put([["pinned", { axis: "query", index: query }]]);
      queueMicrotask(() => page.changed());
    };

    // the weights view's class chart follows its site and step
    const charts = async () => {
      for (const [panel, place] of [[main, places.mainChart], [weights || byKind.weights, places.weightsChart]]) {
        if (!panel || !place || !panel.data.charts) continue;
        const idx = panel.data.charts.table[profileKey(panel.state.layer, panel.state.step)];
        drawProfile(place, idx === undefined ? null : await resolve(DATA.states[idx]));
      }
    };

    // ---------------------------------------------------------------- the views (drawn first)
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
    window.__awPainted = performance.now(); // every panel is drawn (benchmarks/html.py reads it)

    // ---------------------------------------------------------------- controls
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
    // a control the view draws itself (its colormap, its colour scale) is not drawn twice
    const own = { colormap: Boolean(main.el.querySelector("select.aw-colormap")), scale: Boolean(main.el.querySelector("select.aw-scale")) };
    // the colour range: the view's own choice on a page of one view, else one for every panel here
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
    // Play beside the step: the steps one after another, stopping at the last (from the first
    // again when pressed there), as the explorer's Play
    // the weights tab shown: the class, sample and step controls are its site's
    const weightsShown = () => Boolean(weights && DATA.layout.tabs && !places.weightsTab.hidden);
    const stepping = () => (weightsShown() ? weights : main);
    const play = make("button", "aw-page-play", "▶ play");
    play.type = "button";
    play.title = "play the steps";
    let timer = null;
    const stop = () => { clearInterval(timer); timer = null; play.textContent = "▶ play"; };
    play.addEventListener("click", () => {
      if (timer !== null) { stop(); return; }
      const shown = stepping();
      const from = playFrom(shown.layerInfo().steps, shown.state.step);
      if (from !== shown.state.step) page.select({ step: from });
      play.textContent = "❚❚ pause";
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
      addSelect("colormap", "colormap", (v) => { main.model.set("colormap", v); main.model.save_changes(); });
    }
    if (weights) {
      addSelect("weights", "weights", (v) => page.select({ layer: v }, weights), places.weightsSite);
    }
    bar.append(note);

    // the controls show the selection; the page's title says what they show
    function sync() {
      const { controls: c, note: why } = controlChoices(DATA, main.state, { own });
      // the weights tab shown: the attention sites and heads are not what it draws (its own site
      // control is in the tab), so their controls rest until the attention tab comes back
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
          items: weights.data.options.layers.map((l) => [l.index, l.name]), value: weights.state.layer,
          hidden: weights.data.options.layers.length < 2, disabled: false, title: "the weights site shown",
        });
      }
      play.hidden = c.step.hidden;
      note.textContent = why;
      if (stats) stats.mark(main.state.head);
      // the weights tab shown: the title names its site (it has no heads to name)
      const named = inWeights
        ? Object.assign({}, c, { layer: { items: [[weights.state.layer, weights.layerInfo().name]], value: weights.state.layer, hidden: false }, head: null })
        : c;
      const text = titleText(DATA.heading || DATA.view, named, DATA.title);
      heading.textContent = text;
      document.title = text;
    }
    sync();
    applied = Object.fromEntries(main.keys.map((k) => [k, main.state[k]]));
    document.body.dataset.awSelection = keyOf(main.keys, main.state);
    status.textContent = "";
    document.body.dataset.awReady = "1";
  } catch (err) {
    fail(err);
  }
}

export default { start: awPage };
