// Cross-site request forgery against a logged-in admin, in a real browser (Debian's Chromium,
// driven by playwright-core), against a running Orthanc with the Inbound plugin and the data
// that IntegrationTests/test_browser.py made for it:
//
//   INBOUND_URL=http://127.0.0.1:8042/inbound/ INBOUND_CSRF_FIXTURE='{…}' \
//     node --test --test-concurrency=1 csrf.test.mjs
//
// INBOUND_CSRF_FIXTURE (JSON): {"admin": "user:password",
//   "victimUpload": "<id>"        the upload that forged requests try to delete,
//   "releaseUpload": "<id>"       the upload that forged requests try to release to the PACS,
//   "deleteUpload": "<id>"        an upload the admin deletes from the admin page,
//   "victimPatient": "<id>"       an Orthanc patient that forged requests try to delete,
//   "explorerPatient": "<id>"     a patient Orthanc Explorer anonymizes, then deletes,
//   "explorerFile": "<path>"      a DICOM file uploaded with Orthanc Explorer's upload page,
//   "modality": "pacs"            the release target named in the forged release,
//   "attackerHost": "127.0.0.2",  where another site listens; a second attacker listens on
//                                 another port of the site's own host (same site, other origin)
//   "luaMarker": "<path>"}        a file a forged Lua script would create
//
// The admin logs in first (Basic credentials, cached by the browser), then a page of another
// site tries the forgeries. Afterwards the admin page and Orthanc Explorer must still work in
// the same browser. test_browser.py checks on the server that the forgeries changed nothing.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { launchChromium, newWatchedPage } from './chromium.mjs';

const PAGE_URL = process.env.INBOUND_URL;
const FIXTURE = JSON.parse(process.env.INBOUND_CSRF_FIXTURE || 'null');

if (!PAGE_URL || !FIXTURE) {
  throw new Error('INBOUND_URL and INBOUND_CSRF_FIXTURE must be set (see the head of csrf.test.mjs)');
}
const ORIGIN = new URL(PAGE_URL).origin;
const ADMIN_PAGE = `${ORIGIN}/inbound/admin/ui/`;
const EXPLORER = `${ORIGIN}/app/explorer.html`;
const [USERNAME, PASSWORD] = FIXTURE.admin.split(/:(.*)/s);
const VICTIM = FIXTURE.victimUpload;

let userDataDir;
let context;
// The attackers: plain HTTP servers of pages, on another loopback address (another site: the
// browser may keep credentials from its requests) and on another port of the site's own
// address (same site, another origin: the browser sends the credentials like its own).
const attackers = [];
const answers = []; // what the site answered to requests made by the attackers' pages

function attackerPage(request, response) {
  response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  response.end('<!doctype html><html lang="en"><head><title>Cheap flights</title></head><body><h1>Win a prize</h1></body></html>');
}

before(async () => {
  for (const [label, host] of [['another site', FIXTURE.attackerHost || '127.0.0.2'], ['another port of the site\'s host', new URL(ORIGIN).hostname]]) {
    const server = http.createServer(attackerPage);
    await new Promise((resolve) => server.listen(0, host, resolve));
    attackers.push({ label, server, origin: `http://${host}:${server.address().port}` });
  }
  for (const attacker of attackers) {
    assert.notEqual(attacker.origin, ORIGIN);
  }

  // The login prompt, answered for the site: the browser then keeps the credentials and
  // sends them with every later request to the site, whoever's page makes it.
  ({ context, userDataDir } = await launchChromium('inbound-csrf-browser-', {
    httpCredentials: { username: USERNAME, password: PASSWORD },
  }));
});

// Everything the site answers to an attacker's page (its frames included), noted as the
// answer arrives; its JSON error code is read in the background (awaited through "reading").
const reading = [];
function recordAnswers(page, attacker) {
  page.on('response', (response) => {
    const request = response.request();
    if (!response.url().startsWith(`${ORIGIN}/`) || request.method() === 'OPTIONS') {
      return;
    }
    const answer = { from: attacker.label, method: request.method(), url: response.url(), status: response.status(), error: null };
    answers.push(answer);
    reading.push(response.text().then((text) => {
      answer.error = JSON.parse(text).error || null;
    }).catch(() => {}));
  });
}

