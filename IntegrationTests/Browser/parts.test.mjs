// Large files sent in parts by the upload page in Debian's Chromium; started by
// ../test_browser_parts.py with INBOUND_URL and INBOUND_PARTS_FIXTURE
// ({"partBytes": P, "result": "<json file to write>", "cases": {"plain"|"dropped"|"closed":
// {"dir", "name", "sha256", "size", "parts": [SHA-256 of each part]}}}): a folder with one
// multi-frame file larger than P each.
// Each test writes the upload id of its case into "result" for the Python side, which checks
// what Orthanc stored.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';

import { chromiumForTests, newWatchedPage } from './chromium.mjs';

const PAGE_URL = process.env.INBOUND_URL;
const FIXTURE = JSON.parse(process.env.INBOUND_PARTS_FIXTURE || 'null');
if (!PAGE_URL || !FIXTURE) {
  throw new Error('INBOUND_URL and INBOUND_PARTS_FIXTURE must be set (see the head of this file)');
}
const PART_BYTES = FIXTURE.partBytes;
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';
const results = {};

const browser = chromiumForTests('inbound-parts-');

async function remember(name, uploadId) {
  results[name] = uploadId;
  await writeFile(FIXTURE.result, JSON.stringify(results));
}

// A fresh page with nothing remembered, at the privacy statement; status 0 answers of the
// requests this test cuts on purpose are no problem.
async function openPage() {
  const { page, problems } = await newWatchedPage(browser.context, /net::ERR_|status of (429|503)\b/);
  await page.goto(PAGE_URL);
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await page.getByRole('heading', { name: 'Privacy statement' }).waitFor();
  return { page, problems };
}

