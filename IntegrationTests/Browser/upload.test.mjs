// The upload page in a real browser (Debian's Chromium, driven by playwright-core).
// Over 500 lines: every scenario of the page shares one browser, its profile and the helpers
// that walk the steps (openPage, fillDetails, pickCd, …); each test stays short.
//
// Against a running Orthanc with the Inbound plugin:
//
//   INBOUND_URL=http://127.0.0.1:8042/inbound/ [INBOUND_CD=<folder>] [SCREENSHOT_DIR=<dir>] \
//     [INBOUND_ADMIN=user:password] node --test --test-concurrency=1 upload.test.mjs
//
// With INBOUND_ADMIN, the admin page is also opened to compare what it shows of an upload.
// The page is used the way a person uses it: accept the privacy statement, fill the form,
// pick the CD folder, check the preview, send, read the receipt.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { accessibilityViolations, launchChromium } from './chromium.mjs';

const PAGE_URL = process.env.INBOUND_URL;
const DEFAULT_CD = '/usr/lib/python3/dist-packages/pydicom/data/test_files/dicomdirtests';
const CD = process.env.INBOUND_CD || DEFAULT_CD;
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';
const ADMIN = process.env.INBOUND_ADMIN || '';
// pydicom's patient CD: a DICOMDIR for three patients (6 studies, 31 images) and a second
// file-set with its own DICOMDIR (1 study, 50 images); the rest must be skipped.
const DEFAULT_CD_STUDIES = 7;
const DEFAULT_CD_IMAGES = 81;

if (!PAGE_URL) {
  throw new Error('INBOUND_URL must name the upload page, e.g. http://127.0.0.1:8042/inbound/');
}
const ORIGIN = new URL(PAGE_URL).origin;

let userDataDir;
let context;

before(async () => {
  if (SCREENSHOT_DIR) {
    await mkdir(SCREENSHOT_DIR, { recursive: true });
  }
  ({ context, userDataDir } = await launchChromium('inbound-browser-'));
});

after(async () => {
  if (context) {
    await context.close();
  }
  if (userDataDir) {
    await rm(userDataDir, { recursive: true, force: true });
  }
});

async function shot(page, name, options = {}) {
  if (SCREENSHOT_DIR) {
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true, ...options });
  }
}

// A fresh page with no remembered upload, watching for script errors and CSP violations.
async function openPage() {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // Rate-limit answers (503/429 with Retry-After) are part of normal operation: the page
    // waits and tries again. Everything else logged as an error is a problem.
    if (message.type() === 'error' && !/status of (429|503)\b/.test(message.text())) {
      problems.push(`console: ${message.text()}`);
    }
  });
  await page.goto(PAGE_URL);
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await page.getByRole('heading', { name: 'Privacy statement' }).waitFor();
  return { page, problems };
}

// The token of the upload this page opened (from the answer to POST api/uploads).
function watchToken(page) {
  const seen = { token: null };
  page.on('response', async (response) => {
    if (response.request().method() === 'POST' && /\/api\/uploads$/.test(new URL(response.url()).pathname)) {
      seen.token = (await response.json().catch(() => ({}))).token || seen.token;
    }
  });
  return seen;
}

// What the browser keeps of uploads: localStorage and sessionStorage entries, keys and values.
async function storedTexts(page) {
  return page.evaluate(() => [localStorage, sessionStorage].flatMap((store) =>
    Object.keys(store).map((key) => `${key}=${store.getItem(key)}`)));
}

// Once an upload is complete or cancelled, its token is nowhere in the browser's storage: not
// now, not after the page's 2-second save throttle, not when the page is opened again.
async function assertForgotten(page, token, when) {
  assert.ok(token, 'the page opened an upload');
  for (let round = 0; round < 2; round++) {
    const texts = await storedTexts(page);
    assert.deepEqual(texts.filter((t) => t.includes(':upload:') || t.includes(token)), [],
      `the upload's token is still stored ${when}`);
    await page.waitForTimeout(2500);
  }
  await page.reload();
  await page.getByRole('heading', { name: 'Privacy statement' }).waitFor();
  assert.equal(await page.getByRole('heading', { name: 'Continue your interrupted upload?' }).count(), 0);
  assert.deepEqual((await storedTexts(page)).filter((t) => t.includes(token)), []);
}

