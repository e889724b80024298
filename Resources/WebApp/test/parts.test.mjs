// Files sent in parts by the upload page (src/parts.js, src/upload.js, src/parthash.js) against
// a fake server in memory: the parts and their hashes, resuming part by part after a lost
// connection or a closed page, the server's parts-missing and hash-mismatch answers.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { loadModule } from './modules.mjs';

globalThis.navigator = globalThis.navigator || { onLine: true };

const parts = await loadModule('WebApp/src/parts.js');
const { hashWithParts } = await loadModule('WebApp/src/parthash.js');
const { UploadRun, FatalUploadError, fileOutcome } = await loadModule('WebApp/src/upload.js');

const MIB = 1024 * 1024;
const sha = (bytes) => createHash('sha256').update(bytes).digest('hex');

// What the plugin does with parts (doc/Api.md, "Large files in parts"), in memory, with a
// record of every request. "script(request)" may answer instead of the server (a lost
// connection: {status: 0}), or change what it holds first.
class FakeServer {
  constructor(partBytes) {
    this.partBytes = partBytes;
    this.parts = new Map(); // sha256 → Map n → Buffer
    this.files = new Map(); // sha256 → Buffer
    this.requests = [];
    this.script = () => null;
  }

  async answer(request, work) {
    this.requests.push(request);
    const scripted = await this.script(request);
    return scripted || work();
  }

  transport() {
    return {
      putFile: (id, token, sha256, blob, hooks) => this.answer({ kind: 'file', sha256 }, async () => {
        const body = Buffer.from(await blob.arrayBuffer());
        hooks.onProgress(body.length);
        if (sha(body) !== sha256) {
          return { status: 409, body: { error: 'hash-mismatch' } };
        }
        const known = this.files.has(sha256);
        this.files.set(sha256, body);
        return { status: known ? 200 : 201, body: { sha256 } };
      }),
      putPart: (id, token, sha256, n, partSha256, blob, hooks) => this.answer({ kind: 'part', sha256, n }, async () => {
        if (this.files.has(sha256)) {
          return { status: 200, body: { sha256, stored: true } };
        }
        const body = Buffer.from(await blob.arrayBuffer());
        hooks.onProgress(body.length);
        if (sha(body) !== partSha256) {
          return { status: 409, body: { error: 'hash-mismatch' } };
        }
        if (body.length > this.partBytes) {
          return { status: 413, body: { error: 'too-large' } };
        }
        const held = this.parts.get(sha256) || new Map();
        this.parts.set(sha256, held);
        const known = held.has(n);
        held.set(n, body);
        return { status: known ? 200 : 201, body: { part: n } };
      }),
      assembleFile: (id, token, sha256, count) => this.answer({ kind: 'assemble', sha256, count }, async () => {
        if (this.files.has(sha256)) {
          return { status: 200, body: { sha256 } };
        }
        const held = this.parts.get(sha256) || new Map();
        const missing = [];
        for (let n = 0; n < count; n++) {
          if (!held.has(n)) {
            missing.push(n);
          }
        }
        if (missing.length) {
          return { status: 409, body: { error: 'parts-missing', missing: missing.slice(0, 100) } };
        }
        const whole = Buffer.concat([...Array(count).keys()].map((n) => held.get(n)));
        this.parts.delete(sha256);
        if (sha(whole) !== sha256) {
          return { status: 409, body: { error: 'hash-mismatch' } };
        }
        this.files.set(sha256, whole);
        return { status: 201, body: { sha256 } };
      }),
    };
  }

  sent(kind, sha256) {
    return this.requests.filter((r) => r.kind === kind && (!sha256 || r.sha256 === sha256));
  }
}

// The worker's two jobs, in node (the same code as the page's).
const hasher = {
  hash: async (blob) => sha(Buffer.from(await blob.arrayBuffer())),
  hashParts: (blob, partBytes) => hashWithParts(blob, partBytes),
};

