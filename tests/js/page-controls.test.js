// What the standalone page's controls offer, its title and Play (js/page-controls.js), and how a
// panel picks, shows and leaves a class-difference map (js/page-panel.js, js/page-model.js).
import { describe, expect, it, vi } from "vitest";
import { classPick, controlChoices, moved, nextStep, playFrom, titleText } from "../../js/page-controls.js";
import { keyOf } from "../../js/page-data.js";
import { createModel } from "../../js/page-model.js";
import { ViewPanel } from "../../js/page-panel.js";

const main = {
  keys: ["layer", "head", "sample", "label", "step", "stat", "difference", "scale"],
  difference: { ignored: { label: null, sample: "mean", stat: "mean" }, forced: { scale: "linear" }, colormap: "coolwarm", before: {} },
  options: {
    layers: [
      { index: 0, name: "enc.0", heads: ["mean", "max", 0, 1], steps: [0, 1, 2], samples: { null: ["mean", 0, 1], 0: ["mean", 0] },
        sample_names: { null: ["mean of samples", "seq 0", "seq 1"], 0: ["mean of samples", "seq 0"] }, class_reason: null },
      { index: 3, name: "enc.1", heads: ["mean"], steps: [0], samples: {}, class_reason: "class filter off: enc.1 keeps 4 samples" },
    ],
    labels: [{ value: null, name: "all samples" }, { value: 0, name: "<b>neg</b>" }],
    samples: { null: ["mean", 0, 1], 0: ["mean", 0] },
    colormaps: ["viridis", "magma", "coolwarm"],
    scales: ["linear"],
    stats: [["mean", "class mean"], ["var", "variance"]],
    differences: [{ value: [0, 1], name: "neg − pos" }],
  },
};
const state = { layer: 0, head: 1, sample: 1, label: null, step: 2, stat: "mean", difference: null, scale: "linear", colormap: "viridis" };

describe("controlChoices", () => {
  it("offers the site's heads, samples by name and steps, and hides a choice of one", () => {
    const { controls, note } = controlChoices(main, state);
    expect(controls.head.items.map(([, t]) => t)).toEqual(["mean of heads", "max of heads", "head 0", "head 1"]);
    expect(controls.sample.items).toEqual([["mean", "class statistic"], [0, "seq 0"], [1, "seq 1"]]);
    expect(controls.step.items.map(([v]) => v)).toEqual([0, 1, 2]);
    expect(controls.scale.hidden).toBe(true); // one scale embedded
    expect(controls.layer.hidden).toBe(false);
    expect(controls.difference.items[0]).toEqual([null, "none"]);
    expect(controls.label.items[1]).toEqual([0, "<b>neg</b>"]); // text, drawn with textContent
    expect(note).toBe("");
  });
  it("hides the sample where there is one or none to walk, as the explorer's slider", () => {
    expect(controlChoices(main, { ...state, label: 0, sample: "mean" }).controls.sample.hidden).toBe(true);
    expect(controlChoices(main, state).controls.sample.hidden).toBe(false);
  });
  it("hides the sample at a site whose picture is the same for every sample", () => {
    const free = { ...main, options: { ...main.options, layers: [{ ...main.options.layers[0], sample_free: true }] } };
    expect(controlChoices(free, state).controls.sample.hidden).toBe(true);
  });
  it("picks a class's mean with the class, and the first sample with every sample", () => {
    expect(classPick(0)).toEqual({ label: 0, sample: "mean" });
    expect(classPick(null)).toEqual({ label: null, sample: 0 });
  });
  it("does not draw twice what the view draws itself", () => {
    expect(controlChoices(main, state, { own: { colormap: true } }).controls.colormap.hidden).toBe(true);
    expect(controlChoices(main, state).controls.colormap.hidden).toBe(false);
  });
  it("disables what a difference map ignores, saying why", () => {
    const { controls } = controlChoices(main, { ...state, difference: [0, 1] });
    for (const n of ["label", "stat", "sample", "scale"]) {
      expect(controls[n].disabled).toBe(true);
      expect(controls[n].title).toMatch(/every sample of both classes/);
    }
    expect(controls.difference.value).toEqual([0, 1]);
    expect(controls.head.disabled).toBe(false);
  });
  it("disables a class filter that cannot apply to the site, with its reason", () => {
    const { controls, note } = controlChoices(main, { ...state, layer: 3, head: "mean" });
    expect(controls.label.disabled).toBe(true);
    expect(note).toMatch(/class filter off/);
    expect(controls.head.hidden).toBe(true); // the site has no heads to choose
  });
});

describe("titleText", () => {
  it("names what the controls show, the class and difference only when chosen", () => {
    const { controls } = controlChoices(main, state);
    expect(titleText("Explorer", controls)).toBe("Explorer · enc.0 · head 1 · class mean · seq 1 · step 2");
    const diff = controlChoices(main, { ...state, difference: [0, 1] }).controls;
    expect(titleText("Explorer", diff)).toBe("Explorer · enc.0 · head 1 · neg − pos · step 2");
    expect(titleText("Explorer", controls, "my page")).toBe("my page");
  });
});

