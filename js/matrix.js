// The matrix view behind Heatmap (and WeightsView): one frame on a canvas with
// token labels, a colour bar at round values, a tooltip that is always true,
// pinning, and zoom that asks the kernel for the region at full resolution.
//
// The tooltip follows js/ui.js tooltipMachine: on every new frame (layer,
// head, step, zoom, sample ...) it is placed again over the cell under the
// pointer, or hidden, even when the pointer does not move; its value is the
// exact float32 value, asked of the kernel one row at a time ({type: "row"})
// and kept only for the frame version it came with. Where no kernel answers
// (a standalone page) it shows the colour code's value, marked ≈.
//
// The matrix is sized by its aspect (js/draw.js fitMatrix) inside a plot box of
// PLOT x PLOT pixels, or the size the kernel asks for (`_frame_meta.plot`, else a
// `_plot` trait: a number or [width, height]). The title has a line of its own
// above the toolbar and wraps onto a second one rather than being cut. Row and column
// labels are thinned to round strides whose boxes never touch (js/draw.js thinLabels);
// `canvas.dataset.rowLabels` / `colLabels` hold the boxes drawn, [start, end] along the axis.
//
// Frames held in the page (js/prefetch.js): the kernel sends, after the frame shown, the frames of
// the selections a user is likely to ask for next. When the model's selection changes in the page
// (a control linked in the page, a key, a thumbnail) and a frame held is for exactly that selection,
// it is drawn at once; the kernel's answer for it is then the same frame and is not drawn again.
// The tooltip names the frame it asks about by its key, so it never shows another frame's value.
// `el.dataset`: `drawn` ("kernel" or "held"), `heldHits`, `heldMisses` (changes made in the page
// that found, or did not find, their frame held), `heldFrames`, `heldBytes`, `kernelKey` (the key
// of the kernel's last frame).

import { decodeFrame, toFloats, valueLine } from "./codecs.js";
import { NAN_CODE, lut } from "./colormaps.js";
import {
  barPosition, cellAt, cellToIndex, cellsToRegion, clip, colorbarCodes, colorbarTicks, colorize, fitMatrix,
  indexToCell, labelBoxes, thinLabels, zoomAround,
} from "./draw.js";
import { outlineEdges, strokeOutline, unpackBits } from "./outline.js";
import { heldFrames, keyText, pickFrame, wantedKey } from "./prefetch.js";
import { colormapSelect, drawScheduler, make, markPainted, off, on, rangeSelect, saveButton, setText, tooltipMachine, traitSelect } from "./ui.js";

const PLOT = 440; // CSS pixels for the matrix area, unless the kernel asks for another size
const MARGIN = 96; // most room for row labels (left) and column labels (bottom)
const LABEL_CHARS = 14; // labels are clipped to this many characters
const TOP = 8;
const BAR_W = 14; // colorbar
const BAR_GAP = 12;
const BAR_TEXT = 56;
const NAN_BOX = 22; // room under the colour bar for the NaN swatch
const HIGHLIGHT = "#ff9f1c";
const LABEL_GAP = 3; // pixels of air between two drawn labels' boxes

/**
 * The plot box a matrix is fitted in: `plot` (a number of CSS pixels, or [width, height]), else PLOT.
 * @param {any} plot
 * @returns {{width: number, height: number}}
 */
export function plotSize(plot) {
  const ok = (v) => typeof v === "number" && Number.isFinite(v) && v >= 16;
  if (ok(plot)) return { width: plot, height: plot };
  if (Array.isArray(plot) && plot.length === 2 && ok(plot[0]) && ok(plot[1])) {
    return { width: plot[0], height: plot[1] };
  }
  return { width: PLOT, height: PLOT };
}

// one store of held frames per view element: a repaint that renders the view again in the same
// element (a theme change) keeps what the page holds
const STORES = new WeakMap();

