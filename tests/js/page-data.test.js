// The standalone page's data read back: base64 and deflated bytes, references resolved once,
// the table lookup with its fallbacks, a zoom cut, an overlay's query rows (js/page-data.js).
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  crop, findEntry, fromBase64, keyOf, packBits, patchQuery, queryRow, resolver, toBase64, unpack, withWhite,
} from "../../js/page-data.js";
import { unpackBits } from "../../js/outline.js";

const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const view = (bytes) => new DataView(Uint8Array.from(bytes).buffer);
const bytesOf = (dv) => Array.from(new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength));

describe("bytes", () => {
  it("base64 both ways", () => {
    const bytes = Uint8Array.from([0, 1, 2, 250, 255]);
    expect(Array.from(fromBase64(b64(bytes)))).toEqual(Array.from(bytes));
    expect(toBase64(bytes)).toBe(b64(bytes));
    const big = new Uint8Array(100000).map((_, i) => i % 251);
    expect(toBase64(big)).toBe(b64(big)); // longer than one String.fromCharCode call takes
  });
  it("unpacks stored, deflated and column-ordered bytes to the same codes", async () => {
    const codes = Uint8Array.from({ length: 6 * 4 }, (_, i) => (i * 7) % 256); // 6 rows x 4 cols
    const columns = new Uint8Array(codes.length);
    for (let c = 0, i = 0; c < 4; c++) for (let r = 0; r < 6; r++, i++) columns[i] = codes[r * 4 + c];
    const items = [
      { __bytes__: b64(codes) },
      { __deflate__: b64(zlib.deflateSync(codes)), length: codes.length },
      { __deflate__: b64(zlib.deflateSync(columns)), length: codes.length, order: "columns", shape: [6, 4] },
    ];
    for (const item of items) expect(Array.from(await unpack(item))).toEqual(Array.from(codes));
  });
  it("refuses a stream of another length and a form it does not read", async () => {
    await expect(unpack({ __deflate__: b64(zlib.deflateSync(Buffer.alloc(5))), length: 6 })).rejects.toThrow(/inflated to 5 bytes, not 6/);
    await expect(unpack({ foo: 1 })).rejects.toThrow(/does not read/);
  });
});

describe("resolver", () => {
  it("puts bytes and labels in place, decoding each part once while it is recent", async () => {
    const shared = [{ __bytes__: b64([1, 2, 3]) }, ["a", "<b>"], { __bytes__: b64([9]) }];
    const resolve = resolver(shared, 1);
    const state = { _frame: { __ref__: 0 }, _frame_meta: { row_labels: { __ref__: 1 }, shape: [1, 3] }, n: 5 };
    const out = await resolve(state);
    expect(bytesOf(out._frame)).toEqual([1, 2, 3]);
    expect(out._frame_meta).toEqual({ row_labels: ["a", "<b>"], shape: [1, 3] });
    expect(out.n).toBe(5);
    const again = await resolve({ f: { __ref__: 0 } });
    expect(again.f).toBe(out._frame); // the same DataView: decoded once
    await resolve({ f: { __ref__: 2 } }); // keep = 1: part 0 is dropped ...
    expect((await resolve({ f: { __ref__: 0 } })).f).not.toBe(out._frame); // ... and decoded again
  });
  it("says when a reference points at nothing", async () => {
    await expect(resolver([])({ __ref__: 3 })).rejects.toThrow(/part 3, which it does not hold/);
  });
});

describe("findEntry", () => {
  const keys = ["layer", "head", "sample", "label", "step"];
  const panel = {
    keys,
    options: { layers: [{ index: 0, steps: [0, 1] }, { index: 2, steps: [1] }] },
    table: {
      [keyOf(keys, { layer: 0, head: 1, sample: 0, label: null, step: 0 })]: 10,
      [keyOf(keys, { layer: 0, head: "mean", sample: 0, label: null, step: 1 })]: 11,
      [keyOf(keys, { layer: 2, head: "mean", sample: "mean", label: null, step: 1 })]: 12,
    },
  };
  it("finds the selection itself", () => {
    expect(findEntry(panel, { layer: 0, head: 1, sample: 0, label: null, step: 0 })).toEqual([
      { layer: 0, head: 1, sample: 0, label: null, step: 0 }, 10, "[0,1,0,null,0]",
    ]);
    // the key it is stored under (a fallback's own, not the key asked for)
    expect(findEntry(panel, { layer: 0, head: 3, sample: 0, label: null, step: 1 })[2]).not.toBe(
      keyOf(keys, { layer: 0, head: 3, sample: 0, label: null, step: 1 }));
  });
  it("falls back to the mean of heads, then of samples, and to the site's first step", () => {
    expect(findEntry(panel, { layer: 0, head: 3, sample: 0, label: null, step: 1 })[1]).toBe(11);
    const [sel, idx] = findEntry(panel, { layer: 2, head: 0, sample: 4, label: null, step: 0 });
    expect(idx).toBe(12);
    expect(sel).toMatchObject({ head: "mean", sample: "mean", step: 1 });
  });
  it("finds nothing for a site the panel does not hold, or a class it has no entry of", () => {
    expect(findEntry(panel, { layer: 1, head: 0, sample: 0, label: null, step: 0 })).toBeNull();
    expect(findEntry(panel, { layer: 0, head: 1, sample: 0, label: 1, step: 0 })).toBeNull();
  });
  it("stores a difference map once and keeps the choices it ignores", () => {
    const dkeys = ["layer", "head", "sample", "label", "step", "stat", "difference", "scale"];
    const diffPanel = {
      keys: dkeys,
      difference: { ignored: { label: null, sample: "mean", stat: "mean" }, forced: { scale: "linear" } },
      table: { [keyOf(dkeys, { layer: 0, head: 0, sample: "mean", label: null, step: 0, stat: "mean", difference: [0, 1], scale: "linear" })]: 4 },
    };
    const [sel, idx] = findEntry(diffPanel, { layer: 0, head: 0, sample: 2, label: 1, step: 0, stat: "var", difference: [0, 1], scale: "log" });
    expect(idx).toBe(4);
    expect(sel).toMatchObject({ label: 1, sample: 2, stat: "var", scale: "linear" });
  });
  it("looks up a panel without site options (the head statistics) by its keys alone", () => {
    const k = ["layer", "sample", "label", "step"];
    const stats = { keys: k, table: { [keyOf(k, { layer: 0, sample: "mean", label: null, step: 0 })]: 7 } };
    expect(findEntry(stats, { layer: 0, head: 2, sample: 5, label: null, step: 0 })[1]).toBe(7);
  });
});

