// Request links from the staff side in a real browser (Debian's Chromium, playwright-core),
// against a running Orthanc with the plugin, started by ../test_browser_request_admin.py:
//
//   INBOUND_URL=http://127.0.0.1:8042/inbound/ INBOUND_REQUEST_FIXTURE='{…}' \
//     node --test --test-concurrency=1 request-admin.test.mjs
//
// INBOUND_REQUEST_FIXTURE (JSON): {"admin": "user:password", "siteName",
//   "recipient": {"id", "name"},
//   "hospitalPatient": {"uuid", "id", "name", "birthDate"}   a patient of the hospital's own,
//   "isolatedPatient": "<uuid>"                              a patient the plugin stored,
//   "bound": {"upload", "request", "patient": {"id", "name", "birthDate"}}  an upload made
//            through a request, of the expected patient,
//   "mismatched": {"upload", "request", "patient"}  one whose CD holds another patient,
//   "modality": "pacs", "senderEmail": "<address the first link is mailed to>",
//   "work": "<dir for PDFs>", "result": "<file the test writes>"}
// The result file gets {"revoked", "revokedUrl", "code", "activeUrl"} for the Python side.
// Nothing is mocked: the pages talk to the plugin.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { accessibilityViolations, launchChromium, newWatchedPage } from './chromium.mjs';

const PAGE_URL = process.env.INBOUND_URL;
const FIXTURE = JSON.parse(process.env.INBOUND_REQUEST_FIXTURE || 'null');
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';
if (!PAGE_URL || !FIXTURE) {
  throw new Error('INBOUND_URL and INBOUND_REQUEST_FIXTURE must be set (see the head of request-admin.test.mjs)');
}
const ORIGIN = new URL(PAGE_URL).origin;
const ADMIN_PAGE = `${ORIGIN}/inbound/admin/ui/`;
const EXPLORER = `${ORIGIN}/app/explorer.html`;
const [USERNAME, PASSWORD] = FIXTURE.admin.split(/:(.*)/s);
const result = {};

let context;
let userDataDir;

before(async () => {
  ({ context, userDataDir } = await launchChromium('inbound-request-admin-', {
    httpCredentials: { username: USERNAME, password: PASSWORD },
  }));
});

after(async () => {
  await writeFile(FIXTURE.result, JSON.stringify(result));
  if (context) {
    await context.close();
  }
  if (userDataDir) {
    await rm(userDataDir, { recursive: true, force: true });
  }
});

async function shot(page, name) {
  if (SCREENSHOT_DIR) {
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  }
}

function newPage(allow = null) {
  return newWatchedPage(context, allow);
}

async function assertAccessible(page, what) {
  assert.deepEqual(await accessibilityViolations(page), [], `${what}: WCAG 2.1 AA`);
}

// The letter as printed: one A4 page, its text, and what zbar reads from its image.
async function printLetter(page, name) {
  const pdf = path.join(FIXTURE.work, `${name}.pdf`);
  await page.pdf({ path: pdf, format: 'A4', preferCSSPageSize: true });
  const info = execFileSync('pdfinfo', [pdf], { encoding: 'utf8' });
  const prefix = path.join(FIXTURE.work, name);
  execFileSync('pdftoppm', ['-r', '150', '-gray', '-png', pdf, prefix]);
  const images = (await readdir(FIXTURE.work)).filter((f) => f.startsWith(`${name}-`) && f.endsWith('.png'));
  assert.equal(images.length, 1, `one page image: ${images}`);
  const qr = execFileSync('zbarimg', ['-q', '--raw', path.join(FIXTURE.work, images[0])], { encoding: 'utf8' });
  return {
    pages: Number(/^Pages:\s+(\d+)/m.exec(info)[1]),
    text: execFileSync('pdftotext', ['-layout', pdf, '-'], { encoding: 'utf8' }),
    codes: qr.split('\n').filter(Boolean),
  };
}

function squeeze(text) {
  return text.replace(/\s+/g, '');
}

async function requestAnswer(page, url) {
  const token = url.split('/').pop();
  return page.evaluate(async (t) => {
    const response = await fetch(`/inbound/api/requests/${t}`);
    return { status: response.status, body: await response.json() };
  }, token);
}

const HOSPITAL = FIXTURE.hospitalPatient;
// Two lines: sent as one ("line 1 / line 2"), as the upload page sends a sender's message.
const MESSAGE = 'Please send the CT of March 2024 on your CD.\n<b>Thank you</b>';

