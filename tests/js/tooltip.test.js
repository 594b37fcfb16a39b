// The tooltip's state machine (js/ui.js tooltipMachine): it follows the frame drawn,
// never shows a value of an older frame, and asks the kernel for one row at a time.
import { describe, expect, it } from "vitest";
import { dequantize, formatExact, formatValue, toFloats, valueLine } from "../../js/codecs.js";
import { tooltipMachine } from "../../js/ui.js";

const row = (...v) => new Float32Array(v);

describe("tooltipMachine", () => {
  it("is hidden until the pointer is over a cell, then asks for that row", () => {
    const t = tooltipMachine();
    expect(t.dispatch({ type: "frame", version: 1, rows: 3, cols: 3 }).request).toBeNull();
    expect(t.view()).toBeNull();
    const { request } = t.dispatch({ type: "move", row: 2, col: 1 });
    expect(request).toEqual({ row: 2, id: expect.any(String) });
    expect(t.view()).toEqual({ row: 2, col: 1, value: null, status: "pending" });
    t.dispatch({ type: "reply", id: request.id, row: 2, version: 1, values: row(0.1, 0.25, 0.65) });
    expect(t.view()).toMatchObject({ row: 2, col: 1, status: "exact" });
    expect(t.view().value).toBeCloseTo(0.25, 7);
  });

  it("asks once per row and frame: moving along a row it already has sends nothing", () => {
    const t = tooltipMachine();
    t.dispatch({ type: "frame", version: 1, rows: 3, cols: 3 });
    const first = t.dispatch({ type: "move", row: 0, col: 0 }).request;
    expect(t.dispatch({ type: "move", row: 0, col: 1 }).request).toBeNull(); // still in flight
    t.dispatch({ type: "reply", id: first.id, row: 0, version: 1, values: row(1, 2, 3) });
    expect(t.dispatch({ type: "move", row: 0, col: 2 }).request).toBeNull();
    expect(t.view().value).toBe(3);
    expect(t.dispatch({ type: "move", row: 1, col: 2 }).request).not.toBeNull();
  });

  it("on a new frame with the pointer still: drops the old values and asks again (never stale)", () => {
    const t = tooltipMachine();
    t.dispatch({ type: "frame", version: 1, rows: 3, cols: 3 });
    const a = t.dispatch({ type: "move", row: 1, col: 1 }).request;
    t.dispatch({ type: "reply", id: a.id, row: 1, version: 1, values: row(0, 0.5, 0) });
    expect(t.view().value).toBe(0.5);
    // head changed in Python: a new frame is drawn, the pointer did not move
    const b = t.dispatch({ type: "frame", version: 2, rows: 3, cols: 3 }).request;
    expect(t.view()).toEqual({ row: 1, col: 1, value: null, status: "pending" });
    expect(b).toEqual({ row: 1, id: expect.any(String) }); // the new frame asks at once
    expect(t.dispatch({ type: "move", row: 1, col: 1 }).request).toBeNull();
    expect(b.id).not.toBe(a.id);
    // a late answer about frame 1 is dropped; frame 2's is shown
    t.dispatch({ type: "reply", id: a.id, row: 1, version: 1, values: row(0, 0.5, 0) });
    expect(t.view().status).toBe("pending");
    t.dispatch({ type: "reply", id: b.id, row: 1, version: 2, values: row(0, 0.125, 0) });
    expect(t.view()).toEqual({ row: 1, col: 1, value: 0.125, status: "exact" });
  });

  it("keeps an answer of the frame drawn whichever request it answers", () => {
    const t = tooltipMachine();
    t.dispatch({ type: "frame", version: 1, rows: 2, cols: 2 });
    const a = t.dispatch({ type: "move", row: 0, col: 0 }).request;
    t.dispatch({ type: "frame", version: 2, rows: 2, cols: 2 });
    t.dispatch({ type: "move", row: 0, col: 0 });
    // the kernel had already moved on: it answered request a with frame 2's row
    t.dispatch({ type: "reply", id: a.id, row: 0, version: 2, values: row(0.75, 0.25) });
    expect(t.view()).toEqual({ row: 0, col: 0, value: 0.75, status: "exact" });
  });

  it("hides when the new frame no longer has the hovered cell (zoom, another shape)", () => {
    const t = tooltipMachine();
    t.dispatch({ type: "frame", version: 1, rows: 8, cols: 8 });
    t.dispatch({ type: "move", row: 6, col: 7 });
    t.dispatch({ type: "frame", version: 2, rows: 4, cols: 4 });
    expect(t.view()).toBeNull();
  });

  it("hides on leave and shows NaN as a value", () => {
    const t = tooltipMachine();
    t.dispatch({ type: "frame", version: 1, rows: 1, cols: 2 });
    const r = t.dispatch({ type: "move", row: 0, col: 1 }).request;
    t.dispatch({ type: "reply", id: r.id, row: 0, version: 1, values: row(1, NaN) });
    expect(Number.isNaN(t.view().value)).toBe(true);
    t.dispatch({ type: "leave" });
    expect(t.view()).toBeNull();
  });

  it("falls back to the approximate value where no kernel answers, until the next frame", () => {
    const t = tooltipMachine();
    t.dispatch({ type: "frame", version: "page:1", rows: 2, cols: 2 });
    const r = t.dispatch({ type: "move", row: 0, col: 0 }).request;
    expect(t.dispatch({ type: "error", id: r.id }).request).toBeNull();
    expect(t.view().status).toBe("approximate");
    expect(t.dispatch({ type: "move", row: 1, col: 1 }).request).toBeNull(); // no asking again
    expect(t.dispatch({ type: "frame", version: "page:2", rows: 2, cols: 2 }).request).not.toBeNull();
  });

  it("refuses an unknown event", () => {
    expect(() => tooltipMachine().dispatch({ type: "click" })).toThrow(/unknown tooltip event/);
  });
});

