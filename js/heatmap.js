// Heatmap view: one query x key attention matrix (see js/matrix.js), with the
// kernel's save button, arrow keys for layer, head and step, and a repaint
// when JupyterLab's theme changes (see js/toolbar.js).
import { renderMatrix } from "./matrix.js";
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

export default {
  /** @param {{model: any, el: HTMLElement}} ctx */
  render(ctx) {
    return renderMatrixView(ctx, { viewClass: "aw-heatmap", zoom: true });
  },
};
