// The upload page on a hospital's request link, in a real browser (Debian's Chromium driven by
// playwright-core), against Orthancs with the plugin started by ../test_browser_requests.py,
// which passes INBOUND_REQUEST_FIXTURE (JSON): {link, resumableLink, codeLink, code, revokedLink,
// unknownLink, requestsOnlyUrl, cd, message, expected: {name, birthDate}, other: {name},
// sendFiles}.
// What arrived in Orthanc is checked by the Python side afterwards.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { before, test } from 'node:test';
import { accessibilityViolations, chromiumForTests, newWatchedPage } from './chromium.mjs';

const FIXTURE = JSON.parse(process.env.INBOUND_REQUEST_FIXTURE || 'null');
if (!FIXTURE) {
  throw new Error('INBOUND_REQUEST_FIXTURE must be set (IntegrationTests/test_browser_requests.py)');
}
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';
// A wrong answer is a 403 the browser logs; anything else logged as an error is a problem.
const EXPECTED_REFUSALS = /status of (403|404|410)\b/;

const browser = chromiumForTests('inbound-requests-');

before(async () => {
  if (SCREENSHOT_DIR) {
    await mkdir(SCREENSHOT_DIR, { recursive: true });
  }
});

async function shot(page, name) {
  if (SCREENSHOT_DIR) {
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `request-${name}.png`), fullPage: true });
  }
}

// Everything the browser holds of the page: the DOM with its form values, and the storage.
async function everythingShown(page) {
  return page.evaluate(() => [document.documentElement.outerHTML,
    ...[...document.querySelectorAll('input')].map((i) => i.value),
    ...Object.keys(localStorage).map((k) => `${k}=${localStorage.getItem(k)}`)].join('\n'));
}

async function fillDetails(page) {
  await page.getByLabel('I have read the privacy statement and I agree to it.').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Your details' }).waitFor();
  assert.equal(await page.locator('#recipient').isVisible(), false, 'no recipient to choose on a request link');
  await page.getByLabel('Your name').fill('Dr. Alex Example');
  await page.getByLabel('E-mail address').fill('alex@example.org');
  await page.getByLabel('Message to the recipient').fill('The CT you asked for');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Choose the images' }).waitFor();
}

