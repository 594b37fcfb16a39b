// Drawing helpers: LUT colouring, colorbar, label thinning, hit-testing,
// zoom regions, upsampling and blending.
import { describe, expect, it } from "vitest";
import { lut } from "../../js/colormaps.js";
import {
  blend, cellAt, cellToIndex, cellsToRegion, clip, colorbarCodes, colorbarTicks, colorize, fitMatrix,
  indexToCell, labelBoxes, LEAST_SIDE, MOST_CELL, roundStride, SHORT_SHARE, shortCell, thinLabels, upsample,
  zoomAround,
} from "../../js/draw.js";

describe("colorize", () => {
  it("looks every code up in the LUT, alpha 255", () => {
    const table = lut("plasma");
    const codes = new Uint8Array([0, 17, 255]);
    const rgba = colorize(codes, table);
    expect(rgba.length).toBe(12);
    for (let i = 0; i < 3; i++) {
      const k = codes[i] * 3;
      expect(Array.from(rgba.slice(i * 4, i * 4 + 4))).toEqual([table[k], table[k + 1], table[k + 2], 255]);
    }
  });
  it("reuses an output buffer of the right size", () => {
    const out = new Uint8ClampedArray(8);
    expect(colorize(new Uint8Array([1, 2]), lut("jet"), out)).toBe(out);
  });
  it("gives every code of every colormap the table's colour, in whole words or byte by byte", () => {
    const codes = Uint8Array.from({ length: 256 }, (_, c) => c);
    // an output at an odd offset of its buffer cannot be written a word at a time
    const odd = new Uint8ClampedArray(new ArrayBuffer(256 * 4 + 1), 1, 256 * 4);
    for (const name of ["viridis", "plasma", "magma", "inferno", "jet", "coolwarm", "YlOrRd"]) {
      const table = lut(name);
      for (const rgba of [colorize(codes, table), colorize(codes, table, odd)]) {
        for (let c = 0; c < 256; c++) {
          const got = Array.from(rgba.slice(c * 4, c * 4 + 4));
          expect(got).toEqual([table[c * 3], table[c * 3 + 1], table[c * 3 + 2], 255]);
        }
      }
    }
  });
  it("refuses a table that is not 256 RGB entries", () => {
    expect(() => colorize(new Uint8Array(1), new Uint8Array(10))).toThrow(/768 bytes/);
  });
});

describe("colorbar", () => {
  it("runs from the top value code 254 to 0, never the NaN code", () => {
    const c = colorbarCodes(256);
    expect(c[0]).toBe(254);
    expect(c[255]).toBe(0);
    for (let i = 1; i < 256; i++) expect(c[i]).toBeLessThanOrEqual(c[i - 1]);
    expect(Array.from(colorbarCodes(1000)).includes(255)).toBe(false);
  });
  it("puts ticks from vmin at the bottom to vmax at the top", () => {
    const ticks = colorbarTicks(0, 2, "linear", 3);
    expect(ticks[0]).toMatchObject({ value: 2, at: 0, end: true });
    expect(ticks[ticks.length - 1]).toMatchObject({ value: 0, at: 1, end: true });
    expect(ticks.find((t) => t.value === 1)).toMatchObject({ at: 0.5, end: false });
    const logTicks = colorbarTicks(0.01, 1, "log", 3);
    expect(logTicks.find((t) => t.label === "0.1").at).toBeCloseTo(0.5, 10);
  });
});

