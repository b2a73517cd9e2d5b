// Builds ../vendor/codemirror-<version>.bundle.min.js (one IIFE) from editor.js.
// <version> is that of @codemirror/view, the core package of CodeMirror 6.
import { build } from "esbuild";
import { readFileSync, readdirSync, unlinkSync } from "node:fs";

const version = JSON.parse(readFileSync("node_modules/@codemirror/view/package.json", "utf8")).version;
const vendor = new URL("../vendor/", import.meta.url).pathname;
for (const f of readdirSync(vendor)) if (/^codemirror-.*\.bundle\.min\.js$/.test(f)) unlinkSync(vendor + f);
const outfile = `${vendor}codemirror-${version}.bundle.min.js`;
await build({
  entryPoints: ["editor.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "eof",
  banner: { js: `/* Escape Explorer editor: CodeMirror ${version} + @codemirror/lang-go (MIT). Built by static/editor-src: npm ci && npm run build */` },
  outfile,
});
console.log(`wrote ${outfile}`);