test('a request created in the admin page: the link shown once, its letter printed with a QR code of exactly that link', async () => {
  const { page, problems } = await newPage();
  await page.goto(`${ADMIN_PAGE}#requests`);
  await page.getByRole('heading', { name: 'Requests', level: 1 }).waitFor();
  await page.getByRole('link', { name: 'New request' }).click();
  const form = page.locator('#request-new');
  await form.getByRole('heading', { name: 'New request' }).waitFor();
  await form.getByLabel('Recipient').locator('option').first().waitFor({ state: 'attached' });
  await form.getByLabel('Recipient').selectOption(FIXTURE.recipient.id);
  await form.getByLabel('Hospital PatientID').fill(HOSPITAL.id);
  await form.getByLabel('Patient name').fill(HOSPITAL.name);
  await form.getByLabel('Birth date', { exact: true }).fill('1970-01-31');
  await form.getByLabel('Message to the sender').fill(MESSAGE);
  await form.getByLabel(/^E-mail/).fill(FIXTURE.senderEmail);
  // "Forward to" offers Orthanc's DicomModalities.
  const targets = await form.getByLabel('Forward matching images to').locator('option').allTextContents();
  assert.ok(targets.includes(FIXTURE.modality), `${FIXTURE.modality} in ${targets}`);
  // The birth date challenge needs the date: the form says so before anything is sent.
  await form.getByLabel('Birth date', { exact: true }).fill('');
  await form.getByLabel('The patient\'s birth date').check();
  await form.getByRole('button', { name: 'Create the request' }).click();
  await form.getByText('Enter the patient\'s birth date, or choose another challenge.').waitFor();
  assert.equal(await form.getByLabel('Birth date', { exact: true }).getAttribute('aria-invalid'), 'true');
  // Forwarding without a person needs the birth date too (a name alone is not a match).
  await form.getByLabel(/^A code/).check();
  await form.getByLabel('Forward matching images to').selectOption(FIXTURE.modality);
  await form.getByRole('button', { name: 'Create the request' }).click();
  await form.getByText('Forwarding needs the patient\'s birth date').waitFor();
  await form.getByLabel('Forward matching images to').selectOption('');
  await form.getByLabel('Birth date', { exact: true }).fill('1970-01-31');
  await assertAccessible(page, 'the new-request form');
  await shot(page, '40-request-form');
  await form.getByRole('button', { name: 'Create the request' }).click();

  const created = page.locator('#request-created');
  await created.getByRole('heading', { name: 'Request created' }).waitFor();
  await created.getByText('The link is shown only now').waitFor();
  const url = await created.getByLabel('Link for the sender').inputValue();
  assert.match(url, new RegExp(`^${ORIGIN}/inbound/r/[A-Za-z0-9_-]{20,}$`));
  assert.ok(!(await page.evaluate(() => window.location.href)).includes(url.split('/').pop()), 'the token is not in the address');
  const code = (await page.locator('#created-code').textContent()).trim();
  assert.match(code, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  await created.getByText('Give the code another way than the link').waitFor();
  await created.getByText(`The link was mailed to ${FIXTURE.senderEmail} (without the code).`).waitFor();
  result.code = code;
  // The QR code on the screen is the link too (read from a screenshot of it).
  const screenQr = path.join(FIXTURE.work, 'screen-qr.png');
  await page.locator('#created-qr svg').screenshot({ path: screenQr });
  assert.equal(execFileSync('zbarimg', ['-q', '--raw', screenQr], { encoding: 'utf8' }).trim(), url);
  await assertAccessible(page, 'the request created');
  await shot(page, '41-request-created');

  // The letter: one A4 page; its QR code, read back from the printed image, is the link.
  const letter = await printLetter(page, 'letter');
  assert.equal(letter.pages, 1);
  assert.deepEqual(letter.codes, [url]);
  assert.ok(squeeze(letter.text).includes(squeeze(url)), 'the link as text on the letter');
  for (const expected of [FIXTURE.siteName, `Requested by ${FIXTURE.recipient.name}`, 'Please send the CT of March 2024',
    'on your CD. / <b>Thank you</b>', 'You will be asked for the code printed below.', `Code: ${code}`, 'Valid until']) {
    assert.ok(squeeze(letter.text).includes(squeeze(expected)), `"${expected}" on the letter:\n${letter.text}`);
  }
  for (const absent of [HOSPITAL.id, HOSPITAL.name, 'Administration', 'Requests']) {
    assert.ok(!letter.text.includes(absent), `"${absent}" printed on the letter`);
  }
  // Without the code: a blank to write it in.
  await created.getByLabel(/Leave the code out of the letter/).check();
  const blank = await printLetter(page, 'letter-blank');
  assert.deepEqual(blank.codes, [url]);
  assert.ok(!blank.text.includes(code), 'the code left out');
  assert.ok(blank.text.includes('You will be asked for the code written below.'));
  assert.match(blank.text, /Code:/);

  // The link opens the request's page; the request answers without patient data.
  const opened = await requestAnswer(page, url);
  assert.equal(opened.status, 200);
  assert.equal(opened.body.recipient.id, FIXTURE.recipient.id);
  assert.equal(opened.body.challenge, 'code');
  assert.ok(!JSON.stringify(opened.body).includes(HOSPITAL.id), 'patient data before the challenge');
  const sender = await context.newPage();
  const response = await sender.goto(url);
  assert.equal(response.status(), 200);
  await sender.close();

  // In the list: active, the patient, no upload used yet.
  await page.getByRole('link', { name: 'Show the request' }).click();
  const detail = page.locator('#request-detail');
  await detail.getByRole('heading', { name: /^Request \S+$/ }).waitFor();
  result.revoked = (await detail.locator('#request-facts code').textContent()).trim();
  result.revokedUrl = url;
  await page.getByRole('link', { name: 'All requests' }).click();
  const row = page.locator(`#requests-body tr[data-request-id="${result.revoked}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /Active/);
  assert.ok((await row.textContent()).includes(`${HOSPITAL.name} · ${HOSPITAL.id}`));
  assert.match(await row.textContent(), /0 of 1/);
  await assertAccessible(page, 'the request list');
  await shot(page, '42-request-list');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the letter is in the request\'s language; a birth date challenge is named, no code', async () => {
  const { page, problems } = await newPage();
  await page.goto(`${ADMIN_PAGE}#new-request?patientId=${encodeURIComponent(HOSPITAL.id)}&birthDate=${HOSPITAL.birthDate}`);
  const form = page.locator('#request-new');
  await form.getByRole('heading', { name: 'New request' }).waitFor();
  await form.getByLabel('Recipient').locator('option').first().waitFor({ state: 'attached' });
  assert.equal(await form.getByLabel('The patient\'s birth date').isChecked(), true, 'the birth date challenge by default');
  await form.getByLabel('Language of the sender\'s page, mail and letter').selectOption('de');
  await form.getByRole('button', { name: 'Create the request' }).click();
  const created = page.locator('#request-created');
  await created.getByRole('heading', { name: 'Request created' }).waitFor();
  const url = await created.getByLabel('Link for the sender').inputValue();
  assert.equal(await page.locator('#created-code').count(), 0, 'no code for a birth date challenge');
  assert.equal(await created.getByLabel(/Leave the code out/).isVisible(), false);
  await created.getByText('No e-mail address given').waitFor();
  const letter = await printLetter(page, 'letter-de');
  assert.deepEqual(letter.codes, [url]);
  for (const expected of ['Bitte um Bilder', 'Sie werden nach dem Geburtsdatum des Patienten gefragt.', 'Gültig bis']) {
    assert.ok(letter.text.includes(expected), `"${expected}" on the letter:\n${letter.text}`);
  }
  assert.ok(!/Code:/.test(letter.text));
  result.activeUrl = url;
  // Leaving the request forgets the letter: printing elsewhere prints the page.
  await page.goto(`${ADMIN_PAGE}#requests`);
  await page.getByRole('heading', { name: 'Requests', level: 1 }).waitFor();
  assert.equal(await page.evaluate(() => document.body.classList.contains('has-letter')), false);
  assert.deepEqual(problems, []);
  await page.close();
});

test('revoking from the page: after the confirmation the link answers 410', async () => {
  // The test's own look at the revoked link is answered 410.
  const { page, problems } = await newPage(/status of 410/);
  await page.goto(`${ADMIN_PAGE}#requests`);
  const row = page.locator(`#requests-body tr[data-request-id="${result.revoked}"]`);
  await row.getByRole('link', { name: /HOSP/ }).click();
  const detail = page.locator('#request-detail');
  await detail.getByRole('heading', { name: `Request ${result.revoked}`, exact: true }).waitFor();
  await assertAccessible(page, 'a request\'s details');
  // Cancelled: nothing happens.
  await detail.getByRole('button', { name: 'Revoke…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Revoke this request?' });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await requestAnswer(page, result.revokedUrl)).status, 200);
  await detail.getByRole('button', { name: 'Revoke…' }).click();
  await dialog.getByRole('button', { name: 'Revoke' }).click();
  await page.getByRole('status').filter({ hasText: `Request ${result.revoked} revoked.` }).waitFor();
  await detail.locator('.badge', { hasText: 'Revoked' }).waitFor();
  assert.equal(await detail.getByRole('button', { name: 'Revoke…' }).isVisible(), false);
  const gone = await requestAnswer(page, result.revokedUrl);
  assert.equal(gone.status, 410);
  assert.equal(gone.body.error, 'request-revoked');
  await shot(page, '43-request-revoked');
  assert.deepEqual(problems, []);
  await page.close();
});

