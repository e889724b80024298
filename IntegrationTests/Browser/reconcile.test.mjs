// The release dialog's "Who is this patient?" in a real browser (Debian's Chromium,
// playwright-core), against a running Orthanc with the plugin whose Inbound.Reconciliation asks a
// dcmqrscp PACS ("pacs"), a wlmscpfs worklist ("ris") and a refused modality ("down"); started by
// ../test_browser_reconcile.py:
//
//   INBOUND_URL=http://127.0.0.1:8042/inbound/ INBOUND_RECONCILE_FIXTURE='{…}' \
//     node --test --test-concurrency=1 reconcile.test.mjs
//
// INBOUND_RECONCILE_FIXTURE (JSON): {"admin": "user:password",
//   "doe": {"upload", "studies"}       the CD of DOE^JANE (EXT-555, 3 Mar 1970) — released as H1003
//                                      with the worklist's accession number,
//   "mueller": {"upload", "studies"}   the CD of MÜLLER^JÜRGEN — released as the near-miss H1002,
//                                      confirmed,
//   "bound": {"upload", "request"}     the CD of DOE^JANE sent through a request link for H1003,
//   "modality": "store"}               the storescp PACS the releases go to.
// Nothing is mocked; the candidates' answer is only held back once, to show the dialog in use
// while the sources are asked.

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { accessibilityViolations, chromiumForTests, newWatchedPage } from './chromium.mjs';

const PAGE_URL = process.env.INBOUND_URL;
const FIXTURE = JSON.parse(process.env.INBOUND_RECONCILE_FIXTURE || 'null');
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';
if (!PAGE_URL || !FIXTURE) {
  throw new Error('INBOUND_URL and INBOUND_RECONCILE_FIXTURE must be set (see the head of reconcile.test.mjs)');
}
const ADMIN_PAGE = `${new URL(PAGE_URL).origin}/inbound/admin/ui/`;
const [USERNAME, PASSWORD] = FIXTURE.admin.split(/:(.*)/s);
const CONFIRM = 'I have checked that this is the same patient';
const CANDIDATES = /\/inbound\/admin\/uploads\/[^/]+\/candidates(\?.*)?$/;

const browser = chromiumForTests('inbound-reconcile-', { httpCredentials: { username: USERNAME, password: PASSWORD } });

async function shot(page, name) {
  if (SCREENSHOT_DIR) {
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  }
}

async function assertAccessible(page, what) {
  assert.deepEqual(await accessibilityViolations(page), [], `${what}: WCAG 2.1 AA`);
}

// The bodies of the release POSTs the page sends.
function watchReleases(page) {
  const bodies = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && /\/release$/.test(request.url())) {
      bodies.push(request.postDataJSON());
    }
  });
  return bodies;
}

async function openRelease(page, uploadId) {
  await page.goto(`${ADMIN_PAGE}#release=${uploadId}`);
  const dialog = page.getByRole('dialog', { name: 'Release to the PACS' });
  await dialog.waitFor();
  return { dialog, who: dialog.getByRole('region', { name: 'Who is this patient?' }) };
}

async function answered(page) {
  await page.waitForFunction(() => {
    const section = document.getElementById('reconcile');
    return !section.hasAttribute('aria-busy') && document.querySelectorAll('#reconcile-sources li').length > 0;
  });
}

async function identity(dialog) {
  const value = (label) => dialog.getByLabel(label, { exact: true }).inputValue();
  return {
    id: await value('Hospital PatientID'), name: await value('Patient name'), birthDate: await value('Birth date'),
    sex: await value('Sex'), issuer: await value('Issuer of the PatientID'), accession: await value('Accession number'),
  };
}

function candidate(scope, ...texts) {
  let found = scope.locator('li.candidate');
  for (const text of texts) {
    found = found.filter({ hasText: text });
  }
  return found;
}

async function isFocused(locator) {
  return locator.evaluate((node) => node === document.activeElement);
}

