// Heatmap view: one query x key attention matrix (see js/matrix.js), with the
// kernel's save button, arrow keys for layer, head and step, and a repaint
// when JupyterLab's theme changes (see js/toolbar.js). An explorer's head
// dropdown, linked in the page to `_head_index`, sets the head here (followHeadIndex).
import { renderMatrix } from "./matrix.js";
import { headAt, pickedInPage } from "./prefetch.js";
import { arrowKeys, kernelSave, onThemeChange } from "./toolbar.js";
import { off, on } from "./ui.js";

/**
 * A matrix view with the entry modules' additions; shared by heatmap.js and weights.js.
 * @param {{model: any, el: HTMLElement}} ctx
 * @param {{viewClass: string, zoom: boolean}} options
 * @returns {() => void} cleanup
 */
export function renderMatrixView(ctx, options) {
  const { model, el } = ctx;
  let drawn = null;
  let save = null;
  const onMessage = (msg) => save && save.onMessage(msg);
  function draw() {
    if (drawn) drawn();
    el.replaceChildren();
    drawn = renderMatrix(ctx, { ...options, save: false }); // the kernel's save button instead
    save = kernelSave(model, el);
  }
  draw();
  on(model, "msg:custom", onMessage);
  const keys = arrowKeys(model, el);
  const theme = onThemeChange(draw);
  return () => {
    theme();
    keys();
    off(model, "msg:custom", onMessage);
    if (drawn) drawn();
  };
}

/**
 * An explorer's head dropdown, linked in the page to `_head_index` (ipywidgets.jsdlink: a dropdown
 * syncs its index, not its value): a pick made there sets `head` in the page, as a thumbnail click
 * does, so a held frame is drawn at once. The link saves `_head_index` with the head in one message.
 * An index the kernel set (it sends the head itself) is not applied.
 * @param {any} model
 * @returns {() => void} cleanup
 */
export function followHeadIndex(model) {
  const onIndex = () => {
    if (!pickedInPage(globalThis.event)) return;
    const head = headAt(model.get("_head_index"));
    if (head !== null && head !== model.get("head")) model.set("head", head);
  };
  on(model, "change:_head_index", onIndex);
  return () => off(model, "change:_head_index", onIndex);
}

export default {
  /** @param {{model: any, el: HTMLElement}} ctx */
  render(ctx) {
    const heads = followHeadIndex(ctx.model);
    const view = renderMatrixView(ctx, { viewClass: "aw-heatmap", zoom: true });
    return () => {
      heads();
      view();
    };
  },
};
