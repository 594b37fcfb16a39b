// The standalone page's colour range (js/page-range.js): codes read and written as
// attnwidget/wire.py reads and writes them, ranges as the kernel picks them, a frame coded again
// for "fixed 0–1" and "shared", a zoomed frame's own range, the site groups, and the captions.
// Expected codes and texts are the Python functions' outputs (wire.quantize, wire.format_range).
import { describe, expect, it } from "vitest";
import {
  NAN_CODE, RANGE_CHOICES, codeValue, codesExtent, extentRange, fixedRange, formatRange, inRange, isSymmetric,
  metaExtent, rangeCaption, recodeTable, siteGroups, siteKey, storedExtent, thumbsExtent, thumbsInRange, valueCode,
} from "../../js/page-range.js";
import { crop } from "../../js/page-data.js";

const view = (bytes) => new DataView(Uint8Array.from(bytes).buffer);
const bytesOf = (dv) => Array.from(new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength));

describe("codes as wire.py writes them", () => {
  it("quantizes linear and log values as wire.quantize", () => {
    const v = [0.0, 0.1, 0.25, 0.5, 0.7, 1.0, NaN];
    // numpy: wire.quantize(v, 0.1, 0.7) and wire.quantize(v, 1e-3, 1, "log")
    expect(v.map((x) => valueCode(x, 0.1, 0.7))).toEqual([0, 0, 64, 169, 254, 254, 255]);
    expect(v.map((x) => valueCode(x, 1e-3, 1, "log"))).toEqual([0, 169, 203, 229, 241, 254, 255]);
  });
  it("dequantizes as wire.dequantize", () => {
    const got = [0, 17, 127, 254].map((c) => codeValue(c, 0.2, 0.6));
    [0.2, 0.22677165, 0.4, 0.6].forEach((want, i) => expect(got[i]).toBeCloseTo(want, 6));
    expect(codeValue(NAN_CODE, 0.2, 0.6)).toBeNaN();
  });
  it("codes again into a wider range without moving any value by more than half a new code", () => {
    const table = recodeTable([0.1, 0.3], [0, 1]);
    expect(table[NAN_CODE]).toBe(NAN_CODE);
    for (let c = 0; c <= 254; c++) {
      const before = codeValue(c, 0.1, 0.3);
      expect(Math.abs(codeValue(table[c], 0, 1) - before)).toBeLessThanOrEqual(0.5 / 254 + 1e-12);
    }
    expect(table[0]).toBe(Math.round(0.1 * 254));
    expect(table[254]).toBe(Math.round(0.3 * 254));
  });
});

describe("ranges as the kernel picks them", () => {
  it("fixed: 0..1, the log floor, -1..1 for a difference map", () => {
    expect(fixedRange("linear")).toEqual([0, 1]);
    expect(fixedRange("log")).toEqual([1e-6, 1]);
    expect(fixedRange("linear", true)).toEqual([-1, 1]);
  });
  it("of an extent: its ends, the smallest positive on the log scale, symmetric, widened when flat", () => {
    expect(extentRange({ lo: 0.02, hi: 0.9, pos: 0.02 })).toEqual([0.02, 0.9]);
    expect(extentRange({ lo: 0, hi: 0.9, pos: 0.01 }, "log")).toEqual([0.01, 0.9]);
    expect(extentRange({ lo: -0.2, hi: 0.05, pos: 0.05 }, "linear", true)).toEqual([-0.2, 0.2]);
    expect(extentRange({ lo: 0.125, hi: 0.125, pos: 0.125 })).toEqual([0.125, 1.125]);
    expect(extentRange(null)).toEqual([0, 1]);
  });
  it("reads a frame's extent from its header, and of the cells of a cut", () => {
    expect(metaExtent({ data_min: 0.1, data_max: 0.4, vmin: 0.1, vmax: 0.4, scale: "linear" })).toEqual({ lo: 0.1, hi: 0.4, pos: 0.1 });
    expect(metaExtent({ data_min: 0, data_max: 0.4, vmin: 0.003, vmax: 0.4, scale: "log" }).pos).toBe(0.003);
    expect(metaExtent({ error: "no" })).toBeNull();
    const e = codesExtent(Uint8Array.from([NAN_CODE, 127, 254, 127]), [0, 1]);
    expect(e.lo).toBeCloseTo(0.5, 6);
    expect(e.hi).toBe(1);
    expect(codesExtent(Uint8Array.from([NAN_CODE]), [0, 1])).toBeNull();
  });
  it("tells a difference map by its symmetric range", () => {
    expect(isSymmetric({ vmin: -0.3, vmax: 0.3, scale: "linear" })).toBe(true);
    expect(isSymmetric({ vmin: 0, vmax: 0.3, scale: "linear" })).toBe(false);
  });
});

