// Frames held in the page (js/prefetch.js): which frame a matrix view draws after a change made
// in the page, the budget (oldest dropped first), labels, and the tooltip's version for a held frame.
import { describe, expect, it } from "vitest";
import { LABELS_HELD, PAGE_BUDGET, heldFrames, keyText, pageMove, pickFrame, wantedKey } from "../../js/prefetch.js";
import { tooltipMachine } from "../../js/ui.js";

const TRAITS = ["layer", "head", "sample", "label", "step", "stat", "difference", "color_range", "scale",
  "region", "size", "significance"];
const SELECTION = {
  layer: 0, head: 0, sample: 0, label: null, step: 0, stat: "mean", difference: null,
  color_range: "frame", scale: "linear", region: null, size: 512, significance: 0.05,
};
/** The key the kernel computes for a selection (attnwidget/widgets/_prefetch.py Prefetcher.key). */
const kernelKey = (sel, epoch = 1) => [epoch, ...TRAITS.map((n) => sel[n])];
/** A model as a view sees it: the synced traits, with `set` as a control in the page sets them. */
function model(traits) {
  const state = { _held: { traits: TRAITS, budget: PAGE_BUDGET }, ...traits };
  return { get: (n) => state[n], set: (n, v) => { state[n] = v; } };
}
const codes = (n, fill = 1) => new Uint8Array(n).fill(fill);
const LABELS = { rows: ["a", "b"], cols: ["a", "b"] };

describe("keys", () => {
  it("the page's key of the model's selection is the kernel's key of the same selection", () => {
    const sel = { ...SELECTION, difference: [0, 1], region: [0, 4, 2, 8], label: "spoof" };
    const m = model(sel);
    // the kernel's list arrives parsed from JSON; the model's traits are parsed from JSON too
    const sent = JSON.parse(JSON.stringify(kernelKey(sel, 3)));
    expect(wantedKey(m, TRAITS, 3)).toBe(keyText(sent));
  });

  it("every trait of the key tells frames apart, the colormap is not one of them", () => {
    const base = wantedKey(model(SELECTION), TRAITS, 1);
    for (const [name, value] of [["layer", 1], ["head", "mean"], ["sample", "mean"], ["label", 1], ["step", 2],
      ["stat", "var"], ["difference", [0, 1]], ["color_range", "shared"], ["scale", "log"], ["region", [0, 2, 0, 2]],
      ["size", 64], ["significance", 0.01]]) {
      expect(wantedKey(model({ ...SELECTION, [name]: value }), TRAITS, 1)).not.toBe(base);
    }
    expect(wantedKey(model({ ...SELECTION, colormap: "magma" }), TRAITS, 1)).toBe(base);
    expect(wantedKey(model(SELECTION), TRAITS, 2)).not.toBe(base); // another epoch: another capture
  });
});

describe("pickFrame", () => {
  function setup() {
    const store = heldFrames();
    const shown = { key: kernelKey(SELECTION), labels: "L" }; // `_frame_key` of the kernel's frame
    const m = model({ ...SELECTION, _frame_key: shown });
    store.put(shown.key, codes(4, 10), { shape: [2, 2], vmin: 0, vmax: 1 }, "L", LABELS);
    const head2 = { shape: [2, 2], vmin: 0, vmax: 0.5, caption: "head 2", outline: "8A==" };
    store.put(kernelKey({ ...SELECTION, head: 2 }), codes(4, 20), head2, "L", undefined);
    return { store, m, shown };
  }

  it("draws the kernel's frame while the model's selection is the one it was computed for", () => {
    const { store, m, shown } = setup();
    expect(pickFrame(m, store)).toEqual({ source: "kernel", key: keyText(shown.key) });
  });

  it("draws a held frame at once when the page changes the selection to one it holds", () => {
    const { store, m } = setup();
    m.set("head", 2);
    const pick = pickFrame(m, store);
    expect(pick.source).toBe("held");
    expect(pick.entry.codes[0]).toBe(20);
    expect(pick.entry.meta.outline).toBe("8A=="); // its own header: range, caption, outline
    expect(pick.entry.labels).toBe(LABELS); // the labels the kernel said the page holds already
    // the kernel's answer for head 2 is the same key: the view draws nothing new
    m.set("_frame_key", { key: kernelKey({ ...SELECTION, head: 2 }), labels: "L" });
    expect(pickFrame(m, store)).toEqual({ source: "kernel", key: pick.key });
  });

  it("draws nothing new (null) for a selection it does not hold: the kernel's answer comes", () => {
    const { store, m } = setup();
    m.set("head", 3);
    expect(pickFrame(m, store)).toBeNull();
    m.set("head", 2);
    m.set("color_range", "shared"); // head 2 is held under the frame's own range only
    expect(pickFrame(m, store)).toBeNull();
  });

  it("a frame without a key (a standalone page, an error) is drawn as it is", () => {
    const store = heldFrames();
    expect(pickFrame(model({ ...SELECTION, _frame_key: null }), store)).toEqual({ source: "kernel", key: null });
    const page = { get: (n) => ({ ...SELECTION, _frame_key: { key: [1] } })[n] }; // no _held trait
    expect(pickFrame(page, store)).toEqual({ source: "kernel", key: null });
  });
});

