// Colormaps: the generated JS tables are the Python tables (checked against a
// few values matplotlib gives), 256 RGB entries each.
import { describe, expect, it } from "vitest";
import { COLORMAPS, lut } from "../../js/colormaps.js";

describe("colormaps", () => {
  it("offers the seven maps the widget documents", () => {
    expect(COLORMAPS).toEqual(["viridis", "plasma", "magma", "inferno", "jet", "coolwarm", "YlOrRd"]);
  });
  it("has 768 bytes per table", () => {
    for (const name of COLORMAPS) expect(lut(name).length).toBe(768);
  });
  it("matches matplotlib's viridis ends", () => {
    const t = lut("viridis");
    expect(Array.from(t.slice(0, 3))).toEqual([68, 1, 84]);
    expect(Array.from(t.slice(765))).toEqual([253, 231, 37]);
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