async function acceptPrivacy(page) {
  await page.getByLabel('I have read the privacy statement and I agree to it.').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Your details' }).waitFor();
}

async function fillDetails(page, { name = 'Dr. Alex Example', email = 'alex@example.org' } = {}) {
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Hospital, practice or institution').fill('Example Clinic');
  await page.getByLabel('Phone number').fill('+49 251 0000');
  const recipient = page.getByLabel('Send to');
  if (await recipient.isVisible()) {
    const options = await recipient.locator('option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
    await recipient.selectOption(options[0]);
  }
  await page.getByLabel('Message to the recipient').fill('CT from 12 May\nreferral for a second opinion');
}

async function pickCd(page) {
  await page.getByRole('heading', { name: 'Choose the images' }).waitFor();
  await page.locator('#folder-input').setInputFiles(CD);
  await page.locator('#studies-body tr.study-row').first().waitFor({ timeout: 60000 });
}

async function studyRows(page) {
  return page.locator('#studies-body tr.study-row');
}

// What the admin page's inbox says of the upload with this receipt code: "n studies · n files
// · size".
async function adminCounts(code) {
  const [username, password] = ADMIN.split(/:(.*)/s);
  const admin = await launchChromium('inbound-browser-admin-', { httpCredentials: { username, password } });
  try {
    const page = await admin.context.newPage();
    await page.goto(`${ORIGIN}/inbound/admin/ui/`);
    await page.getByLabel(/^Search/).fill(code);
    const row = page.locator('#inbox-list li.upload', { has: page.locator('.receipt-code', { hasText: code }) });
    await row.waitFor();
    return (await row.locator('.upload-meta > span').nth(1).textContent()).trim();
  } finally {
    await admin.context.close();
    await rm(admin.userDataDir, { recursive: true, force: true });
  }
}

async function sendAndWaitForReceipt(page) {
  await page.getByRole('button', { name: 'Send images' }).click();
  await page.getByRole('heading', { name: 'Sending the images' }).waitFor();
  await page.getByRole('heading', { name: 'Images received' }).waitFor({ timeout: 180000 });
}

test('a patient CD is sent from the browser and a receipt is shown', async () => {
  const { page, problems } = await openPage();
  const opened = watchToken(page);
  await shot(page, '01-privacy');

  // Nothing proceeds until the privacy statement is accepted.
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByText('Please confirm that you agree to the privacy statement').waitFor();
  await acceptPrivacy(page);

  // The form is checked before anything is sent.
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByText('Please correct the following:').waitFor();
  await page.getByLabel('E-mail address').fill('not an address');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.locator('#sender-email-error', { hasText: 'valid e-mail address' }).waitFor();
  await shot(page, '02-details-errors');
  await fillDetails(page);
  await shot(page, '03-details');
  await page.getByRole('button', { name: 'Continue' }).click();

  await shot(page, '04-images');
  await pickCd(page);
  const rows = await studyRows(page);
  const studies = await rows.count();
  assert.ok(studies > 0, 'the preview lists studies');
  for (let i = 0; i < studies; i++) {
    assert.equal(await rows.nth(i).locator('input[type="checkbox"]').isChecked(), true, 'every study is ticked by default');
  }
  const found = await page.locator('#found-summary').textContent();
  if (CD === DEFAULT_CD) {
    assert.equal(studies, DEFAULT_CD_STUDIES);
    assert.match(found, new RegExp(`${DEFAULT_CD_STUDIES} examinations, ${DEFAULT_CD_IMAGES} images`));
    // README files, spare DICOMDIR variants and the DICOMDIRs themselves are skipped.
    assert.equal(await page.locator('#skipped').isVisible(), true);
    await page.locator('#skipped summary').click();
    await page.locator('#skipped-list', { hasText: 'DICOMDIR' }).waitFor();
  }
  await shot(page, '05-preview');

  await sendAndWaitForReceipt(page);
  const code = (await page.locator('#receipt-code').textContent()).trim();
  assert.match(code, /^[A-Z0-9]{3,}(-[A-Z0-9]{3,})*$/i, `receipt code "${code}"`);
  const receiptStudies = await page.locator('#receipt-studies tr').count();
  assert.equal(receiptStudies, studies, 'the receipt lists every study sent');
  const facts = await page.locator('#receipt-facts').textContent();
  assert.match(facts, /Dr\. Alex Example, Example Clinic/);
  if (CD === DEFAULT_CD) {
    assert.match(facts, new RegExp(`Images${DEFAULT_CD_IMAGES}`));
  }
  // Sizes in SI units with one decimal, as in the mails; the admin page says the same.
  const size = (await page.locator('#receipt-facts dt', { hasText: /^Size$/ }).locator('xpath=following-sibling::dd[1]')
    .textContent()).trim();
  assert.match(size, /^\d+(\.\d)? (B|kB|MB|GB)$/, `receipt size "${size}"`);
  if (ADMIN) {
    const counts = await adminCounts(code);
    assert.ok(counts.endsWith(` · ${size}`), `the admin page shows "${counts}", the receipt ${size}`);
  }
  assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.includes(':upload:')).length), 0,
    'nothing is left to resume after completion');
  await shot(page, '06-receipt');
  await page.emulateMedia({ media: 'print' });
  await shot(page, '07-receipt-print');
  await page.emulateMedia({ media: 'screen' });
  assert.deepEqual(problems, []);
  await assertForgotten(page, opened.token, 'after completion');
  await page.close();
});

