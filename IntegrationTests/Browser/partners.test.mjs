// The partners view of the admin page in a real browser (Debian's Chromium, playwright-core),
// against a running Orthanc with the plugin, started by ../test_browser_partners.py:
//
//   INBOUND_URL=http://127.0.0.1:8042/inbound/ INBOUND_PARTNER_FIXTURE='{…}' \
//     node --test --test-concurrency=1 partners.test.mjs
//
// INBOUND_PARTNER_FIXTURE (JSON): {"admin": "user:password",
//   "called": {"id", "name", "institution", "recipient", "instances", "requests", "failures",
//              "upload"}   a partner that sent a STOW-RS request (its upload's id),
//   "never": {"id", "name"}   a disabled partner that never called,
//   "silent": {"id", "name"}  an enabled one silent for its SilenceAlertHours,
//   "result": "<file the test writes>"}
// The result file gets {"token", "tokenSha256"} as the page showed them, for the Python side.
// Nothing is mocked: the page talks to the plugin.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';

import { accessibilityViolations, chromiumForTests, newWatchedPage } from './chromium.mjs';

const PAGE_URL = process.env.INBOUND_URL;
const FIXTURE = JSON.parse(process.env.INBOUND_PARTNER_FIXTURE || 'null');
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';
if (!PAGE_URL || !FIXTURE) {
  throw new Error('INBOUND_URL and INBOUND_PARTNER_FIXTURE must be set (see the head of partners.test.mjs)');
}
const ADMIN_PAGE = `${new URL(PAGE_URL).origin}/inbound/admin/ui/`;
const [USERNAME, PASSWORD] = FIXTURE.admin.split(/:(.*)/s);
const browser = chromiumForTests('inbound-partners-', {
  httpCredentials: { username: USERNAME, password: PASSWORD },
  permissions: ['clipboard-read', 'clipboard-write'],
});
const result = {};

after(async () => {
  await writeFile(FIXTURE.result, JSON.stringify(result));
});

async function shot(page, name) {
  if (SCREENSHOT_DIR) {
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  }
}

function row(page, id) {
  return page.locator(`#partners-body tr[data-partner-id="${id}"]`);
}

test('the partners are listed with their figures and state: one that sent, one that never called, a silent one', async () => {
  const { page, problems } = await newWatchedPage(browser.context);
  await page.goto(ADMIN_PAGE);
  await page.getByRole('link', { name: 'Partners' }).click();
  await page.getByRole('heading', { name: 'Partner sites', level: 1 }).waitFor();
  const called = row(page, FIXTURE.called.id);
  await called.waitFor();
  const calledText = await called.innerText();
  assert.match(calledText, new RegExp(FIXTURE.called.name));
  assert.match(calledText, new RegExp(FIXTURE.called.institution));
  assert.match(calledText, new RegExp(FIXTURE.called.recipient));
  assert.match(calledText, /Enabled/);
  assert.doesNotMatch(calledText, /Silent/);
  assert.doesNotMatch(calledText, /never/);
  assert.match(await called.locator('[data-figure="today"]').innerText(),
    new RegExp(`^${FIXTURE.called.instances} instances · \\d`));
  assert.match(await called.locator('[data-figure="last7Days"]').innerText(),
    new RegExp(`^${FIXTURE.called.instances} instances`));
  assert.match(calledText, /not-dicom|invalid-dicom/, 'the last failure is named');

  const never = row(page, FIXTURE.never.id);
  const neverText = await never.innerText();
  assert.match(neverText, new RegExp(FIXTURE.never.name));
  assert.match(neverText, /Disabled/);
  assert.match(neverText, /never/);
  assert.match(await never.locator('[data-figure="today"]').innerText(), /^0 instances/);
  const silentText = await row(page, FIXTURE.silent.id).innerText();
  assert.match(silentText, new RegExp(FIXTURE.silent.name));
  assert.match(silentText, /Enabled/);
  assert.match(silentText, /Silent/);
  assert.equal(await page.locator('#partners-body tr.row-attention').count(), 1, 'only the silent partner stands out');
  assert.deepEqual(await accessibilityViolations(page), [], 'the partners list: WCAG 2.1 AA');
  await shot(page, 'partners-list');
  assert.deepEqual(problems, []);
});

