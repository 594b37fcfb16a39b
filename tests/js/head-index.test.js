// The head dropdown's index and the head it names (js/prefetch.js headAt, headIndex), and which
// events are a pick made in the page (pickedInPage): js/heatmap.js applies only those.
// The kernel's side of the same mapping is tests/widgets/test_head_index.py.
import { describe, expect, it } from "vitest";
import { followHeadIndex } from "../../js/heatmap.js";
import { REDUCED_HEADS, headAt, headIndex, pickedInPage } from "../../js/prefetch.js";

describe("headAt / headIndex", () => {
  it("index 0 is the mean, 1 the max, i + 2 head i", () => {
    expect(REDUCED_HEADS).toEqual(["mean", "max"]);
    expect([0, 1, 2, 3, 13].map(headAt)).toEqual(["mean", "max", 0, 1, 11]);
  });
  it("headIndex inverts headAt", () => {
    for (let i = 0; i < 20; i += 1) expect(headIndex(headAt(i))).toBe(i);
    expect(headIndex("mean")).toBe(0);
    expect(headIndex(5)).toBe(7);
  });
  it("what is no index or no head gives null, never a head", () => {
    for (const v of [null, undefined, -1, 1.5, "2", NaN]) expect(headAt(v)).toBeNull();
    for (const v of ["min", -1, 0.5, null]) expect(headIndex(v)).toBeNull();
  });
});

describe("pickedInPage", () => {
  const select = { tagName: "SELECT" };
  it("a change of a select is a pick made in the page", () => {
    expect(pickedInPage({ type: "change", target: select })).toBe(true);
    expect(pickedInPage({ type: "input", target: { tagName: "select" } })).toBe(true);
  });
  it("a kernel message, a click elsewhere or no event is not", () => {
    expect(pickedInPage(undefined)).toBe(false);
    expect(pickedInPage({ type: "message", target: {} })).toBe(false);
    expect(pickedInPage({ type: "click", target: select })).toBe(false);
    expect(pickedInPage({ type: "change", target: { tagName: "INPUT" } })).toBe(false);
  });
});

describe("followHeadIndex", () => {
  /** A model with Backbone's on/off/set, as a linked control sets it. */
  function model(state) {
    const handlers = {};
    return {
      get: (n) => state[n],
      set(n, v) {
        const changed = state[n] !== v;
        state[n] = v;
        if (changed) for (const f of handlers[`change:${n}`] || []) f();
      },
      on: (e, f) => { (handlers[e] = handlers[e] || []).push(f); },
      off: (e, f) => { handlers[e] = (handlers[e] || []).filter((g) => g !== f); },
    };
  }
  const during = (event, fn) => {
    const before = globalThis.event;
    globalThis.event = event;
    try { fn(); } finally { globalThis.event = before; }
  };

  it("a pick in the dropdown sets the head it names", () => {
    const m = model({ head: 0, _head_index: 2 });
    const stop = followHeadIndex(m);
    during({ type: "change", target: { tagName: "SELECT" } }, () => m.set("_head_index", 5));
    expect(m.get("head")).toBe(3);
    during({ type: "change", target: { tagName: "SELECT" } }, () => m.set("_head_index", 0));
    expect(m.get("head")).toBe("mean");
    stop();
    during({ type: "change", target: { tagName: "SELECT" } }, () => m.set("_head_index", 1));
    expect(m.get("head")).toBe("mean"); // stopped: no longer followed
  });
  it("an index the kernel set (its options changing, say) leaves the head alone", () => {
    const m = model({ head: 3, _head_index: 5 });
    followHeadIndex(m);
    during({ type: "message", target: {} }, () => m.set("_head_index", 0));
    expect(m.get("head")).toBe(3);
  });
});