test('the page makes no request outside its own origin and breaks no CSP rule', async () => {
  const requests = [];
  const opened = [];
  const onRequest = (request) => {
    requests.push(request.url());
    if (request.method() === 'POST' && new URL(request.url()).pathname.endsWith('/api/uploads')) {
      opened.push(request.postDataJSON());
    }
  };
  context.on('request', onRequest);
  const { page, problems } = await openPage();
  await page.getByRole('button', { name: 'Deutsch' }).click();
  await page.getByRole('heading', { name: 'Datenschutzerklärung' }).waitFor();
  await shot(page, '08-privacy-de');
  await page.getByRole('button', { name: 'English' }).click();
  await acceptPrivacy(page);
  await fillDetails(page);
  await page.getByRole('button', { name: 'Continue' }).click();
  await pickCd(page);
  await sendAndWaitForReceipt(page);
  context.off('request', onRequest);
  const foreign = requests.filter((url) => !url.startsWith(`${ORIGIN}/`) && !url.startsWith('data:') && !url.startsWith('blob:'));
  assert.deepEqual(foreign, [], 'requests outside the page origin');
  assert.ok(requests.some((url) => new URL(url).pathname.endsWith('/app/worker.js')), 'the hashing worker was loaded');
  // The upload names the page's language at the moment of sending (German, then English again).
  assert.deepEqual(opened.map((body) => body.language), ['en']);
  assert.deepEqual(problems, [], 'script errors or CSP violations');
  await page.close();
});

test('an unticked study is not sent', async () => {
  const { page, problems } = await openPage();
  const puts = new Set();
  page.on('request', (request) => {
    if (request.method() === 'PUT') {
      puts.add(request.url());
    }
  });
  await acceptPrivacy(page);
  await fillDetails(page);
  await page.getByRole('button', { name: 'Continue' }).click();
  await pickCd(page);
  const rows = await studyRows(page);
  const studies = await rows.count();
  assert.ok(studies >= 2, 'the CD must hold at least two studies for this test');
  const dropped = rows.nth(0);
  const droppedImages = Number((await dropped.locator('td').last().textContent()).replace(/\D/g, ''));
  const droppedDate = (await dropped.locator('td').nth(2).textContent()).trim();
  const droppedDescription = (await dropped.locator('td.desc').textContent()).trim();
  await dropped.locator('input[type="checkbox"]').uncheck();
  await page.locator('#selected-summary', { hasText: `${studies - 1} examination` }).waitFor();
  await shot(page, '09-preview-unticked');
  const totalImages = Number((await page.locator('#found-summary').textContent()).match(/(\d+) images?/)[1]);

  await sendAndWaitForReceipt(page);
  const receiptRows = page.locator('#receipt-studies tr');
  assert.equal(await receiptRows.count(), studies - 1, 'the receipt lists only the ticked studies');
  const received = await receiptRows.evaluateAll((trs) => trs.map((tr) => tr.textContent));
  assert.ok(!received.some((text) => text.includes(droppedDate) && text.includes(droppedDescription)),
    `the unticked study (${droppedDate}, ${droppedDescription}) is not in the receipt`);
  assert.equal(puts.size, totalImages - droppedImages, 'ticked images are sent, none of the unticked study');
  await page.locator('#receipt-problems', { hasText: 'examinations you did not tick' }).waitFor();
  assert.deepEqual(problems, []);
  await page.close();
});