describe("labels", () => {
  it("draws every label when they fit", () => {
    expect(thinLabels(10, 200, 12)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
  it("thins labels so that drawn ones are at least minGap apart", () => {
    const idx = thinLabels(512, 440, 12);
    const px = 440 / 512;
    for (let i = 1; i < idx.length; i++) expect((idx[i] - idx[i - 1]) * px).toBeGreaterThanOrEqual(12);
    expect(idx[0]).toBe(0);
    expect(idx.length).toBeGreaterThan(20);
  });
  it("clips long labels with an ellipsis and keeps hostile text as text", () => {
    expect(clip("<img src=x onerror=alert(1)>", 8)).toBe("<img sr…");
    expect(clip("short", 8)).toBe("short");
  });
});

describe("hit-testing", () => {
  // 160 x 80 fills 100% and 80% of the box: square cells
  const layout = fitMatrix(4, 8, { x: 10, y: 20, width: 160, height: 100 });
  it("keeps cells square where the matrix fills the box", () => {
    expect(layout.cellW).toBe(20);
    expect(layout.cellH).toBe(20);
    expect(layout.height).toBe(80);
  });
  it("maps a pixel to its cell", () => {
    expect(cellAt(layout, 10, 20)).toEqual({ row: 0, col: 0 });
    expect(cellAt(layout, 169.9, 99.9)).toEqual({ row: 3, col: 7 });
    expect(cellAt(layout, 51, 45)).toEqual({ row: 1, col: 2 });
  });
  it("returns null outside the matrix", () => {
    expect(cellAt(layout, 9, 30)).toBeNull();
    expect(cellAt(layout, 50, 100)).toBeNull();
  });
});

describe("fitMatrix: the matrix sized by its aspect", () => {
  const box = { x: 0, y: 0, width: 440, height: 440 };
  it("keeps square cells where the matrix fills at least 60% of the box on both sides", () => {
    for (const [rows, cols] of [[12, 12], [8, 13], [13, 8], [6, 10]]) {
      const l = fitMatrix(rows, cols, box);
      expect(l.cellW).toBe(l.cellH);
      expect(Math.max(l.width, l.height)).toBeCloseTo(440, 6);
      expect(Math.min(l.width, l.height)).toBeGreaterThanOrEqual(0.6 * 440 - 1e-9);
    }
  });
  it("draws the audio lesson's 200 x 9 weights at 60% of the box, cells wider than tall", () => {
    // square cells would make it 20 px wide; the 4:1 cap it had made it 79 px
    const l = fitMatrix(200, 9, box);
    expect(l.height).toBeCloseTo(440, 6); // the long side still spans the box
    expect(l.cellH).toBeCloseTo(440 / 200, 9);
    expect(l.width).toBeCloseTo(SHORT_SHARE * 440, 6);
    expect(l.width).toBeGreaterThanOrEqual(0.4 * 440);
    expect(l.cellW).toBeGreaterThan(l.cellH);
  });
  it("draws the diffusion lesson's 32 x 4 cross-attention at 60% of the box, and 4 x 32 likewise", () => {
    const cross = fitMatrix(32, 4, box);
    expect(cross.width).toBeCloseTo(264, 9);
    expect(cross.height).toBeCloseTo(440, 9);
    expect(cross.cellW).toBeGreaterThan(cross.cellH);
    const wide = fitMatrix(4, 32, box);
    expect(wide.height).toBeCloseTo(264, 9);
    expect(wide.cellH).toBeGreaterThan(wide.cellW);
    // a short side already past 60% is left square (5 x 8: 440 x 275)
    const most = fitMatrix(5, 8, box);
    expect(most.cellW).toBe(most.cellH);
    // under 60%, widened to 60% (4 x 8 would be 440 x 220)
    expect(fitMatrix(4, 8, box).height).toBeCloseTo(264, 9);
  });
  it("draws a 1 x N generation row as a 72 px strip, never a block or a hairline", () => {
    const row = fitMatrix(1, 9, box);
    expect(row.width).toBeCloseTo(440, 9);
    expect(row.height).toBeCloseTo(MOST_CELL, 9);
    const long = fitMatrix(1, 300, box);
    expect(long.width).toBeCloseTo(440, 9);
    expect(long.height).toBeCloseTo(MOST_CELL, 9);
    const column = fitMatrix(300, 1, box);
    expect(column.width).toBeCloseTo(MOST_CELL, 9);
    // two rows of 50: 72 px each, 144 px in all
    expect(fitMatrix(2, 50, box).height).toBeCloseTo(2 * MOST_CELL, 9);
  });
  it("never leaves the box, even a small one", () => {
    const small = { x: 5, y: 7, width: 100, height: 60 };
    for (const [rows, cols] of [[1, 1], [1, 9], [9, 1], [200, 9], [3, 500], [60, 100], [1, 1000]]) {
      const l = fitMatrix(rows, cols, small);
      expect(l.width).toBeLessThanOrEqual(100 + 1e-9);
      expect(l.height).toBeLessThanOrEqual(60 + 1e-9);
      expect(l.width).toBeCloseTo(l.cellW * cols, 9);
      expect(l.height).toBeCloseTo(l.cellH * rows, 9);
      expect([l.x, l.y]).toEqual([5, 7]);
    }
    // 60% of 60 px is 36 px: a strip is at least LEAST_SIDE (48 px) thick
    expect(fitMatrix(1, 9, small).height).toBeCloseTo(LEAST_SIDE, 9);
    // a box thinner than LEAST_SIDE: the whole box
    expect(fitMatrix(1, 9, { x: 0, y: 0, width: 100, height: 30 }).height).toBeCloseTo(30, 9);
  });
  it("widens a cell from the square one, toward 60% of the room, within the cap and the room", () => {
    expect(shortCell(2.2, 9, 440)).toBeCloseTo(264 / 9, 9);
    expect(shortCell(100, 1, 100)).toBe(100); // already the whole room
    expect(shortCell(80, 1, 440)).toBe(80); // a square cell past the cap stays
    expect(shortCell(1, 1, 440)).toBe(MOST_CELL);
    expect(shortCell(1, 1, 30)).toBe(30);
  });
  it("hit-tests non-square cells with their own width and height", () => {
    const l = fitMatrix(32, 4, { x: 10, y: 20, width: 440, height: 440 });
    expect(cellAt(l, 10 + 65.9, 20 + 13.7)).toEqual({ row: 0, col: 0 });
    expect(cellAt(l, 10 + 66.1, 20 + 13.8)).toEqual({ row: 1, col: 1 });
    expect(cellAt(l, 10 + 263.9, 20 + 439.9)).toEqual({ row: 31, col: 3 });
    expect(cellAt(l, 10 + 264.1, 30)).toBeNull();
  });
});

describe("thinned labels: round strides, boxes that never touch", () => {
  it("rounds the stride up to 1, 2, 5, 10, 20, 25, 50, 100 ...", () => {
    expect([0.5, 1, 1.5, 3, 6.4, 11, 21, 26, 51, 120, 3000].map(roundStride))
      .toEqual([1, 1, 2, 5, 10, 20, 25, 50, 100, 200, 5000]);
  });
  it("labels 200 samples on 440 px at 0, 10, 20 ..., their boxes disjoint", () => {
    const cell = 440 / 200;
    const idx = thinLabels(200, 440, 14);
    expect(idx.slice(0, 4)).toEqual([0, 10, 20, 30]);
    const boxes = labelBoxes(idx, 8, cell, 13);
    for (let k = 1; k < boxes.length; k++) expect(boxes[k][0]).toBeGreaterThan(boxes[k - 1][1]);
    expect(boxes[0]).toEqual([8 + cell / 2 - 6.5, 8 + cell / 2 + 6.5]);
  });
});

describe("regions", () => {
  const meta = { region: [100, 300, 0, 512], block: [2, 4], full_shape: [512, 512] };
  it("turns displayed cells into full-resolution indices", () => {
    expect(cellsToRegion(meta, 10, 20, 5, 6)).toEqual([120, 140, 20, 24]);
    expect(cellsToRegion(meta, 0, 1000, 0, 1000)).toEqual([100, 300, 0, 512]);
    expect(cellToIndex(meta, "query", 3)).toBe(106);
    expect(cellToIndex(meta, "key", 3)).toBe(12);
    expect(indexToCell(meta, "query", 107)).toBe(3);
    expect(indexToCell(meta, "query", 50)).toBe(-1);
  });
  it("zooms in around the pointer and stays inside the matrix", () => {
    const r = zoomAround([0, 512, 0, 512], [512, 512], 256, 0, 0.5);
    expect(r).toEqual([128, 384, 0, 256]);
    const edge = zoomAround([0, 100, 0, 100], [512, 512], 99, 99, 0.5);
    expect(edge[1] - edge[0]).toBe(50);
    expect(edge[1]).toBeLessThanOrEqual(512);
    expect(edge[0]).toBeGreaterThanOrEqual(0);
  });
  it("returns null when zooming out past the whole matrix", () => {
    expect(zoomAround([0, 400, 0, 400], [512, 512], 10, 10, 2)).toBeNull();
  });
});

describe("overlay", () => {
  it("upsamples a grid keeping corner values and interpolating between", () => {
    const up = upsample(new Uint8Array([0, 200, 100, 50]), 2, 2, 4, 4);
    expect(up.length).toBe(16);
    expect(up[0]).toBe(0);
    expect(up[3]).toBe(200);
    expect(up[12]).toBe(100);
    expect(up[15]).toBe(50);
    expect(up[1]).toBe(50); // a quarter of the way from 0 to 200
  });
  it("is the identity at the same size", () => {
    const g = new Uint8Array([1, 2, 3, 4, 5, 6]);
    expect(Array.from(upsample(g, 2, 3, 2, 3))).toEqual([1, 2, 3, 4, 5, 6]);
  });
  it("blends with the given opacity", () => {
    const image = new Uint8Array([100, 0, 200, 255]);
    const over = new Uint8Array([200, 100, 0, 255]);
    expect(Array.from(blend(image, over, 0))).toEqual([100, 0, 200, 255]);
    expect(Array.from(blend(image, over, 1))).toEqual([200, 100, 0, 255]);
    expect(Array.from(blend(image, over, 0.5))).toEqual([150, 50, 100, 255]);
    expect(() => blend(image, new Uint8Array(8), 0.5)).toThrow(/cannot blend/);
  });
});
