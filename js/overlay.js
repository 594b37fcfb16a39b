// Image overlay view: a query row on the patch grid, coloured with the shared
// LUT and blended over the input image, with a colour bar beside it. Small
// images and the patch grid are enlarged nearest-neighbour (each patch a
// sharp block, each image pixel a square), never smoothed. Clicking a patch
// shows that patch's own row (the kernel turns the patch into a query index);
// saving goes through the kernel (js/toolbar.js).

import { decodeFrame, dequantize, formatValue, toBytes } from "./codecs.js";
import { lut } from "./colormaps.js";
import { blend, colorbarCodes, colorbarTicks, colorize } from "./draw.js";
import { arrowKeys, kernelSave, onThemeChange } from "./toolbar.js";
import { addStyles, colormapSelect, drawScheduler, make, markPainted } from "./ui.js";

const SIDE = 260; // CSS pixels, longest side of the picture
const BAR_W = 12;
const BAR_TEXT = 52;

/**
 * Nearest-neighbour enlargement of a `rows` x `cols` grid of `channels`-byte cells to `height` x `width`.
 * @param {Uint8Array|Uint8ClampedArray} src
 * @param {number} rows
 * @param {number} cols
 * @param {number} height
 * @param {number} width
 * @param {number} [channels]
 * @returns {Uint8ClampedArray}
 */
export function nearest(src, rows, cols, height, width, channels = 1) {
  const out = new Uint8ClampedArray(height * width * channels);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(rows - 1, Math.floor((y * rows) / height));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(cols - 1, Math.floor((x * cols) / width));
      const from = (sy * cols + sx) * channels;
      const to = (y * width + x) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = src[from + c];
    }
  }
  return out;
}

/**
 * Pixels the picture is drawn with: small images are enlarged by a whole factor
 * (nearest-neighbour), so the browser never smooths them; big ones stay as they are.
 * @param {number} H
 * @param {number} W
 * @returns {{height: number, width: number}}
 */
export function pictureSize(H, W) {
  const k = Math.max(1, Math.floor(SIDE / Math.max(H, W, 1)));
  return { height: H * k, width: W * k };
}

