// The page's patient-match rule (src/patientmatch.js) against the case table the plugin's own
// rule is tested with (UnitTests/Resources/patient-match-cases.json).

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { loadModule, RESOURCES } from './modules.mjs';

const match = await loadModule('WebApp/src/patientmatch.js');
const table = JSON.parse(await readFile(path.join(RESOURCES, '..', 'UnitTests', 'Resources', 'patient-match-cases.json'), 'utf8'));

test('the case table covers the rule', () => {
  assert.ok(table.cases.length >= 25, `only ${table.cases.length} cases`);
  const outcomes = new Set(table.cases.map((c) => `${c.sameName}/${c.birthDate}/${c.matched}`));
  for (const wanted of ['true/same/true', 'false/same/false', 'true/different/false', 'false/different/false',
    'true/unknown/false', 'true/not-requested/true']) {
    assert.ok(outcomes.has(wanted), `no case with ${wanted}`);
  }
});

for (const c of table.cases) {
  test(`match: ${c.why}`, () => {
    const result = match.matchPatient(c.expected, c.found);
    assert.deepEqual(result, { sameName: c.sameName, birthDate: c.birthDate, matched: c.matched },
      `${JSON.stringify(c.expected)} against ${JSON.stringify(c.found)}`);
    // The rule is symmetric for names.
    assert.equal(match.sameName(c.found.patientName, c.expected.patientName), c.sameName);
  });
}

test('names: words without accents, lower case, sorted; empty names match nothing', () => {
  assert.deepEqual(match.nameWords('Núñez-García^José,María'), ['garcia', 'jose', 'maria', 'nunez']);
  assert.deepEqual(match.nameWords(undefined), []);
  assert.equal(match.sameName('', ''), false);
  assert.equal(match.sameName('^', ' '), false);
});

test('a request without a patient name matches no one', () => {
  assert.equal(match.matchPatient({ patientName: '', birthDate: '19700131' },
    { patientName: 'Doe^Jane', birthDate: '19700131' }).matched, false);
  assert.equal(match.matchPatient(null, { patientName: 'Doe^Jane' }).matched, false);
});

test('letters without a separable accent are folded; capitals lose their marks too', () => {
  assert.equal(match.sameName('Weiß^Łukasz', 'WEISS^LUKASZ'), true);
  assert.equal(match.sameName('Søren^Þór', 'Soren^Thor'), true);
  assert.equal(match.sameName('İnce^Ayşe', 'Ince^Ayse'), true);
  assert.equal(match.sameName('Ærø', 'aero'), true);
  assert.equal(match.sameName('Weiß', 'Weis'), false);
});