function fileItem(name, bytes) {
  const blob = new Blob([bytes]);
  return { key: `${name}|${bytes.length}`, entry: { name, path: name, size: bytes.length, blob } };
}

function newRun(server, items, extra = {}) {
  const progress = [];
  const run = new UploadRun({
    id: 'U1', token: 'T', items, hasher, limits: { partBytes: server.partBytes },
    transport: server.transport(), backoff: () => 0.01, onProgress: (p) => progress.push(p), ...extra,
  });
  return { run, progress };
}

test('which files go in parts, how they are cut', () => {
  assert.equal(parts.partBytesOf({ partBytes: 16 * MIB }), 16 * MIB);
  assert.equal(parts.partBytesOf({}), 0);
  assert.equal(parts.partBytesOf(null), 0);
  assert.equal(parts.partBytesOf({ partBytes: 'x' }), 0);
  assert.equal(parts.sendsInParts(MIB, MIB), false, 'a file of exactly one part size goes whole');
  assert.equal(parts.sendsInParts(MIB + 1, MIB), true);
  assert.equal(parts.sendsInParts(5 * MIB, 0), false, 'a site without parts takes every file whole');
  assert.equal(parts.sendsInParts(parts.WHOLE_BODY_LIMIT + 1, 1024 * MIB), true, 'never a body above 512 MiB');
  assert.equal(parts.partCount(2 * MIB + 1, MIB), 3);
  assert.equal(parts.partCount(3 * MIB, MIB), 3);
  assert.deepEqual(parts.partRange(2, 2 * MIB + 1, MIB), [2 * MIB, 2 * MIB + 1]);
  assert.deepEqual(parts.partRange(0, 2 * MIB + 1, MIB), [0, MIB]);
  assert.deepEqual(parts.missingParts(5, new Set([0, 2, 4])), [1, 3]);
  assert.equal(parts.bytesOfParts(new Set([0, 2]), 2 * MIB + 1, MIB), MIB + 1);
});

test('one read gives the SHA-256 of the whole file and of each part, natively or not', async () => {
  const bytes = randomBytes(2 * MIB + 12345);
  const expected = { sha256: sha(bytes), parts: [sha(bytes.subarray(0, MIB)), sha(bytes.subarray(MIB, 2 * MIB)), sha(bytes.subarray(2 * MIB))] };
  const blob = new Blob([bytes]);
  assert.deepEqual(await hashWithParts(blob, MIB), expected);
  let pauses = 0;
  const seen = [];
  const chunked = await hashWithParts(blob, MIB, { native: false, chunk: 300000, pause: async () => { pauses++; }, onProgress: (n) => seen.push(n) });
  assert.deepEqual(chunked, expected);
  assert.ok(pauses > 6, `pauses ${pauses}`);
  assert.deepEqual(seen, [MIB, 2 * MIB, bytes.length]);
});

test('a large file goes in parts with their hashes, a small one whole; the server gets every byte', async () => {
  const server = new FakeServer(MIB);
  const big = randomBytes(3 * MIB + 777);
  const small = randomBytes(4000);
  const items = [fileItem('big.dcm', big), fileItem('small.dcm', small)];
  const partial = [];
  const { run, progress } = newRun(server, items, { onPartialFile: (item) => partial.push([item.key, item.sha256]) });
  await run.run();
  assert.deepEqual(items.map((i) => i.state), ['done', 'done']);
  assert.deepEqual(server.files.get(sha(big)), big);
  assert.deepEqual(server.files.get(sha(small)), small);
  assert.deepEqual(server.sent('part').map((r) => r.n).sort(), [0, 1, 2, 3]);
  assert.deepEqual(server.sent('assemble').map((r) => r.count), [4]);
  assert.deepEqual(server.sent('file').map((r) => r.sha256), [sha(small)], 'the small file goes whole');
  assert.deepEqual(partial, [[items[0].key, sha(big)]], 'the page learns the SHA-256 before the first part');
  assert.equal(server.parts.size, 0);
  const last = progress[progress.length - 1];
  assert.equal(last.doneBytes, big.length + small.length);
  assert.equal(last.uploadedBytes, big.length + small.length);
  // progress grows part by part, never above the total
  const doneBytes = progress.map((p) => p.doneBytes);
  assert.ok(doneBytes.some((b) => b > 0 && b < big.length), 'progress inside the large file');
  assert.ok(doneBytes.every((b) => b <= big.length + small.length));
});