test('a request link: addressed page, challenge, patient check, only the requested patient sent', async () => {
  const { page, problems } = await newWatchedPage(browser.context, EXPECTED_REFUSALS);
  const answers = [];
  page.on('response', async (response) => {
    if (new URL(response.url()).pathname.includes('/api/')) {
      answers.push({ path: new URL(response.url()).pathname, body: await response.text().catch(() => '') });
    }
  });
  const opened = [];
  const puts = new Set(); // a file sent again after a busy answer counts once
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (request.method() === 'POST' && url.pathname.endsWith('/api/uploads')) {
      opened.push(request.postDataJSON());
    }
    if (request.method() === 'PUT') {
      puts.add(url.pathname);
    }
  });
  await page.goto(FIXTURE.link);
  await page.getByRole('heading', { name: 'Images requested' }).waitFor();
  assert.equal(new URL(page.url()).pathname, new URL(FIXTURE.link).pathname);

  // Already addressed: recipient, the hospital's message (as text), expiry, uses left.
  const facts = await page.locator('#request-facts').innerText();
  assert.match(facts, /Requested by\s+Trauma, Test Hospital/);
  assert.match(facts, /Link valid until\s+\d+ \w+ 20\d\d at \d\d:\d\d/);
  assert.match(facts, /Uploads left with this link\s+2/);
  assert.equal(await page.locator('#request-message').textContent(), FIXTURE.message);
  assert.equal(await page.locator('#request-message b').count(), 0, 'the message is text, not markup');
  await page.getByLabel("Patient's date of birth").waitFor();

  // No patient data before the challenge: not in the page, not in what the server answered.
  const [family, given] = FIXTURE.expected.name.split('^');
  const birth = FIXTURE.expected.birthDate;
  const secrets = [family, given, birth, `${birth.slice(0, 4)}-${birth.slice(4, 6)}-${birth.slice(6)}`];
  const before = await everythingShown(page);
  for (const secret of secrets) {
    assert.ok(!before.includes(secret), `"${secret}" is on the page before the challenge`);
    assert.ok(!answers.some((a) => a.body.includes(secret)), `"${secret}" was sent before the challenge`);
  }
  assert.deepEqual(await accessibilityViolations(page), [], 'WCAG rules on the request');
  await shot(page, '01-request');

  // The skip link stays on this page (a <base> element must not turn "#main" into /inbound/#main).
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip-link');
  await page.keyboard.press('Enter');
  assert.equal(page.url(), FIXTURE.link);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'main');

  // A wrong birth date: refused, with the attempts left; then the right one.
  const [year, month, day] = [FIXTURE.expected.birthDate.slice(0, 4), FIXTURE.expected.birthDate.slice(4, 6),
    FIXTURE.expected.birthDate.slice(6, 8)];
  await page.getByLabel("Patient's date of birth").fill(`${year}-${month}-${day === '01' ? '02' : '01'}`);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.locator('#challenge-error', { hasText: 'You have 4 more attempts before the link is locked.' }).waitFor();
  await shot(page, '02-wrong');
  assert.ok(!(await everythingShown(page)).includes(given), 'still no patient data after a wrong answer');
  await page.getByLabel("Patient's date of birth").fill(`${year}-${month}-${day}`);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Privacy statement' }).waitFor();

  await fillDetails(page);
  await page.locator('#expected-note', { hasText: `asked for the images of ${family}, ${given}, born` }).waitFor();

  // The CD holds the requested patient and another one.
  await page.locator('#folder-input').setInputFiles(FIXTURE.cd);
  await page.locator('#check-body tr').nth(1).waitFor({ timeout: 60000 });
  const rows = page.locator('#check-body tr');
  assert.equal(await rows.count(), 2, 'one row per patient found');
  const requested = rows.filter({ hasText: `${family}, ${given}` });
  const [otherFamily, otherGiven] = FIXTURE.other.name.split('^');
  const other = rows.filter({ hasText: `${otherFamily}, ${otherGiven}` });
  assert.match(await requested.innerText(), /Matches the request/);
  assert.equal(await requested.locator('input[type="checkbox"]').isChecked(), true, 'the requested patient is ticked');
  assert.match(await other.innerText(), /Not the requested patient/);
  assert.match(await other.innerText(), /the name differs · the date of birth differs/);
  assert.equal(await other.locator('input[type="checkbox"]').isChecked(), false, 'the other patient is not ticked');
  assert.match(await page.locator('#check-summary').innerText(), /also show 1 patient that Test Hospital did not ask for/);
  // The other patient's examinations cannot be ticked one by one.
  const otherStudies = page.locator('#studies-body tr.study-row', { hasText: `${otherFamily}, ${otherGiven}` });
  assert.ok(await otherStudies.count() >= 1);
  for (const box of await otherStudies.locator('input[type="checkbox"]').all()) {
    assert.equal(await box.isDisabled(), true);
    assert.equal(await box.isChecked(), false);
  }
  assert.deepEqual(await accessibilityViolations(page), [], 'WCAG rules on the patient check');
  await shot(page, '03-check');
  // On a phone the verdict stays in sight, under the name (not in a column scrolled away).
  await page.setViewportSize({ width: 390, height: 800 });
  const verdict = await other.locator('.match-warn').boundingBox();
  assert.ok(verdict && verdict.x >= 0 && verdict.x + verdict.width <= 390, JSON.stringify(verdict));
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling');
  await shot(page, '03-check-phone');
  await page.setViewportSize({ width: 1280, height: 900 });

  // Ticking the other patient asks first; "No" leaves it unticked.
  await other.locator('input[type="checkbox"]').click();
  await page.getByRole('alertdialog').waitFor();
  assert.match(await page.locator('#check-confirm-text').innerText(),
    new RegExp(`${otherFamily}, ${otherGiven} is not the patient Test Hospital asked for`));
  assert.equal(await other.locator('input[type="checkbox"]').isChecked(), false, 'not ticked before confirming');
  await shot(page, '04-confirm');
  await page.getByRole('button', { name: 'No', exact: true }).click();
  assert.equal(await page.getByRole('alertdialog').isVisible(), false);
  assert.equal(await other.locator('input[type="checkbox"]').isChecked(), false);
  await page.locator('#selected-summary', { hasText: `${FIXTURE.sendFiles} images` }).waitFor();

  await page.getByRole('button', { name: 'Send images' }).click();
  await page.getByRole('heading', { name: 'Images received' }).waitFor({ timeout: 120000 });
  await page.locator('#receipt-ok', { hasText: 'The images were sent for the request of Trauma at Test Hospital.' }).waitFor();
  assert.match(await page.locator('#receipt-facts').innerText(), new RegExp(`Images\\s+${FIXTURE.sendFiles}\\b`));
  await page.locator('#receipt-problems', { hasText: 'belong to patients the request is not about' }).waitFor();
  await shot(page, '05-receipt');

  // The upload was opened for the request (token and ticket), with no recipient of its own.
  assert.equal(opened.length, 1);
  assert.equal(opened[0].recipient, undefined);
  assert.equal(opened[0].request.token, new URL(FIXTURE.link).pathname.split('/').pop());
  assert.ok(opened[0].request.ticket, 'the challenge\'s ticket is sent');
  assert.equal(puts.size, FIXTURE.sendFiles, 'only the requested patient\'s files are sent');
  // Nothing of the link or the upload stays in the browser once the upload is complete.
  const stored = await page.evaluate(() => [localStorage, sessionStorage].flatMap((store) =>
    Object.keys(store).map((key) => `${key}=${store.getItem(key)}`)).join('\n'));
  assert.ok(!stored.includes(':upload:'), stored);
  assert.ok(!stored.includes(opened[0].request.token) && !stored.includes(opened[0].request.ticket), stored);
  assert.deepEqual(problems, []);
  await page.close();
});