test('the CD\'s patient beside its candidates: usable while asked, the server\'s 409, a near-miss, "Use", the release', async () => {
  const { page, problems } = await newWatchedPage(browser.context, /status of 409/);
  const posts = watchReleases(page);
  // The sources are slow this time: their answer waits until the identity was typed by hand.
  let letThrough;
  const held = new Promise((resolve) => { letThrough = resolve; });
  await page.route(CANDIDATES, async (route) => {
    await held;
    await route.continue();
  });
  const { dialog, who } = await openRelease(page, FIXTURE.doe.upload);
  await who.getByText(/^Asking the hospital's sources/).waitFor();
  assert.equal(await who.getAttribute('aria-busy'), 'true');

  await dialog.getByLabel('Target').selectOption(FIXTURE.modality);
  await dialog.getByLabel('Hospital PatientID').fill('H1009');
  await dialog.getByLabel('Patient name').fill('DOE^JANE');
  await dialog.getByLabel('Birth date').fill('1965-06-12');
  await dialog.getByRole('button', { name: 'Release' }).click();
  // The server compares with what was sent: 409 confirmation-required, shown as the checkbox.
  const confirm = dialog.getByLabel(CONFIRM);
  await confirm.waitFor();
  await dialog.getByText(`Tick “${CONFIRM}” to release anyway.`).waitFor();
  assert.equal(posts.length, 1);
  assert.equal(posts[0].confirmMismatch, undefined);
  assert.equal(await confirm.getAttribute('aria-invalid'), 'true');
  assert.equal(await isFocused(confirm), true, 'the focus is on the confirmation');
  assert.equal(await dialog.locator('#release-alert').isVisible(), false);
  assert.equal(await confirm.isChecked(), false);

  letThrough();
  await answered(page);
  await page.unroute(CANDIDATES);
  await who.getByText(/^Not every source answered/).waitFor();
  // Each source with its outcome: the refused one failed, with the server's message.
  const sources = who.getByRole('list', { name: 'Sources' }).locator('li');
  for (const name of ['This Orthanc (patients)', 'pacs (patients)', 'ris (worklist)']) {
    assert.match(await sources.filter({ hasText: name }).textContent(), /^answered /, name);
  }
  const down = await sources.filter({ hasText: 'down (patients)' }).textContent();
  assert.match(down, /^failed down \(patients\) · 0 records · \d+\.\d s — \S/, down);

  // As sent, beside the candidates.
  const sent = who.getByRole('group', { name: 'As sent: DOE^JANE' });
  const facts = await sent.locator('.reconcile-sent').textContent();
  for (const text of ['EXT-555', 'issuer CLINIC-X', '3 Mar 1970', 'female', 'CLINIC-X-OLD-1', 'CLIN-0042']) {
    assert.ok(facts.includes(text), `${text} in ${facts}`);
  }
  const fit = sent.getByRole('list', { name: 'Candidates for DOE^JANE' });
  const first = fit.locator(':scope > li').first();
  assert.match(await first.locator('.candidate-line').first().textContent(), /H1003/);
  const reasons = await first.locator('.candidate-reasons li').allTextContents();
  for (const reason of ['same name', 'same birth date', 'same sex', 'knows the sender\'s PatientID']) {
    assert.ok(reasons.includes(reason), `${reason} in ${reasons}`);
  }
  assert.ok(Number(await first.locator('.candidate-score-value').textContent()) >= 50);
  assert.equal(await candidate(fit, 'L-3003', 'from This Orthanc').count(), 1, 'the hospital\'s own patient');
  assert.equal(await candidate(fit, 'H1004').count(), 1, 'the transposed name fits');
  assert.equal(await candidate(fit, 'H1009').count(), 0, 'the other birth date does not fit');

  // The near-miss, by keyboard: same name, other birth date.
  const notFit = sent.locator('details.candidates-other');
  await notFit.locator('summary').focus();
  await page.keyboard.press('Enter');
  const nearMiss = candidate(notFit, 'H1009', 'from pacs').getByRole('button', { name: /^Use DOE\^JANE \(H1009\)$/ });
  await nearMiss.focus();
  await page.keyboard.press('Enter');
  assert.deepEqual(await identity(dialog),
    { id: 'H1009', name: 'DOE^JANE', birthDate: '1965-06-12', sex: 'F', issuer: 'HOSP', accession: '' });
  assert.equal(await isFocused(nearMiss), true, 'the focus stays on "Use"');
  await who.getByText('Filled in from pacs: PatientID H1009. It differs from what was sent: confirm below.').waitFor();
  assert.deepEqual(await dialog.locator('#release-confirm-why li').allTextContents(),
    ['The birth date differs from the one sent (3 Mar 1970).', 'The candidate used scores below 50.']);
  assert.equal(await confirm.isChecked(), false);
  await assertAccessible(page, 'the candidates and the confirmation');
  await shot(page, '60-reconcile-near-miss');
  await dialog.getByRole('button', { name: 'Release' }).click();
  await dialog.getByText(`Tick “${CONFIRM}” to release anyway.`).waitFor();
  assert.equal(await isFocused(confirm), true);
  assert.equal(posts.length, 1, 'nothing sent without the confirmation');

  // The right patient: the PACS's H1003, then its worklist entry with the accession number.
  await candidate(fit, 'H1003', 'from pacs').getByRole('button', { name: /^Use / }).click();
  assert.deepEqual(await identity(dialog),
    { id: 'H1003', name: 'DOE^JANE', birthDate: '1970-03-03', sex: 'F', issuer: 'HOSP', accession: '' });
  assert.equal(await dialog.locator('#release-confirm-box').isVisible(), false, 'nothing differs');
  await candidate(fit, 'H1003', 'from pacs').getByText('In use').waitFor();
  const worklist = candidate(fit, 'Worklist: accession A2026-001');
  assert.match(await worklist.textContent(), /CT HEAD/);
  await worklist.getByRole('button', { name: /^Use / }).click();
  assert.equal((await identity(dialog)).accession, 'A2026-001');
  assert.equal(await candidate(fit, 'H1003', 'from pacs').getByText('In use').isVisible(), false);

  // Ask again: the sources afresh; the candidate in use stays in use.
  const fresh = page.waitForRequest((request) => /\/candidates\?fresh=true$/.test(request.url()));
  await who.getByRole('button', { name: 'Ask again' }).click();
  await fresh;
  await answered(page);
  await candidate(fit, 'Worklist: accession A2026-001').getByText('In use').waitFor();
  await assertAccessible(page, 'the candidates, one in use');
  await shot(page, '61-reconcile-chosen');

  await dialog.getByRole('button', { name: 'Release' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await page.getByRole('status').filter({ hasText: /Release of upload \w+ started/ }).waitFor();
  const body = posts[1];
  assert.deepEqual(body.patient, { id: 'H1003', name: 'DOE^JANE', birthDate: '19700303', sex: 'F', issuer: 'HOSP' });
  assert.equal(body.accessionNumber, 'A2026-001');
  assert.equal(body.candidate.source, 'ris');
  assert.ok(body.candidate.score >= 50, JSON.stringify(body.candidate));
  assert.equal(body.confirmMismatch, undefined);
  assert.equal(body.modality, FIXTURE.modality);
  assert.deepEqual(problems.filter((p) => !/status of 409/.test(p)), []);
  await page.close();
});

test('a near-miss is released only with the confirmation', async () => {
  const { page, problems } = await newWatchedPage(browser.context);
  const posts = watchReleases(page);
  const { dialog, who } = await openRelease(page, FIXTURE.mueller.upload);
  await answered(page);
  const sent = who.getByRole('group', { name: 'As sent: MÜLLER^JÜRGEN' });
  const first = sent.getByRole('list', { name: 'Candidates for MÜLLER^JÜRGEN' }).locator(':scope > li').first();
  assert.match(await first.textContent(), /H1001/);
  assert.ok((await first.locator('.candidate-reasons li').allTextContents()).includes('knows the sender\'s PatientID'));
  await sent.locator('details.candidates-other summary').click();
  const nearMiss = candidate(sent.locator('details.candidates-other'), 'H1002', 'from pacs');
  await nearMiss.getByRole('button', { name: /^Use / }).click();
  assert.equal((await identity(dialog)).birthDate, '1961-02-02');
  await dialog.getByLabel('Target').selectOption(FIXTURE.modality);
  await dialog.getByLabel(CONFIRM).check();
  await dialog.getByRole('button', { name: 'Release' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(posts.length, 1);
  assert.equal(posts[0].confirmMismatch, true);
  assert.equal(posts[0].candidate.source, 'pacs');
  assert.ok(posts[0].candidate.score < 50, JSON.stringify(posts[0].candidate));
  assert.deepEqual(posts[0].patient, { id: 'H1002', name: 'Müller^Jürgen', birthDate: '19610202', sex: 'M', issuer: 'HOSP' });
  assert.equal(posts[0].accessionNumber, undefined, 'a PACS candidate brings no accession number');
  assert.deepEqual(problems, []);
  await page.close();
});

test('an upload bound to a request link: the request\'s patient first, filled in and in use', async () => {
  const { page, problems } = await newWatchedPage(browser.context);
  const { dialog, who } = await openRelease(page, FIXTURE.bound.upload);
  assert.equal(await dialog.getByLabel('Hospital PatientID').inputValue(), 'H1003', 'filled in before the sources answer');
  await dialog.getByText(new RegExp(`^Filled in from request ${FIXTURE.bound.request}: `)).waitFor();
  await answered(page);
  const first = who.getByRole('list', { name: 'Candidates for DOE^JANE' }).locator(':scope > li').first();
  assert.match(await first.textContent(), /from The request link/);
  await first.getByText('In use').waitFor();
  assert.ok((await first.locator('.candidate-reasons li').allTextContents()).includes('patient of the request link'));
  assert.equal(await dialog.locator('#release-confirm-box').isVisible(), false);
  await assertAccessible(page, 'the release dialog of a bound upload');
  await shot(page, '62-reconcile-request');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.deepEqual(problems, []);
  await page.close();
});
