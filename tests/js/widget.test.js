// The one front-end module (js/widget.js): its views by name, and the view its render() picks
// from the widget's `_js_view` trait; a name it does not know is shown as text, never a blank.
import { describe, expect, it } from "vitest";
import headgrid from "../../js/headgrid.js";
import heatmap from "../../js/heatmap.js";
import overlay from "../../js/overlay.js";
import weights from "../../js/weights.js";
import widget, { VIEW_TRAIT, viewFor, views } from "../../js/widget.js";

/** A model with fixed traits, and an element that records what is done to it (no DOM in node). */
const modelWith = (traits) => ({ get: (name) => traits[name] });
const fakeElement = () => {
  const classes = new Set();
  return { textContent: "", classes, classList: { add: (...names) => names.forEach((n) => classes.add(n)) } };
};

describe("views", () => {
  it("holds each view module by the name the Python classes use", () => {
    expect(Object.keys(views).sort()).toEqual(["headgrid", "heatmap", "overlay", "weights"]);
    expect(views).toEqual({ heatmap, headgrid, overlay, weights });
    for (const view of Object.values(views)) expect(typeof view.render).toBe("function");
  });
  it("are named by the trait _js_view", () => {
    expect(VIEW_TRAIT).toBe("_js_view");
  });
});

describe("viewFor", () => {
  it("gives the view of a known name", () => {
    expect(viewFor("overlay")).toBe(overlay);
    expect(viewFor("weights")).toBe(weights);
  });
  it("refuses names that are not views, inherited ones included", () => {
    for (const name of ["toString", "constructor", "__proto__", "Heatmap"]) {
      const err = viewFor(name);
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toContain(`no view called ${JSON.stringify(name)}`);
      expect(err.message).toContain("heatmap, headgrid, overlay, weights");
      expect(err.message).toContain("npm run build");
    }
  });
  it("says the trait is missing when the widget names no view", () => {
    for (const name of [undefined, null, ""]) {
      expect(viewFor(name).message).toMatch(/does not say which view draws it \(its _js_view trait is not set/);
    }
  });
});

describe("render", () => {
  it("calls the render of the view the model names, with the same model and element", () => {
    const seen = [];
    const original = views.headgrid.render;
    views.headgrid.render = (ctx) => { seen.push(ctx); return () => seen.push("cleanup"); };
    try {
      const ctx = { model: modelWith({ _js_view: "headgrid" }), el: fakeElement() };
      const cleanup = widget.render(ctx);
      expect(seen).toEqual([ctx]);
      cleanup();
      expect(seen[1]).toBe("cleanup");
    } finally {
      views.headgrid.render = original;
    }
  });
  it("shows an unknown view's error in the widget as text", () => {
    const el = fakeElement();
    const cleanup = widget.render({ model: modelWith({ _js_view: "<b>pie</b>" }), el });
    expect(el.textContent).toContain('no view called "<b>pie</b>"');
    expect(el.classes.has("aw-error")).toBe(true);
    expect(typeof cleanup).toBe("function");
  });
});
