// The upload page's pace (src/upload.js Pacer): files and parts follow the site's files per
// second (GET /inbound/api/info limits.filesPerSecond, fileBurst), not its requests per second.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModule } from './modules.mjs';

const { Pacer } = await loadModule('WebApp/src/upload.js');

test('files are paced at 80 % of the files per second, half the file burst at once', () => {
  const pacer = new Pacer({ requestsPerSecond: 20, requestBurst: 200, filesPerSecond: 100, fileBurst: 1000 });
  assert.equal(pacer.max, 80);
  assert.equal(pacer.rate, 80);
  assert.equal(pacer.capacity, 500);
});

test('a site without a files limit (0) is not paced; one that does not say it, by its requests', () => {
  const unlimited = new Pacer({ requestsPerSecond: 20, requestBurst: 200, filesPerSecond: 0, fileBurst: 1000 });
  assert.equal(unlimited.rate, Infinity);
  const older = new Pacer({ requestsPerSecond: 20, requestBurst: 200 });
  assert.equal(older.rate, 16);
  assert.equal(older.capacity, 100);
  assert.equal(new Pacer(null).rate, Infinity);
});

test('a busy answer halves the pace, successes bring it back up to the maximum', () => {
  const pacer = new Pacer({ filesPerSecond: 10, fileBurst: 20 });
  pacer.busy(1);
  assert.equal(pacer.rate, 4);
  for (let i = 0; i < 200; i++) {
    pacer.success();
  }
  assert.equal(pacer.rate, 8);
});
