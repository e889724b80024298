// Bundles the upload page: node build.mjs <outDir>
// Writes index.html, app.js, worker.js, app.css and icon.svg into <outDir>; the plugin embeds
// every file of that folder and serves index.html at /inbound/ and the rest at /inbound/app/.

import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.join(here, 'src');
const outDir = path.resolve(process.argv[2] || path.join(here, 'dist'));
const MAX_TOTAL_BYTES = 200 * 1024;

const common = {
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  platform: 'browser',
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
  write: false,
};

async function bundle(entry, outName, define = {}) {
  const result = await esbuild.build({ ...common, define, entryPoints: [path.join(src, entry)], outfile: path.join(outDir, outName) });
  return result.outputFiles[0].contents;
}

// Assets are cached by browsers for a while: their URLs carry a digest of their content, so
// that a new plugin version never mixes a new page with old scripts.
function versioned(name, data) {
  return `app/${name}?v=${createHash('sha256').update(data).digest('hex').slice(0, 12)}`;
}

async function main() {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const css = await esbuild.build({
    ...common,
    entryPoints: [path.join(src, 'app.css')],
    outfile: path.join(outDir, 'app.css'),
    loader: { '.css': 'css' },
  });
  const worker = await bundle('worker.js', 'worker.js');
  const app = await bundle('main.js', 'app.js', { __WORKER_URL__: JSON.stringify(versioned('worker.js', worker)) });
  const styles = css.outputFiles[0].contents;
  const icon = await readFile(path.join(src, 'icon.svg'));
  let html = await readFile(path.join(src, 'index.html'), 'utf8');
  for (const [name, data] of [['app.js', app], ['app.css', styles], ['icon.svg', icon]]) {
    if (!html.includes(`"app/${name}"`)) {
      throw new Error(`index.html does not reference app/${name}`);
    }
    html = html.replace(`"app/${name}"`, `"${versioned(name, data)}"`);
  }
  const files = {
    'app.js': app,
    'worker.js': worker,
    'app.css': styles,
    'index.html': Buffer.from(html, 'utf8'),
    'icon.svg': icon,
  };
  let total = 0;
  for (const [name, data] of Object.entries(files)) {
    await writeFile(path.join(outDir, name), data);
    total += data.length;
  }
  const summary = Object.entries(files).map(([name, data]) => `${name} ${(data.length / 1024).toFixed(1)} KiB`).join(', ');
  console.log(`Upload page bundled into ${outDir}: ${summary}`);
  if (total > MAX_TOTAL_BYTES) {
    throw new Error(`the bundle is ${total} bytes, more than the budget of ${MAX_TOTAL_BYTES}`);
  }
}

main().catch((error) => {
  console.error(error && error.message ? error.message : error);
  process.exit(1);
});
