// Heatmap view: one query x key attention matrix (see js/matrix.js).
import { renderMatrix } from "./matrix.js";

export default {
  /** @param {{model: any, el: HTMLElement}} ctx */
  render(ctx) {
    return renderMatrix(ctx, { viewClass: "aw-heatmap", zoom: true });
  },
};
