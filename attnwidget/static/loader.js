// js/loader.js
var BUNDLES = "__attnwidget_bundles__";
function bundleFor(model) {
  const key = model.get("_bundle_key");
  const code = model.get("_bundle");
  if (typeof key !== "string" || !key || typeof code !== "string" || !code) {
    return Promise.reject(new Error(
      "attnwidget: this widget carries no front-end bundle (its _bundle and _bundle_key traits are empty); reinstall attnwidget and run the cell again."
    ));
  }
  const cache = globalThis[BUNDLES] || (globalThis[BUNDLES] = /* @__PURE__ */ new Map());
  let loading = cache.get(key);
  if (!loading) {
    const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
    loading = import(
      /* webpackIgnore: true */
      /* @vite-ignore */
      url
    ).finally(() => URL.revokeObjectURL(url));
    loading.catch(() => {
      if (cache.get(key) === loading) cache.delete(key);
    });
    cache.set(key, loading);
  }
  return loading;
}
var loader_default = {
  /** @param {{model: any, el: HTMLElement}} ctx */
  async render(ctx) {
    let bundle;
    try {
      bundle = await bundleFor(ctx.model);
    } catch (e) {
      ctx.el.classList.add("aw-view", "aw-error");
      ctx.el.textContent = String(e && e.message || e);
      return () => {
      };
    }
    return bundle.default.render(ctx);
  }
};
export {
  BUNDLES,
  bundleFor,
  loader_default as default
};