test('an upload through a link, interrupted, is continued when the link is opened again', async () => {
  const { page } = await newWatchedPage(browser.context, EXPECTED_REFUSALS);
  await page.goto(FIXTURE.resumableLink);
  await page.getByRole('heading', { name: 'Images requested' }).waitFor();
  await page.getByText('Please continue to send the images.').waitFor(); // challenge "none"
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Privacy statement' }).waitFor();
  await fillDetails(page);
  await page.locator('#folder-input').setInputFiles(FIXTURE.cd);
  await page.locator('#selected-summary', { hasText: `${FIXTURE.sendFiles} images` }).waitFor({ timeout: 60000 });
  // The connection "drops" after the first file: later requests never get an answer.
  let allowed = 1;
  await page.route('**/files/*', (route) => {
    if (allowed > 0) {
      allowed--;
      route.continue();
    }
  });
  await page.getByRole('button', { name: 'Send images' }).click();
  await page.locator('#send-counts', { hasText: /^1 of / }).waitFor({ timeout: 60000 });
  // What the browser keeps to continue: the upload, under a digest of the link, not the link.
  const token = new URL(FIXTURE.resumableLink).pathname.split('/').pop();
  const kept = await page.evaluate(() => Object.keys(localStorage).map((k) => `${k}=${localStorage.getItem(k)}`));
  assert.equal(kept.filter((k) => k.startsWith('orthanc-inbound:upload:request:')).length, 1, kept.join('\n'));
  assert.ok(!kept.join('\n').includes(token), 'the link\'s token is not stored');
  await page.close();

  const { page: again, problems } = await newWatchedPage(browser.context, EXPECTED_REFUSALS);
  await again.goto(FIXTURE.resumableLink);
  await again.getByRole('heading', { name: 'Continue your interrupted upload?' }).waitFor();
  await again.getByRole('button', { name: 'Continue the upload' }).click();
  await again.locator('#folder-input').setInputFiles(FIXTURE.cd);
  await again.locator('#selected-summary', { hasText: `${FIXTURE.sendFiles} images` }).waitFor({ timeout: 60000 });
  await again.getByRole('button', { name: 'Send images' }).click();
  await again.getByRole('heading', { name: 'Images received' }).waitFor({ timeout: 120000 });
  await again.locator('#receipt-ok', { hasText: 'sent for the request of Trauma' }).waitFor();
  assert.equal(await again.evaluate(() => Object.keys(localStorage).filter((k) => k.includes(':upload:')).length), 0);
  assert.deepEqual(problems, []);
  await again.close();
});

