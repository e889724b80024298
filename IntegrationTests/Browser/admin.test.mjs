// The admin page (/inbound/admin/ui/) and the Orthanc Explorer extension in a real browser
// (Debian's Chromium, driven by playwright-core), against a running Orthanc with the Inbound
// plugin and the uploads that IntegrationTests/test_browser.py made for it:
//
//   INBOUND_URL=http://127.0.0.1:8042/inbound/ INBOUND_ADMIN_FIXTURE='{…}' [SCREENSHOT_DIR=<dir>] \
//     node --test --test-concurrency=1 admin.test.mjs
//
// INBOUND_ADMIN_FIXTURE (JSON): {"admin": "user:password",
//   "evil": {"upload", "study", "name", "instances", "receiptCode"}   an upload whose sender
//            name is HTML ("<img src=x onerror=window.__xss=1>Dr. Evil"),
//   "other": {"upload", "study"}       another upload (deleted from Explorer by the test),
//   "plainStudy": "<id>"               a study stored without the plugin,
//   "modality": "pacs"                 a DicomModalities entry (empty: the dialog is only opened),
//   "downModality": "down"             a DicomModalities entry nobody listens for (optional; the
//                                      server gives forwards up after a few seconds),
//   "hospitalPatientId": "HOSP-4711"}
//
// Nothing is mocked: the pages talk to the plugin's admin API.

import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

import { accessibilityViolations, CHROMIUM, CHROMIUM_ARGS, launchChromium, newWatchedPage } from './chromium.mjs';

const PAGE_URL = process.env.INBOUND_URL;
const FIXTURE = JSON.parse(process.env.INBOUND_ADMIN_FIXTURE || 'null');
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';

if (!PAGE_URL || !FIXTURE) {
  throw new Error('INBOUND_URL and INBOUND_ADMIN_FIXTURE must be set (see the head of admin.test.mjs)');
}
const ORIGIN = new URL(PAGE_URL).origin;
const EXPLORER = `${ORIGIN}/app/explorer.html`;
const ADMIN_PAGE = `${ORIGIN}/inbound/admin/ui/`;
const [USERNAME, PASSWORD] = FIXTURE.admin.split(/:(.*)/s);
const EVIL = FIXTURE.evil;

let userDataDir;
let context;
const requests = [];

before(async () => {
  if (SCREENSHOT_DIR) {
    await mkdir(SCREENSHOT_DIR, { recursive: true });
  }
  // The browser's login prompt, answered: Orthanc's RegisteredUsers.
  ({ context, userDataDir } = await launchChromium('inbound-admin-browser-', {
    httpCredentials: { username: USERNAME, password: PASSWORD },
  }));
  context.on('request', (request) => requests.push(request.url()));
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

// A page that records script errors; console errors too unless "allow" matches them.
function newPage(allow = null) {
  return newWatchedPage(context, allow);
}

function panelValue(panel, label) {
  return panel.locator('.inbound-row').filter({ has: panel.page().locator('dt', { hasText: new RegExp(`^${label}$`) }) })
    .locator('dd');
}

async function noXss(page) {
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'a sender text ran as a script');
}

async function openAdmin(page, hash = '') {
  await page.goto(ADMIN_PAGE + hash);
  await page.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
  await page.locator('#inbox-count').filter({ hasText: /uploads/ }).waitFor();
}

function uploadRow(page, uploadId) {
  return page.locator(`#inbox-list li.upload[data-upload-id="${uploadId}"]`);
}

test('the admin page opened first, in a fresh browser: the login prompt, then the inbox with its data', async () => {
  // An internal Orthanc has no proxy in front: the admin page's address (/inbound/admin/ui/)
  // is typed in directly.
  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
  });
  try {
    const fresh = await browser.newContext({ httpCredentials: { username: USERNAME, password: PASSWORD } });
    const page = await fresh.newPage();
    const refused = [];
    page.on('response', (response) => {
      if (response.status() === 403) refused.push(response.url());
    });
    // The prompt itself is answered inside the browser (no response event for the 401):
    // the way through "/inbound/auth" is what shows it was asked.
    const visited = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      visited.push(url.pathname + url.search);
    });
    await page.goto(ADMIN_PAGE);
    await page.waitForURL(ADMIN_PAGE);
    await page.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
    // The page's own API calls carry the credentials given at the prompt.
    await uploadRow(page, EVIL.upload).waitFor();
    assert.deepEqual(visited.slice(0, 3), ['/inbound/admin/ui/', '/inbound/auth?next=admin', '/inbound/admin/ui/']);
    assert.deepEqual(refused, []);
    await fresh.close();

    // Without the password: the prompt stays, nothing of the page or its data.
    const stranger = await browser.newContext({ httpCredentials: { username: USERNAME, password: 'wrong' } });
    const other = await stranger.newPage();
    // Chromium gives up after the wrong password was refused again: an error page, or the 401.
    const answer = await other.goto(ADMIN_PAGE).catch((error) => error);
    assert.ok(answer instanceof Error ? /ERR_HTTP_RESPONSE_CODE_FAILURE|ERR_INVALID_AUTH/.test(answer.message)
      : answer.status() === 401, String(answer));
    assert.equal(await other.locator('#inbox-list').count(), 0);
    await stranger.close();
  } finally {
    await browser.close();
  }
});