describe("heldFrames", () => {
  it("keeps to its budget, dropping the oldest first; putting a frame again makes it newest", () => {
    const store = heldFrames(10);
    store.put([1, "a"], codes(4), {}, "L", LABELS);
    store.put([1, "b"], codes(4), {}, "L", undefined);
    store.put([1, "a"], codes(4), {}, "L", undefined); // the frame shown again: newest
    store.put([1, "c"], codes(4), {}, "L", undefined);
    expect(store.keys()).toEqual([keyText([1, "a"]), keyText([1, "c"])]);
    expect(store.bytes()).toBe(8);
    store.put([1, "big"], codes(25), {}, "L", undefined); // alone over the budget: kept, the rest dropped
    expect(store.keys()).toEqual([keyText([1, "big"])]);
    expect(store.bytes()).toBe(25);
  });

  it("keeps the ledger the kernel keeps (tests/widgets/test_prefetch.py puts the same frames)", () => {
    const store = heldFrames(12);
    for (const [name, n] of [["a", 4], ["b", 4], ["c", 4], ["a", 4], ["d", 6], ["e", 1]]) store.put([1, name], codes(n), {}, "L", LABELS);
    expect(store.keys()).toEqual(["a", "d", "e"].map((x) => keyText([1, x])));
  });

  it("a frame whose labels it does not hold is no use (a miss), and label sets are bounded", () => {
    const store = heldFrames();
    store.put([1, "x"], codes(1), {}, "unknown", undefined);
    expect(store.has(keyText([1, "x"]))).toBe(true);
    expect(store.get(keyText([1, "x"]))).toBeNull();
    for (let i = 0; i < LABELS_HELD + 3; i++) store.put([2, i], codes(1), {}, `L${i}`, { rows: [String(i)], cols: [] });
    store.put([3, "old"], codes(1), {}, "L0", undefined); // dropped from the label sets: not usable
    expect(store.get(keyText([3, "old"]))).toBeNull();
    store.put([3, "new"], codes(1), {}, `L${LABELS_HELD + 2}`, undefined);
    expect(store.get(keyText([3, "new"])).labels.rows).toEqual([String(LABELS_HELD + 2)]);
  });
});

describe("the tooltip of a held frame", () => {
  it("asks about the frame it draws by key and keeps only that frame's values", () => {
    const t = tooltipMachine();
    const held = keyText(kernelKey({ ...SELECTION, head: 2 }));
    t.dispatch({ type: "frame", version: keyText(kernelKey(SELECTION)), rows: 2, cols: 2 });
    const asked = t.dispatch({ type: "move", row: 1, col: 0 }).request;
    // the page draws head 2 from what it holds: the row is asked again at once, for head 2 (the view
    // adds the frame's key to the message), and the late answer about head 0 is dropped
    const again = t.dispatch({ type: "frame", version: held, rows: 2, cols: 2 }).request;
    expect(again).not.toBeNull();
    t.dispatch({ type: "reply", id: asked.id, row: 1, version: keyText(kernelKey(SELECTION)), values: new Float32Array([9, 9]) });
    expect(t.view().status).toBe("pending");
    expect(t.dispatch({ type: "move", row: 1, col: 1 }).request).toBeNull(); // in flight
    t.dispatch({ type: "reply", id: again.id, row: 1, version: held, values: new Float32Array([0.25, 0.75]) });
    expect(t.view()).toEqual({ row: 1, col: 1, value: 0.75, status: "exact" });
    // the kernel's own frame for head 2 arrives: the same key, so the exact value stays
    t.dispatch({ type: "frame", version: held, rows: 2, cols: 2 });
    expect(t.view().status).toBe("exact");
  });
});

describe("pageMove", () => {
  const at = (head, step, key = { key: [1], heads: 4, steps: 3 }) => model({ ...SELECTION, head, step, _frame_key: key });

  it("walks heads mean, max, 0..n-1 and steps 0..n-1 as the kernel's move does, stopping at the ends", () => {
    expect(pageMove(at("mean", 0), { what: "head", by: 1 })).toEqual({ trait: "head", value: "max" });
    expect(pageMove(at("max", 0), { what: "head", by: 1 })).toEqual({ trait: "head", value: 0 });
    expect(pageMove(at(0, 0), { what: "head", by: -1 })).toEqual({ trait: "head", value: "max" });
    expect(pageMove(at(3, 0), { what: "head", by: 1 })).toBeNull(); // the last head: nothing moves
    expect(pageMove(at("mean", 0), { what: "head", by: -1 })).toBeNull();
    expect(pageMove(at(1, 1), { what: "step", by: 1 })).toEqual({ trait: "step", value: 2 });
    expect(pageMove(at(1, 2), { what: "step", by: 1 })).toBeNull();
    expect(pageMove(at(1, 0), { what: "step", by: -1 })).toBeNull();
  });

  it("leaves to the kernel what the page cannot know: layers, a site without heads, a standalone page", () => {
    expect(pageMove(at(1, 0), { what: "layer", by: 1 })).toBeNull();
    expect(pageMove(at("mean", 0, { key: [1], heads: null, steps: 1 }), { what: "head", by: 1 })).toBeNull();
    expect(pageMove(at(1, 0, null), { what: "head", by: 1 })).toBeNull();
  });
});
