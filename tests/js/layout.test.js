// The entry modules' pure parts: arrow keys, save replies, the head grid's fit, the overlay's pixels,
// the matrix's plot box and which view offers the colour-range choice.
import { describe, expect, it } from "vitest";
import { gridFit } from "../../js/thumbs.js";
import { plotSize } from "../../js/matrix.js";
import { ownsRange, RANGE_LABELS } from "../../js/ui.js";
import { nearest, pictureSize } from "../../js/overlay.js";
import { moveFor, savedText } from "../../js/toolbar.js";

describe("moveFor", () => {
  it("maps arrows to head, layer and step", () => {
    expect(moveFor({ key: "ArrowRight" })).toEqual({ what: "head", by: 1 });
    expect(moveFor({ key: "ArrowLeft" })).toEqual({ what: "head", by: -1 });
    expect(moveFor({ key: "ArrowDown" })).toEqual({ what: "layer", by: 1 });
    expect(moveFor({ key: "ArrowUp" })).toEqual({ what: "layer", by: -1 });
    expect(moveFor({ key: "ArrowRight", shiftKey: true })).toEqual({ what: "step", by: 1 });
    expect(moveFor({ key: "PageUp" })).toEqual({ what: "step", by: -1 });
  });
  it("leaves other keys and modified arrows alone", () => {
    expect(moveFor({ key: "a" })).toBeNull();
    expect(moveFor({ key: "ArrowRight", ctrlKey: true })).toBeNull();
    expect(moveFor({ key: "ArrowUp", shiftKey: true })).toBeNull();
  });
});

describe("savedText", () => {
  it("says where the figure went, or why not", () => {
    expect(savedText({ type: "ok", path: "/tmp/heatmap_layer0_head1_step0.png" }))
      .toBe("saved /tmp/heatmap_layer0_head1_step0.png");
    expect(savedText({ type: "error", message: "dpi must be" })).toBe("not saved: dpi must be");
  });
});

describe("gridFit", () => {
  it("fits one layer's heads in a near-square grid inside the panel", () => {
    const twelve = gridFit(12, 12, false, 326);
    expect(twelve.columns).toBe(4);
    expect(twelve.columns * (twelve.side + 4) + 3 * 4).toBeLessThanOrEqual(326);
    expect(gridFit(4, 4, false, 326).columns).toBe(4);
  });
  it("gives a model grid one row per layer and never a side under the least", () => {
    const model = gridFit(144, 12, true, 326);
    expect(model.columns).toBe(12);
    expect(model.columns * (model.side + 4) + 11 * 4).toBeLessThanOrEqual(326);
    expect(gridFit(64 * 8, 64, true, 326).side).toBe(14);
  });
});

describe("overlay pixels", () => {
  it("enlarges a grid nearest-neighbour: every patch a sharp block", () => {
    const codes = new Uint8Array([0, 10, 20, 30]); // 2 x 2
    const out = nearest(codes, 2, 2, 4, 4);
    expect(Array.from(out)).toEqual([0, 0, 10, 10, 0, 0, 10, 10, 20, 20, 30, 30, 20, 20, 30, 30]);
  });
  it("copies every channel of a pixel", () => {
    const rgba = new Uint8Array([1, 2, 3, 255]);
    expect(Array.from(nearest(rgba, 1, 1, 2, 1, 4))).toEqual([1, 2, 3, 255, 1, 2, 3, 255]);
  });
  it("enlarges small images by a whole factor and leaves big ones", () => {
    expect(pictureSize(8, 8)).toEqual({ height: 256, width: 256 });
    expect(pictureSize(28, 28)).toEqual({ height: 252, width: 252 });
    expect(pictureSize(224, 224)).toEqual({ height: 224, width: 224 });
    expect(pictureSize(600, 400)).toEqual({ height: 600, width: 400 });
  });
});

describe("plotSize", () => {
  it("takes the size the kernel asks for: a number or [width, height]", () => {
    expect(plotSize(300)).toEqual({ width: 300, height: 300 });
    expect(plotSize([520, 260])).toEqual({ width: 520, height: 260 });
  });
  it("falls back to 440 x 440 for nothing or nonsense", () => {
    for (const bad of [undefined, null, "big", 0, -5, Number.NaN, [100], [100, "x"], {}]) {
      expect(plotSize(bad)).toEqual({ width: 440, height: 440 });
    }
  });
});

describe("the colour-range choice", () => {
  const model = (state) => ({ get: (k) => state[k] });
  it("is offered by a live view alone, not inside an explorer, not on a standalone page", () => {
    expect(ownsRange(model({ _frame_version: 3, color_range: "frame", _range_in_toolbar: true }))).toBe(true);
    expect(ownsRange(model({ _frame_version: 3, color_range: "frame" }))).toBe(true);
    expect(ownsRange(model({ _frame_version: 3, color_range: "frame", _range_in_toolbar: false }))).toBe(false);
    expect(ownsRange(model({ color_range: "shared" }))).toBe(false); // a page: no kernel, no new frames
    expect(ownsRange(model({ _frame_version: 1 }))).toBe(false);
  });
  it("says each range in a few characters, so the toolbar keeps one line", () => {
    expect(Object.keys(RANGE_LABELS)).toEqual(["frame", "fixed", "shared"]);
    for (const label of Object.values(RANGE_LABELS)) expect(label.length).toBeLessThanOrEqual(13);
  });
});
