// The anywidget module of every attnwidget canvas view: a few lines that run the one bundle
// (attnwidget/static/widget.js, which each widget carries as its `_bundle` trait, with its hash
// as `_bundle_key`) once per page, and hand each view to it.
//
// anywidget imports a widget's `_esm` anew for each widget it shows: with the bundle itself as
// `_esm`, a page parsed and ran it once per widget (8-24 ms each in headless Chromium, so an
// explorer of four canvas views paid it four times before its first paint). Keyed by the
// bundle's hash, a page keeps one copy of each bundle version; a rebuilt bundle (another key)
// never reuses an older one. Built into attnwidget/static/loader.js by js/build.mjs.

/** Where the page keeps the bundles it has run, by key (shared by every widget of the page). */
export const BUNDLES = "__attnwidget_bundles__";

/**
 * The bundle's module for this widget's `_bundle_key`, run once per page.
 * @param {any} model
 * @returns {Promise<any>}
 */
export function bundleFor(model) {
  const key = model.get("_bundle_key");
  const code = model.get("_bundle");
  if (typeof key !== "string" || !key || typeof code !== "string" || !code) {
    return Promise.reject(new Error(
      "attnwidget: this widget carries no front-end bundle (its _bundle and _bundle_key traits are "
      + "empty); reinstall attnwidget and run the cell again.",
    ));
  }
  const cache = (globalThis[BUNDLES] ||= new Map());
  let loading = cache.get(key);
  if (!loading) {
    const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
    loading = import(/* webpackIgnore: true */ /* @vite-ignore */ url).finally(() => URL.revokeObjectURL(url));
    // a bundle that failed to run is not kept: the next widget tries again
    loading.catch(() => { if (cache.get(key) === loading) cache.delete(key); });
    cache.set(key, loading);
  }
  return loading;
}

export default {
  /** @param {{model: any, el: HTMLElement}} ctx */
  async render(ctx) {
    let bundle;
    try {
      bundle = await bundleFor(ctx.model);
    } catch (e) {
      // shown in the widget (as text), never a blank output
      ctx.el.classList.add("aw-view", "aw-error");
      ctx.el.textContent = String((e && e.message) || e);
      return () => {};
    }
    return bundle.default.render(ctx);
  },
};