describe("crop", () => {
  // a 4 x 6 frame of 8 x 12 positions pooled by 2, zoomed to rows 2..5, keys 3..9
  const codes = Array.from({ length: 24 }, (_, i) => i);
  const meta = {
    shape: [4, 6], region: [0, 8, 0, 12], block: [2, 2], title: "t", error: null,
    row_labels: ["r0", "r1", "r2", "r3"], col_labels: ["c0", "c1", "c2", "c3", "c4", "c5"],
  };
  it("cuts the saved frame at whole cells, labels and region with it", () => {
    const cut = crop({ _frame: view(codes), _frame_meta: meta }, [2, 5, 3, 9]);
    const m = cut._frame_meta;
    expect(m.shape).toEqual([2, 4]);
    expect(m.region).toEqual([2, 6, 2, 10]);
    expect(bytesOf(cut._frame)).toEqual([7, 8, 9, 10, 13, 14, 15, 16]);
    expect(m.row_labels).toEqual(["r1", "r2"]);
    expect(m.col_labels).toEqual(["c1", "c2", "c3", "c4"]);
  });
  it("cuts a significance outline with the cells", () => {
    const bits = new Uint8Array(24);
    bits[7] = 1; // row 1, column 1: inside the cut, at its corner
    bits[0] = 1; // outside it
    const cut = crop({ _frame: view(codes), _frame_meta: { ...meta, outline: packBits(bits) } }, [2, 5, 3, 9]);
    expect(Array.from(unpackBits(cut._frame_meta.outline, 8))).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
  });
  it("leaves a frame with an error, or with nothing to cut, as it is", () => {
    const bad = { _frame: 1, _frame_meta: { error: "x" } };
    expect(crop(bad, [0, 1, 0, 1])).toBe(bad);
    const whole = { _frame: view(codes), _frame_meta: meta };
    expect(crop(whole, [0, 8, 0, 12])).toBe(whole);
    expect(crop(whole, null)).toBe(whole);
  });
});

describe("overlay", () => {
  it("draws white of the size shown last where no single image is shown", () => {
    const state = { _image: { __white__: [2, 3, 4] }, _image_meta: { caption: "mean" } };
    const out = withWhite(state, { shape: [1, 1, 4] });
    expect(out._image.byteLength).toBe(4);
    expect(new Uint8Array(out._image.buffer)[0]).toBe(255);
    expect(withWhite(state, null)._image_meta.shape).toEqual([2, 3, 4]);
  });
  // 3 query rows over a 2 x 2 patch grid after one leading key (CLS)
  const state = {
    _frame: view([9, 9, 9, 9]),
    _frame_meta: { shape: [2, 2], vmin: 0, vmax: 1, title: "q0", caption: "", error: null },
    _rows: view([0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]),
    _rows_meta: {
      shape: [3, 4], grid: [2, 2], skipped: 1, fields: ["vmin", "vmax", "title"],
      rows: [[0, 1, "q0"], [0.1, 0.5, "q1"], [0.2, 0.9, "q2"]],
    },
  };
  it("takes a query row's codes, range and title from the rows it holds", () => {
    const out = queryRow(state, 2);
    expect(bytesOf(out._frame)).toEqual([20, 21, 22, 23]);
    expect(out._frame_meta).toMatchObject({ shape: [2, 2], vmin: 0.2, vmax: 0.9, title: "q2" });
    expect(out.query).toBe(2);
    expect(queryRow(state, 5)).toBe(state); // no such row
    expect(queryRow({ _frame_meta: {} }, 0)).toEqual({ _frame_meta: {} }); // no rows held
  });
  it("turns a patch into its query row, past the leading keys", () => {
    expect(patchQuery(state, 0, 1)).toBe(2);
    expect(patchQuery(state, 1, 1)).toBeNull(); // patch (1, 1) would be row 4: not held
    expect(patchQuery(state, 2, 0)).toBeNull();
    expect(patchQuery({ _frame_meta: {} }, 0, 0)).toBeNull();
  });
});