async function toImages(page) {
  await page.getByLabel('I have read the privacy statement and I agree to it.').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Your name').fill('Dr. Big File');
  await page.getByLabel('E-mail address').fill('big@example.org');
  const recipient = page.getByLabel('Send to');
  if (await recipient.isVisible()) {
    const options = await recipient.locator('option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
    await recipient.selectOption(options[0]);
  }
  await page.getByRole('button', { name: 'Continue' }).click();
}

async function pickFolder(page, dir) {
  await page.getByRole('heading', { name: 'Choose the images' }).waitFor();
  await page.locator('#folder-input').setInputFiles(dir);
  await page.locator('#studies-body tr.study-row').first().waitFor({ timeout: 60000 });
}

async function waitForReceipt(page) {
  await page.getByRole('heading', { name: 'Images received' }).waitFor({ timeout: 180000 });
}

// The file requests this page makes: {kind, sha256, n, status, headers, body} ({kind, n,
// status: 0, failed} for a part request that got no answer).
function recordRequests(page) {
  const seen = [];
  page.on('requestfinished', async (request) => {
    const path = new URL(request.url()).pathname;
    const part = path.match(/\/files\/([0-9a-f]{64})\/parts\/(\d+)$/);
    const assemble = path.match(/\/files\/([0-9a-f]{64})\/assemble$/);
    const file = path.match(/\/files\/([0-9a-f]{64})$/);
    if (!part && !assemble && !file) {
      return;
    }
    const response = await request.response();
    const body = assemble ? request.postData() : null;
    seen.push({
      kind: part ? 'part' : assemble ? 'assemble' : 'file',
      sha256: (part || assemble || file)[1],
      n: part ? Number(part[2]) : null,
      status: response ? response.status() : 0,
      headers: await request.allHeaders(),
      body,
    });
  });
  page.on('requestfailed', (request) => {
    const part = new URL(request.url()).pathname.match(/\/parts\/(\d+)$/);
    if (part) {
      seen.push({ kind: 'part', n: Number(part[1]), status: 0, failed: true });
    }
  });
  return seen;
}

function watchUploadId(page) {
  const seen = { id: null };
  page.on('response', async (response) => {
    if (response.request().method() === 'POST' && /\/api\/uploads$/.test(new URL(response.url()).pathname)) {
      seen.id = (await response.json().catch(() => ({}))).id || seen.id;
    }
  });
  return seen;
}

const count = (c) => Math.ceil(c.size / PART_BYTES);
const arrived = (requests) => requests.filter((r) => r.kind === 'part' && (r.status === 201 || r.status === 200));

async function storedUploads(page) {
  return page.evaluate(() => Object.keys(localStorage).filter((k) => k.includes(':upload:')).length);
}

test('a large multi-frame file goes in parts, each with its SHA-256, then assembled', async () => {
  const c = FIXTURE.cases.plain;
  const { page, problems } = await openPage();
  const upload = watchUploadId(page);
  const requests = recordRequests(page);
  await toImages(page);
  await pickFolder(page, c.dir);
  await page.getByRole('button', { name: 'Send images' }).click();
  await waitForReceipt(page);
  await remember('plain', upload.id);

  const parts = requests.filter((r) => r.kind === 'part');
  assert.deepEqual(parts.map((r) => r.n).sort((a, b) => a - b), [...Array(count(c)).keys()], 'every part once');
  for (const part of parts) {
    assert.equal(part.status, 201, `part ${part.n}`);
    assert.equal(part.sha256, c.sha256);
    // The server checks the body against this header (201): the part is that slice of the file,
    // PartBytes each except the last.
    assert.equal(part.headers['x-inbound-part-sha256'], c.parts[part.n], `part ${part.n}: its own SHA-256`);
  }
  const assemblies = requests.filter((r) => r.kind === 'assemble');
  assert.equal(assemblies.length, 1);
  assert.deepEqual(JSON.parse(assemblies[0].body), { parts: count(c) });
  assert.equal(assemblies[0].status, 201);
  assert.deepEqual(requests.filter((r) => r.kind === 'file'), [], 'never sent whole');
  assert.match(await page.locator('#receipt-facts').textContent(), /Images1Size/);
  assert.equal(await storedUploads(page), 0, 'nothing is kept once the upload is complete');
  assert.deepEqual(problems, []);
  await page.close();
});

test('a connection dropped in the middle of the file: the page waits and sends only what is missing', async () => {
  const c = FIXTURE.cases.dropped;
  const { page } = await openPage();
  const upload = watchUploadId(page);
  const requests = recordRequests(page);
  await toImages(page);
  await pickFolder(page, c.dir);
  // After four parts the connection breaks for the next five part requests.
  let passed = 0;
  let cut = 0;
  await page.route('**/parts/*', (route) => {
    if (passed < 4 || cut >= 5) {
      passed++;
      return route.continue();
    }
    cut++;
    return route.abort('connectionreset');
  });
  await page.getByRole('button', { name: 'Send images' }).click();
  await page.locator('#send-state', { hasText: 'The connection was lost' }).waitFor({ timeout: 60000 });
  await waitForReceipt(page);
  await remember('dropped', upload.id);

  assert.equal(cut, 5);
  assert.equal(requests.filter((r) => r.failed).length, 5, 'five part requests were cut');
  const delivered = arrived(requests).map((r) => r.n).sort((a, b) => a - b);
  assert.deepEqual(delivered, [...Array(count(c)).keys()], 'each part arrived exactly once');
  assert.ok(arrived(requests).every((r) => r.headers['x-inbound-part-sha256'] === c.parts[r.n]));
  assert.equal(requests.filter((r) => r.kind === 'assemble').length, 1);
  assert.equal(await storedUploads(page), 0);
  await page.close();
});

test('a page closed during the parts: opened again, the same folder continues with the missing parts', async () => {
  const c = FIXTURE.cases.closed;
  const { page } = await openPage();
  const upload = watchUploadId(page);
  const first = recordRequests(page);
  await toImages(page);
  await pickFolder(page, c.dir);
  // Five parts arrive, then the connection is gone (requests left hanging instead would be
  // let through when the page closes).
  let allowed = 5;
  await page.route('**/parts/*', (route) => {
    if (allowed > 0) {
      allowed--;
      return route.continue();
    }
    return route.abort('connectionreset');
  });
  await page.getByRole('button', { name: 'Send images' }).click();
  await page.waitForFunction(() => {
    const key = Object.keys(localStorage).find((k) => k.includes(':upload:'));
    const stored = key && JSON.parse(localStorage.getItem(key));
    return stored && Object.keys(stored.partial || {}).length === 1;
  });
  await page.waitForFunction(() => /^0 of 1 images · [1-9]/.test(document.getElementById('send-counts').textContent));
  while (arrived(first).length < 5) {
    await page.waitForTimeout(100);
  }
  // What the page keeps: the upload and the file's name, size, time and SHA-256, no content.
  const stored = await page.evaluate(() => {
    const key = Object.keys(localStorage).find((k) => k.includes(':upload:'));
    return JSON.parse(localStorage.getItem(key));
  });
  const partial = Object.values(stored.partial);
  assert.equal(partial.length, 1);
  assert.deepEqual(Object.keys(partial[0]).sort(), ['lastModified', 'name', 'sha256', 'size']);
  assert.deepEqual([partial[0].name, partial[0].size, partial[0].sha256], [c.name, c.size, c.sha256]);
  assert.ok(JSON.stringify(stored).length < 4000, 'no file content in localStorage');
  await page.close();

  // The server holds the five parts.
  const again = await browser.context.newPage();
  const second = recordRequests(again);
  await again.goto(PAGE_URL);
  await again.getByRole('heading', { name: 'Continue your interrupted upload?' }).waitFor();
  await again.getByText('1 large file arrived in part: only its missing parts are sent.').waitFor();
  if (SCREENSHOT_DIR) {
    await again.screenshot({ path: path.join(SCREENSHOT_DIR, '70-resume-parts.png'), fullPage: true });
  }
  const status = await again.evaluate(async ({ id, token }) =>
    (await fetch(`api/uploads/${id}`, { headers: { 'X-Inbound-Token': token } })).json(), stored);
  const held = status.partialFiles.find((f) => f.sha256 === c.sha256).parts.sort((a, b) => a - b);
  assert.deepEqual(held, arrived(first).map((r) => r.n).sort((a, b) => a - b));
  await again.getByRole('button', { name: 'Continue the upload' }).click();
  await pickFolder(again, c.dir);
  await again.getByRole('button', { name: 'Send images' }).click();
  await waitForReceipt(again);
  await remember('closed', upload.id);

  const missing = [...Array(count(c)).keys()].filter((n) => !held.includes(n));
  assert.deepEqual(second.filter((r) => r.kind === 'part').map((r) => r.n).sort((a, b) => a - b), missing,
    'only the parts the server lacked are sent');
  assert.ok(arrived(second).every((r) => r.sha256 === c.sha256 && r.headers['x-inbound-part-sha256'] === c.parts[r.n]));
  assert.equal(second.filter((r) => r.kind === 'assemble').length, 1);
  assert.deepEqual(second.filter((r) => r.kind === 'file'), []);
  assert.equal(await storedUploads(again), 0, 'nothing is kept once the upload is complete');
  await again.close();
});
