// Small DOM helpers shared by the views. Every string from the kernel goes
// in through textContent or canvas fillText: token strings are text, not HTML.
// The views' styles are attnwidget/static/explorer.css (anywidget `_css`), not set here.

import { COLORMAPS } from "./colormaps.js";

/**
 * Create an element with classes and optional text.
 * @param {string} tag
 * @param {string} [cls]
 * @param {string} [text]
 * @returns {HTMLElement}
 */
export function make(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text != null) node.textContent = String(text);
  return node;
}

/**
 * Set a node's text only where it differs: writing the same text again replaces the text node,
 * and the page lays the node out again (each hover repaint did, for the title and caption).
 * @param {HTMLElement} node
 * @param {string} text
 */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/**
 * A <select> bound to a model trait.
 * @param {any} model anywidget model
 * @param {string} trait
 * @param {string[]} choices
 * @param {string} title tooltip
 * @param {Object<string, string>} [labels] what each choice says (default: its value)
 * @returns {{node: HTMLSelectElement, sync: () => void}}
 */
export function traitSelect(model, trait, choices, title, labels = {}) {
  const node = /** @type {HTMLSelectElement} */ (make("select", `aw-${trait.replace(/_/g, "-")}`));
  node.title = title;
  for (const c of choices) {
    const opt = /** @type {HTMLOptionElement} */ (make("option", "", labels[c] ?? c));
    opt.value = c;
    node.appendChild(opt);
  }
  const sync = () => { node.value = model.get(trait); };
  node.addEventListener("change", () => { model.set(trait, node.value); model.save_changes(); });
  sync();
  return { node, sync };
}

/**
 * The colormap chooser.
 * @param {any} model
 */
export function colormapSelect(model) {
  return traitSelect(model, "colormap", COLORMAPS, "colormap");
}

/** What the colour-range choices say in a toolbar (short: the toolbar stays on one line). */
export const RANGE_LABELS = { frame: "range: frame", fixed: "range: 0–1", shared: "range: shared" };

/**
 * Whether a view offers its own colour-range choice: where its model counts frames
 * (`_frame_version`: a kernel's, or a standalone page's, which re-codes the frames it holds),
 * and not where an explorer puts the one choice for all its views elsewhere (it sets
 * `_range_in_toolbar` false: on the overlay, whose matrix's toolbar has it).
 * @param {any} model
 * @returns {boolean}
 */
export function ownsRange(model) {
  return model.get("_frame_version") !== undefined && model.get("color_range") !== undefined
    && model.get("_range_in_toolbar") !== false;
}

/**
 * The colour-range chooser of a view's toolbar (`select.aw-color-range`), or null where a
 * kernel never computes new frames; hidden while the view is in an explorer ({@link ownsRange}).
 * `sync()` shows the trait's value and hides or shows the chooser.
 * @param {any} model
 * @returns {{node: HTMLSelectElement, sync: () => void} | null}
 */
export function rangeSelect(model) {
  if (model.get("_frame_version") === undefined || model.get("color_range") === undefined) return null;
  const select = traitSelect(model, "color_range", Object.keys(RANGE_LABELS),
    "colour range: this frame's min..max, fixed 0..1, or one range shared by every head and step of the site",
    RANGE_LABELS);
  const sync = () => {
    select.sync();
    select.node.style.display = ownsRange(model) ? "" : "none";
  };
  sync();
  return { node: select.node, sync };
}

/**
 * A button that downloads a canvas as PNG (what is on screen).
 * @param {() => HTMLCanvasElement} canvas
 * @param {() => string} filename
 * @returns {HTMLButtonElement}
 */
export function saveButton(canvas, filename) {
  const button = /** @type {HTMLButtonElement} */ (make("button", "aw-save", "save PNG"));
  button.title = "download the picture as PNG";
  button.addEventListener("click", () => {
    const a = /** @type {HTMLAnchorElement} */ (make("a"));
    a.href = canvas().toDataURL("image/png");
    a.download = filename();
    document.body.appendChild(a);
    a.click();
    a.remove();
  });
  return button;
}

/**
 * Listen to one or more model events given as a space-separated string, one name at a time
 * (some front ends, marimo among them, take a single event name per call).
 * @param {any} model
 * @param {string} events
 * @param {(...args: any[]) => void} fn
 */
export function on(model, events, fn) {
  for (const name of events.split(/\s+/).filter(Boolean)) model.on(name, fn);
}

/** Stop listening to the events :func:`on` subscribed. */
export function off(model, events, fn) {
  for (const name of events.split(/\s+/).filter(Boolean)) model.off(name, fn);
}

/**
 * Schedule `fn` once per animation frame however often it is asked for.
 * @param {() => void} fn
 * @returns {() => void}
 */
export function coalesce(fn) {
  let pending = false;
  const raf = typeof requestAnimationFrame === "function" ? requestAnimationFrame : (f) => setTimeout(f, 0);
  return () => {
    if (pending) return;
    pending = true;
    raf(() => { pending = false; fn(); });
  };
}