test('a lost connection: the part is sent again after a pause, the others are not', async () => {
  const server = new FakeServer(MIB);
  const big = randomBytes(4 * MIB + 1);
  let drops = 2;
  server.script = (r) => (r.kind === 'part' && r.n === 2 && drops-- > 0 ? { status: 0 } : null);
  const statuses = [];
  const { run } = newRun(server, [fileItem('big.dcm', big)], { onStatus: (s) => statuses.push(s.kind) });
  await run.run();
  assert.equal(run.items[0].state, 'done');
  assert.deepEqual(server.files.get(sha(big)), big);
  const perPart = [0, 1, 2, 3, 4].map((n) => server.sent('part').filter((r) => r.n === n).length);
  assert.deepEqual(perPart, [1, 1, 3, 1, 1]);
  assert.ok(statuses.includes('network'), statuses.join());
});

test('a page opened again sends only the parts the server lacks, and counts the others as sent', async () => {
  const server = new FakeServer(MIB);
  const big = randomBytes(5 * MIB + 3);
  const item = fileItem('big.dcm', big);
  // The first page: parts 0, 1 and 3 arrived, then the page was closed.
  const held = new Map();
  for (const n of [0, 1, 3]) {
    held.set(n, big.subarray(n * MIB, (n + 1) * MIB));
  }
  server.parts.set(sha(big), held);
  // The page opened again: the SHA-256 it remembered, the parts the status lists.
  item.sha256 = sha(big);
  const { run, progress } = newRun(server, [item], { partial: new Map([[sha(big), new Set([0, 1, 3])]]) });
  await run.run();
  assert.equal(item.state, 'done');
  assert.deepEqual(server.files.get(sha(big)), big);
  assert.deepEqual(server.sent('part').map((r) => r.n).sort(), [2, 4, 5]);
  assert.equal(progress.find((p) => p.doneBytes > 0).doneBytes, 3 * MIB, 'the parts already there count at once');
  assert.equal(progress[progress.length - 1].uploadedBytes, big.length - 3 * MIB);
});

test('parts the server lost (parts-missing) are sent again, only those', async () => {
  const server = new FakeServer(MIB);
  const big = randomBytes(3 * MIB + 10);
  let lost = false;
  server.script = (r) => {
    if (r.kind === 'assemble' && !lost) {
      lost = true;
      server.parts.get(r.sha256).delete(1);
    }
    return null;
  };
  const { run } = newRun(server, [fileItem('big.dcm', big)]);
  await run.run();
  assert.equal(run.items[0].state, 'done');
  assert.deepEqual(server.files.get(sha(big)), big);
  assert.deepEqual(server.sent('part').map((r) => r.n), [0, 1, 2, 3, 1]);
  assert.equal(server.sent('assemble').length, 2);
});

test('hash-mismatch on assembly: the file starts again once, then it is reported as changed', async () => {
  // Once: a part damaged on the server's side; the page hashes again and sends every part again.
  const server = new FakeServer(MIB);
  const big = randomBytes(2 * MIB + 10);
  let damaged = false;
  server.script = (r) => {
    if (r.kind === 'assemble' && !damaged) {
      damaged = true;
      server.parts.get(r.sha256).set(0, randomBytes(MIB));
    }
    return null;
  };
  const { run } = newRun(server, [fileItem('big.dcm', big)]);
  await run.run();
  assert.equal(run.items[0].state, 'done');
  assert.deepEqual(server.files.get(sha(big)), big);
  assert.deepEqual(server.sent('part').map((r) => r.n).sort(), [0, 0, 1, 1, 2, 2]);

  // Always: given up after the second time, nothing more is sent.
  const stubborn = new FakeServer(MIB);
  stubborn.script = (r) => (r.kind === 'assemble' ? { status: 409, body: { error: 'hash-mismatch' } } : null);
  const { run: again } = newRun(stubborn, [fileItem('big.dcm', big)]);
  await again.run();
  assert.deepEqual([again.items[0].state, again.items[0].reason], ['failed', 'changed']);
  assert.equal(stubborn.sent('assemble').length, 2);
  assert.equal(stubborn.sent('part').length, 6);
});

