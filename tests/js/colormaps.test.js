// Colormaps: the generated JS tables are the Python tables (checked against a
// few values matplotlib gives), 256 RGB entries each.
import { describe, expect, it } from "vitest";
import { COLORMAPS, NAN_CODE, TOP, lut } from "../../js/colormaps.js";

describe("colormaps", () => {
  it("offers the seven maps the widget documents", () => {
    expect(COLORMAPS).toEqual(["viridis", "plasma", "magma", "inferno", "jet", "coolwarm", "YlOrRd"]);
  });
  it("has 768 bytes per table", () => {
    for (const name of COLORMAPS) expect(lut(name).length).toBe(768);
  });
  it("matches matplotlib's viridis ends on codes 0 and TOP", () => {
    const t = lut("viridis");
    expect(TOP).toBe(254);
    expect(Array.from(t.slice(0, 3))).toEqual([68, 1, 84]);
    expect(Array.from(t.slice(TOP * 3, TOP * 3 + 3))).toEqual([253, 231, 37]);
  });
  it("gives NaN cells one grey in every table, never a colormap's colour", () => {
    for (const name of COLORMAPS) {
      const t = lut(name);
      expect(Array.from(t.slice(NAN_CODE * 3))).toEqual([128, 128, 128]);
    }
  });
  it("returns a fresh copy so callers cannot corrupt the table", () => {
    const a = lut("magma");
    a[0] = 255;
    expect(lut("magma")[0]).not.toBe(255);
  });
  it("names an unknown colormap in its error", () => {
    expect(() => lut("rainbow")).toThrow(/unknown colormap rainbow/);
  });
});
