// What the controls of a standalone page offer for the selection shown: the choices, value,
// visibility and reason for being disabled of each one, the page's title, and Play's next step.
// Pure functions of the page's data (the main panel's `options`) and the state: the DOM side
// (js/page.js) only draws what these return.

/** The controls, in the order the page shows them and its title names them. */
export const CONTROLS = ["layer", "head", "label", "stat", "difference", "sample", "step", "scale", "colormap"];

/** What a head choice is called. */
export const headName = (h) => (typeof h === "number" ? `head ${h}` : `${h} of heads`);

/**
 * Every control's choices for the state shown.
 * @param {any} main the main panel's data (`options`, `keys`, `difference`)
 * @param {Object<string, any>} state the main view's state (its selection keys, colormap)
 * @param {{own?: {colormap?: boolean, scale?: boolean}}} [opts] controls the view draws itself
 * @returns {{controls: Object<string, {items: Array<[any, string]>, value: any, hidden: boolean,
 *   disabled: boolean, title: string}>, note: string}}
 */
export function controlChoices(main, state, opts = {}) {
  const own = opts.own || {};
  const options = main.options;
  const info = options.layers.find((l) => l.index === state.layer) || options.layers[0];
  const stats = options.stats || [];
  const diff = Boolean(main.difference) && state.difference !== null && state.difference !== undefined;
  const out = {};
  const add = (name, items, value, shown = true) => {
    // a choice of one is noise, except the layer, whose name says what is shown
    out[name] = {
      items, value, hidden: !shown || (items.length < 2 && name !== "layer"), disabled: false, title: "",
    };
  };
  add("layer", options.layers.map((l) => [l.index, l.name]), state.layer);
  add("head", info.heads.map((h) => [h, headName(h)]), state.head);
  add("label", options.labels.map((l) => [l.value, l.name]), state.label);
  if (main.keys.includes("stat")) add("stat", stats, state.stat);
  if (main.keys.includes("difference")) {
    add("difference", [[null, "none"], ...options.differences.map((d) => [d.value, d.name])], diff ? state.difference : null);
  }
  // the site's own samples and their names (sites may keep different numbers of samples)
  const labelKey = JSON.stringify(state.label === undefined ? null : state.label);
  const samples = (info.samples || {})[labelKey] || options.samples[labelKey] || ["mean"];
  const names = (info.sample_names || {})[labelKey];
  // where the capture has class statistics, "mean" shows the statistic of every sample of the class
  const meanName = stats.length ? "class statistic" : "mean of samples";
  const sampleName = (s, i) => (typeof s === "number" ? (names ? names[i] : `sample ${s}`) : meanName);
  add("sample", samples.map((s, i) => [s, sampleName(s, i)]), state.sample);
  // one sample or none to walk (a statistics-only site): nothing to choose, as the explorer's slider
  if (samples.filter((s) => typeof s === "number").length < 2) out.sample.hidden = true;
  // a site whose picture is the same for every sample (a weights site of one value per sample draws
  // every sample as a row): a sample control there would change nothing
  if (info.sample_free) out.sample.hidden = true;
  add("step", info.steps.map((s) => [s, `step ${s}`]), state.step);
  if (main.keys.includes("scale")) add("scale", (options.scales || []).map((c) => [c, c]), state.scale, !own.scale);
  if ("colormap" in state && (options.colormaps || []).length) {
    add("colormap", options.colormaps.map((c) => [c, c]), state.colormap, !own.colormap);
  }
  // a difference map ignores the class, the statistic and the sample (and is drawn linear)
  const why = "a class-difference map uses every sample of both classes (difference 'none' to choose)";
  for (const n of ["label", "stat", "sample", "scale"]) {
    if (out[n] && diff) Object.assign(out[n], { disabled: true, title: why });
  }
  // a class filter that cannot apply to this site: disabled, with its one-line reason
  if (info.class_reason && !diff) Object.assign(out.label, { disabled: true, title: info.class_reason });
  return { controls: out, note: diff ? "" : info.class_reason || "" };
}

/**
 * The page's title: its heading and what the controls show (the class and difference only when
 * chosen), or the title it was written with.
 * @param {string} heading
 * @param {ReturnType<typeof controlChoices>["controls"]} controls
 * @param {string | null} [fixed]
 * @returns {string}
 */
export function titleText(heading, controls, fixed = null) {
  if (fixed) return fixed;
  const parts = [heading || "attnwidget"];
  for (const n of ["layer", "head", "label", "stat", "difference", "sample", "step"]) {
    const c = controls[n];
    if (!c || c.disabled || c.hidden) continue;
    if ((n === "label" || n === "difference") && c.value === null) continue;
    const item = c.items.find(([v]) => JSON.stringify(v) === JSON.stringify(c.value));
    if (item) parts.push(item[1]);
  }
  return parts.join(" · ");
}

/**
 * The step Play shows next: the one after `current`, or null at the last (Play stops there).
 * @param {number[]} steps
 * @param {number} current
 * @returns {number | null}
 */
export function nextStep(steps, current) {
  const at = steps.indexOf(current);
  return at >= 0 && at < steps.length - 1 ? steps[at + 1] : null;
}

/**
 * Where Play starts: the step shown, or the first one when the last is shown (it plays again).
 * @param {number[]} steps
 * @param {number} current
 * @returns {number}
 */
export function playFrom(steps, current) {
  return nextStep(steps, current) === null ? steps[0] : current;
}

/**
 * The choice an arrow key moves to among `options` (clamped at the ends), or undefined where the
 * value shown is not one of them.
 * @param {any[]} options
 * @param {any} value
 * @param {1|-1} by
 */
export function moved(options, value, by) {
  const at = options.findIndex((v) => JSON.stringify(v) === JSON.stringify(value));
  if (at < 0) return undefined;
  return options[Math.min(Math.max(at + by, 0), options.length - 1)];
}

/**
 * What picking a class asks for: the class, and its mean (its statistic where the capture has
 * them); picking every sample goes back to the first sample, as the explorer's class control does.
 * @param {any} label
 * @returns {{label: any, sample: "mean" | 0}}
 */
export function classPick(label) {
  return { label, sample: label === null ? 0 : "mean" };
}
