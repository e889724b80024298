// For working on the upload page without rebuilding the plugin: serves a bundle folder at
// /inbound/ (index.html) and /inbound/app/<file>, with the same Content-Security-Policy as the
// plugin, and forwards every other request to an Orthanc running the plugin.
//
//   node ../../Resources/WebApp/build.mjs /tmp/inbound-pages
//   node dev-server.mjs --dir /tmp/inbound-pages/upload --port 8099 --orthanc http://127.0.0.1:8042
//
// Not used by the tests, which run against the page the plugin itself serves.

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    port: { type: 'string', default: '8099' },
    orthanc: { type: 'string', default: 'http://127.0.0.1:8042' },
  },
});
if (!values.dir) {
  console.error('usage: node dev-server.mjs --dir <bundle folder> [--port P] [--orthanc URL]');
  process.exit(2);
}

const CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; " +
  "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
  "frame-ancestors 'none'; form-action 'none'";
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png' };
const orthanc = new URL(values.orthanc);

async function serveFile(res, name) {
  const file = path.join(values.dir, path.basename(name));
  try {
    const data = await readFile(file);
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-cache',
    });
    res.end(data);
  } catch (e) {
    res.writeHead(404).end();
  }
}

function forward(req, res) {
  const upstream = http.request({
    host: orthanc.hostname,
    port: orthanc.port,
    method: req.method,
    path: req.url,
    headers: { ...req.headers, host: orthanc.host },
  }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => res.writeHead(502).end());
  req.pipe(upstream);
}

http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'GET' && (url.pathname === '/inbound/' || url.pathname === '/inbound')) {
    serveFile(res, 'index.html');
  } else if (req.method === 'GET' && url.pathname.startsWith('/inbound/app/')) {
    serveFile(res, url.pathname.slice('/inbound/app/'.length));
  } else {
    forward(req, res);
  }
}).listen(Number(values.port), '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${values.port}/inbound/ → page from ${values.dir}, rest from ${values.orthanc}`);
});
