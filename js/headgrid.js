// Head grid view: one small canvas per (layer, head) thumbnail, all from one
// binary message; clicking a thumbnail selects it (sets layer and head in the page). The grid
// lives in a panel of fixed width (PANEL CSS pixels) and bounded height: the
// thumbnails are sized to fill it, so the panel never grows or moves between
// steps, and a model grid of many layers scrolls inside it.

import { splitThumbs } from "./codecs.js";
import { lut } from "./colormaps.js";
import { colorize } from "./draw.js";
import { arrowKeys, onThemeChange } from "./toolbar.js";
import { colormapSelect, drawScheduler, make, markPainted, off, on, traitSelect } from "./ui.js";

const PANEL = 326; // CSS pixels across the grid
const GAP = 4;
const MOST = 76; // largest thumbnail side, CSS pixels
const LEAST = 14; // smallest; below LABELLED a thumbnail has no caption (its tooltip names it)
const LABELLED = 30;

/**
 * Columns and thumbnail side for `count` thumbnails of `heads` per layer in a panel `width` wide.
 * One layer: a near-square grid; several: one row per layer.
 * @param {number} count thumbnails
 * @param {number} heads thumbnails per layer
 * @param {boolean} many more than one layer
 * @param {number} [width]
 * @returns {{columns: number, side: number}}
 */
export function gridFit(count, heads, many, width = PANEL) {
  // one layer: up to 4 in a row, then a near-square grid (12 heads: 4 x 3)
  const columns = Math.max(1, many ? heads : count <= 4 ? count : Math.ceil(Math.sqrt(count)));
  const side = Math.floor((width - GAP * (columns - 1)) / columns) - 4;
  return { columns, side: Math.max(LEAST, Math.min(MOST, side)) };
}

export default {
  /** @param {{model: any, el: HTMLElement}} ctx */
  render({ model, el }) {
    el.classList.add("aw-view", "aw-headgrid");
    const toolbar = make("div", "aw-toolbar");
    const title = make("span", "aw-title");
    const cmap = colormapSelect(model);
    const mode = traitSelect(model, "mode", ["layer", "model"], "layer: heads of this layer; model: layers × heads");
    toolbar.append(title, mode.node, cmap.node);
    const grid = make("div", "aw-thumbs");
    const error = make("div", "aw-error");
    el.append(toolbar, grid, error);

    function highlight() {
      const layer = model.get("layer");
      const head = model.get("head");
      for (const c of grid.querySelectorAll("canvas.aw-thumb")) {
        const on = Number(c.dataset.layer) === layer && Number(c.dataset.head) === head;
        c.classList.toggle("aw-selected", on);
      }
    }

    function paint() {
      const meta = model.get("_thumbs_meta") || {};
      cmap.sync();
      mode.sync();
      error.textContent = meta.error || "";
      grid.replaceChildren();
      let thumbs = [];
      try {
        thumbs = splitThumbs(model.get("_thumbs"), meta);
      } catch (e) {
        error.textContent = String(e.message || e);
      }
      const table = lut(model.get("colormap"));
      const many = (meta.layers || []).length > 1;
      // short enough to be read whole beside the two selects: the site is named by the layer
      // control (and by the thumbnails' tooltips); the whole text is the title's tooltip
      const site = (meta.layer_names || [""])[0];
      title.textContent = many ? "layers × heads" : "heads";
      title.title = many ? "every layer's heads" : `heads of ${site}`;
      const { columns, side } = gridFit(thumbs.length, meta.heads || 1, many);
      grid.style.gridTemplateColumns = `repeat(${columns}, ${side + 4}px)`;
      const cells = document.createDocumentFragment(); // the page takes every thumbnail at once
      for (const t of thumbs) {
        const cell = make("div", "aw-thumb-cell");
        const canvas = /** @type {HTMLCanvasElement} */ (make("canvas", "aw-thumb"));
        canvas.width = t.cols;
        canvas.height = t.rows;
        // a thumbnail keeps its matrix's aspect inside a square place, up to 2.5 : 1 (a 32 x 4
        // cross-attention is then a readable strip, its cells taller than wide, not a sliver)
        const scale = side / Math.max(t.rows, t.cols);
        const least = Math.round(side / 2.5);
        canvas.style.width = `${Math.max(least, Math.round(t.cols * scale))}px`;
        canvas.style.height = `${Math.max(least, Math.round(t.rows * scale))}px`;
        canvas.dataset.layer = String(t.layer);
        canvas.dataset.head = String(t.head);
        const name = many ? (meta.layer_names || [])[(meta.layers || []).indexOf(t.layer)] : site;
        canvas.title = name ? `${name} · head ${t.head}` : `layer ${t.layer} head ${t.head}`;
        const ctx = canvas.getContext("2d");
        const image = ctx.createImageData(t.cols, t.rows);
        colorize(t.codes, table, image.data); // into the image: no copy per thumbnail
        ctx.putImageData(image, 0, 0);
        const place = make("div", "aw-thumb-place");
        place.style.width = place.style.height = `${side + 4}px`;
        place.append(canvas);
        cell.append(place);
        if (side >= LABELLED) cell.append(make("span", "", many ? `L${t.layer} H${t.head}` : `head ${t.head}`));
        cell.addEventListener("click", () => {
          // set in the page, not asked of the kernel: the highlight moves at once, and a view
          // linked in the page (ipywidgets.jslink) draws the head from the frames it holds
          if (model.get("layer") === t.layer && model.get("head") === t.head) return;
          // one trait per call: marimo's model and the standalone page's take set(key, value) only
          model.set("layer", t.layer);
          model.set("head", t.head);
          model.save_changes();
        });
        cells.appendChild(cell);
      }
      grid.appendChild(cells);
      highlight();
      markPainted(el, [thumbs.length, meta.heads || 0]);
    }

    function onMessage(msg) {
      if (msg && msg.type === "error") error.textContent = msg.message;
    }

    const schedule = drawScheduler(paint);
    const events = "change:_thumbs change:_thumbs_meta change:colormap";
    on(model, events, schedule);
    on(model, "change:layer change:head", highlight);
    on(model, "msg:custom", onMessage);
    const keys = arrowKeys(model, el);
    const theme = onThemeChange(schedule);
    paint();
    return () => {
      theme();
      keys();
      off(model, events, schedule);
      off(model, "change:layer change:head", highlight);
      off(model, "msg:custom", onMessage);
    };
  },
};
