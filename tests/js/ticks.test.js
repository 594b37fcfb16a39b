// Colour-bar ticks (js/draw.js): round values at 1-2-5 steps, the ends marked with
// their exact values, no two labels the same or closer than the gap asked for.
import { describe, expect, it } from "vitest";
import { barPosition, colorbarTicks, formatEnd, formatTick, niceStep, roundTicks } from "../../js/draw.js";

const mantissa = (step) => Number((step / 10 ** Math.floor(Math.log10(step))).toPrecision(6));

describe("niceStep", () => {
  it("is 1, 2 or 5 times a power of ten, cutting the span into at most about `count` parts", () => {
    for (const span of [0.003, 0.0173, 0.9067, 1, 2.5, 37, 1234.5, 7e-7]) {
      for (const count of [3, 5, 8]) {
        const step = niceStep(span, count);
        expect([1, 2, 5, 10]).toContain(mantissa(step));
        expect(span / step).toBeLessThanOrEqual(count * (1 + 1e-9));
        expect(span / step).toBeGreaterThan(count / 5); // not absurdly coarse either
      }
    }
  });
});

describe("roundTicks", () => {
  it("gives multiples of the step inside the range, written with the step's decimals", () => {
    const ticks = roundTicks(0.0273, 0.934, "linear", 5);
    expect(ticks.map((t) => t.label)).toEqual(["0.2", "0.4", "0.6", "0.8"]);
    const tiny = roundTicks(0.110, 0.113, "linear", 5);
    expect(tiny.map((t) => t.label)).toEqual(["0.110", "0.111", "0.112", "0.113"]);
    for (const t of tiny) expect(t.value).toBeGreaterThanOrEqual(0.110 - 1e-12);
  });
  it("gives decades on the log scale, with 2x and 5x where the range is short", () => {
    expect(roundTicks(1e-4, 1, "log", 5).map((t) => t.value)).toEqual([1e-4, 1e-3, 0.01, 0.1, 1]);
    expect(roundTicks(0.01, 0.5, "log", 5).map((t) => t.value)).toEqual([0.01, 0.02, 0.05, 0.1, 0.2, 0.5]);
  });
  it("gives nothing for an empty or broken range", () => {
    expect(roundTicks(1, 1, "linear")).toEqual([]);
    expect(roundTicks(0, NaN, "linear")).toEqual([]);
  });
});

describe("colorbarTicks", () => {
  const cases = [
    [0, 1, "linear"], [0.0273, 0.0826, "linear"], [0.110, 0.113, "linear"], [0.0273, 0.934, "linear"],
    [-0.75, 0.75, "linear"], [1e-6, 1, "log"], [0.002, 0.2, "log"], [3, 4000, "linear"], [0, 1e-5, "linear"],
  ];
  it("never writes a label twice and keeps labels apart", () => {
    for (const [lo, hi, scale] of cases) {
      for (const height of [40, 120, 440]) {
        const ticks = colorbarTicks(lo, hi, scale, 5, { height, minGap: 13 });
        const labels = ticks.map((t) => t.label);
        expect(new Set(labels).size).toBe(labels.length);
        for (let i = 1; i < ticks.length; i++) {
          expect((ticks[i].at - ticks[i - 1].at) * height).toBeGreaterThanOrEqual(13 - 1e-9);
        }
      }
    }
  });
  it("marks both ends with the range's own values, top first", () => {
    for (const [lo, hi, scale] of cases) {
      const ticks = colorbarTicks(lo, hi, scale, 5, { height: 300 });
      expect(ticks[0]).toMatchObject({ value: hi, at: 0, end: true });
      expect(ticks[ticks.length - 1]).toMatchObject({ value: lo, at: 1, end: true });
      expect(ticks.filter((t) => t.end)).toHaveLength(2);
      for (const t of ticks.filter((x) => !x.end)) {
        expect(t.value).toBeGreaterThan(lo);
        expect(t.value).toBeLessThan(hi);
        expect(t.at).toBeCloseTo(barPosition(t.value, lo, hi, scale), 12);
      }
    }
  });
  it("labels a near-uniform row so its ends are told apart (0.110, not 0.11)", () => {
    const labels = colorbarTicks(0.110, 0.113, "linear", 5, { height: 440 }).map((t) => t.label);
    expect(labels[0]).toBe("0.113");
    expect(labels[labels.length - 1]).toBe("0.110");
    expect(labels.length).toBeGreaterThan(2); // round values between the ends
  });
  it("round ticks are round: the arbitrary 0.0273 .. 0.0826 range gets 0.04, 0.06, 0.08", () => {
    const inner = colorbarTicks(0.0273, 0.0826, "linear", 5, { height: 440 }).filter((t) => !t.end);
    expect(inner.map((t) => t.label)).toEqual(["0.08", "0.06", "0.04"]);
  });
  it("has one tick for a range of one value", () => {
    expect(colorbarTicks(5, 5, "linear")).toEqual([{ value: 5, at: 0, label: "5", end: true }]);
  });
});

describe("barPosition", () => {
  it("puts vmax at the top (0) and vmin at the bottom (1), clamped, linear or log", () => {
    expect(barPosition(2, 0, 2, "linear")).toBe(0);
    expect(barPosition(0, 0, 2, "linear")).toBe(1);
    expect(barPosition(0.5, 0, 2, "linear")).toBeCloseTo(0.75, 12);
    expect(barPosition(9, 0, 2, "linear")).toBe(0);
    expect(barPosition(0.1, 0.01, 1, "log")).toBeCloseTo(0.5, 12);
  });
});

describe("formatTick and formatEnd", () => {
  it("write a tick with its step's decimals and an end to 3 significant digits", () => {
    expect(formatTick(0.5, 0.5)).toBe("0.5");
    expect(formatTick(0.25, 0.05)).toBe("0.25");
    expect(formatTick(1e-16, 0.1)).toBe("0");
    expect(formatTick(2e-5, 2e-5)).toBe("2e-5");
    expect(formatTick(200000, 100000)).toBe("2e+5");
    expect(formatEnd(0.0273)).toBe("0.0273");
    expect(formatEnd(0.934)).toBe("0.934");
    expect(formatEnd(0.11, 0.0001)).toBe("0.110");
    expect(formatEnd(1e-6)).toBe("1e-6");
  });
  it("write an end that is zero at the ticks' resolution as zero, not as a tiny number", () => {
    // a peaky softmax's smallest weight under ticks 0.2 apart
    expect(formatEnd(1.26e-44, 0.02)).toBe("0.0");
    expect(formatEnd(-3e-9, 0.002)).toBe("0.00");
    expect(formatEnd(1e-6, 1e-7)).toBe("1e-6"); // a range that small keeps its value
    expect(formatEnd(0.011, 0.02)).toBe("0.011"); // over half the resolution: the value
    const ticks = colorbarTicks(1.26e-44, 1, "linear", 5, { height: 440, minGap: 13 });
    expect(ticks.map((t) => t.label)).toEqual(["1.0", "0.8", "0.6", "0.4", "0.2", "0.0"]);
  });
});
