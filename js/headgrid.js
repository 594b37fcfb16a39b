// Head grid view: every (layer, head) thumbnail from one binary message, drawn into one
// canvas (js/thumbs.js); over it one element per thumbnail (`.aw-thumb`, its layer and head in
// data attributes) carries the tooltip, the click and the selection outline. Clicking a
// thumbnail selects it (sets layer and head in the page). The grid lives in a panel of fixed
// width (PANEL CSS pixels) and bounded height: the thumbnails are sized to fill it, so the
// panel never grows or moves between steps, and a model grid of many layers scrolls inside it.

import { splitThumbs } from "./codecs.js";
import { lut } from "./colormaps.js";
import { BORDER, backingScale, gridLayout, paintThumbs } from "./thumbs.js";
import { arrowKeys, onThemeChange } from "./toolbar.js";
import { colormapSelect, drawScheduler, make, markPainted, off, on, traitSelect } from "./ui.js";

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

    grid.addEventListener("click", (event) => {
      const target = /** @type {HTMLElement} */ (event.target).closest("[data-head]");
      if (!target) return;
      const layer = Number(target.dataset.layer);
      const head = Number(target.dataset.head);
      // set in the page, not asked of the kernel: the highlight moves at once, and a view
      // linked in the page (ipywidgets.jslink) draws the head from the frames it holds
      if (model.get("layer") === layer && model.get("head") === head) return;
      // one trait per call: marimo's model and the standalone page's take set(key, value) only
      model.set("layer", layer);
      model.set("head", head);
      model.save_changes();
    });

    function highlight() {
      const layer = model.get("layer");
      const head = model.get("head");
      for (const c of grid.querySelectorAll(".aw-thumb")) {
        const on = Number(c.dataset.layer) === layer && Number(c.dataset.head) === head;
        c.classList.toggle("aw-selected", on);
      }
    }

    function paint() {
      const meta = model.get("_thumbs_meta") || {};
      cmap.sync();
      mode.sync();
      error.textContent = meta.error || "";
      let thumbs = [];
      try {
        thumbs = splitThumbs(model.get("_thumbs"), meta);
      } catch (e) {
        error.textContent = String(e.message || e);
      }
      const many = (meta.layers || []).length > 1;
      // short enough to be read whole beside the two selects: the site is named by the layer
      // control (and by the thumbnails' tooltips); the whole text is the title's tooltip
      const site = (meta.layer_names || [""])[0];
      title.textContent = many ? "layers × heads" : "heads";
      title.title = many ? "every layer's heads" : `heads of ${site}`;
      const layout = gridLayout(thumbs, meta.heads || 1, many);
      const scale = backingScale(thumbs, layout.rects, layout.width, layout.height, window.devicePixelRatio);
      const canvas = /** @type {HTMLCanvasElement} */ (make("canvas", "aw-grid"));
      canvas.width = Math.max(1, layout.width * scale);
      canvas.height = Math.max(1, layout.height * scale);
      canvas.style.width = `${layout.width}px`;
      canvas.style.height = `${layout.height}px`;
      // drawn at the screen's resolution, sharp blocks; drawn finer (more cells than pixels),
      // shown smoothed down: cells averaged rather than some dropped
      canvas.style.imageRendering = scale > (window.devicePixelRatio || 1) ? "auto" : "pixelated";
      if (thumbs.length) {
        const ctx = canvas.getContext("2d");
        const image = ctx.createImageData(canvas.width, canvas.height);
        paintThumbs(thumbs, layout.rects, scale, lut(model.get("colormap")), image.data, canvas.width);
        ctx.putImageData(image, 0, 0);
      }
      const parts = document.createDocumentFragment(); // the page takes every element at once
      parts.append(canvas);
      thumbs.forEach((t, i) => {
        const r = layout.rects[i];
        const name = many ? (meta.layer_names || [])[(meta.layers || []).indexOf(t.layer)] : site;
        const thumb = make("div", "aw-thumb");
        Object.assign(thumb.style, {
          left: `${r.x - BORDER}px`,
          top: `${r.y - BORDER}px`,
          width: `${r.w}px`,
          height: `${r.h}px`,
        });
        thumb.dataset.layer = String(t.layer);
        thumb.dataset.head = String(t.head);
        // where its pixels are in the canvas's backing store, and its cells: what a test reads
        thumb.dataset.pixels = [r.x * scale, r.y * scale, r.w * scale, r.h * scale].join(",");
        thumb.dataset.cells = `${t.rows},${t.cols}`;
        thumb.title = name ? `${name} · head ${t.head}` : `layer ${t.layer} head ${t.head}`;
        parts.append(thumb);
        if (layout.labelled) {
          const place = layout.places[i];
          const label = make("span", "aw-thumb-label", many ? `L${t.layer} H${t.head}` : `head ${t.head}`);
          Object.assign(label.style, { left: `${place.x}px`, top: `${place.y + place.size}px`, width: `${place.size}px` });
          label.dataset.layer = thumb.dataset.layer;
          label.dataset.head = thumb.dataset.head;
          parts.append(label);
        }
      });
      grid.replaceChildren(parts);
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
