// What the entry modules add to a view: saving through the kernel (the same
// figure `view.save` writes), arrow keys that move layer, head and step while
// the widget has focus, and a repaint when JupyterLab's theme changes.
// Every string from the kernel goes in through textContent.

import { make } from "./ui.js";
import { pageMove } from "./prefetch.js";

/** DPIs the save button offers (the kernel refuses anything outside 50..600). */
export const DPIS = [100, 150, 300];

/**
 * The selection move a key press asks for, or null for a key the view leaves alone.
 * ←/→ head, ↑/↓ layer, shift+←/→ (or PageUp/PageDown) step.
 * @param {{key: string, shiftKey?: boolean, altKey?: boolean, ctrlKey?: boolean, metaKey?: boolean}} event
 * @returns {{what: "layer"|"head"|"step", by: 1|-1} | null}
 */
export function moveFor(event) {
  if (event.altKey || event.ctrlKey || event.metaKey) return null;
  const shift = Boolean(event.shiftKey);
  switch (event.key) {
    case "ArrowLeft": return { what: shift ? "step" : "head", by: -1 };
    case "ArrowRight": return { what: shift ? "step" : "head", by: 1 };
    case "ArrowUp": return shift ? null : { what: "layer", by: -1 };
    case "ArrowDown": return shift ? null : { what: "layer", by: 1 };
    case "PageUp": return { what: "step", by: -1 };
    case "PageDown": return { what: "step", by: 1 };
    default: return null;
  }
}

/**
 * Where the kernel's reply to a save says the figure went, as one line.
 * @param {{type: string, path?: string, message?: string}} reply
 * @returns {string}
 */
export function savedText(reply) {
  if (reply.type === "error") return `not saved: ${reply.message}`;
  return `saved ${reply.path}`;
}

/**
 * Replace the view's "save PNG" button (a screenshot of the canvas) by one that
 * asks the kernel to write the figure `view.save` writes, with a DPI choice and
 * a line saying where it went.
 * @param {any} model
 * @param {HTMLElement} el the view's root element
 * @returns {{onMessage: (msg: any) => boolean}} hands a kernel reply to the button; true when it was its
 */
export function kernelSave(model, el) {
  const button = /** @type {HTMLButtonElement} */ (make("button", "aw-save", "save PNG"));
  button.title = "write this figure (title, axes, colour bar) into the notebook's folder, through the kernel";
  const dpi = /** @type {HTMLSelectElement} */ (make("select", "aw-dpi"));
  dpi.title = "resolution of the saved PNG";
  for (const d of DPIS) {
    const opt = /** @type {HTMLOptionElement} */ (make("option", "", `${d} dpi`));
    opt.value = String(d);
    dpi.appendChild(opt);
  }
  dpi.value = "150";
  const status = make("div", "aw-status");
  const old = el.querySelector(".aw-save");
  const toolbar = el.querySelector(".aw-toolbar");
  if (old) old.replaceWith(dpi, button);
  else if (toolbar) toolbar.append(dpi, button);
  if (toolbar) toolbar.after(status);
  let pending = 0;
  button.addEventListener("click", () => {
    pending = Math.floor(Math.random() * 1e9) + 1;
    status.textContent = "saving…";
    model.send({ type: "save", id: pending, dpi: Number(dpi.value) });
  });
  return {
    onMessage(msg) {
      if (!msg || !pending || msg.id !== pending) return false;
      pending = 0;
      status.textContent = savedText(msg);
      status.classList.toggle("aw-status-error", msg.type === "error");
      return true;
    },
  };
}

/**
 * Arrow keys move the selection while the view has focus (it becomes focusable).
 * @param {any} model
 * @param {HTMLElement} el
 * @returns {() => void} cleanup
 */
export function arrowKeys(model, el) {
  el.tabIndex = 0;
  el.classList.add("aw-focusable");
  el.setAttribute("aria-label", "attention view: ←/→ head, ↑/↓ layer, shift+←/→ step");
  let id = 0;
  const onKey = (event) => {
    const target = /** @type {HTMLElement} */ (event.target);
    if (target && target !== el && /^(SELECT|INPUT|BUTTON|TEXTAREA)$/.test(target.tagName)) return;
    const move = moveFor(event);
    if (!move) return;
    event.preventDefault();
    event.stopPropagation(); // JupyterLab's own shortcuts (cell navigation) stay out of it
    // heads and steps move in the page, so a frame held there draws at once (js/prefetch.js);
    // layers, and views that hold no frames, ask the kernel
    const local = pageMove(model, move);
    if (local) {
      model.set(local.trait, local.value);
      model.save_changes();
      return;
    }
    id += 1;
    model.send({ type: "move", id: -id, ...move });
  };
  el.addEventListener("keydown", onKey);
  return () => el.removeEventListener("keydown", onKey);
}

/**
 * Call `fn` whenever JupyterLab switches between its light and dark themes
 * (canvas text takes its colour when it is drawn, so the view draws again).
 * @param {() => void} fn
 * @returns {() => void} cleanup
 */
export function onThemeChange(fn) {
  if (typeof MutationObserver !== "function" || typeof document === "undefined") return () => {};
  const observer = new MutationObserver(() => fn());
  observer.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
  return () => observer.disconnect();
}
