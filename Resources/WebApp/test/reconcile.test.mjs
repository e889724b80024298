// The release dialog's "Who is this patient?" without a browser (AdminApp/src/reconcile-rules.js):
// which candidates fit, the request's patient first, what needs a confirmation; and every
// reason code of doc/Reconciliation.md has a short text in every language.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { loadModule, loadModules, RESOURCES } from './modules.mjs';

const rules = await loadModule('AdminApp/src/reconcile-rules.js');
const web = await loadModules();

const SENT = { birthDate: '19700303', sex: 'F', studies: ['s1'], ambiguous: false };

test('candidates that fit and those that do not; the request\'s patient first among those that fit', () => {
  const patient = {
    candidates: [
      { source: 'pacs', patientId: 'H1', score: 90 },
      { source: 'request', patientId: 'R1', score: 80 },
      { source: 'local', patientId: 'L1', score: 49 },
      { source: 'pacs', patientId: 'H2', score: 20, fits: true },  // the server's verdict wins
      { source: 'request', patientId: 'R2', score: 10 },
    ],
  };
  const { fit, other } = rules.splitCandidates(patient, 50);
  assert.deepEqual(fit.map((c) => c.patientId), ['R1', 'H1', 'H2']);
  assert.deepEqual(other.map((c) => c.patientId), ['L1', 'R2']);
  assert.deepEqual(rules.splitCandidates({}, 50), { fit: [], other: [] });
});

test('the same identity as sent needs no confirmation', () => {
  const chosen = { candidate: { score: 95 } };
  assert.deepEqual(rules.mismatches({ patients: [SENT], identity: { birthDate: '19700303', sex: 'F' }, chosen, threshold: 50 }), []);
  // Unknown on either side is no difference.
  assert.deepEqual(rules.mismatches({ patients: [{ ...SENT, sex: '', birthDate: '1970' }],
    identity: { birthDate: '19700304', sex: 'M' }, chosen: null, threshold: 50 }), []);
  assert.deepEqual(rules.mismatches({ patients: [SENT], identity: { birthDate: '', sex: '' }, chosen: null, threshold: 50 }), []);
});

test('a birth date or sex other than sent, an ambiguous patient, a weak candidate: each needs a confirmation', () => {
  const find = (patients, identity, chosen = null) =>
    rules.mismatches({ patients, identity, chosen, threshold: 50 }).map((m) => m.code);
  assert.deepEqual(find([SENT], { birthDate: '19700330', sex: 'F' }), ['birthDate']);
  assert.deepEqual(rules.mismatches({ patients: [SENT], identity: { birthDate: '19700330', sex: 'F' }, threshold: 50 })[0].sent,
    ['19700303']);
  assert.deepEqual(find([SENT], { birthDate: '19700303', sex: 'M' }), ['sex']);
  assert.deepEqual(find([{ ...SENT, ambiguous: true }], { birthDate: '19700303', sex: 'F' }), ['ambiguous']);
  assert.deepEqual(find([SENT], { birthDate: '19700303', sex: 'F' }, { candidate: { score: 49 } }), ['score']);
  assert.deepEqual(find([SENT], { birthDate: '19700303', sex: 'F' }, { candidate: { score: 50 } }), []);
  assert.deepEqual(find([SENT, { ...SENT, birthDate: '19800101', sex: 'M' }], { birthDate: '19700303', sex: 'F' }),
    ['birthDate', 'sex']);
});

test('only the patients of the chosen studies are compared', () => {
  const other = { ...SENT, birthDate: '19800101', studies: ['s2'] };
  assert.deepEqual(rules.patientsOfStudies([SENT, other], ['s1']), [SENT]);
  assert.deepEqual(rules.patientsOfStudies([SENT, other], null), [SENT, other]);
  assert.deepEqual(rules.patientsOfStudies([SENT, other], []), []);
});

test('dates, sexes and scores as the server may answer them', () => {
  assert.equal(rules.validDate('19700303'), true);
  for (const bad of ['1970033', '19701303', '19700300', '', null, '1970-03-03']) {
    assert.equal(rules.validDate(bad), false, String(bad));
  }
  assert.equal(rules.knownSex('O'), 'O');
  assert.equal(rules.knownSex('X'), '');
  assert.equal(rules.score({ score: 130 }), 100);
  assert.equal(rules.score({ score: -5 }), 0);
  assert.equal(rules.score({ score: 'x' }), 0);
});

test('every reason code of doc/Reconciliation.md has a text in every language', async () => {
  const doc = await readFile(path.join(RESOURCES, '..', 'doc', 'Reconciliation.md'), 'utf8');
  const table = doc.slice(doc.indexOf('| reason |'));
  const rows = table.slice(0, table.search(/\n\s*\n/)).split('\n').slice(2);
  const codes = rows.flatMap((row) => [...row.split('|')[1].matchAll(/`([a-z-]+)`/g)].map((m) => m[1]));
  assert.ok(codes.length >= 14, codes.join(' '));
  for (const [language, table] of Object.entries(web.adminTexts)) {
    assert.deepEqual(codes.filter((code) => !table[`reason.${code}`]), [], `${language}: reasons without a text`);
  }
});