test('a code link in German: the request\'s language, a code typed loosely', async () => {
  const { page, problems } = await newWatchedPage(browser.context, EXPECTED_REFUSALS);
  await page.goto(FIXTURE.codeLink);
  await page.getByRole('heading', { name: 'Angeforderte Bilder' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'de');
  // A code that cannot be right costs no attempt: the page says so itself.
  await page.getByLabel('Code', { exact: true }).fill('abc');
  await page.getByRole('button', { name: 'Weiter' }).click();
  await page.locator('#challenge-error', { hasText: 'Der Code hat 8 Buchstaben und Ziffern' }).waitFor();
  // Lower case, spaces and a dash in the wrong place are all right.
  const loose = `${FIXTURE.code.replace('-', '').slice(0, 3).toLowerCase()} - ${FIXTURE.code.replace('-', '').slice(3)}`;
  await page.getByLabel('Code', { exact: true }).fill(loose);
  await page.getByRole('button', { name: 'Weiter' }).click();
  await page.getByRole('heading', { name: 'Datenschutzerklärung' }).waitFor();
  await shot(page, '06-code-de');
  assert.deepEqual(problems, []);
  await page.close();
});

test('a withdrawn or unknown link says so and whom to ask, with no form', async () => {
  for (const [link, text] of [[FIXTURE.revokedLink, 'This link has been withdrawn by Test Hospital.'],
    [FIXTURE.unknownLink, 'This link is not known.']]) {
    const { page, problems } = await newWatchedPage(browser.context, EXPECTED_REFUSALS);
    await page.goto(link);
    await page.getByRole('heading', { name: 'This link cannot be used' }).waitFor();
    await page.locator('#request-error-text', { hasText: text }).waitFor();
    await page.locator('#request-error-how', { hasText: 'please contact Test Hospital' }).waitFor();
    assert.equal(await page.locator('form:visible').count(), 0);
    assert.deepEqual(await accessibilityViolations(page), []);
    assert.deepEqual(problems, []);
    await page.close();
  }
});

test('requests only: the open page says how to get a link, and an open attempt is refused', async () => {
  const { page, problems } = await newWatchedPage(browser.context, EXPECTED_REFUSALS);
  await page.goto(FIXTURE.requestsOnlyUrl);
  await page.getByRole('heading', { name: 'Uploads need a link' }).waitFor();
  await page.getByText('ask for an upload link').waitFor();
  assert.equal(await page.locator('form:visible').count(), 0, 'no form');
  assert.equal(await page.locator('#steps').isVisible(), false);
  assert.deepEqual(await accessibilityViolations(page), []);
  await shot(page, '07-requests-only');

  // A page that still believes uploads are open (loaded before the change): the server
  // refuses the upload with 403 requests-only and the page then says the same.
  await page.route('**/api/info', async (route) => {
    const response = await route.fetch();
    route.fulfill({ response, json: { ...(await response.json()), openUploads: true } });
  });
  await page.reload();
  await page.getByRole('heading', { name: 'Privacy statement' }).waitFor();
  await page.getByLabel('I have read the privacy statement and I agree to it.').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Your name').fill('Dr. Alex Example');
  await page.getByLabel('E-mail address').fill('alex@example.org');
  const recipient = page.getByLabel('Send to');
  if (await recipient.isVisible()) {
    await recipient.selectOption({ index: 1 });
  }
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.locator('#folder-input').setInputFiles(FIXTURE.cd);
  await page.getByRole('button', { name: 'Send images' }).click();
  await page.getByRole('heading', { name: 'Uploads need a link' }).waitFor();
  assert.equal(await page.locator('form:visible').count(), 0);
  assert.deepEqual(problems, []);
  await page.close();
});
