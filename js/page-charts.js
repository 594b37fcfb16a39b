// The charts a standalone page draws itself, as SVG, from numbers it embeds: the head statistics
// (one bar chart per statistic, a bar per head, the selected head marked) and the weights view's
// class chart (grouped bars, or lines where the site's last axis is time). No bqplot offline.
// The geometry is pure (tested in tests/js/page-charts.test.js); names and labels go in as text.

/** Colours of the head statistics (as the widget's bars) and of the classes of a weights chart. */
export const STAT_COLORS = { entropy: "#1f77b4", max: "#ff7f0e", sparsity: "#2ca02c" };
/** Colours of the head roles, as the widget's role bars (attnwidget/widgets/headstats.py). */
export const ROLE_COLORS = ["#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
export const CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

/**
 * The range a chart's y axis spans: from the smallest value (0 where none is below it) to 5 %
 * above the largest; a range of nothing gets a height of 1.
 * @param {number[][]} series
 * @returns {[number, number]}
 */
export function valueRange(series) {
  const all = series.flat().filter((v) => Number.isFinite(v));
  const lo = Math.min(0, ...all);
  const hi = all.length ? Math.max(...all) : lo;
  // as the widget's chart: from min(values, 0) to 5 % above the largest
  const top = (hi > lo ? hi : lo + 1) * 1.05;
  return [lo, top > lo ? top : lo + 1];
}

/**
 * Where the bars of grouped series go in a plot box: one group per position, one bar per series.
 * @param {number[][]} series [series][position]
 * @param {{x: number, y: number, width: number, height: number}} box the plot area
 * @param {[number, number]} range the y axis
 * @returns {Array<{series: number, index: number, x: number, y: number, w: number, h: number, value: number}>}
 */
export function barRects(series, box, range) {
  const n = Math.max(0, ...series.map((s) => s.length));
  if (!n || !series.length) return [];
  const group = box.width / n;
  const w = (group * 0.8) / series.length;
  const [lo, hi] = range;
  const at = (v) => box.y + box.height * (1 - (Math.min(Math.max(v, lo), hi) - lo) / (hi - lo));
  const zero = at(0);
  const out = [];
  series.forEach((values, s) => {
    values.forEach((value, i) => {
      const v = Number.isFinite(value) ? value : 0;
      const top = at(v);
      out.push({
        series: s, index: i, value,
        x: box.x + i * group + group * 0.1 + s * w, y: Math.min(top, zero), w, h: Math.abs(zero - top),
      });
    });
  });
  return out;
}

/**
 * The points of a line chart's series in a plot box, as an SVG `points` attribute.
 * @param {number[]} values
 * @param {{x: number, y: number, width: number, height: number}} box
 * @param {[number, number]} range
 * @returns {string}
 */
export function linePoints(values, box, range) {
  const [lo, hi] = range;
  const n = values.length;
  return values.map((v, i) => {
    const x = box.x + (n > 1 ? (i / (n - 1)) * box.width : box.width / 2);
    const y = box.y + box.height * (1 - ((Number.isFinite(v) ? v : lo) - lo) / (hi - lo));
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  }).join(" ");
}

/**
 * Which of `count` axis labels to write so that neighbours stay `gap` pixels apart over `width`.
 * @param {number} count
 * @param {number} width
 * @param {number} gap
 * @returns {number[]}
 */
export function labelIndices(count, width, gap = 16) {
  if (count <= 0) return [];
  const every = Math.max(1, Math.ceil((count * gap) / Math.max(width, 1)));
  const out = [];
  for (let i = 0; i < count; i += every) out.push(i);
  return out;
}

const SVG = "http://www.w3.org/2000/svg";

function el(doc, tag, attrs = {}, text = null) {
  const node = doc.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = String(text);
  return node;
}

/**
 * An SVG chart: grouped bars (or lines) of `series` over `names`, with a title, a y axis at its
 * ends and the position labels under it.
 * @param {Document} doc
 * @param {{title: string, series: number[][], names: string[], colors: string[], legend?: string[],
 *   lines?: boolean, range?: [number, number], marked?: number | null, width?: number, height?: number,
 *   onPick?: (index: number) => void, kind?: string, axis?: string}} spec
 * @returns {SVGSVGElement}
 */
export function chart(doc, spec) {
  const width = spec.width || 240;
  const height = spec.height || 120;
  // room under the plot for the position labels, and the axis name under them
  const box = { x: 34, y: 18, width: width - 44, height: height - (spec.axis ? 46 : 34) };
  const range = spec.range || valueRange(spec.series);
  const svg = el(doc, "svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: `aw-chart aw-chart-${spec.kind || "bars"}` });
  svg.dataset.values = JSON.stringify(spec.series);
  svg.append(el(doc, "text", { x: box.x, y: 12, "font-size": 12, "font-weight": 600, fill: "currentColor" }, spec.title));
  const fmt = (v) => (Math.abs(v) >= 10 || v === 0 ? v.toFixed(0) : v.toPrecision(2));
  for (const v of range) {
    const y = box.y + box.height * (1 - (v - range[0]) / (range[1] - range[0]));
    svg.append(el(doc, "text", { x: box.x - 4, y: y + 4, "font-size": 10, "text-anchor": "end", fill: "currentColor" }, fmt(v)));
    svg.append(el(doc, "line", { x1: box.x, x2: box.x + box.width, y1: y, y2: y, stroke: "#bbb", "stroke-width": 0.5 }));
  }
  const n = Math.max(0, ...spec.series.map((s) => s.length));
  const marked = Number.isInteger(spec.marked) && spec.marked >= 0 && spec.marked < n ? spec.marked : null;
  if (spec.lines) {
    spec.series.forEach((values, s) => {
      svg.append(el(doc, "polyline", {
        points: linePoints(values, box, range), fill: "none", stroke: spec.colors[s % spec.colors.length], "stroke-width": 1.5,
      }));
    });
  } else {
    for (const r of barRects(spec.series, box, range)) {
      const rect = el(doc, "rect", {
        x: r.x.toFixed(1), y: r.y.toFixed(1), width: Math.max(0.5, r.w).toFixed(1), height: r.h.toFixed(1),
        fill: spec.colors[r.series % spec.colors.length], class: "aw-bar",
        opacity: marked === null || marked === r.index ? 1 : 0.35,
      });
      if (marked === r.index) {
        rect.setAttribute("stroke", "currentColor");
        rect.setAttribute("stroke-width", "1.5");
        rect.classList.add("aw-bar-marked");
      }
      rect.dataset.index = String(r.index);
      const tip = el(doc, "title", {}, `${spec.names[r.index] ?? r.index}: ${Number(r.value).toPrecision(3)}`);
      rect.append(tip);
      if (spec.onPick) rect.addEventListener("click", () => spec.onPick(r.index));
      svg.append(rect);
    }
  }
  for (const i of labelIndices(n, box.width)) {
    const x = box.x + (spec.lines ? (n > 1 ? (i / (n - 1)) * box.width : box.width / 2) : ((i + 0.5) * box.width) / n);
    svg.append(el(doc, "text", { x, y: box.y + box.height + 12, "font-size": 10, "text-anchor": "middle", fill: "currentColor" },
      spec.names[i] ?? String(i)));
  }
  if (spec.axis) {
    svg.append(el(doc, "text", { x: box.x + box.width / 2, y: height - 2, "font-size": 10, "text-anchor": "middle", fill: "currentColor" }, spec.axis));
  }
  if (spec.legend && spec.legend.length) {
    // from the right: each name ends its item, its swatch 4 px before it, 12 px between items
    let x = box.x + box.width;
    spec.legend.slice().reverse().forEach((name, k) => {
      const s = spec.legend.length - 1 - k;
      const text = Math.ceil(5.8 * String(name).length); // about what 10 px sans-serif takes
      svg.append(el(doc, "text", { x, y: 12, "font-size": 10, "text-anchor": "end", fill: "currentColor" }, name));
      svg.append(el(doc, "rect", { x: x - text - 13, y: 4, width: 9, height: 9, fill: spec.colors[s % spec.colors.length] }));
      x -= text + 13 + 12;
    });
  }
  return svg;
}