after(async () => {
  if (context) {
    await context.close();
  }
  if (userDataDir) {
    await rm(userDataDir, { recursive: true, force: true });
  }
  for (const attacker of attackers) {
    await new Promise((resolve) => attacker.server.close(resolve));
  }
});

// A page that records script errors, console errors and every 403 of this site.
async function newPage(allow = null) {
  const { page, problems } = await newWatchedPage(context, allow);
  page.on('response', (response) => {
    if (response.status() === 403 && response.url().startsWith(`${ORIGIN}/`)) {
      problems.push(`403 for ${response.request().method()} ${response.url()}`);
    }
  });
  return { page, problems };
}

async function openAdmin(page) {
  await page.goto(ADMIN_PAGE);
  await page.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
  await page.locator('#inbox-count').filter({ hasText: /uploads/ }).waitFor();
}

// Back to the attacker's page after a navigation to the site (Chromium may still be
// committing its error page for a refusal without a body).
async function backTo(page, url) {
  for (let attempt = 1; ; attempt++) {
    try {
      await page.waitForTimeout(200);
      await page.goto(url);
      return;
    } catch (e) {
      if (attempt >= 5) {
        throw e;
      }
    }
  }
}

// In an attacker's page: a form posted into a hidden frame, resolved once the frame loaded;
// with "top", posted by the page itself (a top-level navigation), then back to the attacker.
async function postForm(page, { action, enctype, fields, top = false }) {
  const back = page.url();
  const posted = page.evaluate(({ action, enctype, fields, top }) => new Promise((resolve) => {
    const form = document.createElement('form');
    form.method = 'POST';
    form.action = action;
    form.enctype = enctype;
    if (!top) {
      const name = `f${Math.random().toString(36).slice(2)}`;
      const frame = document.createElement('iframe');
      frame.name = name;
      frame.addEventListener('load', () => resolve(), { once: true });
      document.body.append(frame);
      form.target = name;
    }
    for (const [key, value, fileName] of fields) {
      const input = document.createElement('input');
      input.name = key;
      if (fileName) {
        // A file part made by the page itself: no user action is needed for that.
        const transfer = new DataTransfer();
        transfer.items.add(new File([value], fileName, { type: 'application/json' }));
        input.type = 'file';
        input.files = transfer.files;
      } else {
        input.type = 'hidden';
        input.value = value;
      }
      form.append(input);
    }
    document.body.append(form);
    form.submit();
    setTimeout(resolve, top ? 0 : 10000);
  }), { action, enctype, fields, top });
  if (top) {
    // A refusal without a body is a navigation error for Chromium: the answer is recorded anyway.
    await Promise.all([page.waitForNavigation().catch(() => null), posted]);
    await backTo(page, back);
  } else {
    await posted;
  }
}

// A body that is JSON when sent as text/plain: name + "=" + value.
function jsonFields(object) {
  const text = JSON.stringify({ ...object, pad: '' });
  return [[text.slice(0, -2), '"}']];
}

function image(page, url) {
  return page.evaluate((src) => new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve('load');
    img.onerror = () => resolve('error');
    img.src = src;
    setTimeout(() => resolve('timeout'), 10000);
  }), url);
}

function forgedFetch(page, url, init) {
  return page.evaluate(async ({ url, init }) => {
    try {
      const response = await fetch(url, { credentials: 'include', ...init });
      return `sent (${response.type})`;
    } catch (e) {
      return `blocked (${e.name})`;
    }
  }, { url, init });
}

test('the admin logs in: the admin page and Orthanc Explorer load with the login prompt answered', async () => {
  const { page, problems } = await newPage();
  await openAdmin(page);
  await page.locator(`#inbox-list li.upload[data-upload-id="${VICTIM}"]`).waitFor();
  // Orthanc Explorer too: the browser now holds the credentials for the whole site.
  await page.goto(`${ORIGIN}/`);
  await page.waitForURL(/\/app\/explorer\.html/);
  await page.locator('#lookup').waitFor();
  assert.deepEqual(problems, []);
  await page.close();
});

