// The synchronous zlib decoder (js/inflate.js) against node's zlib, the same library
// Python's zlib module wraps: every level, the three block types, and damaged streams.
import { constants, deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { adler32, huffmanTable, inflate } from "../../js/inflate.js";

/** Codes like a peaky attention frame: mostly low, a few high, runs of zeros. */
function attentionCodes(rows, cols, seed = 1) {
  let s = seed;
  const rand = () => { s = (s * 1103515245 + 12345) >>> 0; return s / 2 ** 32; };
  const out = new Uint8Array(rows * cols);
  for (let i = 0; i < out.length; i += 1) {
    const r = rand();
    out[i] = r < 0.6 ? 0 : r < 0.97 ? Math.floor(rand() * 12) : Math.floor(rand() * 256);
  }
  return out;
}

/** The first index where two byte arrays differ (-1: none, the lengths included): a 262,144-byte
 * frame compared in a loop, not by the assertion library's deep equality, which is slow at that size. */
function firstDiff(a, b) {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return i;
  return -1;
}

function noise(n, seed = 7) {
  let s = seed;
  return Uint8Array.from({ length: n }, () => { s = (s * 1664525 + 1013904223) >>> 0; return s >>> 24; });
}

describe("inflate", () => {
  it("gives back the codes node's zlib deflated, at every level", () => {
    const codes = attentionCodes(96, 130);
    for (let level = 0; level <= 9; level += 1) {
      const stream = new Uint8Array(deflateSync(codes, { level }));
      expect(firstDiff(inflate(stream, codes.length), codes)).toBe(-1);
    }
  });
  it("gives back codes deflated with every strategy (the kernel uses run-length matches only)", () => {
    const codes = attentionCodes(128, 128, 5);
    for (const strategy of [constants.Z_DEFAULT_STRATEGY, constants.Z_RLE, constants.Z_HUFFMAN_ONLY,
      constants.Z_FILTERED, constants.Z_FIXED]) {
      const stream = new Uint8Array(deflateSync(codes, { level: 1, strategy }));
      expect(firstDiff(inflate(stream, codes.length), codes)).toBe(-1);
    }
  });
  it("reads fixed-code blocks (short input), stored blocks (noise) and long runs", () => {
    const short = new Uint8Array([3, 3, 3, 200, 1, 0, 0, 0]);
    expect(firstDiff(inflate(new Uint8Array(deflateSync(short, { level: 6 })), short.length), short)).toBe(-1);
    const n = noise(70000); // over one stored block's 65,535 bytes
    const stored = new Uint8Array(deflateSync(n, { level: 0 }));
    expect(firstDiff(inflate(stored, n.length), n)).toBe(-1);
    expect(firstDiff(inflate(new Uint8Array(deflateSync(n, { level: 1 })), n.length), n)).toBe(-1);
    const zeros = new Uint8Array(512 * 512);
    zeros[1000] = 9;
    expect(firstDiff(inflate(new Uint8Array(deflateSync(zeros, { level: 1 })), zeros.length), zeros)).toBe(-1);
  });
  it("decodes a 512 x 512 frame with blocks of every kind mixed", () => {
    const codes = attentionCodes(512, 512, 3);
    codes.set(noise(40000), 100000); // a stretch zlib stores or codes badly
    for (const level of [1, 6, 9]) {
      const stream = new Uint8Array(deflateSync(codes, { level, strategy: level === 9 ? 1 : 0 }));
      expect(firstDiff(inflate(stream, codes.length), codes)).toBe(-1);
    }
  });
  it("reads a stream at an offset of a larger buffer (a DataView's bytes)", () => {
    const codes = attentionCodes(20, 20);
    const stream = deflateSync(codes);
    const big = new Uint8Array(stream.length + 5);
    big.set(stream, 3);
    expect(firstDiff(inflate(big.subarray(3, 3 + stream.length), codes.length), codes)).toBe(-1);
  });
  it("refuses a stream that is damaged, cut off, or of another length than the frame's", () => {
    const codes = attentionCodes(64, 64);
    const stream = new Uint8Array(deflateSync(codes, { level: 1 }));
    expect(() => inflate(stream, codes.length - 1)).toThrow(/more than the frame's/);
    expect(() => inflate(stream, codes.length + 1)).toThrow(/not the frame's/);
    expect(() => inflate(stream.subarray(0, stream.length - 2), codes.length)).toThrow(/check is cut off|damaged/);
    const flipped = stream.slice();
    flipped[flipped.length - 1] ^= 1; // the Adler-32
    expect(() => inflate(flipped, codes.length)).toThrow(/Adler-32/);
    expect(() => inflate(codes.subarray(0, 100), 100)).toThrow(/not a zlib stream|damaged/);
    // damage inside the blocks: never a wrong frame, always an error
    let caught = 0;
    for (let i = 2; i < stream.length - 4; i += Math.max(1, Math.floor(stream.length / 40))) {
      const bad = stream.slice();
      bad[i] ^= 0x5a;
      try {
        const out = inflate(bad, codes.length);
        expect(firstDiff(out, codes)).toBe(-1); // a flip that changes nothing decoded is the only way through
      } catch (e) {
        expect(String(e.message)).toMatch(/damaged|zlib/);
        caught += 1;
      }
    }
    expect(caught).toBeGreaterThan(30);
  });
});

describe("firstDiff (the comparison these tests use)", () => {
  it("finds a difference anywhere, and a difference of length", () => {
    const a = attentionCodes(8, 8);
    const b = a.slice();
    b[63] ^= 1;
    expect(firstDiff(a, a.slice())).toBe(-1);
    expect(firstDiff(a, b)).toBe(63);
    expect(firstDiff(a, a.subarray(0, 60))).toBe(60);
  });
});

describe("adler32 and huffmanTable", () => {
  it("matches the zlib stream's own check", () => {
    const data = noise(20000, 11);
    const stream = deflateSync(data);
    expect(adler32(data)).toBe(stream.readUInt32BE(stream.length - 4));
    expect(adler32(new Uint8Array(0))).toBe(1);
  });
  it("refuses an over-subscribed code and a length past 15", () => {
    expect(() => huffmanTable(new Uint8Array([1, 1, 1]))).toThrow(/over-subscribed/);
    expect(() => huffmanTable(new Uint8Array([16]))).toThrow(/at most 15/);
    const { table, bits } = huffmanTable(new Uint8Array([2, 1, 3, 3]));
    expect(bits).toBe(3);
    // canonical codes: symbol 1 = "0", symbol 0 = "10", symbols 2, 3 = "110", "111" (read first bit first)
    expect(table[0b000] >>> 4).toBe(1);
    expect(table[0b001] >>> 4).toBe(0);
    expect(table[0b011] >>> 4).toBe(2);
    expect(table[0b111] >>> 4).toBe(3);
  });
});
