// The geometry of the charts a standalone page draws itself (js/page-charts.js).
import { describe, expect, it } from "vitest";
import { barRects, labelIndices, linePoints, valueRange } from "../../js/page-charts.js";

const box = { x: 10, y: 0, width: 100, height: 50 };

describe("valueRange", () => {
  it("spans from 0 (or the smallest value below it) to 5 % above the largest", () => {
    expect(valueRange([[0.2, 0.5]])).toEqual([0, 0.525]);
    const [lo, hi] = valueRange([[-1, 2], [0.5]]);
    expect(lo).toBe(-1);
    expect(hi).toBeCloseTo(2.1);
    expect(valueRange([[0, 0]])).toEqual([0, 1.05]); // nothing to span: a height of 1
    expect(valueRange([[NaN, 1]])).toEqual([0, 1.05]);
  });
});

describe("barRects", () => {
  it("places one group per position, one bar per series, heights from the value", () => {
    const rects = barRects([[1, 0.5], [0, 0.25]], box, [0, 1]);
    expect(rects).toHaveLength(4);
    const first = rects.find((r) => r.series === 0 && r.index === 0);
    expect(first.h).toBeCloseTo(50);
    expect(first.y).toBeCloseTo(0);
    const half = rects.find((r) => r.series === 0 && r.index === 1);
    expect(half.h).toBeCloseTo(25);
    expect(half.x).toBeGreaterThan(first.x + 40); // the second group is half the width along
    const other = rects.find((r) => r.series === 1 && r.index === 0);
    expect(other.x).toBeCloseTo(first.x + first.w); // side by side in its group
    expect(other.h).toBe(0);
  });
  it("draws negative values down from zero and clamps to the range", () => {
    const [neg, big] = barRects([[-1, 5]], box, [-1, 1]);
    expect(neg.y).toBeCloseTo(25);
    expect(neg.h).toBeCloseTo(25);
    expect(big.y).toBeCloseTo(0);
    expect(big.h).toBeCloseTo(25);
    expect(barRects([], box, [0, 1])).toEqual([]);
  });
});

describe("linePoints and labels", () => {
  it("spreads a series across the box", () => {
    expect(linePoints([0, 1], box, [0, 1])).toBe("10.0,50.0 110.0,0.0");
    expect(linePoints([0.5], box, [0, 1])).toBe("60.0,25.0");
  });
  it("writes every label that fits, else every k-th", () => {
    expect(labelIndices(4, 200)).toEqual([0, 1, 2, 3]);
    expect(labelIndices(50, 200, 16)).toEqual([0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48]);
    expect(labelIndices(0, 200)).toEqual([]);
  });
});