describe("Play and arrow keys", () => {
  it("plays to the last step, then stops; pressed at the last it starts from the first", () => {
    expect(nextStep([0, 1, 2], 0)).toBe(1);
    expect(nextStep([0, 1, 2], 2)).toBeNull();
    expect(playFrom([0, 1, 2], 2)).toBe(0);
    expect(playFrom([0, 1, 2], 1)).toBe(1);
  });
  it("moves among the choices, clamped at the ends", () => {
    expect(moved(["mean", "max", 0, 1], 0, 1)).toBe(1);
    expect(moved(["mean", "max", 0, 1], 1, 1)).toBe(1);
    expect(moved(["mean", "max", 0, 1], "mean", -1)).toBe("mean");
    expect(moved([0, 1], 7, 1)).toBeUndefined();
  });
});

describe("createModel", () => {
  it("tells listeners what a view saved, and the page which names", () => {
    const saved = [];
    const { model, put } = createModel({ a: 1 }, { saved: (names) => saved.push(names) });
    const seen = [];
    model.on("change:a change:b", (_m, v) => seen.push(v));
    model.set("a", 2);
    model.set("b", 3);
    model.save_changes();
    expect(seen).toEqual([2, 3]);
    expect(saved).toEqual([["a", "b"]]);
    expect(put([["a", 2], ["b", 4]])).toEqual(["b"]); // only what changed
    expect(seen).toEqual([2, 3, 4]);
    model.off("change:a");
    put([["a", 9]]);
    expect(seen).toEqual([2, 3, 4]);
  });
  it("takes several traits at once, as a Backbone model's set({...})", () => {
    const saved = [];
    const { model, state } = createModel({}, { saved: (names) => saved.push(names) });
    model.set({ layer: 2, head: 1 });
    model.save_changes();
    expect(state).toEqual({ layer: 2, head: 1 });
    expect(saved).toEqual([["layer", "head"]]);
  });
  it("answers a message later, as a kernel does", async () => {
    const { model } = createModel({}, { answer: (msg) => ({ type: "ok", id: msg.id }) });
    const got = vi.fn();
    model.on("msg:custom", got);
    model.send({ type: "row", id: 4 });
    expect(got).not.toHaveBeenCalled();
    await new Promise((r) => setTimeout(r, 0));
    expect(got).toHaveBeenCalledWith({ type: "ok", id: 4 }, []);
  });
});

describe("ViewPanel", () => {
  const keys = main.keys;
  const entry = (sel) => keyOf(keys, { layer: 0, head: 1, sample: "mean", label: null, step: 0, stat: "mean", difference: null, scale: "linear", ...sel });
  const data = {
    id: "main", kind: "heatmap", keys, options: main.options,
    difference: { ...main.difference, before: {} },
    table: {
      [entry({})]: 0,
      [entry({ scale: "log" })]: 1,
      [entry({ difference: [0, 1] })]: 2,
    },
    initial: { layer: 0, head: 1, sample: "mean", label: null, step: 0, stat: "mean", difference: null, scale: "log", colormap: "magma", _frame_meta: { title: "log" } },
  };
  const states = [{ _frame_meta: { title: "linear" } }, { _frame_meta: { title: "log" } }, { _frame_meta: { title: "difference" } }];
  const page = { resolve: async (v) => v, states, saved: () => {}, select: () => null, say: () => {} };

  it("enters a difference map on the diverging colormap and linear scale, and leaves it as it was", async () => {
    const panel = new ViewPanel(page, data, null);
    await panel.init();
    const into = panel.plan({ difference: [0, 1] });
    expect(into.index).toBe(2);
    expect(into.entering).toBe(true);
    panel.show(into, await panel.load(into));
    expect(panel.state.colormap).toBe("coolwarm");
    expect(panel.state.scale).toBe("linear");
    expect(panel.state._frame_meta.title).toBe("difference");
    const back = panel.plan({ difference: null });
    expect(back.leaving).toBe(true);
    expect(back.index).toBe(1); // the log scale shown before the difference
    panel.show(back, await panel.load(back));
    expect(panel.state).toMatchObject({ colormap: "magma", scale: "log", difference: null });
  });
  it("finds nothing for a selection the page does not hold", async () => {
    const panel = new ViewPanel(page, data, null);
    await panel.init();
    expect(panel.plan({ layer: 7 })).toBeNull();
  });
  it("answers the view's messages from the page: another row needs a kernel", async () => {
    const panel = new ViewPanel(page, data, null);
    await panel.init();
    expect(panel.answer({ type: "row", id: 1, row: 0 })).toMatchObject({ type: "error", message: /running kernel/ });
    expect(panel.answer({ type: "pick", id: 2, row: 0, col: 0 })).toMatchObject({ type: "error", message: /query it was saved with/ });
    expect(panel.answer({ type: "nope", id: 3 }).message).toMatch(/unknown message type/);
  });
});
