// Codecs: bytes traits -> typed arrays, frame checks, dequantization, thumbnails.
import { describe, expect, it } from "vitest";
import { decodeFrame, dequantize, formatValue, splitThumbs, toBytes } from "../../js/codecs.js";

describe("toBytes", () => {
  it("views a DataView's window without copying", () => {
    const buf = new ArrayBuffer(8);
    new Uint8Array(buf).set([1, 2, 3, 4, 5, 6, 7, 8]);
    const bytes = toBytes(new DataView(buf, 2, 3));
    expect(Array.from(bytes)).toEqual([3, 4, 5]);
    bytes[0] = 99;
    expect(new Uint8Array(buf)[2]).toBe(99);
  });
  it("accepts ArrayBuffer, Uint8Array and nothing", () => {
    expect(toBytes(new ArrayBuffer(4)).length).toBe(4);
    const u = new Uint8Array([9]);
    expect(toBytes(u)).toBe(u);
    expect(toBytes(null).length).toBe(0);
  });
  it("rejects non-binary values with a clear error", () => {
    expect(() => toBytes([1, 2, 3])).toThrow(/expected binary data/);
  });
});

describe("decodeFrame", () => {
  it("returns rows, cols and the codes", () => {
    const f = decodeFrame(new DataView(new Uint8Array([0, 1, 2, 3, 4, 5]).buffer), { shape: [2, 3], dtype: "uint8" });
    expect(f.rows).toBe(2);
    expect(f.cols).toBe(3);
    expect(Array.from(f.codes)).toEqual([0, 1, 2, 3, 4, 5]);
  });
  it("refuses a length that does not match the shape", () => {
    expect(() => decodeFrame(new Uint8Array(5), { shape: [2, 3] })).toThrow(/5 bytes but its shape 2x3 needs 6/);
  });
  it("refuses a non-uint8 dtype and a missing shape", () => {
    expect(() => decodeFrame(new Uint8Array(6), { shape: [2, 3], dtype: "float32" })).toThrow(/uint8/);
    expect(() => decodeFrame(new Uint8Array(6), {})).toThrow(/2D shape/);
  });
});

describe("dequantize", () => {
  it("inverts the linear code scale", () => {
    expect(dequantize(0, -1, 3)).toBe(-1);
    expect(dequantize(254, -1, 3)).toBe(3);
    expect(dequantize(127, 0, 2)).toBeCloseTo(1, 10);
  });
  it("reads the NaN code as NaN, never as a value", () => {
    expect(Number.isNaN(dequantize(255, -1, 3))).toBe(true);
    expect(Number.isNaN(dequantize(255, 1e-3, 1, "log"))).toBe(true);
  });
  it("inverts the log code scale", () => {
    expect(dequantize(0, 1e-3, 1, "log")).toBeCloseTo(1e-3, 12);
    expect(dequantize(254, 1e-3, 1, "log")).toBeCloseTo(1, 12);
    expect(dequantize(128, 1e-4, 1, "log")).toBeCloseTo(Math.exp(Math.log(1e-4) * (1 - 128 / 254)), 10);
  });
});

describe("splitThumbs", () => {
  it("cuts one message into thumbnails by offset and shape", () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 9, 8, 7, 6, 5, 4]);
    const meta = {
      thumbs: [
        { layer: 0, head: 0, shape: [2, 2], offset: 0, vmin: 0, vmax: 1 },
        { layer: 0, head: 1, shape: [2, 3], offset: 4, vmin: 0, vmax: 2 },
      ],
    };
    const t = splitThumbs(bytes, meta);
    expect(t.map((x) => [x.head, x.rows, x.cols])).toEqual([[0, 2, 2], [1, 2, 3]]);
    expect(Array.from(t[1].codes)).toEqual([9, 8, 7, 6, 5, 4]);
  });
  it("says which thumbnail overruns the bytes", () => {
    const meta = { thumbs: [{ layer: 3, head: 7, shape: [4, 4], offset: 0, vmin: 0, vmax: 1 }] };
    expect(() => splitThumbs(new Uint8Array(10), meta)).toThrow(/layer 3 head 7/);
  });
});

describe("formatValue", () => {
  it("keeps three significant digits and uses exponents for tiny or huge values", () => {
    expect(formatValue(0.123456)).toBe("0.123");
    expect(formatValue(0.5)).toBe("0.5");
    expect(formatValue(0)).toBe("0");
    expect(formatValue(2e-5)).toBe("2.00e-5");
  });
});

describe("decodeFrame of deflated codes", () => {
  it("inflates codes sent as their zlib stream, once per buffer, and keeps codes sent as they are", async () => {
    const { deflateSync } = await import("node:zlib");
    const codes = Uint8Array.from({ length: 64 * 80 }, (_, i) => (i % 97 === 0 ? 200 : i % 5));
    const stream = new Uint8Array(deflateSync(codes, { level: 1 }));
    expect(stream.length).toBeLessThan(codes.length);
    const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
    const first = decodeFrame(view, { shape: [64, 80] });
    expect(first.codes).toEqual(codes);
    expect(decodeFrame(view, { shape: [64, 80] }).codes).toBe(first.codes); // read again: not inflated again
    expect(decodeFrame(codes, { shape: [64, 80] }).codes).toBe(codes);
    // a stream of another frame's length is refused, not drawn cut or padded
    expect(() => decodeFrame(new Uint8Array(stream), { shape: [64, 81] })).toThrow(/not the frame's/);
    const bad = new Uint8Array(stream);
    bad[bad.length - 1] ^= 1;
    expect(() => decodeFrame(bad, { shape: [64, 80] })).toThrow(/Adler-32/);
  });
});
