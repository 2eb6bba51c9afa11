// Bundles src/*.js (one entry per page) and the stylesheets into ../static/dist/ with content-hashed names,
// and writes dist/manifest.json mapping each plain name ("console.js", "app.css") to its hashed file.
// The console (console_web/web/pages.py) rewrites /static/dist/<plain name> in the pages from the manifest.
import * as esbuild from 'esbuild';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, '..', 'static', 'dist');
const pages = ['login', 'console', 'session', 'admin', 'join', 'history', 'report', 'audit'];

await fs.rm(outdir, { recursive: true, force: true });

const common = {
  bundle: true,
  minify: true,
  sourcemap: true,
  target: 'es2020',
  outdir,
  metafile: true,
  logLevel: 'warning',
  legalComments: 'linked',
};

const js = await esbuild.build({
  ...common,
  entryPoints: pages.map((p) => path.join(here, 'src', `${p}.js`)),
  format: 'esm',
  splitting: true,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
});

const css = await esbuild.build({
  ...common,
  entryPoints: [
    path.join(here, '..', 'static', 'app.css'),
    path.join(here, '..', 'static', 'desktop.css'),
    path.join(here, 'node_modules', '@xterm', 'xterm', 'css', 'xterm.css'),
    path.join(here, 'node_modules', 'asciinema-player', 'dist', 'bundle', 'asciinema-player.css'),
  ],
  entryNames: '[name]-[hash]',
});

const manifest = {};
for (const result of [js, css]) {
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    if (!info.entryPoint || file.endsWith('.map')) continue;
    manifest[path.basename(info.entryPoint)] = path.basename(file);
  }
}
const sorted = Object.fromEntries(Object.entries(manifest).sort(([a], [b]) => a.localeCompare(b)));
await fs.writeFile(path.join(outdir, 'manifest.json'), JSON.stringify(sorted, null, 2) + '\n');
console.log(`built ${Object.keys(sorted).length} entries into ${path.relative(process.cwd(), outdir)}`);