describe("exact values", () => {
  it("formats float32 values to 6 significant digits", () => {
    expect(formatExact(Math.fround(0.1234567))).toBe("0.123457");
    expect(formatExact(0.5)).toBe("0.5");
    expect(formatExact(0)).toBe("0");
    expect(formatExact(3.2e-7)).toBe("3.2e-7");
    expect(formatExact(NaN)).toBe("NaN");
  });
  it("reads a row buffer at any byte offset", () => {
    const values = new Float32Array([0.25, -1, 3.5]);
    const padded = new Uint8Array(13);
    padded.set(new Uint8Array(values.buffer), 1);
    const view = new DataView(padded.buffer, 1, 12);
    expect(Array.from(toFloats(view))).toEqual([0.25, -1, 3.5]);
    expect(() => toFloats(new Uint8Array(5))).toThrow(/multiple of 4/);
  });
});

describe("valueLine", () => {
  const meta = { vmin: 0, vmax: 1, scale: "linear" };
  const codes = new Uint8Array([0, 127, 254, 255]);
  it("shows the exact value, NaN as NaN", () => {
    expect(valueLine({ status: "exact", value: 0.125, row: 0, col: 1 }, codes, 2, meta)).toBe(`value ${formatExact(0.125)}`);
    expect(valueLine({ status: "exact", value: NaN, row: 0, col: 0 }, codes, 2, meta)).toBe("value NaN");
  });
  it("marks a colour code's value as approximate, and the NaN code as NaN", () => {
    const v = dequantize(254, 0, 1, "linear");
    expect(valueLine({ status: "approximate", row: 1, col: 0 }, codes, 2, meta)).toBe(`value ≈ ${formatValue(v)} (colour code)`);
    expect(valueLine({ status: "approximate", row: 1, col: 1 }, codes, 2, meta)).toBe("value NaN");
  });
  it("says the value is coming while it is asked for", () => {
    expect(valueLine({ status: "pending", row: 0, col: 0 }, codes, 2, meta)).toBe("value …");
  });
});