/**
 * Render a matrix view.
 * @param {{model: any, el: HTMLElement}} ctx
 * @param {{viewClass: string, zoom: boolean, save?: boolean}} options
 *   `save: false` leaves out the toolbar's own save button (the caller adds its own)
 * @returns {() => void} cleanup
 */
export function renderMatrix({ model, el }, { viewClass, zoom, save: withSave = true }) {
  el.classList.add("aw-view", viewClass);
  const toolbar = make("div", "aw-toolbar");
  const title = make("div", "aw-title aw-matrix-title");
  const cmap = colormapSelect(model);
  const scale = traitSelect(model, "scale", ["linear", "log"], "colour scale");
  // a model that counts frames (_frame_version) redraws a zoomed region: a kernel computes it, a
  // standalone page cuts it from the frame it holds (an older page's model counts none: no zoom)
  const live = model.get("_frame_version") !== undefined;
  const canZoom = zoom && live;
  const range = rangeSelect(model);
  const canvas = /** @type {HTMLCanvasElement} */ (make("canvas", "aw-canvas"));
  const reset = make("button", "aw-reset", "reset zoom");
  const save = withSave ? [saveButton(() => canvas, () => `${viewClass.slice(3)}.png`)] : [];
  toolbar.append(cmap.node, scale.node, ...(range ? [range.node] : []), ...(canZoom ? [reset] : []), ...save);
  const error = make("div", "aw-error");
  const caption = make("div", "aw-caption");
  const tooltip = make("div", "aw-tooltip");
  const wrap = make("div");
  wrap.style.position = "relative";
  wrap.append(canvas, tooltip);
  el.append(title, toolbar, wrap, caption, error);

  const dpr = Math.max(1, Math.round(globalThis.devicePixelRatio || 1));
  let width = 0;
  let height = 0;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));

  // the canvas hugs the matrix: a wide, short frame gets a short canvas
  let left = MARGIN;
  let bottom = MARGIN;
  function resize(plotW, plotH) {
    const w = Math.ceil(left + plotW + BAR_GAP + BAR_W + BAR_TEXT);
    const h = Math.ceil(TOP + Math.max(plotH + bottom, plotH + NAN_BOX + 8));
    if (w === width && h === height) return;
    width = w;
    height = h;
    canvas.width = w * dpr;
    canvas.height = h * dpr;
    canvas.style.width = `${w}px`;
    canvas.style.height = `${h}px`;
  }
  resize(PLOT, PLOT); // until the first frame says its size

  /** @type {{codes: Uint8Array, rows: number, cols: number} | null} */
  let frame = null;
  let meta = /** @type {any} */ ({});
  let rowLabels = /** @type {string[]} */ ([]);
  let colLabels = /** @type {string[]} */ ([]);
  let layout = null;
  let image = null; // the frame coloured, at one pixel per cell
  let hasNaN = false;
  let outline = null; // edges around the significant cells of a difference map (js/outline.js)
  let drag = null; // {x0, y0, x1, y1} while dragging a zoom box
  let requestId = 0;
  let dirty = true; // the model changed since the last read
  let seen = null; // the header last read (a standalone page has no _frame_version)
  let pageVersion = 0;
  let pointer = null; // {x, y} over the canvas, or null
  const tip = tooltipMachine();
  const newStore = !STORES.has(el);
  if (newStore) STORES.set(el, heldFrames());
  const store = STORES.get(el);
  let drawn = null; // what read() picked last (js/prefetch.js pickFrame)
  let drawnKey = null; // the key of the frame drawn (null: a frame without one)
  let lastWant = null; // the selection's key when the view last looked (to count changes made in the page)
  let recolour = false; // the colormap changed: the same frame is coloured again
  let scratch = null; // {off, data, rows, cols}: the frame coloured at one pixel per cell
  let bar = null; // {canvas, key}: the colour bar's image for a colormap and height
  const rooms = new WeakMap(); // labels -> the pixels their longest needs (labels of heads and steps repeat)

  /** Hold the frame the kernel shows now (once per frame sent: the kernel's ledger puts it once too). */
  function holdKernelFrame() {
    const m = model.get("_frame_meta");
    const k = model.get("_frame_key");
    const v = model.get("_frame_version");
    // the version held is the store's: a view drawn again in the same element (a theme change) holds
    // the kernel's frame once, as the kernel's ledger does
    if (!m || !k || !Array.isArray(k.key) || m.error || v === store.shownVersion) return;
    store.shownVersion = v;
    const held = model.get("_held");
    if (held) store.setBudget(held.budget);
    let f = null;
    try {
      f = decodeFrame(model.get("_frame"), m);
    } catch (e) {
      return; // read() says what is wrong
    }
    const labels = model.get("_labels") || {};
    store.put(k.key, f.codes, m, k.labels, { rows: labels.rows || [], cols: labels.cols || [] });
    el.dataset.kernelKey = keyText(k.key);
    showHeld();
  }

  /** A frame the kernel sent ahead ({type: "held"} and its codes). */
  function holdSent(msg, buffers) {
    if (!Array.isArray(msg.key) || !buffers || !buffers.length || !msg.meta) return;
    let codes;
    try {
      codes = decodeFrame(buffers[0], msg.meta).codes;
    } catch (e) {
      return; // not a frame this view can draw: not held (asked for, the kernel's answer says why)
    }
    store.put(msg.key, codes, msg.meta, msg.labels_key, msg.labels);
    showHeld();
    // a change made in the page that missed may be waiting for just this frame
    const k = model.get("_frame_key");
    const view = model.get("_held");
    if (view && k && Array.isArray(k.key) && wantedKey(model, view.traits, k.key[0]) === keyText(msg.key)) {
      changed();
    }
  }

  function showHeld() {
    el.dataset.heldFrames = String(store.size());
    el.dataset.heldBytes = String(store.bytes());
  }

  /** Count a change made in the page: its frame was held (a hit) or not (a miss). */
  function count(pick) {
    const view = model.get("_held");
    const k = model.get("_frame_key");
    if (!view || !k || !Array.isArray(k.key) || !Array.isArray(view.traits)) return;
    const want = wantedKey(model, view.traits, k.key[0]);
    if (want === lastWant) return;
    lastWant = want;
    if (pick && pick.source === "held") store.counts.hits += 1;
    else if (!pick) store.counts.misses += 1;
    el.dataset.heldHits = String(store.counts.hits);
    el.dataset.heldMisses = String(store.counts.misses);
  }

  /** Read what to draw; false when it is the frame drawn already (nothing new to draw), null when
   * the selection changed in the page and nothing held is for it (the kernel's answer will be). */
  function read() {
    holdKernelFrame();
    const kernelMeta = model.get("_frame_meta") || {};
    if (kernelMeta !== seen) pageVersion += 1;
    seen = kernelMeta;
    let pick = pickFrame(model, store);
    count(pick);
    if (!pick && !drawn) pick = { source: "kernel", key: null }; // nothing drawn yet
    // changed in the page and nothing held for it: the frame drawn stays until the kernel's answer
    if (!pick && !recolour) return null;
    if (!pick) pick = drawn;
    if (pick.key !== null && pick.key === drawnKey && !recolour) return false; // the same frame
    recolour = false;
    drawn = pick;
    drawnKey = pick.key;
    el.dataset.drawn = pick.source;
    meta = pick.source === "held" ? pick.entry.meta : kernelMeta;
    // labels travel in their own trait, sent only when they change; a
    // standalone page (to_html) keeps them in the frame header instead
    const labels = pick.source === "held" ? pick.entry.labels : model.get("_labels") || {};
    rowLabels = meta.row_labels || labels.rows || [];
    colLabels = meta.col_labels || labels.cols || [];
    frame = null;
    image = null;
    error.textContent = "";
    if (meta.error) {
      error.textContent = meta.error;
      return true;
    }
    try {
      frame = decodeFrame(pick.source === "held" ? pick.entry.codes : model.get("_frame"), meta);
    } catch (e) {
      error.textContent = String(e.message || e);
    }
    if (frame && frame.rows > 0) {
      // one scratch canvas and image while the shape holds: a change of head or step allocates nothing
      if (!scratch || scratch.rows !== frame.rows || scratch.cols !== frame.cols) {
        const off = new OffscreenCanvasOr(frame.cols, frame.rows);
        scratch = { off, data: off.ctx.createImageData(frame.cols, frame.rows), rows: frame.rows, cols: frame.cols };
      }
      colorize(frame.codes, lut(model.get("colormap")), scratch.data.data);
      scratch.off.ctx.putImageData(scratch.data, 0, 0);
      image = scratch.off.canvas;
      hasNaN = frame.codes.includes(NAN_CODE);
    }
    outline = null;
    if (frame && frame.rows > 0 && typeof meta.outline === "string") {
      try {
        outline = outlineEdges(unpackBits(meta.outline, frame.rows * frame.cols), frame.rows, frame.cols);
      } catch (e) {
        error.textContent = String(e.message || e);
      }
    }
    return true;
  }

  /** The version of the frame drawn: its key, else the kernel's count, or the page's own. */
  function version() {
    if (drawnKey !== null) return drawnKey;
    const v = model.get("_frame_version");
    return v === undefined || v === null ? `page:${pageVersion}` : v;
  }

  function paint() {
    let fresh = false;
    if (dirty) {
      fresh = read();
      dirty = false;
    }
    const asked = repaint;
    repaint = false;
    // a miss and nothing else to show: the pixels drawn stay as they are until the kernel's frame
    // comes. Redrawing them cost 6 ms of the click's task, and the page's next render with them
    if (fresh === null && !asked) return;
    setText(title, meta.title || "");
    if (title.title !== (meta.title || "")) title.title = meta.title || "";
    setText(caption, meta.caption || "");
    const shown = meta.caption ? "" : "none";
    if (caption.style.display !== shown) caption.style.display = shown;
    cmap.sync();
    scale.sync();
    if (range) range.sync();
    if (!frame || frame.rows === 0) {
      layout = null;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, width, height);
      if (fresh) hover(null, { type: "frame", version: version(), rows: 0, cols: 0 });
      markPainted(el, [0, 0]);
      return;
    }
    left = labelRoom(rowLabels) + 18;
    bottom = labelRoom(colLabels) + 22;
    const plot = plotSize(meta.plot ?? model.get("_plot"));
    layout = fitMatrix(frame.rows, frame.cols, { x: left, y: TOP, ...plot });
    resize(layout.width, layout.height);
    if (fresh) {
      // a new frame: the tooltip follows it at once, where the pointer rests
      const event = { type: "frame", version: version(), rows: frame.rows, cols: frame.cols };
      hover(pointer ? cellAt(layout, pointer.x, pointer.y) : null, event);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(image, layout.x, layout.y, layout.width, layout.height);
    canvas.dataset.plot = [layout.x, layout.y, layout.width, layout.height].map((v) => Math.round(v)).join(",");
    canvas.dataset.outline = outline ? String(outline.length) : "";
    if (outline) strokeOutline(ctx, outline, layout);
    const ink = textColor(); // one style read per paint
    drawLabels(ink);
    drawPinned();
    drawHover();
    drawColorbar(lut(model.get("colormap")), ink);
    if (drag) drawDrag();
    if (fresh) markPainted(el, [frame.rows, frame.cols]);
  }

  /** Pixels the longest (clipped) label needs, at most MARGIN. */
  function labelRoom(labels) {
    const known = labels && rooms.get(labels);
    if (known !== undefined) return known;
    ctx.font = "11px sans-serif";
    let most = 0;
    for (const text of labels || []) most = Math.max(most, ctx.measureText(clip(text, LABEL_CHARS)).width);
    const room = Math.min(MARGIN, Math.ceil(most) + 6);
    if (labels) rooms.set(labels, room);
    return room;
  }

  function textColor() {
    return getComputedStyle(el).color || "#222";
  }

  function drawRowLabel(i) {
    ctx.fillText(clip(rowLabels[i], LABEL_CHARS), layout.x - 4, layout.y + (i + 0.5) * layout.cellH);
  }

  function drawColLabel(j) {
    ctx.save();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.translate(layout.x + (j + 0.5) * layout.cellW, layout.y + layout.height + 4);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(clip(colLabels[j], LABEL_CHARS), 0, 0);
    ctx.restore();
  }

  /** Pixels a label's text is tall at the labels' font (what two drawn labels must not share). */
  function labelHeight() {
    const m = ctx.measureText("0Ag");
    const h = (m.fontBoundingBoxAscent ?? 0) + (m.fontBoundingBoxDescent ?? 0);
    return h > 0 ? Math.ceil(h) : 13;
  }

  /** @param {string} ink the labels' colour (the view's text colour) */
  function drawLabels(ink) {
    ctx.fillStyle = ink;
    ctx.font = "11px sans-serif";
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const size = labelHeight();
    const gap = size + LABEL_GAP;
    const cell = tip.view();
    const rows = thinLabels(rowLabels.length, layout.height, gap);
    const cols = thinLabels(colLabels.length, layout.width, gap);
    // the hovered row's label is drawn bold over the rest: the labels it would touch step aside
    const drawnRows = rows.filter((i) => !cell || Math.abs(i - cell.row) * layout.cellH >= gap);
    const drawnCols = cols.filter((j) => !cell || Math.abs(j - cell.col) * layout.cellW >= gap);
    for (const i of drawnRows) drawRowLabel(i);
    for (const j of drawnCols) drawColLabel(j);
    canvas.dataset.rowLabels = JSON.stringify(labelBoxes(drawnRows, layout.y, layout.cellH, size));
    canvas.dataset.colLabels = JSON.stringify(labelBoxes(drawnCols, layout.x, layout.cellW, size));
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

  /** The hovered row and column: outlined on the matrix, their labels drawn bold in the highlight colour. */
  function drawHover() {
    const cell = tip.view();
    canvas.dataset.hover = cell ? `${cell.row},${cell.col}` : "";
    if (!cell) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = HIGHLIGHT;
    ctx.strokeRect(layout.x, layout.y + cell.row * layout.cellH, layout.width, layout.cellH);
    ctx.strokeRect(layout.x + cell.col * layout.cellW, layout.y, layout.cellW, layout.height);
    ctx.fillStyle = HIGHLIGHT;
    ctx.font = "bold 11px sans-serif";
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    if (cell.row < rowLabels.length) drawRowLabel(cell.row);
    if (cell.col < colLabels.length) drawColLabel(cell.col);
    ctx.font = "11px sans-serif";
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

  /**
   * @param {Uint8Array} table the colormap's table
   * @param {string} ink the ticks' colour (the view's text colour)
   */
  function drawColorbar(table, ink) {
    const x = layout.x + layout.width + BAR_GAP;
    const barH = Math.max(2, Math.round(layout.height));
    const key = `${model.get("colormap")}:${barH}`;
    if (!bar || bar.key !== key) {
      const off = new OffscreenCanvasOr(1, barH);
      const data = off.ctx.createImageData(1, barH);
      colorize(colorbarCodes(barH), table, data.data);
      off.ctx.putImageData(data, 0, 0);
      bar = { canvas: off.canvas, key };
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(bar.canvas, x, layout.y, BAR_W, barH);
    ctx.fillStyle = ink;
    ctx.strokeStyle = ink;
    ctx.lineWidth = 1;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    const ticks = colorbarTicks(meta.vmin, meta.vmax, meta.scale, 5, { height: barH, minGap: 13 });
    canvas.dataset.ticks = ticks.map((t) => t.label).join("|");
    for (const tick of ticks) {
      const y = layout.y + tick.at * (barH - 1);
      ctx.font = tick.end ? "bold 11px sans-serif" : "11px sans-serif";
      ctx.beginPath();
      ctx.moveTo(x + BAR_W, Math.round(y) + 0.5);
      ctx.lineTo(x + BAR_W + (tick.end ? 4 : 3), Math.round(y) + 0.5);
      ctx.stroke();
      ctx.fillText(tick.label, x + BAR_W + 6, y);
    }
    ctx.font = "11px sans-serif";
    // where the colour range is not the frame's own, its min and max are marked on the bar
    if (meta.color_range && meta.color_range !== "frame" && meta.data_min != null) {
      for (const v of [meta.data_min, meta.data_max]) {
        const y = layout.y + barPosition(v, meta.vmin, meta.vmax, meta.scale) * (barH - 1);
        ctx.beginPath();
        ctx.moveTo(x - 1, y);
        ctx.lineTo(x - 6, y - 4);
        ctx.lineTo(x - 6, y + 4);
        ctx.closePath();
        ctx.fill();
      }
    }
    // NaN has its own colour (code 255), shown under the bar when the frame has some
    if (hasNaN) {
      const y = layout.y + barH + 6;
      ctx.fillStyle = `rgb(${table[NAN_CODE * 3]},${table[NAN_CODE * 3 + 1]},${table[NAN_CODE * 3 + 2]})`;
      ctx.fillRect(x, y, BAR_W, 10);
      ctx.fillStyle = ink;
      ctx.fillText("NaN", x + BAR_W + 6, y + 5);
    }
  }

  function drawDrag() {
    ctx.strokeStyle = "#fff";
    ctx.setLineDash([4, 3]);
    ctx.strokeRect(Math.min(drag.x0, drag.x1), Math.min(drag.y0, drag.y1),
      Math.abs(drag.x1 - drag.x0), Math.abs(drag.y1 - drag.y0));
    ctx.setLineDash([]);
  }

  const request = drawScheduler(paint);
  let repaint = true; // something other than the selection asked for a paint since the last one
  const schedule = () => { repaint = true; request(); };
  const changed = () => { dirty = true; schedule(); };
  const selected = () => { dirty = true; request(); }; // the selection changed: a miss draws nothing new

  // ---------------------------------------------------------------- tooltip
  /** Tell the tooltip machine where the pointer is (a cell or null), send what it asks, show it. */
  function hover(hit, event) {
    const asked = [];
    if (event) asked.push(tip.dispatch(event).request);
    asked.push(tip.dispatch(hit ? { type: "move", row: hit.row, col: hit.col } : { type: "leave" }).request);
    // the row of the frame drawn, named by its key: the kernel answers for that frame whatever it shows now
    const key = drawnKey !== null ? { key: JSON.parse(drawnKey) } : {};
    for (const request of asked) if (request) model.send({ type: "row", row: request.row, id: request.id, ...key });
    showTooltip();
  }

  function showTooltip() {
    const cell = tip.view();
    tooltip.dataset.status = cell ? cell.status : "hidden";
    if (!cell || !frame || !layout || !pointer) {
      tooltip.style.display = "none";
      tooltip.dataset.cell = "";
      return;
    }
    const value = valueLine(cell, frame.codes, frame.cols, meta);
    const where = meta.where || {};
    const at = [
      where.layer != null ? `layer ${where.layer}` : null,
      where.head != null ? `head ${where.head}` : null,
      where.step != null ? `step ${where.step}` : null,
    ].filter(Boolean).join(" · ");
    tooltip.textContent = `${meta.row_axis || "row"}: ${axisText("query", cell.row, rowLabels)}\n`
      + `${meta.col_axis || "column"}: ${axisText("key", cell.col, colLabels)}\n`
      + value + (at ? `\n${at}` : "");
    tooltip.dataset.cell = `${cell.row},${cell.col}`;
    tooltip.dataset.version = String(version());
    tooltip.style.display = "block";
    tooltip.style.left = `${pointer.x + 14}px`;
    tooltip.style.top = `${pointer.y + 10}px`;
  }

  /** A row or column as the tooltip names it: its label and, at full resolution, its index. */
  function axisText(axis, cell, labels) {
    const label = labels[cell] ?? String(cell);
    const block = meta.block || [1, 1];
    if ((axis === "query" ? block[0] : block[1]) !== 1 || !meta.region) return label;
    const index = cellToIndex(meta, axis, cell);
    return label === String(index) ? label : `${label} (${index})`;
  }

  function onRowReply(msg, buffers) {
    if (msg.type === "ok" && buffers && buffers.length) {
      let values = null;
      try {
        values = toFloats(buffers[0]);
      } catch (e) {
        tip.dispatch({ type: "error", id: msg.id });
      }
      const v = Array.isArray(msg.key) ? keyText(msg.key) : msg.version;
      if (values) tip.dispatch({ type: "reply", id: msg.id, row: msg.row, version: v, values });
    } else {
      tip.dispatch({ type: "error", id: msg.id });
    }
    showTooltip();
    schedule();
  }

  // ---------------------------------------------------------------- pointer
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
    pointer = p;
    if (drag) {
      drag.x1 = p.x;
      drag.y1 = p.y;
    }
    const before = canvas.dataset.hover || "";
    hover(layout && frame ? cellAt(layout, p.x, p.y) : null);
    const cell = tip.view();
    if (drag || before !== (cell ? `${cell.row},${cell.col}` : "")) schedule();
  }

  function onLeave() {
    pointer = null;
    hover(null);
    schedule();
  }

  function onDown(event) {
    if (!canZoom || !layout) return;
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
    if (!canZoom || !layout || !frame) return;
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

  function onMessage(msg, buffers) {
    if (!msg) return;
    if (typeof msg.id === "string" && msg.id.startsWith("row:")) {
      onRowReply(msg, buffers);
      return;
    }
    if (msg.type === "held") {
      holdSent(msg, buffers);
      return;
    }
    if (msg.type === "error") error.textContent = msg.message;
  }

  canvas.addEventListener("mousemove", onMove);
  canvas.addEventListener("mouseleave", onLeave);
  canvas.addEventListener("mousedown", onDown);
  canvas.addEventListener("mouseup", onUp);
  canvas.addEventListener("wheel", onWheel, { passive: false });
  canvas.addEventListener("dblclick", () => canZoom && sendZoom(null));
  reset.addEventListener("click", () => sendZoom(null));
  const held = model.get("_held");
  // the selection and what else shapes the frame: a change made in the page may find its frame held
  const selection = held && Array.isArray(held.traits) ? held.traits.map((n) => `change:${n}`).join(" ") : "";
  const events = "change:_frame change:_frame_meta change:_labels change:_frame_version change:_frame_key "
    + "change:scale change:color_range change:_range_in_toolbar change:_plot";
  const onColormap = () => { recolour = true; changed(); };
  on(model, events, changed);
  if (selection) on(model, selection, selected);
  on(model, "change:_frame_version", holdKernelFrame); // at once: the page's ledger follows the kernel's
  on(model, "change:colormap", onColormap);
  on(model, "change:pinned", schedule);
  on(model, "msg:custom", onMessage);
  paint();
  if (newStore && live && held) {
    // a new store holds the frame shown and nothing else: the kernel's ledger starts again there
    requestId += 1;
    model.send({ type: "held", what: "reset", id: requestId });
  }
  return () => {
    off(model, events, changed);
    if (selection) off(model, selection, selected);
    off(model, "change:_frame_version", holdKernelFrame);
    off(model, "change:colormap", onColormap);
    off(model, "change:pinned", schedule);
    off(model, "msg:custom", onMessage);
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
