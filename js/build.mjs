// Bundle each view (js/<view>.js and the modules it imports) into one ES
// module under the given folder: `node js/build.mjs attnwidget/static`.
// Not minified and without timestamps, so a rebuild is byte-for-byte equal
// (tests/widgets/test_bundle.py checks the checked-in bundles that way).
import { build } from "esbuild";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const VIEWS = ["heatmap", "headgrid", "overlay", "weights"];

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = process.argv[2];
if (!outdir) {
  console.error("usage: node js/build.mjs OUTDIR");
  process.exit(2);
}
await build({
  entryPoints: VIEWS.map((v) => path.join(here, `${v}.js`)),
  outdir,
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: false,
  legalComments: "none",
  logLevel: "warning",
});