test('parts that do not fit together (bad-part at assembly) are all sent again once, then given up', async () => {
  const server = new FakeServer(MIB);
  const big = randomBytes(3 * MIB + 10);
  let once = true;
  server.script = (r) => {
    if (r.kind === 'assemble' && once) {
      once = false;
      return { status: 400, body: { error: 'bad-part' } };
    }
    return null;
  };
  const { run } = newRun(server, [fileItem('big.dcm', big)]);
  await run.run();
  assert.equal(run.items[0].state, 'done');
  assert.deepEqual(server.sent('part').map((r) => r.n).sort(), [0, 0, 1, 1, 2, 2, 3, 3]);
  assert.deepEqual(server.files.get(sha(big)), big);

  const stubborn = new FakeServer(MIB);
  stubborn.script = (r) => (r.kind === 'assemble' ? { status: 400, body: { error: 'bad-part' } } : null);
  const { run: again } = newRun(stubborn, [fileItem('big.dcm', big)]);
  await again.run();
  assert.deepEqual([again.items[0].state, again.items[0].reason], ['failed', 'server']);
  assert.equal(stubborn.sent('assemble').length, 2);
});

test('a part damaged on the way is hashed and sent again once; the whole file stored ends it', async () => {
  const server = new FakeServer(MIB);
  const big = randomBytes(3 * MIB + 10);
  let once = true;
  server.script = (r) => {
    if (r.kind === 'part' && r.n === 1 && once) {
      once = false;
      return { status: 409, body: { error: 'hash-mismatch' } };
    }
    return null;
  };
  const { run } = newRun(server, [fileItem('big.dcm', big)]);
  await run.run();
  assert.equal(run.items[0].state, 'done');
  assert.equal(server.sent('part').filter((r) => r.n === 1).length, 2);

  // The server already holds the file (sent before under another name): a part says so.
  const holder = new FakeServer(MIB);
  holder.files.set(sha(big), big);
  const { run: dup } = newRun(holder, [fileItem('copy.dcm', big)]);
  await dup.run();
  assert.equal(dup.items[0].state, 'done');
  assert.equal(holder.sent('assemble').length, 0);
  assert.ok(holder.sent('part').length <= 3);
});

test('the upload gone (404) stops the run; refusals of the assembly are the file\'s answers', async () => {
  const server = new FakeServer(MIB);
  server.script = (r) => (r.kind === 'part' ? { status: 404, body: { error: 'not-found' } } : null);
  const { run } = newRun(server, [fileItem('big.dcm', randomBytes(2 * MIB))]);
  await assert.rejects(run.run(), (e) => e instanceof FatalUploadError && e.kind === 'closed');

  const refusing = new FakeServer(MIB);
  refusing.script = (r) => (r.kind === 'assemble' ? { status: 400, body: { error: 'invalid-dicom' } } : null);
  const { run: invalid } = newRun(refusing, [fileItem('big.dcm', randomBytes(2 * MIB))]);
  await invalid.run();
  assert.deepEqual([invalid.items[0].state, invalid.items[0].reason], ['failed', 'invalid']);

  const badPart = new FakeServer(MIB);
  badPart.script = (r) => (r.kind === 'part' ? { status: 400, body: { error: 'bad-part' } } : null);
  const { run: refused } = newRun(badPart, [fileItem('big.dcm', randomBytes(2 * MIB))]);
  await refused.run();
  assert.deepEqual([refused.items[0].state, refused.items[0].reason], ['failed', 'server'],
    'a refused part is no "not a medical image"');
});

