// The outline of significant cells: bits as numpy.packbits packs them, and the edges around them.
import { describe, expect, it } from "vitest";
import { outlineEdges, unpackBits } from "../../js/outline.js";

const pack = (bits) => {
  const bytes = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => { if (b) bytes[i >> 3] |= 0x80 >> (i & 7); });
  return btoa(String.fromCharCode(...bytes));
};

describe("unpackBits", () => {
  it("reads numpy.packbits' order: most significant bit first", () => {
    // np.packbits([1,0,0,0,0,0,0,1, 1,1]) == [129, 192]
    expect(Array.from(unpackBits(btoa(String.fromCharCode(129, 192)), 10))).toEqual([1, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
  });
  it("refuses fewer bits than cells", () => {
    expect(() => unpackBits(btoa("\x01"), 9)).toThrow(/holds 8 cells, not 9/);
  });
});

describe("outlineEdges", () => {
  it("draws the four sides of one marked cell", () => {
    const bits = new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0, 0]);
    const edges = outlineEdges(bits, 3, 3);
    expect(edges).toHaveLength(4);
    expect(edges).toContainEqual([1, 1, 2, 1]);
    expect(edges).toContainEqual([1, 2, 2, 2]);
    expect(edges).toContainEqual([1, 1, 1, 2]);
    expect(edges).toContainEqual([2, 1, 2, 2]);
  });
  it("draws one line around a block of cells, none between them, and uses the border", () => {
    // rows 0-1, columns 0-2 of a 3 x 4 matrix
    const bits = new Uint8Array([1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0]);
    const edges = outlineEdges(bits, 3, 4);
    expect(edges).toEqual(expect.arrayContaining([[0, 0, 3, 0], [0, 2, 3, 2], [0, 0, 0, 2], [3, 0, 3, 2]]));
    expect(edges).toHaveLength(4);
  });
  it("draws nothing where nothing is marked, and the border where everything is", () => {
    expect(outlineEdges(new Uint8Array(6), 2, 3)).toEqual([]);
    expect(outlineEdges(new Uint8Array(6).fill(1), 2, 3)).toHaveLength(4);
  });
  it("agrees with packed bits of a diagonal", () => {
    const bits = [1, 0, 0, 1];
    const edges = outlineEdges(unpackBits(pack(bits), 4), 2, 2);
    // two cells touching only at a corner: four sides each, 8 cell edges in all (the two
    // middle lines each join the edges of both cells into one segment)
    const length = edges.reduce((sum, [x0, y0, x1, y1]) => sum + Math.abs(x1 - x0) + Math.abs(y1 - y0), 0);
    expect(length).toBe(8);
    expect(edges).toContainEqual([0, 1, 2, 1]);
  });
});
