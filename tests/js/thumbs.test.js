// The head grid's one canvas (js/thumbs.js): where each thumbnail goes, how large the backing
// store is, and that every cell of every thumbnail is drawn where a reader looks for it.
import { describe, expect, it } from "vitest";
import { backingScale, BORDER, gridLayout, LABEL, paintThumbs, PANEL } from "../../js/thumbs.js";

const grey = new Uint8Array(768).map((_, i) => Math.floor(i / 3)); // code c -> (c, c, c)

/** A thumbnail whose code at (i, j) is i * cols + j (every cell its own code). */
function counting(rows, cols, layer = 0, head = 0) {
  return { layer, head, rows, cols, codes: Uint8Array.from({ length: rows * cols }, (_, k) => k % 255) };
}

/** Read each cell back as a test does: the first device pixel of cell (i, j) in its rect. */
function readBack(data, stride, rect, scale, t) {
  const W = rect.w * scale;
  const H = rect.h * scale;
  const out = [];
  for (let i = 0; i < t.rows; i++) {
    for (let j = 0; j < t.cols; j++) {
      const x = rect.x * scale + Math.ceil((j * W) / t.cols);
      const y = rect.y * scale + Math.ceil((i * H) / t.rows);
      out.push(data[(y * stride + x) * 4]);
    }
  }
  return out;
}

describe("gridLayout", () => {
  it("places a model grid's thumbnails in rows of a layer, inside the panel, none overlapping", () => {
    const thumbs = Array.from({ length: 144 }, (_, k) => counting(32, 32, Math.floor(k / 12), k % 12));
    const layout = gridLayout(thumbs, 12, true);
    expect(layout.columns).toBe(12);
    expect(layout.width).toBeLessThanOrEqual(PANEL);
    expect(layout.labelled).toBe(false); // 19 px thumbnails: the tooltip names them
    const [a, b, c] = [layout.rects[0], layout.rects[1], layout.rects[12]];
    expect(b.x - a.x).toBe(layout.side + 2 * BORDER + 4);
    expect(c.y - a.y).toBe(layout.side + 2 * BORDER + 4);
    expect(c.x).toBe(a.x);
    const last = layout.rects[143];
    expect(last.y + last.h + BORDER).toBe(layout.height);
  });
  it("keeps a skinny matrix's aspect up to 2.5 : 1 and leaves a caption's line when labelled", () => {
    const layout = gridLayout([counting(32, 4), counting(4, 4)], 2, false);
    expect(layout.labelled).toBe(true);
    const [strip, square] = layout.rects;
    expect(strip.h).toBe(layout.side);
    expect(strip.w).toBe(Math.round(layout.side / 2.5)); // not 4/32 of the side: a readable strip
    expect(square.w).toBe(layout.side);
    expect(strip.x).toBeGreaterThan(layout.places[0].x + BORDER); // centred in its place
    expect(layout.height).toBe(layout.side + 2 * BORDER + LABEL);
  });
  it("is empty for no thumbnails", () => {
    const layout = gridLayout([], 1, false);
    expect([layout.width, layout.height, layout.rects.length]).toEqual([0, 0, 0]);
  });
});

describe("backingScale", () => {
  it("gives every cell a device pixel, and at least the screen's ratio", () => {
    const thumbs = [counting(32, 32)];
    expect(backingScale(thumbs, [{ w: 19, h: 19 }], 100, 100, 1)).toBe(2);
    expect(backingScale(thumbs, [{ w: 40, h: 40 }], 100, 100, 1)).toBe(1);
    expect(backingScale(thumbs, [{ w: 40, h: 40 }], 100, 100, 1.5)).toBe(2);
  });
  it("stays within the backing store's bound", () => {
    expect(backingScale([counting(512, 512)], [{ w: 14, h: 14 }], 3000, 3000, 1)).toBe(1);
  });
});

describe("paintThumbs", () => {
  it("draws every cell of every thumbnail where its first device pixel is, whatever the scale", () => {
    const thumbs = [counting(32, 32, 0, 0), counting(7, 3, 0, 1), counting(5, 12, 1, 0)];
    const layout = gridLayout(thumbs, 2, true);
    for (const ratio of [1, 2, 3]) {
      const scale = backingScale(thumbs, layout.rects, layout.width, layout.height, ratio);
      const stride = layout.width * scale;
      const data = new Uint8ClampedArray(stride * layout.height * scale * 4);
      paintThumbs(thumbs, layout.rects, scale, grey, data, stride);
      thumbs.forEach((t, i) => {
        expect(readBack(data, stride, layout.rects[i], scale, t)).toEqual(Array.from(t.codes));
      });
    }
  });
  it("leaves the gaps between thumbnails transparent and paints the rects opaque", () => {
    const thumbs = [counting(4, 4), counting(4, 4)];
    const layout = gridLayout(thumbs, 2, false);
    const data = new Uint8ClampedArray(layout.width * layout.height * 4);
    paintThumbs(thumbs, layout.rects, 1, grey, data, layout.width);
    const alpha = (x, y) => data[(y * layout.width + x) * 4 + 3];
    const r = layout.rects[0];
    expect(alpha(r.x, r.y)).toBe(255);
    expect(alpha(r.x + r.w - 1, r.y + r.h - 1)).toBe(255);
    expect(alpha(r.x + r.w + 1, r.y)).toBe(0); // the outline's place and the gap
    expect(alpha(0, 0)).toBe(0);
  });
  it("refuses a colour table of the wrong size", () => {
    expect(() => paintThumbs([], [], 1, new Uint8Array(10), new Uint8ClampedArray(4), 1)).toThrow(/768 bytes/);
  });
});