test('a partner shows its recent uploads, which link to the upload', async () => {
  const { page, problems } = await newWatchedPage(browser.context);
  await page.goto(`${ADMIN_PAGE}#partners`);
  await row(page, FIXTURE.called.id).getByRole('link', { name: FIXTURE.called.name }).click();
  const detail = page.locator('#partner-detail');
  await detail.getByRole('heading', { name: FIXTURE.called.name, level: 2 }).waitFor();
  const facts = await detail.locator('#partner-facts').innerText();
  assert.match(facts, new RegExp(`${FIXTURE.called.requests} requests`));
  assert.match(facts, new RegExp(FIXTURE.called.institution));
  // Its request that stored the study, as the audit trail has it.
  const events = await detail.locator('#partner-events').innerText();
  assert.match(events, new RegExp(`partner-stow[\\s\\S]*partner ${FIXTURE.called.id}: ${FIXTURE.called.instances} stored, 0 failed`));
  const upload = detail.locator(`tr[data-upload-id="${FIXTURE.called.upload}"]`);
  await upload.waitFor();
  assert.match(await upload.innerText(), new RegExp(`${FIXTURE.called.instances} ·`));
  assert.deepEqual(await accessibilityViolations(page), [], 'a partner: WCAG 2.1 AA');
  await shot(page, 'partner-detail');
  await upload.getByRole('link').click();
  await page.waitForURL(/#upload=/);
  await page.locator(`#inbox-list li.upload[data-upload-id="${FIXTURE.called.upload}"] .upload-details:not([hidden])`).waitFor();
  assert.deepEqual(problems, []);
});

test('a new token is shown once, with its SHA-256 and the configuration line, and gone after', async () => {
  const { page, problems } = await newWatchedPage(browser.context);
  await page.goto(`${ADMIN_PAGE}#partners`);
  await page.getByRole('button', { name: 'Make a token' }).click();
  const card = page.locator('#partner-token');
  await card.getByRole('heading', { name: 'New partner token' }).waitFor();
  assert.match(await card.innerText(), /shown only now/);
  assert.match(await card.innerText(), /Inbound\.Partners/);
  assert.match(await card.innerText(), /restart/);
  const token = await card.getByLabel(/^Token/).inputValue();
  const hash = await card.locator('#token-hash').innerText();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(hash, createHash('sha256').update(token).digest('hex'), 'the hash shown is the token\'s SHA-256');
  assert.equal(await card.locator('#token-snippet').innerText(), `"TokenSha256" : "${hash}"`);
  await card.getByRole('button', { name: 'Copy the token' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
  await card.getByRole('button', { name: 'Copy the line' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `"TokenSha256" : "${hash}"`);
  assert.deepEqual(await accessibilityViolations(page), [], 'the token: WCAG 2.1 AA');
  await shot(page, 'partner-token');
  assert.ok(!page.url().includes(token), 'the token is not in the URL');
  result.token = token;
  result.tokenSha256 = hash;

  // Done: the token leaves the page; nothing of it is kept by the browser.
  await card.getByRole('button', { name: 'Done' }).click();
  await page.locator('#partners-list').waitFor();
  assert.ok(await card.isHidden());
  assert.ok(!(await page.content()).includes(token), 'the token left the page');
  const stored = await page.evaluate(() => JSON.stringify({ ...window.localStorage }) + JSON.stringify({ ...window.sessionStorage }));
  assert.ok(!stored.includes(token), 'not in the browser storage');
  await page.reload();
  await page.locator('#partners-body tr').first().waitFor();
  assert.ok(!(await page.content()).includes(token), 'not after a reload');

  // Another token for another partner: a new one, never the first again.
  await page.getByRole('button', { name: 'Make a token' }).click();
  await card.locator('#token-hash').filter({ hasText: /[0-9a-f]{64}/ }).waitFor();
  assert.notEqual(await card.getByLabel(/^Token/).inputValue(), token);
  // Leaving the view forgets it too.
  await page.getByRole('link', { name: 'Audit trail' }).click();
  await page.getByRole('heading', { name: 'Audit trail', level: 1 }).waitFor();
  assert.equal(await page.locator('#token-value').inputValue(), '');
  assert.deepEqual(problems, []);
});
