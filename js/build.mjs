// Bundle the front end (js/widget.js and the modules it imports) into one ES
// module, OUTDIR/widget.js: `node js/build.mjs attnwidget/static`. Every widget
// carries that file as its `_bundle` trait; its `_esm` is OUTDIR/loader.js
// (js/loader.js), which runs the bundle once per page. The bundle's default export
// draws the view the widget's `_js_view` names, and `views` holds each view by name.
// `node js/build.mjs OUTDIR --views` also writes one bundle per view
// (OUTDIR/<view>.js, from js/<view>.js), for a page that still inlines one.
// Not minified and without timestamps, so a rebuild is byte-for-byte equal
// (tests/widgets/test_bundle.py checks the checked-in bundle that way).
import { build } from "esbuild";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ENTRY = "widget";
export const VIEWS = ["heatmap", "headgrid", "overlay", "weights"];

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outdir = args.find((a) => !a.startsWith("--"));
const unknown = args.filter((a) => a.startsWith("--") && a !== "--views");
if (!outdir || unknown.length) {
  console.error(`usage: node js/build.mjs OUTDIR [--views]${unknown.length ? ` (unknown: ${unknown.join(" ")})` : ""}`);
  process.exit(2);
}
// the standalone page's runtime (js/page.js): OUTDIR/page.js, inlined by attnwidget/figures/html.py
export const PAGE = "page";
// every widget's anywidget module (js/loader.js): OUTDIR/loader.js
export const LOADER = "loader";
const entries = args.includes("--views") ? [ENTRY, PAGE, LOADER, ...VIEWS] : [ENTRY, PAGE, LOADER];
await build({
  entryPoints: entries.map((v) => path.join(here, `${v}.js`)),
  outdir,
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: false,
  legalComments: "none",
  logLevel: "warning",
});
