// Request mode of the upload page without a browser (src/request.js): the link's token, the
// challenge's answer, what each refusal tells the sender, and which patients of a CD are
// ticked against the requested one.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModule, loadModules } from './modules.mjs';

const request = await loadModule('WebApp/src/request.js');
const web = await loadModules();
const TOKEN = 'q2bL_x-9Zk3PqR7sT1uVwXyZ0aBcDeFgHiJkLmNoPqR';

function apiError(status, code, body) {
  return { status, code, message: code, body: body || (code ? { error: code } : null) };
}

test('the token comes from /inbound/r/<token>, nothing else is a request link', () => {
  assert.equal(request.requestTokenFromPath(`/inbound/r/${TOKEN}`), TOKEN);
  assert.equal(request.requestTokenFromPath(`/inbound/r/${TOKEN}/`), TOKEN);
  assert.equal(request.requestTokenFromPath('/inbound/'), null);
  assert.equal(request.requestTokenFromPath('/inbound/r/'), null);
  assert.equal(request.requestTokenFromPath('/inbound/r/short'), null);
  assert.equal(request.requestTokenFromPath(`/inbound/r/${TOKEN}/extra`), null);
  assert.equal(request.requestTokenFromPath(`/inbound/r/${TOKEN.slice(0, 20)}%2F..`), null);
  assert.equal(request.requestTokenFromPath(undefined), null);
});

test('codes: spaces, dashes and case do not matter; impossible codes cost no attempt', () => {
  assert.equal(request.normalizeCode(' abcd-2345 '), 'ABCD2345');
  assert.equal(request.normalizeCode('ab cd – 23 45'), 'ABCD2345');
  assert.deepEqual(request.challengeAnswer('code', 'abcd-2345'), { answer: 'ABCD2345' });
  assert.deepEqual(request.challengeAnswer('code', 'AbCd 2345'), { answer: 'ABCD2345' });
  assert.deepEqual(request.challengeAnswer('code', ''), { error: 'challenge.codeRequired' });
  assert.deepEqual(request.challengeAnswer('code', ' - '), { error: 'challenge.codeRequired' });
  assert.deepEqual(request.challengeAnswer('code', 'ABCD-234'), { error: 'challenge.codeInvalid' });
  assert.deepEqual(request.challengeAnswer('code', 'ABCD-23456'), { error: 'challenge.codeInvalid' });
  assert.deepEqual(request.challengeAnswer('code', 'ABCD/2345'), { error: 'challenge.codeInvalid' });
});

test('birth dates: the date input\'s YYYY-MM-DD is sent as it is; incomplete dates are not sent', () => {
  assert.deepEqual(request.challengeAnswer('birthDate', '1970-01-31'), { answer: '1970-01-31' });
  assert.deepEqual(request.challengeAnswer('birthDate', ''), { error: 'challenge.birthDateRequired' });
  assert.deepEqual(request.challengeAnswer('birthDate', '1970-13-01'), { error: 'challenge.birthDateInvalid' });
  assert.deepEqual(request.challengeAnswer('birthDate', '31.01.1970'), { error: 'challenge.birthDateInvalid' });
  assert.deepEqual(request.challengeAnswer('none', 'ignored'), { answer: '' });
});

test('refusals: each tells the sender what happened; final ones end the request\'s form', () => {
  const cases = [
    [apiError(404, 'not-found'), 'request.notFound', true],
    [apiError(410, 'request-expired'), 'request.expired', true],
    [apiError(410, 'request-used'), 'request.used', true],
    [apiError(410, 'request-revoked'), 'request.revoked', true],
    [apiError(410, 'something-new'), 'request.gone', true],
    [apiError(403, 'request-locked'), 'request.locked', true],
    [apiError(403, 'challenge-failed', { error: 'challenge-failed', remainingAttempts: 3 }), 'challenge.wrong', false],
    [apiError(403, 'challenge-failed', { error: 'challenge-failed', remainingAttempts: 0 }), 'request.locked', true],
    [apiError(403, 'challenge-failed'), 'challenge.wrongNoCount', false],
    [apiError(403, 'challenge-required'), 'request.ticketExpired', false],
    [apiError(403, 'requests-only'), 'requestsOnly.text', true],
    [apiError(403, ''), 'request.blocked', false],
    [apiError(400, 'invalid-field'), 'request.failed', false],
  ];
  for (const [error, key, final] of cases) {
    const problem = request.requestProblem(error);
    assert.equal(problem.key, key, JSON.stringify(error));
    assert.equal(problem.final, final, JSON.stringify(error));
  }
  assert.deepEqual(request.requestProblem(cases[6][0]).params, { n: 3 });
  for (const status of [0, 429, 500, 503]) {
    assert.equal(request.requestProblem(apiError(status, '')), null, `${status}: offered again`);
  }
});

