// One panel of a standalone page: a view of the widget bundle (heatmap, head grid, overlay,
// weights) drawn into its element with a stand-in model (js/page-model.js) whose data come from
// the panel's table. The page (js/page.js) asks each panel for the entry of a selection (`plan`),
// decodes it (`load`) and, once every panel has its entry, shows them together (`show`), so the
// panels never disagree about what is selected.
//
// On a capture with class statistics a class-difference map is drawn on a diverging colormap (the
// panel's `difference.colormap`) and clearing the difference brings back the colormap and scale
// shown before, as the widget does. An overlay that holds every query row (`_rows`) shows the row
// the page asks for (a patch clicked, or the row pinned on the matrix).
import { createModel } from "./page-model.js";
import { crop, findEntry, isDiff, patchQuery, queryRow, withWhite } from "./page-data.js";
import { moved } from "./page-controls.js";

/** The selection every view shares (attnwidget/_view_state.py SELECTION). */
export const SELECTION = ["layer", "head", "sample", "label", "step", "stat", "difference"];

/** The render({model, el}) object of a view module: its default export, or the module itself. */
export async function widgetOf(module) {
  let m = await module;
  if (m && typeof m.render !== "function" && m.default) m = m.default;
  if (typeof m === "function") m = await m();
  if (!m || typeof m.render !== "function") throw new Error("the view's module has no default export with render({model, el})");
  return m;
}

export class ViewPanel {
  /**
   * @param {any} page the page: `resolve`, `states`, `select(want, panel)`, `saved(panel, names)`,
   *   `pickQuery(query)`, `say(text)`
   * @param {any} data the panel's data (attnwidget/figures/page/table.py view_table)
   * @param {HTMLElement} el where the view draws
   */
  constructor(page, data, el) {
    this.page = page;
    this.data = data;
    this.id = data.id;
    this.kind = data.kind;
    this.keys = data.keys;
    this.el = el;
    this.diff = data.difference || null;
    this.before = (this.diff && this.diff.before) || {};
    this.zoom = null; // the zoom region, full resolution, or null
    this.saved = null; // the state shown, as stored (before a zoom cuts it or a query row is taken)
  }

  /** Decode the first state and make the model. */
  async init() {
    let state = withWhite(await this.page.resolve(this.data.initial), null);
    this.saved = state;
    if (state._rows_meta && Number.isInteger(state.query)) state = queryRow(state, state.query);
    this.hasRegion = "region" in state;
    const made = createModel(state, { saved: (names) => this.page.saved(this, names), answer: (msg) => this.answer(msg) });
    this.state = made.state;
    this.model = made.model;
    this.put = made.put;
  }

  /** Draw the view into the panel's element. */
  async render(module) {
    const widget = await widgetOf(module);
    if (typeof widget.initialize === "function") await widget.initialize({ model: this.model });
    this.cleanup = await widget.render({ model: this.model, el: this.el });
    // the view's own controls for what the page did not save: a colour scale of which one was
    // embedded, a head grid's mode (the page holds the thumbnails of the mode it was saved in),
    // the resolution of a saved figure (the browser downloads the picture on screen)
    const scales = (this.data.options && this.data.options.scales) || [];
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
    if (leaving && this.keys.includes("scale") && !("scale" in want) && this.before.scale !== undefined) {
      s.scale = this.before.scale;
    }
    let found = findEntry(this.data, s);
    if (!found && leaving && s.scale !== this.state.scale) {
      s.scale = this.state.scale;
      found = findEntry(this.data, s);
    }
    if (!found) return null;
    return { sel: found[0], index: found[1], entering, leaving };
  }

  /** The decoded state of an entry. */
  load(plan) {
    return this.page.resolve(this.page.states[plan.index]);
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
    this.showData(data, extra);
  }

  /** Put a state's data (the query row asked for, cut to the zoom region) and `extra` into the model. */
  showData(data, extra = [], zoomed = false) {
    data = withWhite(data, this.state._image_meta);
    this.saved = data;
    let shown = Number.isInteger(this.state.query) ? queryRow(data, this.state.query) : data;
    shown = crop(shown, this.zoom);
    const entries = [...extra, ...Object.entries(shown)];
    if (this.hasRegion && zoomed) entries.push(["region", this.zoom]);
    this.put(entries);
  }

  /** Show another query row of an overlay (the saved state's own where it holds no rows). */
  setQuery(query) {
    if (!this.saved || !this.saved._rows_meta) return false;
    if (query < 0 || query >= this.saved._rows_meta.shape[0]) return false;
    this.put([["query", query]]);
    this.showData(this.saved);
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
        // arrow keys: the next layer, head or step the page offers (clamped at the ends)
        const info = this.layerInfo();
        const what = msg.what;
        const options = what === "layer" ? this.data.options.layers.map((l) => l.index)
          : what === "head" ? info && info.heads : what === "step" ? info && info.steps : null;
        if (!options || (msg.by !== 1 && msg.by !== -1)) return err("move needs what='layer'|'head'|'step' and by=+1|-1");
        const next = moved(options, this.state[what], msg.by);
        const got = next === undefined ? null : this.page.select({ [what]: next }, this);
        return got ? { type: "ok", id, layer: got.layer, head: got.head, step: got.step } : err("this page holds no frame for that selection");
      }
      case "zoom": {
        // the page cuts the saved frame (a kernel would compute the region at full resolution)
        const region = Array.isArray(msg.region) && msg.region.length === 4 ? msg.region.map(Number) : null;
        const meta = (this.saved && this.saved._frame_meta) || {};
        const whole = !region || (Array.isArray(meta.region) && region[0] <= meta.region[0]
          && region[1] >= meta.region[1] && region[2] <= meta.region[2] && region[3] >= meta.region[3]);
        this.zoom = whole ? null : region;
        this.showData(this.saved, [], true);
        this.page.say(this.zoom
          ? "Zoomed into the saved frame: its cells and colour range, not the region recomputed at full resolution."
          : "");
        const now = this.state._frame_meta || {};
        return { type: "ok", id, region: now.region, shape: now.shape };
      }
      case "save": {
        // no kernel writes the figure: the browser downloads what the view shows
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
        // a kernel sends frames ahead of a view (js/prefetch.js); the page holds every frame it has
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
}