async function forge(attacker) {
  const page = await context.newPage();
  recordAnswers(page, attacker);
  await page.goto(`${attacker.origin}/`);
  const api = `${ORIGIN}/inbound/admin`;
  const release = { modality: FIXTURE.modality, keepNamespacedPatientId: false, newUids: false, patient: { id: 'ATTACKER-1' } };
  const ban = { entry: '0.0.0.0/0', seconds: 86400, reason: 'forged' };
  const outcomes = {};

  // GET with a method override: images, and a link the admin follows.
  outcomes.imageDeleteUpload = await image(page, `${api}/uploads/${VICTIM}?_method=DELETE`);
  outcomes.imageDeletePatient = await image(page, `${ORIGIN}/patients/${FIXTURE.victimPatient}?_method=DELETE`);
  await page.evaluate((href) => {
    const a = document.createElement('a');
    a.href = href;
    a.id = 'prize';
    a.textContent = 'Claim your prize';
    document.body.append(a);
  }, `${api}/uploads/${VICTIM}?_method=DELETE`);
  await Promise.all([page.waitForNavigation().catch(() => null), page.click('#prize')]);
  await backTo(page, `${attacker.origin}/`);

  // Forms: the three encodings a form can send, with a body that bans everyone; in a hidden
  // frame and as the page's own navigation.
  for (const top of [false, true]) {
    await postForm(page, { top, action: `${api}/bans`, enctype: 'text/plain', fields: jsonFields(ban) });
    await postForm(page, { top, action: `${api}/bans`, enctype: 'application/x-www-form-urlencoded', fields: Object.entries(ban) });
    await postForm(page, { top, action: `${api}/bans`, enctype: 'multipart/form-data', fields: Object.entries(ban) });
    // The release under a patient ID of the attacker's choice.
    await postForm(page, { top, action: `${api}/uploads/${FIXTURE.releaseUpload}/release`, enctype: 'text/plain', fields: jsonFields(release) });
  }
  await postForm(page, { action: `${api}/bans`, enctype: 'application/x-www-form-urlencoded', fields: jsonFields(ban) });
  // A multipart form whose file part is the JSON body (Orthanc hands a file part to the route).
  await postForm(page, { action: `${api}/bans`, enctype: 'multipart/form-data', fields: [['file', JSON.stringify(ban), 'ban.json']] });
  await postForm(page, { action: `${api}/uploads/${FIXTURE.releaseUpload}/release`, enctype: 'multipart/form-data',
    fields: [['file', JSON.stringify(release), 'release.json']] });
  outcomes.fetchRelease = await forgedFetch(page, `${api}/uploads/${FIXTURE.releaseUpload}/release`,
    { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(release) });
  outcomes.fetchBan = await forgedFetch(page, `${api}/bans`,
    { method: 'POST', mode: 'no-cors', body: JSON.stringify(ban) });
  // Deletion through a form: _method in the query and in the body.
  await postForm(page, { action: `${api}/uploads/${VICTIM}?_method=DELETE`, enctype: 'application/x-www-form-urlencoded', fields: [['x', '1']] });
  await postForm(page, { action: `${api}/uploads/${VICTIM}`, enctype: 'application/x-www-form-urlencoded', fields: [['_method', 'DELETE']] });

  // Orthanc's own REST API behind the plugin's filter.
  for (const top of [false, true]) {
    await postForm(page, { top, action: `${ORIGIN}/tools/execute-script`, enctype: 'text/plain',
      fields: [[`os.execute("touch ${FIXTURE.luaMarker}") --`, 'x']] });
    await postForm(page, { top, action: `${ORIGIN}/tools/create-dicom`, enctype: 'text/plain',
      fields: jsonFields({ Tags: { PatientID: 'CSRF-CREATED', PatientName: 'Forged^Patient' } }) });
    await postForm(page, { top, action: `${ORIGIN}/patients/${FIXTURE.victimPatient}?_method=DELETE`, enctype: 'application/x-www-form-urlencoded', fields: [['x', '1']] });
  }
  await postForm(page, { action: `${ORIGIN}/patients/${FIXTURE.victimPatient}`, enctype: 'multipart/form-data', fields: [['_method', 'DELETE']] });

  // Headers a page of another origin cannot send without the site's consent (a CORS
  // preflight, which neither Orthanc nor the plugin grants): the browser does not send these.
  outcomes.corsOverride = await forgedFetch(page, `${ORIGIN}/patients/${FIXTURE.victimPatient}`,
    { method: 'POST', mode: 'cors', headers: { 'X-HTTP-Method-Override': 'DELETE' } });
  outcomes.corsXhrHeader = await forgedFetch(page, `${api}/bans`,
    { method: 'POST', mode: 'cors', headers: { 'X-Requested-With': 'XMLHttpRequest', 'Content-Type': 'application/json' }, body: JSON.stringify(ban) });
  outcomes.corsDelete = await forgedFetch(page, `${api}/uploads/${VICTIM}`, { method: 'DELETE', mode: 'cors' });
  // In no-cors mode the browser silently drops the override header: a plain POST arrives.
  outcomes.noCorsOverride = await forgedFetch(page, `${ORIGIN}/patients/${FIXTURE.victimPatient}`,
    { method: 'POST', mode: 'no-cors', headers: { 'X-HTTP-Method-Override': 'DELETE' } });
  await page.waitForTimeout(500);
  await Promise.all(reading);
  await page.close();
  return outcomes;
}