test('an interrupted upload is continued after the page was closed', async () => {
  const { page } = await openPage();
  await acceptPrivacy(page);
  await fillDetails(page);
  await page.getByRole('button', { name: 'Continue' }).click();
  await pickCd(page);
  const total = Number((await page.locator('#found-summary').textContent()).match(/(\d+) images?/)[1]);
  // The connection "drops" after a few files: later requests never get an answer.
  let allowed = 5;
  await page.route('**/files/*', (route) => {
    if (allowed > 0) {
      allowed--;
      route.continue();
    }
    // else: left hanging, like a dead connection
  });
  await page.getByRole('button', { name: 'Send images' }).click();
  await page.locator('#send-counts', { hasText: /^5 of / }).waitFor({ timeout: 60000 });
  await shot(page, '10-sending');
  await page.close();

  const { page: again } = await (async () => {
    const p = await context.newPage();
    await p.goto(PAGE_URL);
    return { page: p };
  })();
  await again.getByRole('heading', { name: 'Continue your interrupted upload?' }).waitFor();
  // At least the five answered files arrived (requests left hanging may still arrive
  // when the page closes).
  const resumeText = await again.locator('#resume-text').textContent();
  const [, arrived, announced] = resumeText.match(/(\d+) images? of (\d+) images/).map(Number);
  assert.equal(announced, total);
  assert.ok(arrived >= 5 && arrived < total, `arrived ${arrived}`);
  await shot(again, '11-resume');
  await again.getByRole('button', { name: 'Continue the upload' }).click();
  const puts = new Set();
  again.on('request', (request) => {
    if (request.method() === 'PUT') {
      puts.add(request.url());
    }
  });
  await pickCd(again);
  await sendAndWaitForReceipt(again);
  assert.equal(puts.size, total - arrived, 'only the files that had not arrived are sent again');
  const facts = await again.locator('#receipt-facts').textContent();
  assert.match(facts, new RegExp(`Images${total}`));
  await again.close();
});

