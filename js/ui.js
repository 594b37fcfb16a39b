// Small DOM helpers shared by the views. Every string from the kernel goes
// in through textContent or canvas fillText: token strings are text, not HTML.

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
 * A <select> bound to a model trait.
 * @param {any} model anywidget model
 * @param {string} trait
 * @param {string[]} choices
 * @param {string} title tooltip
 * @returns {{node: HTMLSelectElement, sync: () => void}}
 */
export function traitSelect(model, trait, choices, title) {
  const node = /** @type {HTMLSelectElement} */ (make("select", `aw-${trait}`));
  node.title = title;
  for (const c of choices) {
    const opt = /** @type {HTMLOptionElement} */ (make("option", "", c));
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

/** Styles shared by the views, added once per document. */
const CSS = `
.aw-view { font: 12px sans-serif; color: var(--jp-ui-font-color1, #222); position: relative; display: inline-block; }
.aw-toolbar { display: flex; gap: 6px; align-items: center; margin-bottom: 4px; flex-wrap: wrap; }
.aw-title { font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 420px; }
.aw-tooltip { position: absolute; pointer-events: none; background: rgba(20,20,20,.85); color: #fff; padding: 3px 6px;
  border-radius: 3px; white-space: pre; display: none; z-index: 10; font: 11px monospace; }
.aw-error { color: #b00; white-space: pre-wrap; }
.aw-canvas { display: block; cursor: crosshair; }
.aw-thumbs { display: grid; gap: 4px; }
.aw-thumb-cell { display: flex; flex-direction: column; align-items: center; font-size: 10px; cursor: pointer; }
.aw-thumb { image-rendering: pixelated; border: 2px solid transparent; }
.aw-thumb.aw-selected { border-color: #e4572e; }
`;

/** Add the shared styles to the document once. */
export function addStyles() {
  if (document.getElementById("aw-styles")) return;
  const style = make("style", "", CSS);
  style.id = "aw-styles";
  document.head.appendChild(style);
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