export default {
  /** @param {{model: any, el: HTMLElement}} ctx */
  render({ model, el }) {
    addStyles();
    el.classList.add("aw-view", "aw-overlay");
    const toolbar = make("div", "aw-toolbar");
    const title = make("div", "aw-title aw-overlay-title");
    const cmap = colormapSelect(model);
    const opacity = /** @type {HTMLInputElement} */ (make("input", "aw-opacity"));
    opacity.type = "range";
    opacity.min = "0";
    opacity.max = "1";
    opacity.step = "0.05";
    opacity.title = "opacity of the attention over the image";
    const save = make("button", "aw-save", "save PNG");
    toolbar.append(make("span", "", "opacity"), opacity, cmap.node, save);
    const canvas = /** @type {HTMLCanvasElement} */ (make("canvas", "aw-canvas aw-overlay-canvas"));
    const bar = /** @type {HTMLCanvasElement} */ (make("canvas", "aw-overlay-bar"));
    const tooltip = make("div", "aw-tooltip");
    const error = make("div", "aw-error");
    const wrap = make("div", "aw-overlay-picture");
    wrap.append(canvas, bar, tooltip);
    el.append(title, toolbar, wrap, error);
    const saver = kernelSave(model, el);
    let grid = null;
    let meta = {};

    function drawBar(height) {
      const dpr = Math.max(1, Math.round(globalThis.devicePixelRatio || 1));
      const w = BAR_W + BAR_TEXT;
      bar.width = w * dpr;
      bar.height = (height + 12) * dpr;
      bar.style.width = `${w}px`;
      bar.style.height = `${height + 12}px`;
      const ctx = bar.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, w, height + 12);
      const strip = colorize(colorbarCodes(height), lut(model.get("colormap")));
      const image = ctx.createImageData(1, height);
      image.data.set(strip);
      const off = document.createElement("canvas");
      off.width = 1;
      off.height = height;
      off.getContext("2d").putImageData(image, 0, 0);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(off, 0, 6, BAR_W, height);
      ctx.fillStyle = getComputedStyle(el).color || "#222";
      ctx.font = "11px sans-serif";
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      for (const tick of colorbarTicks(meta.vmin, meta.vmax, meta.scale)) {
        ctx.fillText(formatValue(tick.value), BAR_W + 3, 6 + tick.at * (height - 1));
      }
    }

    function paint() {
      meta = model.get("_frame_meta") || {};
      const imageMeta = model.get("_image_meta") || {};
      const pixels = toBytes(model.get("_image"));
      title.textContent = meta.title || "";
      title.title = meta.title || "";
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
      const { height, width } = pictureSize(H, W);
      const photo = height === H ? pixels : nearest(pixels, H, W, height, width, 4);
      const heat = colorize(nearest(grid.codes, grid.rows, grid.cols, height, width), lut(model.get("colormap")));
      const out = blend(photo, heat, model.get("opacity"));
      canvas.width = width;
      canvas.height = height;
      const scale = Math.min(1, SIDE / Math.max(height, width));
      canvas.style.width = `${Math.round(width * scale)}px`;
      canvas.style.height = `${Math.round(height * scale)}px`;
      const ctx = canvas.getContext("2d");
      const image = ctx.createImageData(width, height);
      image.data.set(out);
      ctx.putImageData(image, 0, 0);
      drawBar(Math.round(height * scale));
      markPainted(el, [grid.rows, grid.cols]);
    }

    function patchAt(event) {
      if (!grid) return null;
      const rect = canvas.getBoundingClientRect();
      const row = Math.floor(((event.clientY - rect.top) / rect.height) * grid.rows);
      const col = Math.floor(((event.clientX - rect.left) / rect.width) * grid.cols);
      if (row < 0 || col < 0 || row >= grid.rows || col >= grid.cols) return null;
      return { row, col, x: event.clientX - rect.left, y: event.clientY - rect.top };
    }

    function onMove(event) {
      const hit = patchAt(event);
      if (!hit) { tooltip.style.display = "none"; return; }
      const v = dequantize(grid.codes[hit.row * grid.cols + hit.col], meta.vmin, meta.vmax, meta.scale);
      tooltip.textContent = `patch (${hit.row}, ${hit.col})\n`
        + (Number.isNaN(v) ? "value NaN" : `value ≈ ${formatValue(v)}`) + "\nclick: show this patch's row";
      tooltip.style.display = "block";
      tooltip.style.left = `${hit.x + 14}px`;
      tooltip.style.top = `${hit.y + 10}px`;
    }

    let requestId = 0;
    function onClick(event) {
      const hit = patchAt(event);
      if (!hit) return;
      requestId += 1;
      model.send({ type: "pick", id: requestId, row: hit.row, col: hit.col });
    }

    function onMessage(msg) {
      if (saver.onMessage(msg)) return;
      if (msg && msg.type === "error") error.textContent = msg.message;
    }

    opacity.addEventListener("input", () => {
      model.set("opacity", Number(opacity.value));
      model.save_changes();
    });
    canvas.addEventListener("mousemove", onMove);
    canvas.addEventListener("mouseleave", () => { tooltip.style.display = "none"; });
    canvas.addEventListener("click", onClick);
    const schedule = drawScheduler(paint);
    const events = "change:_frame change:_frame_meta change:_image change:colormap change:opacity";
    model.on(events, schedule);
    model.on("msg:custom", onMessage);
    const keys = arrowKeys(model, el);
    const theme = onThemeChange(schedule);
    paint();
    return () => {
      theme();
      keys();
      model.off(events, schedule);
      model.off("msg:custom", onMessage);
    };
  },
};