test('the page fits a phone screen', async () => {
  const page = await context.newPage();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(PAGE_URL);
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await page.getByRole('heading', { name: 'Privacy statement' }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling (overflow ${overflow}px)`);
  await shot(page, '14-phone-privacy');
  await acceptPrivacy(page);
  await fillDetails(page);
  await page.getByRole('button', { name: 'Continue' }).click();
  await pickCd(page);
  await shot(page, '15-phone-preview');
  await page.close();
});

test('a ZIP archive is opened in the browser', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'inbound-zip-'));
  try {
    const base = path.join(dir, 'patient-cd');
    execFileSync('python3', ['-c', 'import shutil, sys; shutil.make_archive(sys.argv[1], "zip", sys.argv[2])', base, CD]);
    const { page, problems } = await openPage();
    await acceptPrivacy(page);
    await fillDetails(page);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('#files-input').setInputFiles(`${base}.zip`);
    await page.locator('#studies-body tr.study-row').first().waitFor({ timeout: 60000 });
    if (CD === DEFAULT_CD) {
      assert.equal(await (await studyRows(page)).count(), DEFAULT_CD_STUDIES);
      assert.match(await page.locator('#found-summary').textContent(), new RegExp(`${DEFAULT_CD_IMAGES} images`));
    }
    await shot(page, '12-zip-preview');
    await sendAndWaitForReceipt(page);
    if (CD === DEFAULT_CD) {
      assert.match(await page.locator('#receipt-facts').textContent(), new RegExp(`Images${DEFAULT_CD_IMAGES}`));
    }
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('busy answers are retried, refused files are reported', async () => {
  const { page } = await openPage();
  await acceptPrivacy(page);
  await fillDetails(page);
  await page.getByRole('button', { name: 'Continue' }).click();
  await pickCd(page);
  const total = Number((await page.locator('#found-summary').textContent()).match(/(\d+) images?/)[1]);
  // The proxy in front of the plugin answers: the first file once "busy", the second one
  // "invalid DICOM", the third one "DICOMDIR", the fourth one "malware", the fifth one once
  // "scanner unavailable"; every other request reaches the plugin.
  const seen = [];
  const attempts = new Map();
  await page.route('**/files/*', (route) => {
    const url = route.request().url();
    if (!seen.includes(url)) {
      seen.push(url);
    }
    attempts.set(url, (attempts.get(url) || 0) + 1);
    const json = (status, error, headers = {}) => route.fulfill({
      status, headers, contentType: 'application/json', body: JSON.stringify({ error, message: error }),
    });
    const index = seen.indexOf(url);
    if (index === 0 && attempts.get(url) === 1) {
      return json(503, 'rate-limited', { 'Retry-After': '1' });
    }
    if (index === 1) {
      return json(400, 'invalid-dicom');
    }
    if (index === 2) {
      return json(422, 'dicomdir');
    }
    if (index === 3) {
      return json(422, 'malware');
    }
    if (index === 4 && attempts.get(url) === 1) {
      return json(503, 'scanner-unavailable', { 'Retry-After': '1' });
    }
    return route.continue();
  });
  await sendAndWaitForReceipt(page);
  assert.equal(attempts.get(seen[0]), 2, 'the busy answer was retried once');
  assert.equal(attempts.get(seen[1]), 1, 'an invalid file is not retried');
  assert.equal(attempts.get(seen[3]), 1, 'a file with malware is not retried');
  assert.equal(attempts.get(seen[4]), 2, 'a file the scanner could not check yet is sent again');
  assert.match(await page.locator('#receipt-facts').textContent(), new RegExp(`Images${total - 3}(?!\\d)`));
  await page.locator('#receipt-problems', { hasText: 'not readable as medical images' }).waitFor();
  await page.locator('#receipt-problems', { hasText: 'refused by the virus scanner' }).waitFor();
  await shot(page, '13-receipt-with-problems');
  await page.close();
});

test('every step passes an automated accessibility check (WCAG 2.1 AA rules of axe-core)', async () => {
  const { page } = await openPage();
  const found = {};
  found.privacy = await accessibilityViolations(page);
  await acceptPrivacy(page);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByText('Please correct the following:').waitFor();
  found.detailsWithErrors = await accessibilityViolations(page);
  await fillDetails(page);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Choose the images' }).waitFor();
  found.picker = await accessibilityViolations(page);
  await pickCd(page);
  await page.locator('.series-toggle').first().click();
  await page.locator('#skipped summary').click();
  found.preview = await accessibilityViolations(page);
  await sendAndWaitForReceipt(page);
  found.receipt = await accessibilityViolations(page);
  await page.getByRole('button', { name: 'Deutsch' }).click();
  await page.getByRole('heading', { name: 'Bilder empfangen' }).waitFor();
  found.receiptGerman = await accessibilityViolations(page);
  await shot(page, '16-receipt-de');
  for (const [step, violations] of Object.entries(found)) {
    assert.deepEqual(violations, [], `accessibility problems on step "${step}"`);
  }
  await page.close();
});

test('files dropped on the page are checked like picked ones', async () => {
  const { page, problems } = await openPage();
  await acceptPrivacy(page);
  await fillDetails(page);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Choose the images' }).waitFor();
  // Three images of one study and a text file, dropped as plain files.
  const folder = path.join(DEFAULT_CD, '98892003', 'MR2');
  const names = ['4950', '4981', '5011'];
  const files = await Promise.all(names.map(async (name) => ({
    name, data: (await readFile(path.join(folder, name))).toString('base64'),
  })));
  files.push({ name: 'README.TXT', data: Buffer.from('not an image').toString('base64') });
  await page.evaluate((dropped) => {
    const transfer = new DataTransfer();
    for (const f of dropped) {
      const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], f.name));
    }
    const zone = document.getElementById('dropzone');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
    }
  }, files);
  await page.locator('#studies-body tr.study-row').first().waitFor({ timeout: 30000 });
  assert.match(await page.locator('#found-summary').textContent(), /1 examination, 3 images/);
  assert.match(await page.locator('#skipped-summary').textContent(), /^1 file not sent/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the site branding is applied with readable contrast', async () => {
  const page = await context.newPage();
  await page.route('**/api/info', async (route) => {
    const answer = await route.fetch();
    const info = await answer.json();
    info.branding = { primaryColor: '#ffd000', logoUrl: 'app/icon.svg' };
    await route.fulfill({ response: answer, json: info });
  });
  await page.goto(PAGE_URL);
  await page.getByRole('heading', { name: 'Privacy statement' }).waitFor();
  await page.locator('#brand-logo').waitFor();
  const primary = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--primary').trim());
  assert.notEqual(primary, '#ffd000', 'a light colour is darkened for contrast');
  const rgb = [1, 3, 5].map((i) => Number.parseInt(primary.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  const contrast = 1.05 / (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2] + 0.05);
  assert.ok(contrast >= 4.5, `white on ${primary} has a contrast of ${contrast.toFixed(2)}`);
  await shot(page, '17-branding');
  await page.close();
});

test('cancelling an upload removes it', async () => {
  const { page } = await openPage();
  await acceptPrivacy(page);
  await fillDetails(page);
  await page.getByRole('button', { name: 'Continue' }).click();
  await pickCd(page);
  const opened = watchToken(page);
  let allowed = 3;
  await page.route('**/files/*', (route) => {
    if (allowed > 0) {
      allowed--;
      route.continue();
    }
  });
  await page.getByRole('button', { name: 'Send images' }).click();
  await page.locator('#send-counts', { hasText: /^3 of / }).waitFor({ timeout: 60000 });
  const stored = await page.evaluate(() => {
    const key = Object.keys(localStorage).find((k) => k.includes(':upload:'));
    return JSON.parse(localStorage.getItem(key));
  });
  await page.getByRole('button', { name: 'Cancel upload' }).click();
  await page.getByRole('button', { name: 'Yes, cancel' }).click();
  await page.getByText('The upload was cancelled').waitFor();
  await shot(page, '18-cancelled');
  const status = await page.evaluate(async ({ id, token }) => {
    const answer = await fetch(`api/uploads/${id}`, { headers: { 'X-Inbound-Token': token } });
    return { code: answer.status, body: answer.ok ? await answer.json() : null };
  }, stored);
  assert.ok(status.code === 404 || status.body.state === 'cancelled', `after cancelling: ${JSON.stringify(status)}`);
  assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.includes(':upload:')).length), 0);
  assert.equal(opened.token, stored.token);
  await assertForgotten(page, stored.token, 'after cancelling');
  await page.close();
});

test('a remembered upload that is unknown to the server or expired is forgotten when the page opens', async () => {
  const { page } = await openPage();
  const remember = (entry) => page.evaluate((state) => {
    localStorage.setItem(`orthanc-inbound:upload:${location.pathname}`, JSON.stringify(state));
  }, { v: 1, createdAt: new Date().toISOString(), totalFiles: 3, keys: [], hashes: {}, studies: [], ...entry });
  const token = 'f'.repeat(43);

  // The server does not know it (404: removed, expired, or never was).
  await remember({ id: 'NoSuchUpload0000', token, expiresAt: new Date(Date.now() + 86400000).toISOString() });
  await page.reload();
  await page.getByText('The interrupted upload can no longer be continued').waitFor();
  assert.deepEqual((await storedTexts(page)).filter((t) => t.includes(token)), []);

  // Past its expiry by the browser's clock, and the server cannot be asked (offline).
  await remember({ id: 'ExpiredUpload000', token, expiresAt: new Date(Date.now() - 60000).toISOString() });
  await page.route('**/api/uploads/**', (route) => route.abort('internetdisconnected'));
  await page.reload();
  await page.getByText('The interrupted upload can no longer be continued').waitFor();
  assert.deepEqual((await storedTexts(page)).filter((t) => t.includes(token)), []);

  // Not expired, but the server cannot be asked: kept, to be continued later.
  await remember({ id: 'LaterUpload00000', token, expiresAt: new Date(Date.now() + 86400000).toISOString() });
  await page.reload();
  await page.getByRole('heading', { name: 'Privacy statement' }).waitFor();
  assert.equal((await storedTexts(page)).filter((t) => t.includes(token)).length, 1);
  await page.unroute('**/api/uploads/**');
  await page.evaluate(() => localStorage.clear());
  await page.close();
});
