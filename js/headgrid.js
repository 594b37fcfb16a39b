// Head grid view: one small canvas per (layer, head) thumbnail, all from one
// binary message; clicking a thumbnail asks the kernel to select it.

import { splitThumbs } from "./codecs.js";
import { lut } from "./colormaps.js";
import { colorize } from "./draw.js";
import { addStyles, colormapSelect, drawScheduler, make, markPainted, traitSelect } from "./ui.js";

const SIDE = 64; // CSS pixels per thumbnail

export default {
  /** @param {{model: any, el: HTMLElement}} ctx */
  render({ model, el }) {
    addStyles();
    el.classList.add("aw-view", "aw-headgrid");
    const toolbar = make("div", "aw-toolbar");
    const title = make("span", "aw-title");
    const cmap = colormapSelect(model);
    const mode = traitSelect(model, "mode", ["layer", "model"], "layer: heads of this layer; model: layers × heads");
    toolbar.append(title, mode.node, cmap.node);
    const grid = make("div", "aw-thumbs");
    const error = make("div", "aw-error");
    el.append(toolbar, grid, error);
    let requestId = 0;

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
      title.textContent = many ? "layers × heads" : `heads of ${(meta.layer_names || [""])[0]}`;
      grid.style.gridTemplateColumns = `repeat(${Math.max(1, meta.heads || 1)}, ${SIDE + 4}px)`;
      for (const t of thumbs) {
        const cell = make("div", "aw-thumb-cell");
        const canvas = /** @type {HTMLCanvasElement} */ (make("canvas", "aw-thumb"));
        canvas.width = t.cols;
        canvas.height = t.rows;
        const scale = SIDE / Math.max(t.rows, t.cols);
        canvas.style.width = `${Math.round(t.cols * scale)}px`;
        canvas.style.height = `${Math.round(t.rows * scale)}px`;
        canvas.dataset.layer = String(t.layer);
        canvas.dataset.head = String(t.head);
        canvas.title = `layer ${t.layer} head ${t.head}`;
        const ctx = canvas.getContext("2d");
        const image = ctx.createImageData(t.cols, t.rows);
        image.data.set(colorize(t.codes, table));
        ctx.putImageData(image, 0, 0);
        cell.append(canvas, make("span", "", many ? `L${t.layer} H${t.head}` : `head ${t.head}`));
        cell.addEventListener("click", () => {
          requestId += 1;
          model.send({ type: "select", id: requestId, layer: t.layer, head: t.head });
        });
        grid.appendChild(cell);
      }
      highlight();
      markPainted(el, [thumbs.length, meta.heads || 0]);
    }

    function onMessage(msg) {
      if (msg && msg.type === "error") error.textContent = msg.message;
    }

    const schedule = drawScheduler(paint);
    const events = "change:_thumbs change:_thumbs_meta change:colormap";
    model.on(events, schedule);
    model.on("change:layer change:head", highlight);
    model.on("msg:custom", onMessage);
    paint();
    return () => {
      model.off(events, schedule);
      model.off("change:layer change:head", highlight);
      model.off("msg:custom", onMessage);
    };
  },
};
