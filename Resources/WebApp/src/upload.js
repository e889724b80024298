// Sending the files of an open upload: hashes are computed in the worker a few files ahead,
// three requests run in parallel, each one retried with exponential back-off on network
// errors and on 429/503 (honouring Retry-After), and progress is reported in bytes. Files
// above the site's part size go in parts (parts.js).

import { assembleFile, putFile, putPart } from './api.js';
import { HashError } from './hash.js';
import { partBytesOf, sendInParts, sendsInParts } from './parts.js';
import { backoffSeconds, Signal, sleep, Slots, waitOnline } from './waiting.js';

export class FatalUploadError extends Error {
  constructor(kind, detail) {
    super(kind);
    this.kind = kind; // 'closed' | 'storageFull' | 'blocked' | 'cancelled'
    this.detail = detail;
  }
}

const CONCURRENCY = 3;
const HASH_AHEAD_FILES = 8;
const HASH_AHEAD_BYTES = 256 * 1024 * 1024;
const MAX_ATTEMPTS = 10; // network errors and server errors
const MAX_BUSY_ATTEMPTS = 100; // "busy, come back in N seconds" answers (rate limits)
const RETRYABLE = new Set([0, 429, 500, 502, 503, 504]);

// What the final answer to a file (its PUT, or the assembly of its parts) means for it:
// {state: 'done'|'failed'|'skipped', reason} or {fatal, code} when the whole upload stops.
export function fileOutcome(result) {
  const status = result.status;
  const code = result.body && result.body.error;
  if (status === 200 || status === 201) {
    return { state: 'done', reason: '' };
  }
  if (result.gaveUp) {
    return { state: 'failed', reason: status === 0 ? 'network' : 'server' };
  }
  if (status === 422) {
    // the site's virus scanner found malware in it (never retried), or a DICOMDIR
    return code === 'malware' ? { state: 'failed', reason: 'malware' } : { state: 'skipped', reason: 'dicomdir' };
  }
  if (status === 404 || (status === 409 && code === 'upload-closed')) {
    return { fatal: 'closed', code };
  }
  if (status === 507) {
    return { fatal: 'storageFull', code };
  }
  if (status === 403) {
    // The site's access filter refuses this client (for example banned for a while).
    return { fatal: 'blocked', code };
  }
  if (status === 409 && code === 'duplicate-instance') {
    // another file with the same SOP Instance UID is already in this upload
    return { state: 'skipped', reason: 'sameImage' };
  }
  const reasons = { 409: code === 'hash-mismatch' ? 'changed' : 'server', 413: 'tooLarge', 400: 'invalid' };
  return { state: 'failed', reason: reasons[status] || 'server' };
}

// Keeps the request rate under the site's limit, so that a large CD does not run into the
// rate limits (and a client refused too often may be banned for a while). With the limit
// known from api/info: a token bucket at 80 % of it. Without: no pacing until the first
// "busy" answer, then additive increase / multiplicative decrease around what gets through.
// Every "busy" answer also pauses all requests for the Retry-After time.
class Pacer {
  constructor(limits) {
    // The site paces the files and parts of an open upload by its files per second, not by its
    // requests per second (doc/Security.md, "Rate limits for files"); without them: requests.
    const files = Boolean(limits) && limits.filesPerSecond !== undefined;
    const rps = limits ? Number(files ? limits.filesPerSecond : limits.requestsPerSecond) : 0;
    const burst = limits ? Number(files ? limits.fileBurst : limits.requestBurst) : 0;
    this.max = rps > 0 ? rps * 0.8 : Infinity;
    this.rate = this.max;
    this.capacity = rps > 0 ? Math.max(1, (burst > 0 ? burst : rps) * 0.5) : Infinity;
    this.tokens = this.capacity;
    this.refilled = performance.now();
    this.pausedUntil = 0;
    this.lastSlowdown = -Infinity;
    this.starts = [];
  }

  refill(now) {
    if (Number.isFinite(this.rate)) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.refilled) / 1000) * this.rate);
    }
    this.refilled = now;
  }

  async take(signal) {
    for (;;) {
      if (signal.aborted) {
        return;
      }
      const now = performance.now();
      this.refill(now);
      let wait = this.pausedUntil - now;
      if (wait <= 0 && Number.isFinite(this.rate) && this.tokens < 1) {
        wait = ((1 - this.tokens) / this.rate) * 1000;
      }
      if (wait <= 0) {
        break;
      }
      await sleep(Math.max(5, wait), signal);
    }
    const now = performance.now();
    if (Number.isFinite(this.rate)) {
      this.tokens -= 1;
    }
    this.starts.push(now);
    while (this.starts.length && now - this.starts[0] > 2000) {
      this.starts.shift();
    }
  }

  busy(seconds) {
    const now = performance.now();
    this.pausedUntil = Math.max(this.pausedUntil, now + seconds * 1000);
    if (now - this.lastSlowdown > Math.max(1000, seconds * 1000)) {
      this.refill(now);
      const observed = this.starts.length / 2;
      this.rate = Math.max(1, (Number.isFinite(this.rate) ? this.rate : Math.max(2, observed)) / 2);
      this.capacity = Math.max(1, this.rate);
      this.tokens = 0;
      this.lastSlowdown = now;
    }
  }

  success() {
    if (Number.isFinite(this.rate) && this.rate < this.max) {
      this.rate = Math.min(this.max, this.rate + 1 / this.rate);
      this.capacity = Math.max(this.capacity, Math.min(this.rate, this.max));
    }
  }
}

