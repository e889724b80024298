// Red team: hostile texts in the release dialog's "Who is this patient?" (PACS and worklist records
// named like HTML, a CD whose patient is), in Debian's Chromium; started by
// ../test_browser_redteam_reconcile.py with INBOUND_URL and INBOUND_REDTEAM_FIXTURE
// ({"admin": "user:password", "uploads": [id, ...], "texts": [hostile text, ...]}).
// Every text must be shown as text: no element it describes is made, no script of it runs.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { chromiumForTests, newWatchedPage } from './chromium.mjs';

const PAGE_URL = process.env.INBOUND_URL;
const FIXTURE = JSON.parse(process.env.INBOUND_REDTEAM_FIXTURE || 'null');
if (!PAGE_URL || !FIXTURE) {
  throw new Error('INBOUND_URL and INBOUND_REDTEAM_FIXTURE must be set (see the head of this file)');
}
const ADMIN_PAGE = `${new URL(PAGE_URL).origin}/inbound/admin/ui/`;
const [USERNAME, PASSWORD] = FIXTURE.admin.split(/:(.*)/s);

const browser = chromiumForTests('inbound-redteam-', { httpCredentials: { username: USERNAME, password: PASSWORD } });

for (const uploadId of FIXTURE.uploads) {
  test(`hostile names stay text in the release dialog of ${uploadId}`, async () => {
    const { page, problems } = await newWatchedPage(browser.context);
    const dialogs = [];
    page.on('dialog', async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    await page.goto(`${ADMIN_PAGE}#release=${uploadId}`);
    await page.getByRole('dialog', { name: 'Release to the PACS' }).waitFor();
    await page.waitForFunction(() => {
      const section = document.getElementById('reconcile');
      return !section.hasAttribute('aria-busy') && document.querySelectorAll('#reconcile-sources li').length > 0;
    });
    // Every candidate's details opened: what is folded away is rendered too.
    await page.evaluate(() => document.querySelectorAll('#reconcile details').forEach((d) => { d.open = true; }));
    await page.waitForTimeout(500);  // an injected <img> would have failed to load by now

    const found = await page.evaluate(() => ({
      injected: [...document.querySelectorAll('#reconcile *')]
        .filter((n) => !['LI', 'UL', 'DIV', 'SPAN', 'CODE', 'DL', 'DT', 'DD', 'H4', 'P', 'DETAILS', 'SUMMARY',
          'BUTTON', 'METER', 'H3'].includes(n.tagName))
        .concat([...document.querySelectorAll('#release-dialog :is(img, svg, script, iframe, object, embed, b, i, marquee, style)')])
        .map((n) => n.tagName),
      handlers: [...document.querySelectorAll('*')].flatMap((n) => [...n.attributes]
        .filter((a) => /^on/i.test(a.name)).map((a) => `${n.tagName} ${a.name}`)),
      xss: window.__xss,
      text: document.getElementById('reconcile').textContent,
    }));
    assert.deepEqual(found.injected, [], 'no element made from a text');
    assert.deepEqual(found.handlers, [], 'no event handler attribute anywhere');
    assert.equal(found.xss, undefined, 'no script of a text ran');
    assert.deepEqual(dialogs, []);
    const shown = FIXTURE.texts.filter((t) => found.text.includes(t));
    assert.ok(shown.length >= 2, `the hostile texts are shown as text (${shown.length} found)`);

    // "Use" on each candidate: its texts go into the form's fields as values, nothing runs.
    const uses = page.locator('#reconcile button.candidate-use');
    for (let i = 0; i < await uses.count(); i += 1) {
      await uses.nth(i).click();
    }
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.deepEqual(problems, []);
    await page.close();
  });
}