test('every text a refusal or a check can show exists in every language', () => {
  const keys = ['request.notFound', 'request.expired', 'request.used', 'request.revoked', 'request.gone',
    'request.locked', 'challenge.wrong', 'challenge.wrongNoCount', 'request.ticketExpired', 'requestsOnly.text',
    'request.blocked', 'request.failed', 'challenge.codeRequired', 'challenge.codeInvalid',
    'challenge.birthDateRequired', 'challenge.birthDateInvalid'];
  for (const [code, table] of Object.entries(web.uploadTexts)) {
    assert.deepEqual(keys.filter((k) => !(k in table)), [], `${code}: texts missing`);
  }
  web.useTexts(web.uploadTexts);
  web.setLanguage('en');
  assert.equal(web.t('challenge.wrong', { site: 'X', n: 1 }),
    'That does not match what X has on record. You have 1 more attempt before the link is locked.');
  web.setLanguage('de');
  assert.match(web.t('challenge.wrong', { site: 'X', n: 2 }), /noch 2 Versuche/);
  web.setLanguage('en');
});

// A scan result as scan.js builds it: patients with their studies.
function tree(...patients) {
  const result = { patients: new Map(), studies: new Map() };
  for (const [key, name, birthDate, studyCount] of patients) {
    const patient = { key, name, id: key, birthDate, studies: [] };
    for (let i = 0; i < studyCount; i++) {
      const study = { key: `${key}-${i}`, patient, selected: true, files: [{}], bytes: 1 };
      patient.studies.push(study);
      result.studies.set(study.key, study);
    }
    result.patients.set(key, patient);
  }
  return result;
}

const EXPECTED = { patientName: 'Doe^Jane', birthDate: '19700131' };

test('a CD with the requested patient and another: only the requested one is ticked', () => {
  const t = tree(['A', 'DOE^JANE', '19700131', 2], ['B', 'Roe^Richard', '19811124', 1]);
  const patients = request.checkPatients(t, EXPECTED);
  assert.deepEqual(patients.map((p) => [p.key, p.check.matched, p.accepted]), [['A', true, true], ['B', false, false]]);
  assert.deepEqual(patients[1].check, { sameName: false, birthDate: 'different', matched: false, readable: true });
  assert.deepEqual([...t.studies.values()].map((s) => s.selected), [true, true, false]);
  assert.deepEqual([...t.studies.values()].map(request.studySelectable), [true, true, false]);
  assert.deepEqual(request.checkSummary(patients), { matching: 1, others: 1, othersTicked: 0 });

  // The sender ticks the other patient (after confirming): its studies are sent too.
  request.setAccepted(patients[1], true);
  assert.deepEqual([...t.studies.values()].map((s) => s.selected), [true, true, true]);
  assert.deepEqual(request.checkSummary(patients), { matching: 1, others: 1, othersTicked: 1 });
  // Unticking the requested patient leaves only the other one.
  request.setAccepted(patients[0], false);
  assert.deepEqual([...t.studies.values()].map((s) => s.selected), [false, false, true]);
  assert.deepEqual([...t.studies.values()].map(request.studySelectable), [false, false, true]);
});

test('unreadable images and a CD without birth dates are not ticked; no check outside requests', () => {
  const t = tree(['\u0000unreadable', '', '', 1], ['C', 'Doe^Jane', '', 1]);
  const patients = request.checkPatients(t, EXPECTED);
  assert.deepEqual(patients.map((p) => p.check), [
    { sameName: false, birthDate: 'unknown', matched: false, readable: false },
    { sameName: true, birthDate: 'unknown', matched: false, readable: true }]);
  assert.ok(patients.every((p) => p.accepted === false));
  assert.deepEqual(request.checkSummary(patients), { matching: 0, others: 2, othersTicked: 0 });
  // On the open page nothing is checked: every study may be ticked.
  const open = tree(['A', 'Doe^Jane', '19700131', 1]);
  assert.ok([...open.studies.values()].every(request.studySelectable));
});