/**
 * Schedule repaints: the first request draws at once (in a microtask, so the
 * several change events of one model update give one draw, with all the new
 * values in place); requests after that draw, within the same animation
 * frame, are coalesced into one draw at the next frame. A quiet view thus
 * repaints without waiting up to a frame, and a burst still paints at most
 * once per frame (plus the first).
 *
 * States: "idle" (nothing pending), "soon" (microtask draw pending), "drawn"
 * (drew during this frame; a frame callback will clear it), "queued" (a draw
 * waits for that frame callback).
 * @param {() => void} fn the repaint
 * @param {{micro?: (f: () => void) => void, frame?: (f: () => void) => void}} [timers]
 *   how to run a microtask and an animation-frame callback (for tests)
 * @returns {(() => void) & {state: () => string}} request a repaint
 */
export function drawScheduler(fn, timers = {}) {
  const micro = timers.micro
    || (typeof queueMicrotask === "function" ? queueMicrotask : (f) => Promise.resolve().then(f));
  const frame = timers.frame
    || (typeof requestAnimationFrame === "function" ? requestAnimationFrame : (f) => setTimeout(f, 16));
  let state = "idle";
  const draw = () => {
    state = "drawn";
    frame(onFrame); // before fn: a throwing repaint must not leave the scheduler stuck
    fn();
  };
  function onFrame() {
    if (state === "queued") draw();
    else state = "idle";
  }
  const request = () => {
    if (state === "idle") {
      state = "soon";
      micro(() => { if (state === "soon") draw(); });
    } else if (state === "drawn") {
      state = "queued";
    }
    // "soon" or "queued": a draw is already pending, it will show the latest state
  };
  request.state = () => state;
  return request;
}

/**
 * Mark a repaint on the root element (browser tests wait on data-frame-version).
 * @param {HTMLElement} el
 * @param {number[]} [shape]
 */
export function markPainted(el, shape) {
  el.dataset.frameVersion = String(Number(el.dataset.frameVersion || 0) + 1);
  if (shape) el.dataset.shape = shape.join(",");
}

/**
 * The tooltip's state machine: what it shows follows the cell under the pointer and
 * the frame drawn, never an older frame. Pure: the view feeds it events and does
 * what it returns (send a row request, redraw the tooltip).
 *
 * State: `cell` (the hovered displayed cell, or null), `version` (the frame drawn),
 * `shape`, `values` (the exact float32 values of one row of one frame version, or
 * null), `asked` (the row request in flight: row, version, id), `failed` (the
 * version the kernel could not answer for, as a standalone page never can: the
 * tooltip then shows the colour code's value, marked ≈, until the next frame).
 *
 * Events: `{type: "frame", version, rows, cols}` a new frame is drawn;
 * `{type: "move", row, col}` the pointer is over a cell; `{type: "leave"}`;
 * `{type: "reply", id, row, version, values}` the kernel sent a row;
 * `{type: "error", id}` the kernel could not.
 * @returns {{state: any, dispatch: (event: any) => {request: {row: number, id: string} | null}, view: () => any}}
 */
export function tooltipMachine() {
  const state = { cell: null, version: null, shape: [0, 0], values: null, asked: null, failed: undefined, next: 0 };
  const wanted = () => {
    const c = state.cell;
    if (!c || state.failed === state.version) return null;
    if (state.values && state.values.row === c.row && state.values.version === state.version) return null;
    if (state.asked && state.asked.row === c.row && state.asked.version === state.version) return null;
    state.next += 1;
    state.asked = { row: c.row, version: state.version, id: `row:${state.next}` };
    return { row: c.row, id: state.asked.id };
  };
  const dispatch = (event) => {
    switch (event.type) {
      case "frame": {
        const changed = event.version !== state.version;
        state.version = event.version;
        state.shape = [event.rows, event.cols];
        if (changed) state.values = null;
        const c = state.cell;
        if (c && (c.row >= event.rows || c.col >= event.cols)) state.cell = null;
        break;
      }
      case "move":
        state.cell = event.row == null ? null : { row: event.row, col: event.col };
        break;
      case "leave":
        state.cell = null;
        break;
      case "reply":
        if (state.asked && state.asked.id === event.id) state.asked = null;
        // a row of the frame drawn is kept, whichever request it answers; older frames' are dropped
        if (event.version === state.version && event.values) {
          state.values = { row: event.row, version: event.version, values: event.values };
        }
        break;
      case "error":
        if (state.asked && state.asked.id === event.id) {
          state.failed = state.asked.version;
          state.asked = null;
        }
        break;
      default:
        throw new Error(`unknown tooltip event ${JSON.stringify(event.type)}`);
    }
    return { request: wanted() };
  };
  /**
   * What to show: null (hidden), or the cell with its exact value (a number, NaN included),
   * `pending` while it is on its way, or `approximate` where no exact value can come.
   */
  const view = () => {
    const c = state.cell;
    if (!c) return null;
    const v = state.values;
    if (v && v.row === c.row && v.version === state.version && c.col < v.values.length) {
      return { row: c.row, col: c.col, value: v.values[c.col], status: "exact" };
    }
    const status = state.failed === state.version ? "approximate" : "pending";
    return { row: c.row, col: c.col, value: null, status };
  };
  return { state, dispatch, view };
}
