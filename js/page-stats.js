// The panels a standalone page draws without a view module: the head statistics (one bar chart
// per statistic over the heads of the site, the selected head marked, a bar clicked selects its
// head; compact and collapsible, as the explorer's; a picker shows the head roles instead, the
// scores of aw.heads as the explorer's picker shows them, one bar per role and head) and the
// weights view's class chart.
// Their numbers are embedded (attnwidget/figures/page/panels.py); text goes in as textContent.
import { CLASS_COLORS, ROLE_COLORS, STAT_COLORS, chart } from "./page-charts.js";
import { findEntry, keyOf } from "./page-data.js";

export class StatsPanel {
  /**
   * @param {any} page the page: `resolve`, `states`, `select(want, panel)`
   * @param {any} data {id: "headstats", keys, table}
   * @param {HTMLElement} el
   */
  constructor(page, data, el) {
    this.page = page;
    this.data = data;
    this.id = data.id;
    this.kind = "headstats";
    this.keys = data.keys;
    this.el = el;
    this.shown = null;
    this.open = true;
    this.what = "statistics"; // or "roles": what the bars are
    this.hasRoles = Object.values(data.table).some((i) => {
      const roles = page.states[i] && page.states[i].roles;
      return Boolean(roles && roles.bars);
    });
    el.classList.add("aw-view", "aw-headstats");
    const head = document.createElement("div");
    head.className = "aw-headstats-head";
    this.toggle = document.createElement("button");
    this.toggle.className = "aw-headstats-toggle";
    this.toggle.type = "button";
    this.toggle.title = "show or hide the head statistics";
    this.caption = document.createElement("span");
    this.caption.className = "aw-headstats-caption";
    // the explorer's picker: the statistics, or the head roles (where some site has them)
    this.picker = document.createElement("select");
    this.picker.className = "aw-headstats-show";
    this.picker.title = "entropy, max and sparsity per head, or the head roles aw.heads scores";
    for (const [value, text] of [["statistics", "statistics"], ["roles", "head roles"]]) {
      const o = document.createElement("option");
      o.value = value;
      o.textContent = text;
      this.picker.append(o);
    }
    // roles left out of a large page: the picker says why (disabled), rather than offer nothing
    const skipped = Object.values(data.table).map((i) => page.states[i] && page.states[i].roles)
      .find((r) => r && r.skipped);
    this.picker.hidden = !this.hasRoles && !skipped;
    if (!this.hasRoles && skipped) {
      this.picker.disabled = true;
      this.picker.title = skipped.error;
    }
    this.picker.addEventListener("change", () => {
      this.what = this.picker.value;
      this.draw();
      this.page.changed();
    });
    head.append(this.toggle, this.picker, this.caption);
    this.charts = document.createElement("div");
    this.charts.className = "aw-page-chart aw-headstats-charts";
    this.note = document.createElement("div");
    this.note.className = "aw-note aw-headstats-note";
    el.append(head, this.charts, this.note);
    this.toggle.addEventListener("click", () => {
      this.open = !this.open;
      this.draw();
      this.page.changed();
    });
  }

  /** The entry of a selection (the mean of samples where a sample has none of its own). */
  plan(want) {
    const found = findEntry(this.data, want);
    return found ? { sel: found[0], index: found[1] } : null;
  }

  load(plan) {
    return this.page.resolve(this.page.states[plan.index]);
  }

  show(plan, data, head) {
    this.shown = data;
    this.head = head;
    this.draw();
  }

  /** Mark another head (the bars stay). */
  mark(head) {
    if (head === this.head) return;
    this.head = head;
    this.draw();
  }

  draw() {
    const stats = this.shown || {};
    // a site the statistics cannot apply to (tapped weights, no heads): the panel goes away
    this.el.hidden = Boolean(stats.error) || !stats.bars;
    this.picker.value = this.what;
    const roles = this.what === "roles";
    const data = roles ? stats.roles || { error: "this page holds no head roles for this site" } : stats;
    this.el.dataset.show = this.what;
    this.toggle.textContent = `${this.open ? "▾" : "▸"} head statistics`;
    this.toggle.setAttribute("aria-expanded", String(this.open));
    this.caption.textContent = data.caption || "";
    // roles a site cannot be scored on: why, in the note (the picker stays, to go back)
    this.note.textContent = data.error || data.note || "";
    this.charts.replaceChildren();
    this.charts.hidden = !this.open;
    if (!data.bars || !this.open) return;
    if (roles) {
      const names = Object.keys(data.bars);
      const series = names.map((r) => data.bars[r]);
      this.charts.append(chart(document, {
        title: data.title || "head roles", series, names: series[0].map((_, h) => String(h)), legend: names,
        colors: names.map((_, i) => ROLE_COLORS[i % ROLE_COLORS.length]), range: [0, 1],
        marked: Number.isInteger(this.head) ? this.head : null, width: Math.max(540, 90 * series[0].length + 60),
        height: 112, kind: "roles", axis: "head", onPick: (h) => this.page.select({ head: h }, this),
      }));
      return;
    }
    for (const [name, values] of Object.entries(data.bars)) {
      const svg = chart(document, {
        title: name, series: [values], names: values.map((_, h) => String(h)), colors: [STAT_COLORS[name] || "#1f77b4"],
        range: [0, 1], marked: Number.isInteger(this.head) ? this.head : null, width: 220, height: 112, kind: name, axis: "head",
        onPick: (h) => this.page.select({ head: h }, this),
      });
      this.charts.append(svg);
    }
  }
}

/**
 * The weights view's class chart for the site and step shown, drawn into `el`.
 * @param {HTMLElement} el
 * @param {any} profile {series, legend, names, axis, lines} or {error}
 */
export function drawProfile(el, profile) {
  el.replaceChildren();
  if (!profile || profile.error) {
    el.textContent = profile ? profile.error : "";
    return;
  }
  el.append(chart(document, {
    title: "mean weight per class", series: profile.series, names: profile.names, legend: profile.legend,
    colors: CLASS_COLORS, lines: profile.lines, width: 380, height: 300, kind: "profile", axis: profile.axis,
  }));
}

/** The key of a weights chart in its table. */
export const profileKey = (layer, step) => keyOf(["layer", "step"], { layer, step });
