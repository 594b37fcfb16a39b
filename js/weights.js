// Weights view: the matrix of a tapped weights site (samples x layers,
// layers x time, groups x layers ...); drawn like the heatmap, without zoom.
import { renderMatrixView } from "./heatmap.js";

export default {
  /** @param {{model: any, el: HTMLElement}} ctx */
  render(ctx) {
    return renderMatrixView(ctx, { viewClass: "aw-weights", zoom: false });
  },
};
