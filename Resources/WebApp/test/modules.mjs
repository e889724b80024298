// Loads the pages' modules into node for their tests, bundled by esbuild as the pages get them
// (the folders outside Resources/WebApp are not "type": "module" packages for node).

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export const RESOURCES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// One module instance of everything listed, so that a language set through setLanguage is
// the one the formatting functions read.
export async function loadModules() {
  const contents = `
    export * from './WebShared/languages.js';
    export * from './WebShared/i18n.js';
    export * from './WebShared/format.js';
    export { texts as uploadTexts } from './WebApp/src/texts.js';
    export { texts as adminTexts } from './AdminApp/src/texts.js';
    export { senderName } from './AdminApp/src/format.js';
  `;
  const result = await esbuild.build({
    stdin: { contents, resolveDir: RESOURCES, loader: 'js' },
    bundle: true, format: 'esm', platform: 'neutral', write: false, logLevel: 'warning',
  });
  const code = Buffer.from(result.outputFiles[0].contents).toString('base64');
  return import(`data:text/javascript;base64,${code}`);
}

// One module of the pages (a path below Resources/), bundled with what it imports.
export async function loadModule(relativePath) {
  const result = await esbuild.build({
    entryPoints: [path.join(RESOURCES, relativePath)],
    bundle: true, format: 'esm', platform: 'neutral', write: false, logLevel: 'warning',
  });
  const code = Buffer.from(result.outputFiles[0].contents).toString('base64');
  return import(`data:text/javascript;base64,${code}`);
}
