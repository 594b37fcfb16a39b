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
//
// Every frame is shown in the page's colour range (js/page-range.js: this frame, fixed 0..1, or
// shared by the site's heads and steps), and a matrix zooms as in the notebook (a box dragged,
// the wheel, "reset zoom"): the page cuts the region from the frame it holds and draws it larger,
// its labels and colour bar with it. The model counts the frames it shows (`_frame_version`), as
// a kernel's does, so the views offer zoom and tell one frame from the next.
import { createModel } from "./page-model.js";
import { crop, findEntry, isDiff, patchQuery, queryRow, withWhite } from "./page-data.js";
import { moved } from "./page-controls.js";
import { inRange, joinExtents, siteGroups, storedExtent, thumbsExtent, thumbsInRange } from "./page-range.js";

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
    this.shownKey = null; // the table key of the entry shown (its site's frames share a range)
    this.groups = null; // js/page-range.js siteGroups of the table, made when first needed
    this.extents = new Map(); // a group (and query row) -> the extent of its frames
    this.frames = 0; // frames shown (the model's _frame_version)
  }

  /** Decode the first state and make the model. */
  async init() {
    let state = withWhite(await this.page.resolve(this.data.initial), null);
    this.saved = state;
    if (state._rows_meta && Number.isInteger(state.query)) state = queryRow(state, state.query);
    this.hasRegion = "region" in state;
    // a frame version, as a kernel's model has: the views zoom and tell frames apart by it
    if (state._frame_meta || state._thumbs_meta) state._frame_version = 0;
    const made = createModel(state, { saved: (names) => this.page.saved(this, names), answer: (msg) => this.answer(msg) });
    this.state = made.state;
    this.model = made.model;
    this.put = made.put;
    const found = findEntry(this.data, this.state);
    this.shownKey = found ? found[2] : null;
    // the frames are embedded in their own range: the page's range may be another
    if ((this.page.range || "frame") !== "frame") await this.reRange();
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
    if (group === undefined) return null;
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
      this.siteExtent().then(() => { this.showData(this.saved); this.page.changed(); });
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
        this.page.changed();
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

/**
 * What a zoomed frame's caption says of its cells: nothing where the page holds the frame at full
 * resolution (the region is exact), else that the cells are the pooled ones it holds.
 * @param {any} data a state cut to a zoom region
 */
export function zoomNote(data) {
  const meta = (data && data._frame_meta) || {};
  const [br, bc] = meta.block || [1, 1];
  if (br === 1 && bc === 1) return "";
  return `zoomed into the ${br}×${bc}-pooled cells this page holds, not recomputed at full resolution`;
}
