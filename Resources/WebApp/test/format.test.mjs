// Sizes read the same on both pages and in the mails: the cases of the mails' own unit test
// (NotificationPayloads::FormatSize in UnitTests/NotifierTests.cpp) give the same strings here.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModules } from './modules.mjs';

const web = await loadModules();
web.useTexts(web.uploadTexts);

const CASES = {
  en: [[0, '0 B'], [999, '999 B'], [1000, '1.0 kB'], [1234, '1.2 kB'], [55100, '55.1 kB'], [12400000, '12.4 MB'],
    [5000000000, '5.0 GB'], [3200000000000, '3.2 TB'], [4000000000000000, '4000.0 TB'],
    [999950, '1.0 MB'], [1250, '1.2 kB'], [1350, '1.4 kB']],
  de: [[999, '999 B'], [1234, '1,2 kB'], [12400000, '12,4 MB'], [999999999, '1,0 GB']],
};

test('formatBytes: SI units, whole bytes, one decimal above, never 1000.0 of a unit', () => {
  for (const [language, cases] of Object.entries(CASES)) {
    web.setLanguage(language);
    for (const [bytes, text] of cases) {
      assert.equal(web.formatBytes(bytes), text, `${bytes} bytes in ${language}`);
    }
  }
  web.setLanguage('en');
});

test('formatBytes: speeds in fractional bytes, missing and negative values', () => {
  assert.equal(web.formatBytes(999.4), '999 B');
  assert.equal(web.formatBytes(999.7), '1.0 kB');
  assert.equal(web.formatBytes(-5), '0 B');
  assert.equal(web.formatBytes(undefined), '0 B');
});

test('formatDicomDate: a DICOM date in the page\'s language, anything else as it is', () => {
  web.setLanguage('en');
  assert.equal(web.formatDicomDate('20240131'), '31 Jan 2024');
  web.setLanguage('de');
  assert.equal(web.formatDicomDate('20240131'), '31.01.2024');
  web.setLanguage('en');
  assert.equal(web.formatDicomDate(' 2024 '), '2024');
  assert.equal(web.formatDicomDate(undefined), '');
});

test('senderName (admin page): the name, "(no name)", or sealed on a sealing gateway', () => {
  web.useTexts(web.adminTexts);
  web.setLanguage('en');
  assert.equal(web.senderName({ sender: { name: 'Dr. Ada' } }), 'Dr. Ada');
  assert.equal(web.senderName({ sender: { name: '' } }), '(no name)');
  assert.equal(web.senderName({ sealed: true, sender: { name: '' } }),
    '(sealed: readable only inside the hospital)');
  web.setLanguage('de');
  assert.equal(web.senderName({ sealed: true, sender: {} }), '(versiegelt: erst im Krankenhaus lesbar)');
  web.setLanguage('en');
  web.useTexts(web.uploadTexts);
});