test('Orthanc Explorer: the Inbound button, the sender panel of a received study, no panel elsewhere', async () => {
  // The study page of a study that is not the plugin's asks the plugin and gets a 404.
  const { page, problems } = await newPage(/status of 404/);
  // "/" asks for the credentials and leads to Orthanc Explorer.
  await page.goto(`${ORIGIN}/`);
  await page.waitForURL(/\/app\/explorer\.html/);
  const button = page.getByRole('link', { name: 'Inbound: uploads from outside senders' });
  await button.waitFor();
  assert.equal(await button.getAttribute('href'), '../inbound/admin/ui/');
  await shot(page, '19-explorer-home');

  // The study received through the plugin: the panel, every sender text shown as text.
  await page.goto(`${EXPLORER}#study?uuid=${EVIL.study}`);
  const panel = page.getByRole('region', { name: 'Received through Orthanc Inbound' });
  await panel.waitFor();
  assert.equal(await panelValue(panel, 'Sender').textContent(), EVIL.name);
  assert.equal(await panelValue(panel, 'Institution').textContent(), '<b>Evil</b> Clinic');
  assert.equal(await panelValue(panel, 'Message').textContent(), '<script>window.__xss=2</script> second opinion');
  assert.equal(await panelValue(panel, 'E-mail').textContent(), 'evil@clinic.example');
  assert.equal(await panelValue(panel, 'Recipient').textContent(), 'Neuroradiology');
  assert.equal(await panelValue(panel, 'Receipt code').textContent(), EVIL.receiptCode);
  assert.match(await panelValue(panel, 'Consent').textContent(), /version \S+ accepted/);
  assert.equal(await panelValue(panel, 'Client address').textContent(), '127.0.0.1');
  assert.equal(await panelValue(panel, 'Integrity').textContent(),
    `${EVIL.instances} of ${EVIL.instances} instances verified by SHA-256`);
  assert.equal(await panel.locator('img, b, script').count(), 0, 'sender text became HTML');
  assert.equal(await page.locator('img[src="x"]').count(), 0);
  await noXss(page);
  const release = panel.getByRole('link', { name: 'Release…' });
  assert.equal(await release.getAttribute('href'), `../inbound/admin/ui/#release=${EVIL.upload}`);
  await panel.getByRole('button', { name: 'Delete upload…' }).waitFor();
  await panel.getByRole('button', { name: 'Ban sender…' }).waitFor();
  // The series of the study are still listed below the panel.
  await page.locator('#list-series li').first().waitFor();
  await shot(page, '20-explorer-study-panel');

  // Another study: the panel of the first one is gone, the right one is shown.
  await page.goto(`${EXPLORER}#study?uuid=${FIXTURE.other.study}`);
  await page.locator(`#inbound-study-panel[data-study="${FIXTURE.other.study}"]`).waitFor();
  assert.equal(await page.locator('#inbound-study-panel').count(), 1);
  assert.equal(await panelValue(panel, 'Sender').textContent(), 'Dr. A. Example');

  // A study that did not come through the plugin: no panel.
  const answered = page.waitForResponse((r) => r.url().includes(`/inbound/admin/studies/${FIXTURE.plainStudy}`));
  await page.goto(`${EXPLORER}#study?uuid=${FIXTURE.plainStudy}`);
  assert.equal((await answered).status(), 404);
  await page.locator('#study-info li', { hasText: 'PLAIN-1' }).waitFor();
  await page.waitForTimeout(300);
  assert.equal(await page.locator('#inbound-study-panel').count(), 0, 'a panel on a study not received');

  // Leaving a study page removes the panel.
  await page.goto(`${EXPLORER}#study?uuid=${EVIL.study}`);
  await panel.waitFor();
  await page.goto(`${EXPLORER}#lookup`);
  await button.waitFor();
  assert.equal(await page.locator('#inbound-study-panel').count(), 0, 'the panel stayed after leaving the study');

  // "Delete upload" (the other upload), after Explorer's confirmation, then home.
  await page.goto(`${EXPLORER}#study?uuid=${FIXTURE.other.study}`);
  await panel.waitFor();
  await panel.getByRole('button', { name: 'Delete upload…' }).click();
  await page.getByText('Every study of this upload is removed from Orthanc').waitFor();
  await page.locator('.ui-simpledialog-container').getByRole('link', { name: 'Delete', exact: true }).click();
  await page.waitForURL(/#lookup$|explorer\.html$/);
  await button.waitFor();
  const gone = await page.evaluate(async (id) => (await fetch(`../studies/${id}`)).status, FIXTURE.other.study);
  assert.equal(gone, 404, 'the deleted upload\'s study is gone from Orthanc');
  await noXss(page);
  assert.deepEqual(problems, []);

  // The Inbound button opens the admin page.
  await button.click();
  await page.waitForURL(ADMIN_PAGE);
  await page.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
  await page.close();
});

test('the inbox lists the upload with the sender\'s texts as text, and its details', async () => {
  const { page, problems } = await newPage();
  await openAdmin(page);
  const row = uploadRow(page, EVIL.upload);
  await row.waitFor();
  assert.equal(await row.locator('.upload-sender').textContent(), EVIL.name);
  assert.equal(await row.locator('.upload-institution').textContent(), '<b>Evil</b> Clinic');
  assert.equal(await row.locator('.receipt-code').textContent(), EVIL.receiptCode);
  assert.equal(await page.locator('#inbox-list img, #inbox-list b, #inbox-list script').count(), 0);
  await shot(page, '21-admin-inbox');

  // Filter by text and state, sort by sender.
  await page.getByLabel(/^Search/).fill('evil clinic');
  await page.locator('#inbox-count', { hasText: /^1 of \d+ uploads$/ }).waitFor();
  await page.getByLabel(/^Search/).fill('no such sender at all');
  await page.getByText('No upload matches the filter.').waitFor();
  await page.getByLabel(/^Search/).fill('');
  await page.locator('#inbox-state').selectOption('deleted');
  await uploadRow(page, EVIL.upload).waitFor({ state: 'detached' });
  await uploadRow(page, FIXTURE.other.upload).locator('.badge', { hasText: 'Deleted' }).waitFor();
  await page.locator('#inbox-state').selectOption('');
  await page.getByLabel('Sort by').selectOption('sender');
  await row.waitFor();

  // The details: message, e-mail, client, history, the study's link into Explorer.
  await row.getByRole('button', { name: /Dr\. Evil/ }).click();
  await row.getByText('<script>window.__xss=2</script> second opinion').waitFor();
  await row.getByRole('link', { name: 'evil@clinic.example' }).waitFor();
  const studyLink = row.locator('a.study-link');
  assert.equal(await studyLink.getAttribute('href'), `/app/explorer.html#study?uuid=${EVIL.study}`);
  await row.getByText(/^History \(\d+ events\)$/).click();
  await row.locator('.history td code', { hasText: 'upload-complete' }).waitFor();
  assert.equal(await row.getByRole('button', { name: /Dr\. Evil/ }).getAttribute('aria-expanded'), 'true');
  await noXss(page);
  await shot(page, '21-admin-inbox-details');

  // "Ban sender's address": the confirmation names the address; cancelled here.
  await row.getByRole('button', { name: 'Ban sender\'s address…' }).click();
  const confirm = page.getByRole('dialog', { name: 'Ban the sender\'s address?' });
  await confirm.getByText(/The address 127\.0\.0\.1 \(upload \w+ from <img src=x onerror=window.__xss=1>Dr\. Evil\)/).waitFor();
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await confirm.waitFor({ state: 'hidden' });

  // The study link opens Orthanc Explorer's study page, with the sender panel.
  await studyLink.click();
  await page.getByRole('region', { name: 'Received through Orthanc Inbound' }).waitFor();
  await noXss(page);
  assert.deepEqual(problems, []);
  await page.close();
});

test('release: the hospital PatientID is required unless the namespaced one is chosen; the transfer is followed', async () => {
  const { page, problems } = await newPage();
  // Explorer's "Release…" button leads here.
  await openAdmin(page, `#release=${EVIL.upload}`);
  const dialog = page.getByRole('dialog', { name: 'Release to the PACS' });
  await dialog.waitFor();
  await dialog.getByText(`Upload ${EVIL.upload} from ${EVIL.name}`).waitFor();
  await dialog.getByText(/The sender's PatientID, for reference: \S+/).waitFor();
  assert.equal(await dialog.getByLabel('Hospital PatientID').inputValue(), '', 'the identity starts empty');
  assert.equal(await dialog.getByLabel('Birth date').inputValue(), '');
  const targets = await dialog.getByLabel('Target').locator('option').allTextContents();
  assert.ok(targets.length > 0, 'GET /inbound/admin/modalities lists the targets');
  if (FIXTURE.modality) {
    assert.ok(targets.includes(FIXTURE.modality), `${FIXTURE.modality} in ${targets}`);
  }

  // Without a PatientID and without the explicit choice, nothing is sent.
  await dialog.getByRole('button', { name: 'Release' }).click();
  await dialog.getByText('Enter the hospital\'s PatientID, or tick “Send with the namespaced PatientID”.').waitFor();
  assert.equal(await dialog.getByLabel('Hospital PatientID').getAttribute('aria-invalid'), 'true');
  assert.equal(await dialog.isVisible(), true);
  // The namespaced PatientID is an explicit, separate choice that disables the identity.
  const keep = dialog.getByLabel('Send with the namespaced PatientID (foreign exams area)');
  await keep.check();
  assert.equal(await dialog.getByLabel('Hospital PatientID').isDisabled(), true);
  await keep.uncheck();
  assert.equal(await dialog.getByLabel('Hospital PatientID').isDisabled(), false);

  // A birth date the server refuses would show its JSON message; a valid identity now.
  await dialog.getByLabel('Hospital PatientID').fill(FIXTURE.hospitalPatientId);
  await dialog.getByLabel('Patient name').fill('Doe^Jane');
  await dialog.getByLabel('Birth date').fill('1970-01-31');
  if (FIXTURE.modality) {
    await dialog.getByLabel('Target').selectOption(FIXTURE.modality);
  }
  await shot(page, '22-admin-release');
  if (!FIXTURE.modality) {
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.close();
    return;
  }
  await dialog.getByRole('button', { name: 'Release' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await page.getByRole('status').filter({ hasText: /Release of upload \w+ started: 1 transfer\./ }).waitFor();

  // The forwards of the upload, followed every 2 s until sent.
  const row = uploadRow(page, EVIL.upload);
  const forwards = row.locator('.forwards');
  await forwards.locator('tr.forward').first().waitFor();
  await forwards.locator('tr.forward .badge', { hasText: 'Sent' }).waitFor({ timeout: 90000 });
  assert.equal(await forwards.locator('tr.forward').first().locator('code').textContent(), FIXTURE.hospitalPatientId);
  await forwards.getByText('Following the transfer…').waitFor({ state: 'detached' });
  await shot(page, '23-admin-forwards');

  if (FIXTURE.downModality) {
    // Released again, explicitly with the namespaced PatientID, to a modality that is down:
    // the forward fails (given up), and "Retry" makes it due again.
    await row.getByRole('button', { name: 'Release…' }).click();
    await dialog.waitFor();
    await dialog.getByLabel('Target').selectOption(FIXTURE.downModality);
    await dialog.getByLabel('Send with the namespaced PatientID (foreign exams area)').check();
    await dialog.getByRole('button', { name: 'Release' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const down = forwards.locator('tr.forward', { hasText: FIXTURE.downModality });
    await down.waitFor();
    await down.getByText('namespaced (foreign exams)').waitFor();
    await down.locator('.badge', { hasText: 'Failed' }).waitFor({ timeout: 90000 });
    await shot(page, '23-admin-forward-failed');
    const attempts = async () => Number(await down.locator('td.number').textContent());
    const before = await attempts();
    await down.getByRole('button', { name: 'Retry' }).click();
    // Due again: tried once more (and given up again, the modality being still down).
    const deadline = Date.now() + 60000;
    while (await attempts() <= before && Date.now() < deadline) {
      await page.waitForTimeout(250);
    }
    assert.ok(await attempts() > before, 'the forward was not tried again after "Retry"');
    assert.equal(await page.locator('#alert').isVisible(), false, 'the retry was refused');
    await down.locator('.badge', { hasText: 'Failed' }).waitFor({ timeout: 90000 });
  }
  assert.deepEqual(problems, []);
  await page.close();
});

test('limits and bans, gateways, notifications, audit trail; an API error is shown with its message', async () => {
  const { page, problems } = await newPage(/status of 400/);
  await openAdmin(page);
  await page.getByRole('link', { name: 'Limits & bans' }).click();
  await page.getByRole('heading', { name: 'Limits & bans', level: 1 }).waitFor();
  await page.locator('#monitor-facts .badge', { hasText: 'OK' }).waitFor();
  await page.locator('#quota-facts').getByText(/^\d+ \(no limit\)$/).first().waitFor();

  // An address banned and lifted again.
  await page.getByLabel('Address or network (CIDR)').fill('203.0.113.0/24');
  await page.getByLabel('Reason', { exact: true }).fill('browser test');
  await page.getByRole('button', { name: 'Ban', exact: true }).click();
  const banRow = page.locator('#bans-body tr', { hasText: '203.0.113.0/24' });
  await banRow.waitFor();
  await shot(page, '24-admin-limits');
  await banRow.getByRole('button', { name: 'Lift the ban of 203.0.113.0/24' }).click();
  await banRow.waitFor({ state: 'detached' });

  // The server refuses an entry that is no address: its JSON message, in the alert region.
  await page.getByLabel('Address or network (CIDR)').fill('not an address');
  await page.getByRole('button', { name: 'Ban', exact: true }).click();
  const alert = page.locator('#alert[role="alert"]');
  await alert.waitFor();
  assert.match(await alert.textContent(), /not an address.*\(invalid-field, HTTP 400\)/);
  await shot(page, '25-admin-error');
  await alert.getByRole('button', { name: 'Close' }).click();
  await alert.waitFor({ state: 'hidden' });

  await page.getByRole('link', { name: 'Gateways' }).click();
  await page.getByRole('heading', { name: 'Gateways', level: 1 }).waitFor();
  await page.getByText(/No gateways/).waitFor();

  await page.getByRole('link', { name: 'Notifications' }).click();
  await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
  await page.locator('#notification-counts .count-failed dd').waitFor();

  await page.getByRole('link', { name: 'Audit trail' }).click();
  await page.getByRole('heading', { name: 'Audit trail', level: 1 }).waitFor();
  await page.locator('#audit-body tr').first().waitFor();
  const times = await page.locator('#audit-body tr td:first-child time').evaluateAll((nodes) => nodes.map((n) => Date.parse(n.getAttribute('datetime'))));
  assert.ok(times.length > 5);
  for (let i = 1; i < times.length; i++) {
    assert.ok(times[i - 1] >= times[i], 'newest first');
  }
  await page.getByLabel(/^Filter/).fill(`${EVIL.upload} upload-complete`);
  await page.locator('#audit-count', { hasText: /^1 of the last \d+ events/ }).waitFor();
  await page.locator('#audit-body tr', { hasText: 'upload-complete' }).waitFor();
  await shot(page, '26-admin-audit');
  // The audit's upload link leads to the upload in the inbox, expanded.
  await page.locator('#audit-body a', { hasText: EVIL.upload }).first().click();
  await page.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
  await uploadRow(page, EVIL.upload).locator('.upload-details:not([hidden])').waitFor();
  assert.equal(await page.locator('#alert').isVisible(), false);
  assert.deepEqual(problems.filter((p) => !/status of 400/.test(p)), []);
  await page.close();
});

test('German, a narrow window, no request outside the site, and axe-core\'s WCAG 2.1 AA rules', async () => {
  requests.length = 0;
  const { page, problems } = await newPage();
  await openAdmin(page);
  const found = {};
  await uploadRow(page, EVIL.upload).getByRole('button', { name: /Dr\. Evil/ }).click();
  await uploadRow(page, EVIL.upload).locator('.forwards').waitFor();
  found.inbox = await accessibilityViolations(page);

  await uploadRow(page, EVIL.upload).getByRole('button', { name: 'Release…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Release to the PACS' });
  await dialog.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.closest('dialog') !== null), true,
    'the focus is in the dialog');
  await dialog.getByRole('button', { name: 'Release' }).click();
  await dialog.getByText(/Enter the hospital's PatientID/).waitFor();
  found.release = await accessibilityViolations(page);
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });

  for (const [name, heading] of [['Limits & bans', 'Limits & bans'], ['Notifications', 'Notifications'], ['Audit trail', 'Audit trail']]) {
    await page.getByRole('link', { name }).click();
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
    await page.waitForLoadState('networkidle');
    found[name] = await accessibilityViolations(page);
  }
  for (const [step, violations] of Object.entries(found)) {
    assert.deepEqual(violations, [], `accessibility violations (${step})`);
  }

  // Deutsch, kept when the page is opened again.
  await page.getByRole('link', { name: 'Inbox' }).click();
  await page.getByRole('button', { name: 'Deutsch' }).click();
  await page.getByRole('heading', { name: 'Eingang', level: 1 }).waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'de');
  await page.getByRole('link', { name: 'Grenzen & Sperren' }).waitFor();
  await page.reload();
  await page.getByRole('heading', { name: 'Eingang', level: 1 }).waitFor();
  await uploadRow(page, EVIL.upload).locator('.upload-sender', { hasText: 'Dr. Evil' }).waitFor();
  await shot(page, '27-admin-inbox-de');

  // A phone-sized window: nothing wider than the screen.
  await page.setViewportSize({ width: 375, height: 740 });
  await uploadRow(page, EVIL.upload).getByRole('button', { name: /Dr\. Evil/ }).click();
  await uploadRow(page, EVIL.upload).locator('.upload-details:not([hidden])').waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone's screen`);
  await shot(page, '28-admin-narrow');
  await page.getByRole('button', { name: 'English' }).click();
  await page.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();

  const foreign = requests.filter((url) => !url.startsWith(`${ORIGIN}/`) && !url.startsWith('data:') && !url.startsWith('blob:'));
  assert.deepEqual(foreign, [], 'requests outside the site');
  await noXss(page);
  assert.deepEqual(problems, [], 'script errors or CSP violations');
  await page.close();
});
