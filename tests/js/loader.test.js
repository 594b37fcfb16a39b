// Every canvas view's anywidget module (js/loader.js): the bundle the widget carries runs once per
// page, by its key; a widget without one, or a bundle that fails to run, is said as text in the
// widget, and a failed bundle is not kept. (Node cannot import a blob: URL, so the bundle's run
// itself is tested in a real browser: tests/browser/test_explorer.py.)
import { afterEach, describe, expect, it } from "vitest";
import loader, { BUNDLES, bundleFor } from "../../js/loader.js";

const modelWith = (traits) => ({ get: (name) => traits[name] });
const fakeElement = () => {
  const classes = new Set();
  return { textContent: "", classes, classList: { add: (...names) => names.forEach((n) => classes.add(n)) } };
};

afterEach(() => {
  delete globalThis[BUNDLES];
});

describe("bundleFor", () => {
  it("refuses a widget that carries no bundle, saying what to do", async () => {
    for (const traits of [{}, { _bundle: "x" }, { _bundle_key: "k" }, { _bundle: "", _bundle_key: "k" }]) {
      await expect(bundleFor(modelWith(traits))).rejects.toThrow(/carries no front-end bundle.*reinstall/);
    }
  });
  it("asks once per key, and forgets a bundle that failed to run", async () => {
    const model = modelWith({ _bundle: "export default {};", _bundle_key: "abc" });
    const first = bundleFor(model);
    expect(bundleFor(model)).toBe(first); // the second widget waits on the same run
    await expect(first).rejects.toThrow(); // node does not import blob: URLs
    await Promise.resolve();
    expect(globalThis[BUNDLES].has("abc")).toBe(false);
    expect(bundleFor(model)).not.toBe(first); // tried again
  });
});

describe("render", () => {
  it("shows why there is no view as text, never a blank output", async () => {
    const el = fakeElement();
    const cleanup = await loader.render({ model: modelWith({}), el });
    expect(typeof cleanup).toBe("function");
    expect(el.textContent).toContain("carries no front-end bundle");
    expect([...el.classes]).toEqual(["aw-view", "aw-error"]);
  });
  it("hands the view to a bundle the page already runs", async () => {
    const seen = [];
    const bundle = { default: { render: (ctx) => { seen.push(ctx); return () => "cleaned"; } } };
    globalThis[BUNDLES] = new Map([["k1", Promise.resolve(bundle)]]);
    const ctx = { model: modelWith({ _bundle: "code", _bundle_key: "k1" }), el: fakeElement() };
    const cleanup = await loader.render(ctx);
    expect(seen).toEqual([ctx]);
    expect(cleanup()).toBe("cleaned");
  });
});
