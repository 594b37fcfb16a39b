// Image overlay view: a query row on the patch grid, upsampled (bilinear),
// coloured with the shared LUT and blended over the input image.

import { decodeFrame, dequantize, formatValue, toBytes } from "./codecs.js";
import { lut } from "./colormaps.js";
import { blend, colorize, upsample } from "./draw.js";
import { addStyles, colormapSelect, drawScheduler, make, markPainted, saveButton } from "./ui.js";

const MAX_SIDE = 448; // CSS pixels, longest side shown
const MIN_SIDE = 224;

export default {
  /** @param {{model: any, el: HTMLElement}} ctx */
  render({ model, el }) {
    addStyles();
    el.classList.add("aw-view", "aw-overlay");
    const toolbar = make("div", "aw-toolbar");
    const title = make("span", "aw-title");
    const cmap = colormapSelect(model);
    const opacity = /** @type {HTMLInputElement} */ (make("input", "aw-opacity"));
    opacity.type = "range";
    opacity.min = "0";
    opacity.max = "1";
    opacity.step = "0.05";
    opacity.title = "opacity of the attention over the image";
    const canvas = /** @type {HTMLCanvasElement} */ (make("canvas", "aw-canvas"));
    const save = saveButton(() => canvas, () => "overlay.png");
    toolbar.append(title, make("span", "", "opacity"), opacity, cmap.node, save);
    const tooltip = make("div", "aw-tooltip");
    const error = make("div", "aw-error");
    const wrap = make("div");
    wrap.style.position = "relative";
    wrap.append(canvas, tooltip);
    el.append(toolbar, wrap, error);
    let grid = null;
    let meta = {};

    function paint() {
      meta = model.get("_frame_meta") || {};
      const imageMeta = model.get("_image_meta") || {};
      const pixels = toBytes(model.get("_image"));
      title.textContent = meta.title || "";
      opacity.value = String(model.get("opacity"));
      cmap.sync();
      error.textContent = meta.error || "";
      grid = null;
      if (!imageMeta.shape || meta.error) { markPainted(el, [0, 0]); return; }
      const [H, W] = imageMeta.shape;
      if (pixels.length !== H * W * 4) {
        error.textContent = `image has ${pixels.length} bytes, expected ${H * W * 4}`;
        return;
      }
      try {
        grid = decodeFrame(model.get("_frame"), meta);
      } catch (e) {
        error.textContent = String(e.message || e);
        return;
      }
      const heat = colorize(upsample(grid.codes, grid.rows, grid.cols, H, W), lut(model.get("colormap")));
      const out = blend(pixels, heat, model.get("opacity"));
      canvas.width = W;
      canvas.height = H;
      const side = Math.max(H, W);
      const scale = Math.min(Math.max(side, MIN_SIDE), MAX_SIDE) / side; // small images are enlarged
      canvas.style.width = `${Math.round(W * scale)}px`;
      canvas.style.height = `${Math.round(H * scale)}px`;
      const ctx = canvas.getContext("2d");
      const image = ctx.createImageData(W, H);
      image.data.set(out);
      ctx.putImageData(image, 0, 0);
      markPainted(el, [grid.rows, grid.cols]);
    }

    function onMove(event) {
      if (!grid) return;
      const rect = canvas.getBoundingClientRect();
      const row = Math.floor(((event.clientY - rect.top) / rect.height) * grid.rows);
      const col = Math.floor(((event.clientX - rect.left) / rect.width) * grid.cols);
      if (row < 0 || col < 0 || row >= grid.rows || col >= grid.cols) { tooltip.style.display = "none"; return; }
      const v = dequantize(grid.codes[row * grid.cols + col], meta.vmin, meta.vmax, meta.scale);
      tooltip.textContent = `patch (${row}, ${col})\n` + (Number.isNaN(v) ? "value NaN" : `value ≈ ${formatValue(v)}`);
      tooltip.style.display = "block";
      tooltip.style.left = `${event.clientX - rect.left + 14}px`;
      tooltip.style.top = `${event.clientY - rect.top + 10}px`;
    }

    opacity.addEventListener("input", () => {
      model.set("opacity", Number(opacity.value));
      model.save_changes();
    });
    canvas.addEventListener("mousemove", onMove);
    canvas.addEventListener("mouseleave", () => { tooltip.style.display = "none"; });
    const schedule = drawScheduler(paint);
    const events = "change:_frame change:_frame_meta change:_image change:colormap change:opacity";
    model.on(events, schedule);
    paint();
    return () => model.off(events, schedule);
  },
};