for (const [index, label] of ['another site', 'another port of the site\'s host'].entries()) {
  test(`a page of ${label} tries forged admin requests with the cached credentials`, async () => {
    const attacker = attackers[index];
    const outcomes = await forge(attacker);
    const mine = answers.filter((a) => a.from === attacker.label);
    console.log(JSON.stringify({ attacker: attacker.origin, outcomes, answers: mine }, null, 1));
    for (const name of ['corsOverride', 'corsXhrHeader', 'corsDelete']) {
      assert.match(outcomes[name], /^blocked/, `${name}: the browser sent a request that needs the site's consent`);
    }
    // Every forged request that reached the site was refused: 403 (cross-site; the plugin's
    // filter cannot write a body, so Orthanc's own routes get a bare 403) or, for a method
    // override, 400 method-override.
    const wrong = mine.filter((a) => !(a.status === 403 && (a.error === null || a.error === 'cross-site')) &&
      !(a.status === 400 && a.error === 'method-override'))
      .map((a) => `${a.method} ${a.url} -> ${a.status} ${a.error || ''}`);
    // Each kind of forgery reached the site (it was not merely stopped by the browser).
    for (const target of ['/inbound/admin/bans', `/inbound/admin/uploads/${FIXTURE.releaseUpload}/release`,
      `/inbound/admin/uploads/${VICTIM}`, '/tools/execute-script', '/tools/create-dicom', `/patients/${FIXTURE.victimPatient}`]) {
      assert.ok(mine.some((a) => new URL(a.url).pathname === target), `no forged request reached ${target}`);
    }
    assert.ok(mine.some((a) => /[?&]_method=/.test(a.url) && a.method === 'GET'), 'no forged GET with _method reached the site');
    assert.deepEqual(wrong, [], 'forged requests that were not refused');
  });
}

test('the SVG logo opened directly runs no script in the site\'s origin', async () => {
  const page = await context.newPage();
  const answer = await page.goto(`${ORIGIN}/inbound/api/logo`);
  assert.equal(answer.status(), 200);
  assert.match(answer.headers()['content-security-policy'] || '', /sandbox/);
  await page.waitForTimeout(1500);
  assert.equal(await page.evaluate(() => document.documentElement.getAttribute('data-script-ran')), null,
    'the script inside the SVG logo ran');
  await page.close();
});