test('Orthanc Explorer: "Request images" on a hospital patient opens the form filled in; none on an isolated patient', async () => {
  // The plugin answers 404 for the studies that are not its own.
  const { page, problems } = await newPage(/status of 404/);
  // "/" asks for the credentials and leads to Orthanc Explorer.
  await page.goto(`${ORIGIN}/`);
  await page.waitForURL(/\/app\/explorer\.html/);
  const studiesAsked = page.waitForResponse((r) => r.url().includes('/inbound/admin/studies/'));
  await page.goto(`${EXPLORER}#patient?uuid=${FIXTURE.isolatedPatient}`);
  assert.equal((await studiesAsked).status(), 200);
  await page.locator('#patient-info li', { hasText: 'INB-' }).first().waitFor();
  await page.waitForTimeout(500);
  assert.equal(await page.locator('#inbound-request-images').count(), 0, 'a button on a patient the plugin stored');

  await page.goto(`${EXPLORER}#patient?uuid=${HOSPITAL.uuid}`);
  const button = page.getByRole('link', { name: 'Request images…' });
  await button.waitFor();
  assert.equal(await page.locator('#inbound-request-images').count(), 1);
  await shot(page, '44-explorer-request-images');
  await button.click();
  await page.waitForURL(/\/inbound\/admin\/ui\/#new-request\?/);
  const form = page.locator('#request-new');
  await form.getByRole('heading', { name: 'New request' }).waitFor();
  await form.getByLabel('Recipient').locator('option').first().waitFor({ state: 'attached' });
  assert.equal(await form.getByLabel('Hospital PatientID').inputValue(), HOSPITAL.id);
  assert.equal(await form.getByLabel('Patient name').inputValue(), HOSPITAL.name);
  assert.equal(await form.getByLabel('Birth date', { exact: true }).inputValue(), '1970-01-31');
  assert.equal(await form.getByLabel('The patient\'s birth date').isChecked(), true);
  assert.deepEqual(problems, []);
  await page.close();
});

// The release dialog of an upload, as Explorer's "Release…" opens it.
async function openRelease(page, uploadId) {
  await page.goto(`${ADMIN_PAGE}#release=${uploadId}`);
  const dialog = page.getByRole('dialog', { name: 'Release to the PACS' });
  await dialog.waitFor();
  return dialog;
}

test('the release dialog of an upload made through a request starts with the request\'s patient', async () => {
  const { page, problems } = await newPage();
  const bound = FIXTURE.bound;
  const dialog = await openRelease(page, bound.upload);
  assert.equal(await dialog.getByLabel('Hospital PatientID').inputValue(), bound.patient.id);
  assert.equal(await dialog.getByLabel('Patient name').inputValue(), bound.patient.name);
  const birth = bound.patient.birthDate;
  assert.equal(await dialog.getByLabel('Birth date').inputValue(), `${birth.slice(0, 4)}-${birth.slice(4, 6)}-${birth.slice(6)}`);
  await dialog.getByText(new RegExp(`^Filled in from request ${bound.request}: `)).waitFor();
  await assertAccessible(page, 'the release dialog of a bound upload');
  await shot(page, '45-release-from-request');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });
  // The upload's details name the request, linked to it.
  const link = page.locator(`li.upload[data-upload-id="${bound.upload}"] a[href="#request=${bound.request}"]`);
  await link.waitFor();
  assert.ok((await link.textContent()).includes(bound.patient.id));
  await link.click();
  await page.locator('#request-detail').getByRole('heading', { name: `Request ${bound.request}`, exact: true }).waitFor();
  await page.locator(`#request-uploads tr[data-upload-id="${bound.upload}"]`).waitFor();
  assert.deepEqual(problems, []);
  await page.close();
});

test('the release dialog warns when the images are not of the request\'s patient', async () => {
  const { page, problems } = await newPage();
  const other = FIXTURE.mismatched;
  const dialog = await openRelease(page, other.upload);
  const note = dialog.getByText(`Filled in from request ${other.request}: the images do NOT match the expected patient: check them.`);
  await note.waitFor();
  assert.match(await note.getAttribute('class'), /match-bad/);
  // Still the hospital's patient of the request, not the one on the CD: a person decides.
  assert.equal(await dialog.getByLabel('Hospital PatientID').inputValue(), other.patient.id);
  await assertAccessible(page, 'the release dialog of a mismatched upload');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  const row = page.locator(`li.upload[data-upload-id="${other.upload}"]`);
  await row.locator('.match-bad', { hasText: 'do NOT match' }).waitFor();
  assert.deepEqual(problems, []);
  await page.close();
});