test('too many files in parts on the server: the page waits and tries again', async () => {
  const server = new FakeServer(MIB);
  const big = randomBytes(2 * MIB + 5);
  let refusals = 2;
  server.script = (r) => (r.kind === 'part' && r.n === 0 && refusals-- > 0
    ? { status: 409, body: { error: 'too-many-partial-files' } } : null);
  const { run } = newRun(server, [fileItem('big.dcm', big)]);
  await run.run();
  assert.equal(run.items[0].state, 'done');
  assert.equal(server.sent('part').filter((r) => r.n === 0).length, 3);
  assert.deepEqual(server.files.get(sha(big)), big);
});

test('files the server holds parts of are sent first (it takes only a few such files at a time)', async () => {
  const server = new FakeServer(MIB);
  const files = [0, 1, 2, 3, 4].map(() => randomBytes(MIB + 100));
  const items = files.map((bytes, i) => fileItem(`f${i}.dcm`, bytes));
  server.parts.set(sha(files[4]), new Map([[0, files[4].subarray(0, MIB)]]));
  items[4].sha256 = sha(files[4]);
  items[3].sha256 = sha(files[3]); // known, but no parts on the server
  const { run } = newRun(server, items, { partial: new Map([[sha(files[4]), new Set([0])]]) });
  assert.deepEqual(run.queue.map((it) => it.entry.name), ['f4.dcm', 'f0.dcm', 'f1.dcm', 'f2.dcm', 'f3.dcm']);
  await run.run();
  assert.ok(items.every((it) => it.state === 'done'));
  assert.deepEqual(server.sent('part', sha(files[4])).map((r) => r.n), [1]);
  assert.deepEqual(run.items, items, 'the files keep their order for the receipt');
});

test('final answers: what each one means for a file', () => {
  const cases = [
    [{ status: 201 }, { state: 'done', reason: '' }],
    [{ status: 200 }, { state: 'done', reason: '' }],
    [{ status: 0, gaveUp: true }, { state: 'failed', reason: 'network' }],
    [{ status: 503, gaveUp: true }, { state: 'failed', reason: 'server' }],
    [{ status: 422, body: { error: 'malware' } }, { state: 'failed', reason: 'malware' }],
    [{ status: 422, body: { error: 'dicomdir' } }, { state: 'skipped', reason: 'dicomdir' }],
    [{ status: 404 }, { fatal: 'closed', code: undefined }],
    [{ status: 409, body: { error: 'upload-closed' } }, { fatal: 'closed', code: 'upload-closed' }],
    [{ status: 507, body: { error: 'storage-full' } }, { fatal: 'storageFull', code: 'storage-full' }],
    [{ status: 403, body: { error: 'banned' } }, { fatal: 'blocked', code: 'banned' }],
    [{ status: 409, body: { error: 'duplicate-instance' } }, { state: 'skipped', reason: 'sameImage' }],
    [{ status: 409, body: { error: 'hash-mismatch' } }, { state: 'failed', reason: 'changed' }],
    [{ status: 409, body: { error: 'parts-missing' } }, { state: 'failed', reason: 'server' }],
    [{ status: 413 }, { state: 'failed', reason: 'tooLarge' }],
    [{ status: 400, body: { error: 'invalid-dicom' } }, { state: 'failed', reason: 'invalid' }],
    [{ status: 418 }, { state: 'failed', reason: 'server' }],
  ];
  for (const [answer, expected] of cases) {
    assert.deepEqual(fileOutcome(answer), expected, JSON.stringify(answer));
  }
});

test('without a part size every file goes whole', async () => {
  const server = new FakeServer(0);
  const big = randomBytes(3 * MIB);
  const { run } = newRun(server, [fileItem('big.dcm', big)], { limits: {} });
  await run.run();
  assert.equal(run.items[0].state, 'done');
  assert.deepEqual(server.sent('part'), []);
  assert.equal(server.sent('file').length, 1);
});
