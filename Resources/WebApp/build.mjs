// Bundles the two web pages: node build.mjs <outDir>
//   <outDir>/upload/  index.html, app.js, worker.js, app.css, icon.svg — the upload page; the
//                     plugin serves index.html at /inbound/ and the rest at /inbound/app/.
//   <outDir>/admin/   index.html, admin.js, admin.css — the admin page, served at
//                     /inbound/admin/ui/.
// The plugin embeds every file of both folders (CMakeLists.txt).

import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const uploadSource = path.join(here, 'src');
const adminSource = path.join(here, '..', 'AdminApp');
const outDir = path.resolve(process.argv[2] || path.join(here, 'dist'));
const KIB = 1024;

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
  // The admin page's modules (../AdminApp) import npm packages too (qrcode): from here.
  nodePaths: [path.join(here, 'node_modules')],
};

async function bundle(entry, define = {}) {
  const result = await esbuild.build({ ...common, define, entryPoints: [entry], outdir: outDir });
  return result.outputFiles[0].contents;
}

async function bundleCss(entry) {
  const result = await esbuild.build({ ...common, entryPoints: [entry], outdir: outDir, loader: { '.css': 'css' } });
  return result.outputFiles[0].contents;
}

// Assets are cached by browsers for a while: their URLs carry a digest of their content, so
// that a new plugin version never mixes a new page with old scripts.
function versioned(name, data) {
  return `app/${name}?v=${createHash('sha256').update(data).digest('hex').slice(0, 12)}`;
}

async function uploadPage() {
  const worker = await bundle(path.join(uploadSource, 'worker.js'));
  const app = await bundle(path.join(uploadSource, 'main.js'), { __WORKER_URL__: JSON.stringify(versioned('worker.js', worker)) });
  const styles = await bundleCss(path.join(uploadSource, 'app.css'));
  const icon = await readFile(path.join(uploadSource, 'icon.svg'));
  let html = await readFile(path.join(uploadSource, 'index.html'), 'utf8');
  for (const [name, data] of [['app.js', app], ['app.css', styles], ['icon.svg', icon]]) {
    if (!html.includes(`"app/${name}"`)) {
      throw new Error(`index.html does not reference app/${name}`);
    }
    html = html.replace(`"app/${name}"`, `"${versioned(name, data)}"`);
  }
  return {
    'app.js': app,
    'worker.js': worker,
    'app.css': styles,
    'index.html': Buffer.from(html, 'utf8'),
    'icon.svg': icon,
  };
}

// The admin page is served with "Cache-Control: no-cache": its file names stay as they are.
async function adminPage() {
  const html = await readFile(path.join(adminSource, 'index.html'));
  for (const name of ['admin.js', 'admin.css']) {
    if (!html.includes(`"/inbound/admin/ui/${name}"`)) {
      throw new Error(`the admin page's index.html does not reference ${name}`);
    }
  }
  return {
    'admin.js': await bundle(path.join(adminSource, 'src', 'main.js')),
    'admin.css': await bundleCss(path.join(adminSource, 'admin.css')),
    'index.html': html,
  };
}

async function write(name, folder, files, budget) {
  const dir = path.join(outDir, folder);
  await mkdir(dir, { recursive: true });
  let total = 0;
  for (const [file, data] of Object.entries(files)) {
    await writeFile(path.join(dir, file), data);
    total += data.length;
  }
  const summary = Object.entries(files).map(([file, data]) => `${file} ${(data.length / KIB).toFixed(1)} KiB`).join(', ');
  console.log(`${name} bundled into ${dir}: ${summary}`);
  if (total > budget) {
    throw new Error(`the ${name} is ${total} bytes, more than its budget of ${budget}`);
  }
}

async function main() {
  await rm(outDir, { recursive: true, force: true });
  await write('upload page', 'upload', await uploadPage(), 200 * KIB);
  await write('admin page', 'admin', await adminPage(), 200 * KIB);
}

main().catch((error) => {
  console.error(error && error.message ? error.message : error);
  process.exit(1);
});
