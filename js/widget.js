// The one front-end module of attnwidget's canvas views (bundled into
// attnwidget/static/widget.js). Every widget class points its anywidget `_esm`
// at this bundle and names the view that draws it in the synced trait
// `_js_view` ("heatmap", "headgrid", "overlay", "weights"); the default
// export's render() picks that view. A standalone page uses the same module
// through `views`, by name. The style sheet is not here: it is
// attnwidget/static/explorer.css, the widgets' anywidget `_css`.
import headgrid from "./headgrid.js";
import heatmap from "./heatmap.js";
import overlay from "./overlay.js";
import weights from "./weights.js";

/** The views by name: each an anywidget module `{render({model, el})}`. */
export const views = { heatmap, headgrid, overlay, weights };

/** The synced trait that names a widget's view (set per class in attnwidget/widgets/). */
export const VIEW_TRAIT = "_js_view";

/**
 * The view called `name`, or an Error that says which views there are and what to do.
 * @param {unknown} name
 * @returns {{render: (ctx: {model: any, el: HTMLElement}) => (void | (() => void))} | Error}
 */
export function viewFor(name) {
  const known = Object.keys(views).join(", ");
  if (typeof name === "string" && Object.prototype.hasOwnProperty.call(views, name)) return views[name];
  if (name === undefined || name === null || name === "") {
    return new Error(
      `attnwidget: this widget does not say which view draws it (its ${VIEW_TRAIT} trait is not set; `
      + `the views are ${known}). Set ${VIEW_TRAIT} on the widget class.`,
    );
  }
  return new Error(
    `attnwidget: there is no view called ${JSON.stringify(name)} in this front end (the views are `
    + `${known}). The widget's ${VIEW_TRAIT} and the bundle disagree: rebuild the bundle with `
    + "`npm run build` and reinstall attnwidget.",
  );
}

export default {
  /** @param {{model: any, el: HTMLElement}} ctx */
  render(ctx) {
    const view = viewFor(ctx.model.get(VIEW_TRAIT));
    if (view instanceof Error) {
      // shown in the widget (as text), never a blank output
      ctx.el.classList.add("aw-view", "aw-error");
      ctx.el.textContent = view.message;
      return () => {};
    }
    return view.render(ctx);
  },
};