// items: [{entry, key, sha256?, serverParts?}] — every file to deliver. received: Set of
// sha256 the server already holds; partial: Map sha256 → Set of the part numbers it holds of
// files not yet assembled. limits: the site's (requestsPerSecond, partBytes…). Events:
// onProgress({...}), onStatus({kind, seconds}), onFileDone(item), onPartialFile(item) once the
// SHA-256 of a file sent in parts is known (before its first part). transport and backoff
// replace the API calls and the back-off seconds (tests).
export class UploadRun {
  constructor({ id, token, items, received, partial, hasher, limits, pacer, onProgress, onStatus, onFileDone,
    onPartialFile, transport, backoff }) {
    this.id = id;
    this.token = token;
    this.items = items;
    for (const item of items) {
      item.state = 'pending';
      item.reason = '';
      item.hashPromise = null;
    }
    this.received = received || new Set();
    this.hasher = hasher;
    this.onProgress = onProgress || (() => {});
    this.onStatus = onStatus || (() => {});
    this.onFileDone = onFileDone || (() => {});
    this.onPartialFile = onPartialFile || (() => {});
    this.partial = partial || new Map();
    this.partBytes = partBytesOf(limits);
    this.transport = transport || { putFile, putPart, assembleFile };
    this.backoff = backoff || backoffSeconds;
    this.slots = new Slots(CONCURRENCY);
    this.signal = new Signal();
    this.pacer = pacer || new Pacer(limits);
    this.inflight = new Map();
    this.aborters = new Set();
    this.totalBytes = this.items.reduce((sum, it) => sum + it.entry.size, 0);
    // Files the server holds parts of go first: it takes only a few such files at a time.
    const started = (it) => Boolean(it.sha256 && (this.partial.has(it.sha256) ||
      (it.partsOf === it.sha256 && it.serverParts && it.serverParts.size)));
    this.queue = [...items.filter(started), ...items.filter((it) => !started(it))];
    this.finishedBytes = 0; // done, failed or skipped files
    this.uploadedBytes = 0; // bytes that really went over the network
    this.counts = { done: 0, failed: 0, skipped: 0 };
    this.fatal = null;
    this.retryWaits = 0;
  }

  progress() {
    let inflight = 0;
    for (const loaded of this.inflight.values()) {
      inflight += loaded;
    }
    return {
      totalFiles: this.items.length,
      doneFiles: this.counts.done + this.counts.failed + this.counts.skipped,
      totalBytes: this.totalBytes,
      doneBytes: Math.min(this.totalBytes, this.finishedBytes + inflight),
      uploadedBytes: this.uploadedBytes,
      active: this.inflight.size,
    };
  }

  emit() {
    this.onProgress(this.progress());
  }

  hashAhead(from) {
    let bytes = 0;
    for (let i = from, n = 0; i < this.queue.length && n < HASH_AHEAD_FILES && bytes < HASH_AHEAD_BYTES; i++) {
      const item = this.queue[i];
      if (item.state !== 'pending' && item.state !== 'sending') {
        continue;
      }
      n++;
      bytes += item.entry.size;
      if (!item.hashPromise) {
        item.hashPromise = this.hashOf(item);
        item.hashPromise.catch(() => {});
      }
    }
  }

  inParts(item) {
    return sendsInParts(item.entry.size, this.partBytes);
  }

  // {sha256, parts}: parts (the hashes of its parts) only for a file sent in parts, and only
  // when it was hashed now (a SHA-256 remembered from before: its parts are hashed when sent).
  hashOf(item) {
    if (item.sha256) {
      return Promise.resolve({ sha256: item.sha256, parts: item.partHashes || null });
    }
    if (this.inParts(item)) {
      return this.hasher.hashParts(item.entry.blob, this.partBytes);
    }
    return this.hasher.hash(item.entry.blob).then((sha256) => ({ sha256, parts: null }));
  }

  finish(item, state, reason) {
    item.state = state;
    item.reason = reason || '';
    this.counts[state]++;
    this.finishedBytes += item.entry.size;
    this.inflight.delete(item);
    this.emit();
    if (state === 'done') {
      this.onFileDone(item);
    }
  }

  failFatal(kind, detail) {
    if (!this.fatal) {
      this.fatal = new FatalUploadError(kind, detail);
      this.signal.abort();
      for (const abort of this.aborters) {
        abort();
      }
    }
  }

  abort() {
    this.failFatal('cancelled');
  }

