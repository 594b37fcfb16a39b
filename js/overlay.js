// Image overlay view: a query row on the patch grid, coloured with the shared
// LUT and blended over the input image, with a colour bar beside it. Small
// images and the patch grid are enlarged nearest-neighbour (each patch a
// sharp block, each image pixel a square), never smoothed. Clicking a patch
// shows that patch's own row (the kernel turns the patch into a query index);
// saving goes through the kernel (js/toolbar.js).
//
// The colour bar's ticks are the heatmap's (round values, the exact ends, none
// twice). The tooltip is the heatmap's too (js/ui.js tooltipMachine): the exact
// float32 value of the patch, asked of the kernel one patch row at a time
// ({type: "row"}), following every new frame; where no kernel answers (a
// standalone page) the colour code's value, marked ≈. Alone (not in an
// explorer, whose controls row has it) the toolbar offers the colour range.

import { decodeFrame, toBytes, toFloats, valueLine } from "./codecs.js";
import { lut } from "./colormaps.js";
import { blend, colorbarCodes, colorbarTicks, colorize } from "./draw.js";
import { arrowKeys, kernelSave, onThemeChange } from "./toolbar.js";
import { colormapSelect, drawScheduler, make, markPainted, off, on, rangeSelect, tooltipMachine } from "./ui.js";

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
    const range = rangeSelect(model);
    toolbar.append(make("span", "", "opacity"), opacity, cmap.node, ...(range ? [range.node] : []), save);
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
    let seen = null; // the header last drawn (where a model counts no _frame_version)
    let pageVersion = 0;
    let pointer = null; // {x, y} over the picture, or null
    const tip = tooltipMachine();

    /** The version of the frame drawn: the kernel's count, or the page's own. */
    function version() {
      const v = model.get("_frame_version");
      return v === undefined || v === null ? `page:${pageVersion}` : v;
    }

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
      const ticks = colorbarTicks(meta.vmin, meta.vmax, meta.scale, 5, { height, minGap: 13 });
      bar.dataset.ticks = ticks.map((t) => t.label).join("|");
      for (const tick of ticks) {
        ctx.font = tick.end ? "bold 11px sans-serif" : "11px sans-serif";
        ctx.fillText(tick.label, BAR_W + 3, 6 + tick.at * (height - 1));
      }
    }

    function paint() {
      meta = model.get("_frame_meta") || {};
      const fresh = meta !== seen;
      if (fresh) pageVersion += 1;
      seen = meta;
      const imageMeta = model.get("_image_meta") || {};
      const pixels = toBytes(model.get("_image"));
      title.textContent = meta.title || "";
      title.title = meta.title || "";
      opacity.value = String(model.get("opacity"));
      cmap.sync();
      if (range) range.sync();
      error.textContent = meta.error || "";
      grid = null;
      if (!imageMeta.shape || meta.error) {
        if (fresh) hover(null, { type: "frame", version: version(), rows: 0, cols: 0 });
        markPainted(el, [0, 0]);
        return;
      }
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
      if (fresh) {
        // a new frame: the tooltip follows it at once, where the pointer rests
        hover(pointer ? patchAt(pointer) : null, { type: "frame", version: version(), rows: grid.rows, cols: grid.cols });
      }
      markPainted(el, [grid.rows, grid.cols]);
    }

    /** The patch under a point of the picture ({x, y} from its corner), or null. */
    function patchAt(p) {
      if (!grid) return null;
      const rect = canvas.getBoundingClientRect();
      if (!rect.width || !rect.height) return null;
      const row = Math.floor((p.y / rect.height) * grid.rows);
      const col = Math.floor((p.x / rect.width) * grid.cols);
      if (row < 0 || col < 0 || row >= grid.rows || col >= grid.cols) return null;
      return { row, col };
    }

    function point(event) {
      const rect = canvas.getBoundingClientRect();
      return { x: event.clientX - rect.left, y: event.clientY - rect.top };
    }

    /** Tell the tooltip machine where the pointer is (a patch or null), send what it asks, show it. */
    function hover(hit, event) {
      const asked = [];
      if (event) asked.push(tip.dispatch(event).request);
      asked.push(tip.dispatch(hit ? { type: "move", row: hit.row, col: hit.col } : { type: "leave" }).request);
      for (const request of asked) if (request) model.send({ type: "row", row: request.row, id: request.id });
      showTooltip();
    }

    function showTooltip() {
      const cell = tip.view();
      tooltip.dataset.status = cell ? cell.status : "hidden";
      if (!cell || !grid || !pointer) {
        tooltip.style.display = "none";
        tooltip.dataset.cell = "";
        return;
      }
      const value = valueLine(cell, grid.codes, grid.cols, meta);
      tooltip.textContent = `patch (${cell.row}, ${cell.col})\n${value}\nclick: show this patch's row`;
      tooltip.dataset.cell = `${cell.row},${cell.col}`;
      tooltip.dataset.version = String(version());
      tooltip.style.display = "block";
      tooltip.style.left = `${pointer.x + 14}px`;
      tooltip.style.top = `${pointer.y + 10}px`;
    }

    function onRowReply(msg, buffers) {
      if (msg.type === "ok" && buffers && buffers.length) {
        let values = null;
        try {
          values = toFloats(buffers[0]);
        } catch (e) {
          tip.dispatch({ type: "error", id: msg.id });
        }
        if (values) tip.dispatch({ type: "reply", id: msg.id, row: msg.row, version: msg.version, values });
      } else {
        tip.dispatch({ type: "error", id: msg.id });
      }
      showTooltip();
    }

    function onMove(event) {
      pointer = point(event);
      hover(patchAt(pointer));
    }

    let requestId = 0;
    function onClick(event) {
      const hit = patchAt(point(event));
      if (!hit) return;
      requestId += 1;
      model.send({ type: "pick", id: requestId, row: hit.row, col: hit.col });
    }

    function onMessage(msg, buffers) {
      if (msg && typeof msg.id === "string" && msg.id.startsWith("row:")) {
        onRowReply(msg, buffers);
        return;
      }
      if (saver.onMessage(msg)) return;
      if (msg && msg.type === "error") error.textContent = msg.message;
    }

    opacity.addEventListener("input", () => {
      model.set("opacity", Number(opacity.value));
      model.save_changes();
    });
    canvas.addEventListener("mousemove", onMove);
    canvas.addEventListener("mouseleave", () => { pointer = null; hover(null); });
    canvas.addEventListener("click", onClick);
    const schedule = drawScheduler(paint);
    const events = "change:_frame change:_frame_meta change:_image change:colormap change:opacity "
      + "change:color_range change:_range_in_toolbar";
    on(model, events, schedule);
    on(model, "msg:custom", onMessage);
    const keys = arrowKeys(model, el);
    const theme = onThemeChange(schedule);
    paint();
    return () => {
      theme();
      keys();
      off(model, events, schedule);
      off(model, "msg:custom", onMessage);
    };
  },
};
