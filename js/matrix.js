// The matrix view behind Heatmap (and WeightsView): one frame on a canvas with
// token labels, a colorbar, a text tooltip, pinning, and zoom that asks the
// kernel for the region at full resolution.

import { decodeFrame, dequantize, formatValue } from "./codecs.js";
import { lut } from "./colormaps.js";
import {
  cellAt, cellToIndex, cellsToRegion, clip, colorbarCodes, colorbarTicks, colorize, fitMatrix,
  indexToCell, thinLabels, zoomAround,
} from "./draw.js";
import { addStyles, colormapSelect, drawScheduler, make, markPainted, saveButton, traitSelect } from "./ui.js";

const PLOT = 440; // CSS pixels for the matrix area
const MARGIN = 96; // most room for row labels (left) and column labels (bottom)
const LABEL_CHARS = 14; // labels are clipped to this many characters
const TOP = 6;
const BAR_W = 14; // colorbar
const BAR_GAP = 12;
const BAR_TEXT = 56;

/**
 * Render a matrix view.
 * @param {{model: any, el: HTMLElement}} ctx
 * @param {{viewClass: string, zoom: boolean}} options
 * @returns {() => void} cleanup
 */
export function renderMatrix({ model, el }, { viewClass, zoom }) {
  addStyles();
  el.classList.add("aw-view", viewClass);
  const toolbar = make("div", "aw-toolbar");
  const title = make("span", "aw-title");
  const cmap = colormapSelect(model);
  const scale = traitSelect(model, "scale", ["linear", "log"], "colour scale");
  const canvas = /** @type {HTMLCanvasElement} */ (make("canvas", "aw-canvas"));
  const reset = make("button", "aw-reset", "reset zoom");
  const save = saveButton(() => canvas, () => `${viewClass.slice(3)}.png`);
  toolbar.append(title, cmap.node, scale.node, ...(zoom ? [reset] : []), save);
  const error = make("div", "aw-error");
  const tooltip = make("div", "aw-tooltip");
  const wrap = make("div");
  wrap.style.position = "relative";
  wrap.append(canvas, tooltip);
  el.append(toolbar, wrap, error);

  const dpr = Math.max(1, Math.round(globalThis.devicePixelRatio || 1));
  let width = 0;
  let height = 0;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));

  // the canvas hugs the matrix: a wide, short frame gets a short canvas
  let left = MARGIN;
  let bottom = MARGIN;
  function resize(plotW, plotH) {
    const w = Math.ceil(left + plotW + BAR_GAP + BAR_W + BAR_TEXT);
    const h = Math.ceil(TOP + plotH + bottom);
    if (w === width && h === height) return;
    width = w;
    height = h;
    canvas.width = w * dpr;
    canvas.height = h * dpr;
    canvas.style.width = `${w}px`;
    canvas.style.height = `${h}px`;
  }
  resize(PLOT, PLOT);

  /** @type {{codes: Uint8Array, rows: number, cols: number} | null} */
  let frame = null;
  let meta = /** @type {any} */ ({});
  let rowLabels = /** @type {string[]} */ ([]);
  let colLabels = /** @type {string[]} */ ([]);
  let layout = null;
  let drag = null; // {x0, y0, x1, y1} while dragging a zoom box
  let requestId = 0;

  function read() {
    meta = model.get("_frame_meta") || {};
    // labels travel in their own trait, sent only when they change; a
    // standalone page (to_html) keeps them in the frame header instead
    const labels = model.get("_labels") || {};
    rowLabels = meta.row_labels || labels.rows || [];
    colLabels = meta.col_labels || labels.cols || [];
    frame = null;
    error.textContent = "";
    if (meta.error) {
      error.textContent = meta.error;
      return;
    }
    try {
      frame = decodeFrame(model.get("_frame"), meta);
    } catch (e) {
      error.textContent = String(e.message || e);
    }
  }

  function paint() {
    read();
    title.textContent = meta.title || "";
    cmap.sync();
    scale.sync();
    if (!frame || frame.rows === 0) {
      layout = null;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, width, height);
      markPainted(el, [0, 0]);
      return;
    }
    const table = lut(model.get("colormap"));
    left = labelRoom(rowLabels) + 18;
    bottom = labelRoom(colLabels) + 22;
    layout = fitMatrix(frame.rows, frame.cols, { x: left, y: TOP, width: PLOT, height: PLOT });
    resize(layout.width, layout.height);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const off = new OffscreenCanvasOr(frame.cols, frame.rows);
    const image = off.ctx.createImageData(frame.cols, frame.rows);
    image.data.set(colorize(frame.codes, table));
    off.ctx.putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off.canvas, layout.x, layout.y, layout.width, layout.height);
    canvas.dataset.plot = [layout.x, layout.y, layout.width, layout.height].map((v) => Math.round(v)).join(",");
    drawLabels();
    drawPinned();
    drawColorbar(table);
    if (drag) drawDrag();
    markPainted(el, [frame.rows, frame.cols]);
  }

  /** Pixels the longest (clipped) label needs, at most MARGIN. */
  function labelRoom(labels) {
    ctx.font = "11px sans-serif";
    let most = 0;
    for (const text of labels || []) most = Math.max(most, ctx.measureText(clip(text, LABEL_CHARS)).width);
    return Math.min(MARGIN, Math.ceil(most) + 6);
  }

  function drawLabels() {
    ctx.fillStyle = getComputedStyle(el).color || "#222";
    ctx.font = "11px sans-serif";
    const rows = rowLabels;
    const cols = colLabels;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const i of thinLabels(rows.length, layout.height, 12)) {
      ctx.fillText(clip(rows[i], LABEL_CHARS), layout.x - 4, layout.y + (i + 0.5) * layout.cellH);
    }
    ctx.save();
    for (const j of thinLabels(cols.length, layout.width, 12)) {
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.translate(layout.x + (j + 0.5) * layout.cellW, layout.y + layout.height + 4);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(clip(cols[j], LABEL_CHARS), 0, 0);
    }
    ctx.restore();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(meta.col_axis || "", layout.x + layout.width / 2, height - 2);
    ctx.save();
    ctx.translate(10, layout.y + layout.height / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(meta.row_axis || "", 0, 0);
    ctx.restore();
  }

  function drawPinned() {
    const pin = model.get("pinned");
    if (!pin || !layout) return;
    const cell = indexToCell(meta, pin.axis, pin.index);
    if (cell < 0) return;
    ctx.strokeStyle = "#ff2d55";
    ctx.lineWidth = 2;
    if (pin.axis === "query") ctx.strokeRect(layout.x, layout.y + cell * layout.cellH, layout.width, layout.cellH);
    else ctx.strokeRect(layout.x + cell * layout.cellW, layout.y, layout.cellW, layout.height);
  }

  function drawColorbar(table) {
    const x = layout.x + layout.width + BAR_GAP;
    const barH = Math.max(2, Math.round(layout.height));
    const off = new OffscreenCanvasOr(1, barH);
    const image = off.ctx.createImageData(1, barH);
    image.data.set(colorize(colorbarCodes(barH), table));
    off.ctx.putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off.canvas, x, layout.y, BAR_W, barH);
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    for (const tick of colorbarTicks(meta.vmin, meta.vmax, meta.scale)) {
      ctx.fillText(formatValue(tick.value), x + BAR_W + 3, layout.y + tick.at * (barH - 1));
    }
  }

  function drawDrag() {
    ctx.strokeStyle = "#fff";
    ctx.setLineDash([4, 3]);
    ctx.strokeRect(Math.min(drag.x0, drag.x1), Math.min(drag.y0, drag.y1),
      Math.abs(drag.x1 - drag.x0), Math.abs(drag.y1 - drag.y0));
    ctx.setLineDash([]);
  }

  const schedule = drawScheduler(paint);

  function point(event) {
    const rect = canvas.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  }

  function sendZoom(region) {
    requestId += 1;
    model.send({ type: "zoom", id: requestId, region });
  }

  function onMove(event) {
    const p = point(event);
    if (drag) {
      drag.x1 = p.x;
      drag.y1 = p.y;
      schedule();
    }
    const hit = layout && frame ? cellAt(layout, p.x, p.y) : null;
    if (!hit) {
      tooltip.style.display = "none";
      return;
    }
    const code = frame.codes[hit.row * frame.cols + hit.col];
    const value = dequantize(code, meta.vmin, meta.vmax, meta.scale);
    tooltip.textContent = `${meta.row_axis}: ${rowLabels[hit.row] ?? hit.row}\n`
      + `${meta.col_axis}: ${colLabels[hit.col] ?? hit.col}\n`
      + (Number.isNaN(value) ? "value NaN" : `value ≈ ${formatValue(value)}`);
    tooltip.style.display = "block";
    tooltip.style.left = `${p.x + 14}px`;
    tooltip.style.top = `${p.y + 10}px`;
  }

  function onDown(event) {
    if (!zoom || !layout) return;
    const p = point(event);
    drag = { x0: p.x, y0: p.y, x1: p.x, y1: p.y };
  }

  function onUp(event) {
    const p = point(event);
    const box = drag;
    drag = null;
    if (!layout || !frame) return;
    if (box && (Math.abs(box.x1 - box.x0) > 4 || Math.abs(box.y1 - box.y0) > 4)) {
      const a = cellAt(layout, Math.min(box.x0, box.x1), Math.min(box.y0, box.y1)) || { row: 0, col: 0 };
      const b = cellAt(layout, Math.max(box.x0, box.x1), Math.max(box.y0, box.y1))
        || { row: frame.rows - 1, col: frame.cols - 1 };
      sendZoom(cellsToRegion(meta, a.row, b.row + 1, a.col, b.col + 1));
      schedule();
      return;
    }
    schedule();
    pin(p, event.shiftKey);
  }

  // click in the matrix or on a row label pins a query row; shift+click or a
  // column label pins a key column; clicking the pinned one again unpins
  function pin(p, shift) {
    let axis = null;
    let cell = -1;
    const inRows = p.y >= layout.y && p.y < layout.y + layout.height;
    const inCols = p.x >= layout.x && p.x < layout.x + layout.width;
    const hit = cellAt(layout, p.x, p.y);
    if (hit) {
      axis = shift ? "key" : "query";
      cell = shift ? hit.col : hit.row;
    } else if (inRows && p.x < layout.x) {
      axis = "query";
      cell = Math.floor((p.y - layout.y) / layout.cellH);
    } else if (inCols && p.y > layout.y + layout.height) {
      axis = "key";
      cell = Math.floor((p.x - layout.x) / layout.cellW);
    }
    if (!axis) return;
    const index = cellToIndex(meta, axis, cell);
    const old = model.get("pinned");
    const same = old && old.axis === axis && old.index === index;
    model.set("pinned", same ? null : { axis, index });
    model.save_changes();
  }

  let wheelTimer = null;
  let wheelFactor = 1;
  let wheelAt = null;
  function onWheel(event) {
    if (!zoom || !layout || !frame) return;
    const p = point(event);
    const hit = cellAt(layout, p.x, p.y);
    if (!hit) return;
    event.preventDefault();
    wheelFactor *= event.deltaY > 0 ? 1.25 : 0.8;
    wheelAt = { row: cellToIndex(meta, "query", hit.row), col: cellToIndex(meta, "key", hit.col) };
    clearTimeout(wheelTimer);
    wheelTimer = setTimeout(() => {
      const region = zoomAround(meta.region, meta.full_shape, wheelAt.row, wheelAt.col, wheelFactor);
      wheelFactor = 1;
      sendZoom(region);
    }, 120);
  }

  function onMessage(msg) {
    if (msg && msg.type === "error") error.textContent = msg.message;
  }

  canvas.addEventListener("mousemove", onMove);
  canvas.addEventListener("mouseleave", () => { tooltip.style.display = "none"; });
  canvas.addEventListener("mousedown", onDown);
  canvas.addEventListener("mouseup", onUp);
  canvas.addEventListener("wheel", onWheel, { passive: false });
  canvas.addEventListener("dblclick", () => zoom && sendZoom(null));
  reset.addEventListener("click", () => sendZoom(null));
  const events = "change:_frame change:_frame_meta change:_labels change:colormap change:pinned change:scale";
  model.on(events, schedule);
  model.on("msg:custom", onMessage);
  paint();
  return () => {
    model.off(events, schedule);
    model.off("msg:custom", onMessage);
    clearTimeout(wheelTimer);
  };
}

/** A scratch canvas (OffscreenCanvas where available) with its 2D context. */
class OffscreenCanvasOr {
  constructor(width, height) {
    if (typeof OffscreenCanvas === "function") {
      this.canvas = new OffscreenCanvas(width, height);
    } else {
      this.canvas = document.createElement("canvas");
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.ctx = this.canvas.getContext("2d");
  }
}