  // Sends one request (send(hooks) → {status, body, retryAfter}) within the run's limits:
  // waits for the network, the pacer and a free slot; retries network errors and server
  // errors with back-off, busy answers after their Retry-After. onLoaded(bytes) follows the
  // body's progress (0 again when it must be sent again). Resolves the final answer (with
  // gaveUp: true when the retries ran out), or null when the run was stopped.
  async exchange(send, onLoaded = () => {}) {
    let attempt = 0;
    let busyAttempts = 0;
    while (!this.signal.aborted) {
      await waitOnline(this.signal);
      if (this.signal.aborted) {
        return null;
      }
      await this.pacer.take(this.signal);
      await this.slots.take();
      if (this.signal.aborted) {
        this.slots.release();
        return null;
      }
      onLoaded(0);
      let aborter = null;
      let counted = 0;
      let result;
      try {
        result = await send({
          onProgress: (loaded) => {
            if (loaded > counted) {
              this.uploadedBytes += loaded - counted;
              counted = loaded;
            }
            onLoaded(loaded);
            this.emit();
          },
          register: (abort) => {
            if (aborter) {
              this.aborters.delete(aborter);
            }
            aborter = abort;
            if (abort) {
              this.aborters.add(abort);
            }
          },
        });
      } finally {
        if (aborter) {
          this.aborters.delete(aborter);
        }
        this.slots.release();
      }
      if (this.signal.aborted) {
        return null;
      }
      const status = result.status;
      if (status === 200 || status === 201) {
        this.pacer.success();
        return result;
      }
      onLoaded(0);
      this.emit();
      // Too many files of this upload wait in parts on the server: one of them ends soon.
      const later = status === 409 && result.body && result.body.error === 'too-many-partial-files';
      if (!RETRYABLE.has(status) && !later) {
        return result;
      }
      const told = result.retryAfter !== null && result.retryAfter !== undefined &&
        (status === 429 || status === 503);
      if (told) {
        busyAttempts++;
      } else {
        attempt++;
      }
      if (attempt >= MAX_ATTEMPTS || busyAttempts >= MAX_BUSY_ATTEMPTS) {
        return { ...result, gaveUp: true };
      }
      const seconds = told ? Math.max(1, result.retryAfter) : this.backoff(attempt);
      if (told) {
        this.pacer.busy(seconds);
      }
      this.retryWaits++;
      this.onStatus({ kind: status === 0 ? 'network' : 'busy', seconds: Math.ceil(seconds) });
      await sleep(seconds * 1000, this.signal);
      this.retryWaits--;
      if (this.retryWaits === 0) {
        this.onStatus({ kind: 'running' });
      }
    }
    return null;
  }

  // The final answer to a file (its PUT or the assembly of its parts) becomes its state.
  settle(item, result) {
    const outcome = fileOutcome(result);
    if (outcome.fatal) {
      this.failFatal(outcome.fatal, outcome.code);
      return;
    }
    if (outcome.state === 'done') {
      this.received.add(item.sha256);
    }
    this.finish(item, outcome.state, outcome.reason);
  }

  async sendOne(item) {
    let hashed;
    try {
      hashed = await item.hashPromise;
    } catch (e) {
      this.finish(item, 'failed', 'unreadable');
      return;
    }
    item.sha256 = hashed.sha256;
    if (this.received.has(item.sha256)) {
      this.finish(item, 'done');
      return;
    }
    if (this.inParts(item)) {
      await sendInParts(this, item, hashed);
      return;
    }
    let rehashed = false;
    for (;;) {
      const result = await this.exchange(
        (hooks) => this.transport.putFile(this.id, this.token, item.sha256, item.entry.blob, hooks),
        (loaded) => this.inflight.set(item, loaded));
      if (!result) {
        return;
      }
      if (result.status === 409 && result.body && result.body.error === 'hash-mismatch' && !rehashed) {
        // changed since it was hashed, or damaged on the way: hashed again and sent once more
        rehashed = true;
        try {
          item.sha256 = await this.hasher.hash(item.entry.blob);
        } catch (e) {
          this.finish(item, 'failed', 'unreadable');
          return;
        }
        continue;
      }
      this.settle(item, result);
      return;
    }
  }

  // Resolves when every file is done, failed or skipped; rejects with FatalUploadError.
  async run() {
    let cursor = 0;
    const lane = async () => {
      while (!this.signal.aborted) {
        while (cursor < this.queue.length && this.queue[cursor].state !== 'pending') {
          cursor++;
        }
        if (cursor >= this.queue.length) {
          return;
        }
        const item = this.queue[cursor++];
        item.state = 'sending';
        this.hashAhead(cursor - 1);
        await this.sendOne(item);
      }
    };
    this.emit();
    const lanes = [];
    for (let i = 0; i < CONCURRENCY; i++) {
      lanes.push(lane());
    }
    await Promise.all(lanes);
    if (this.fatal) {
      throw this.fatal;
    }
    return this.items;
  }
}

export { HashError, Pacer };