describe("captions as the kernel writes them", () => {
  it("formats ranges as wire.format_range", () => {
    // Python: wire.format_range of each pair
    expect(formatRange(0.11, 0.113)).toBe("0.110-0.113");
    expect(formatRange(0, 1)).toBe("0-1");
    expect(formatRange(-0.5, 0.5)).toBe("-0.5 to 0.5");
    expect(formatRange(0.0273, 0.934)).toBe("0.0273-0.934");
    expect(formatRange(1e-6, 1)).toBe("1e-06-1");
    expect(formatRange(0.0001234, 0.5)).toBe("0.000123-0.5");
    expect(formatRange(2.5, 250000)).toBe("2.5-2.5e+05");
    expect(formatRange(0.05, 0.0574)).toBe("0.0500-0.0574");
  });
  it("says the range before the frame's own caption", () => {
    expect(rangeCaption("fixed", [0, 1], "range 0.110-0.113: nearly uniform")).toBe(
      "fixed colour range 0-1 · range 0.110-0.113: nearly uniform");
    expect(rangeCaption("shared", [0, 0.5])).toMatch(/^shared colour range 0-0.5 \(every head and step/);
    expect(rangeCaption("frame", [0.1, 0.2], "")).toBe("");
    expect(RANGE_CHOICES.map(([v]) => v)).toEqual(["frame", "fixed", "shared"]);
  });
});

// a 2 x 3 frame coded over its own range 0.1..0.4
const frame = () => ({
  _frame: view([0, 127, 254, 64, 200, NAN_CODE]),
  _frame_meta: {
    shape: [2, 3], vmin: 0.1, vmax: 0.4, scale: "linear", data_min: 0.1, data_max: 0.4, caption: "",
    region: [0, 2, 0, 3], full_shape: [2, 3], block: [1, 1], row_labels: ["a", "b"], col_labels: ["x", "y", "z"],
    color_range: "frame",
  },
});

describe("a frame in a colour range", () => {
  it("this frame: as embedded", () => {
    const got = inRange(frame(), "frame", null);
    expect(bytesOf(got._frame)).toEqual([0, 127, 254, 64, 200, NAN_CODE]);
    expect([got._frame_meta.vmin, got._frame_meta.vmax]).toEqual([0.1, 0.4]);
  });
  it("fixed 0–1: coded over 0..1, NaN kept, the caption says so", () => {
    const got = inRange(frame(), "fixed", null);
    expect([got._frame_meta.vmin, got._frame_meta.vmax, got._frame_meta.color_range]).toEqual([0, 1, "fixed"]);
    const codes = bytesOf(got._frame);
    expect(codes[0]).toBe(valueCode(0.1, 0, 1));
    expect(codes[2]).toBe(valueCode(0.4, 0, 1));
    expect(codes[5]).toBe(NAN_CODE);
    expect(got._frame_meta.caption).toBe("fixed colour range 0-1");
  });
  it("shared: the site's extent with the frame's own", () => {
    const got = inRange(frame(), "shared", { lo: 0.05, hi: 0.8, pos: 0.05 });
    expect([got._frame_meta.vmin, got._frame_meta.vmax]).toEqual([0.05, 0.8]);
    expect(bytesOf(got._frame)[2]).toBe(valueCode(0.4, 0.05, 0.8));
    expect(got._frame_meta.caption).toContain("shared colour range 0.05-0.8");
  });
  it("zoomed, this frame: the range of the cells shown, and its extent marked", () => {
    const cut = crop(frame(), [0, 2, 1, 2]); // the middle column: codes 127 and 200
    const got = inRange(cut, "frame", null, { zoomed: true, note: "pooled" });
    expect(got._frame_meta.shape).toEqual([2, 1]);
    expect(got._frame_meta.vmin).toBeCloseTo(codeValue(127, 0.1, 0.4), 9);
    expect(got._frame_meta.vmax).toBeCloseTo(codeValue(200, 0.1, 0.4), 9);
    expect(bytesOf(got._frame)).toEqual([0, 254]);
    expect(got._frame_meta.data_max).toBeCloseTo(codeValue(200, 0.1, 0.4), 9);
    expect(got._frame_meta.caption).toBe("pooled");
    // fixed stays fixed when zoomed
    expect(inRange(cut, "fixed", null, { zoomed: true })._frame_meta.vmax).toBe(1);
  });
  it("leaves an error frame alone", () => {
    const bad = { _frame: view([]), _frame_meta: { error: "no frame", shape: [0, 0] } };
    expect(inRange(bad, "fixed", null)).toBe(bad);
  });
});

describe("a head grid in a colour range", () => {
  // two 1 x 2 thumbnails, each over its own range
  const grid = () => ({
    _thumbs: view([0, 254, 0, 254]),
    _thumbs_meta: { thumbs: [{ shape: [1, 2], offset: 0, vmin: 0.2, vmax: 0.4 }, { shape: [1, 2], offset: 2, vmin: 0.1, vmax: 0.9 }] },
  });
  it("fixed and shared code every thumbnail over one range", () => {
    const fixed = thumbsInRange(grid(), "fixed", null);
    expect(bytesOf(fixed._thumbs)).toEqual([valueCode(0.2, 0, 1), valueCode(0.4, 0, 1), valueCode(0.1, 0, 1), valueCode(0.9, 0, 1)]);
    expect(fixed._thumbs_meta.thumbs.every((t) => t.vmin === 0 && t.vmax === 1)).toBe(true);
    const e = thumbsExtent(grid());
    expect([e.lo, e.hi]).toEqual([0.1, 0.9]);
    const shared = thumbsInRange(grid(), "shared", e);
    expect(bytesOf(shared._thumbs)).toEqual([valueCode(0.2, 0.1, 0.9), valueCode(0.4, 0.1, 0.9), 0, 254]);
    expect(thumbsInRange(grid(), "frame", null)).toEqual(grid());
  });
});

describe("the frames that share a range", () => {
  const panel = {
    keys: ["layer", "head", "sample", "label", "step"],
    table: {
      '[0,"mean",0,null,0]': 0, "[0,1,0,null,0]": 1, "[0,1,0,null,1]": 2, "[0,1,1,null,0]": 3, "[1,0,0,null,0]": 4,
    },
  };
  it("groups a site's heads and steps, apart from other samples and sites", () => {
    const { groupOf, members } = siteGroups(panel);
    const g = groupOf.get('[0,"mean",0,null,0]');
    expect([...members.get(g)]).toEqual([0, 1, 2]);
    expect(groupOf.get("[0,1,1,null,0]")).not.toBe(g);
    expect(groupOf.get("[1,0,0,null,0]")).not.toBe(g);
    expect(siteKey(panel.keys, { layer: 0, head: 3, sample: 0, label: null, step: 5 })).toBe(g);
  });
  it("reads an overlay's query row's extent where the state holds every row", () => {
    const state = {
      _frame_meta: { data_min: 0.1, data_max: 0.2, vmin: 0.1, vmax: 0.2, scale: "linear" },
      _rows_meta: { shape: [2, 4], fields: ["vmin", "vmax", "data_min", "data_max"], rows: [[0, 1, 0.3, 0.6], [0, 1, 0.01, 0.9]] },
    };
    expect(storedExtent(state, 1)).toEqual({ lo: 0.01, hi: 0.9, pos: 0.01 });
    expect(storedExtent(state, null)).toEqual({ lo: 0.1, hi: 0.2, pos: 0.1 });
  });
});

describe("a zoom's caption", () => {
  it("says where the cells are the pooled ones the page holds, and nothing where they are exact", async () => {
    const { zoomNote } = await import("../../js/page-panel.js");
    expect(zoomNote(frame())).toBe("");
    const pooled = frame();
    pooled._frame_meta.block = [4, 4];
    expect(zoomNote(pooled)).toBe("zoomed into the 4×4-pooled cells this page holds, not recomputed at full resolution");
  });
});