test('the admin page still works: bans added and lifted, an upload deleted', async () => {
  const { page, problems } = await newPage();
  await openAdmin(page);

  // The forged requests left the inbox as it was.
  const victim = page.locator(`#inbox-list li.upload[data-upload-id="${VICTIM}"]`);
  await victim.waitFor();
  assert.equal(await victim.locator('.badge', { hasText: 'Deleted' }).count(), 0, 'the victim upload was deleted');

  await page.getByRole('link', { name: 'Limits & bans' }).click();
  await page.getByRole('heading', { name: 'Limits & bans', level: 1 }).waitFor();
  await page.locator('#monitor-facts .badge', { hasText: 'OK' }).waitFor();
  assert.equal(await page.locator('#bans-body tr', { hasText: '0.0.0.0/0' }).count(), 0, 'a forged ban is listed');
  await page.getByLabel('Address or network (CIDR)').fill('203.0.113.0/24');
  await page.getByLabel('Reason', { exact: true }).fill('csrf browser test');
  await page.getByRole('button', { name: 'Ban', exact: true }).click();
  const banRow = page.locator('#bans-body tr', { hasText: '203.0.113.0/24' });
  await banRow.waitFor();
  await banRow.getByRole('button', { name: 'Lift the ban of 203.0.113.0/24' }).click();
  await banRow.waitFor({ state: 'detached' });

  await page.getByRole('link', { name: 'Inbox' }).click();
  await page.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
  const row = page.locator(`#inbox-list li.upload[data-upload-id="${FIXTURE.deleteUpload}"]`);
  await row.locator('button.upload-toggle').click();
  await row.getByRole('button', { name: 'Delete…' }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete this upload?' });
  await confirm.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.getByRole('status').filter({ hasText: `Upload ${FIXTURE.deleteUpload} deleted.` }).waitFor();
  assert.equal(await page.locator('#alert').isVisible(), false, 'an admin action was refused');
  assert.deepEqual(problems, []);
  await page.close();
});

test('Orthanc Explorer still works: anonymize and delete a patient, upload a file', async () => {
  // The test's own check that the deleted patient is gone is a 404.
  const { page, problems } = await newPage(/status of 404/);
  const patient = FIXTURE.explorerPatient;

  // Anonymize (a POST of Explorer's own): Explorer opens the new patient.
  await page.goto(`${EXPLORER}#patient?uuid=${patient}`);
  await page.locator('#patient-anonymize').click();
  await page.locator('.ui-simpledialog-container').getByRole('link', { name: 'OK' }).click();
  await page.waitForFunction((id) => /^#patient\?uuid=/.test(location.hash) && !location.hash.includes(id), patient);

  // Delete (a DELETE): back on the home page, the patient is gone.
  await page.goto(`${EXPLORER}#patient?uuid=${patient}`);
  await page.locator('#patient-delete').click();
  await page.locator('.ui-simpledialog-container').getByRole('link', { name: 'OK' }).click();
  await page.waitForFunction(() => !/^#patient/.test(location.hash));
  const gone = await page.evaluate(async (id) => (await fetch(`../patients/${id}`)).status, patient);
  assert.equal(gone, 404, 'Explorer did not delete the patient');

  // Upload (jQuery File Upload: a multipart POST to /instances).
  await page.locator('#lookup').getByRole('link', { name: 'Upload', exact: true }).click();
  await page.locator('#fileupload-proxy').waitFor();
  await page.locator('#fileupload').setInputFiles(FIXTURE.explorerFile);
  await page.locator('#upload-list li.pending-file').waitFor();
  const stored = page.waitForResponse((r) => r.url() === `${ORIGIN}/instances/` && r.request().method() === 'POST');
  await page.locator('#upload-button').click();
  assert.equal((await stored).status(), 200, 'Explorer\'s upload was refused');
  await page.locator('#progress .label', { hasText: 'Done' }).waitFor();
  assert.deepEqual(problems, []);
  await page.close();
});
