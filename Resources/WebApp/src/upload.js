// Sending the files of an open upload: hashes are computed in the worker a few files ahead,
// three PUT requests run in parallel, each file is retried with exponential back-off on
// network errors and on 429/503 (honouring Retry-After), and progress is reported in bytes.

import { putFile } from './api.js';
import { HashError } from './hash.js';

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

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.onAbort(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function backoffSeconds(attempt) {
  const base = Math.min(60, 2 ** (attempt - 1));
  return base * (0.75 + Math.random() * 0.5);
}

function waitOnline(signal) {
  if (navigator.onLine !== false) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const done = () => {
      window.removeEventListener('online', done);
      resolve();
    };
    window.addEventListener('online', done);
    signal.onAbort(done);
  });
}

class Signal {
  constructor() {
    this.aborted = false;
    this.handlers = [];
  }

  onAbort(handler) {
    if (this.aborted) {
      handler();
    } else {
      this.handlers.push(handler);
    }
  }

  abort() {
    if (!this.aborted) {
      this.aborted = true;
      for (const handler of this.handlers.splice(0)) {
        handler();
      }
    }
  }
}

// Keeps the request rate under the site's limit, so that a large CD does not run into the
// rate limits (and a client refused too often may be banned for a while). With the limit
// known from api/info: a token bucket at 80 % of it. Without: no pacing until the first
// "busy" answer, then additive increase / multiplicative decrease around what gets through.
// Every "busy" answer also pauses all requests for the Retry-After time.
class Pacer {
  constructor(limits) {
    const rps = limits ? Number(limits.requestsPerSecond) : 0;
    const burst = limits ? Number(limits.requestBurst) : 0;
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

// items: [{entry, key, sha256?}] — every file to deliver. received: Set of sha256 the server
// already holds. Events: onProgress({...}), onStatus({kind, seconds}), onFileDone(item).
export class UploadRun {
  constructor({ id, token, items, received, hasher, limits, pacer, onProgress, onStatus, onFileDone }) {
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
    this.signal = new Signal();
    this.pacer = pacer || new Pacer(limits);
    this.inflight = new Map();
    this.aborters = new Set();
    this.totalBytes = this.items.reduce((sum, it) => sum + it.entry.size, 0);
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
    for (let i = from, n = 0; i < this.items.length && n < HASH_AHEAD_FILES && bytes < HASH_AHEAD_BYTES; i++) {
      const item = this.items[i];
      if (item.state !== 'pending' && item.state !== 'sending') {
        continue;
      }
      n++;
      bytes += item.entry.size;
      if (!item.hashPromise) {
        item.hashPromise = item.sha256 ? Promise.resolve(item.sha256) : this.hasher.hash(item.entry.blob);
        item.hashPromise.catch(() => {});
      }
    }
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

  async sendOne(item) {
    let sha;
    try {
      sha = await item.hashPromise;
    } catch (e) {
      this.finish(item, 'failed', 'unreadable');
      return;
    }
    item.sha256 = sha;
    if (this.received.has(sha)) {
      this.finish(item, 'done');
      return;
    }
    let attempt = 0;
    let busyAttempts = 0;
    let rehashed = false;
    while (!this.signal.aborted) {
      await waitOnline(this.signal);
      if (this.signal.aborted) {
        return;
      }
      await this.pacer.take(this.signal);
      if (this.signal.aborted) {
        return;
      }
      this.inflight.set(item, 0);
      let aborter = null;
      let counted = 0;
      const result = await putFile(this.id, this.token, sha, item.entry.blob, {
        onProgress: (loaded) => {
          if (loaded > counted) {
            this.uploadedBytes += loaded - counted;
            counted = loaded;
          }
          this.inflight.set(item, loaded);
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
      if (this.signal.aborted) {
        return;
      }
      const status = result.status;
      const code = result.body && result.body.error;
      if (status === 200 || status === 201) {
        this.pacer.success();
        this.received.add(sha);
        this.finish(item, 'done');
        return;
      }
      this.inflight.set(item, 0);
      this.emit();
      if (status === 422 && code === 'malware') {
        // the site's virus scanner found malware in it: not sent, never retried
        this.finish(item, 'failed', 'malware');
        return;
      }
      if (status === 422) {
        this.finish(item, 'skipped', 'dicomdir');
        return;
      }
      if (status === 404 || (status === 409 && code === 'upload-closed')) {
        this.failFatal('closed', code);
        return;
      }
      if (status === 507) {
        this.failFatal('storageFull', code);
        return;
      }
      if (status === 403) {
        // The site's access filter refuses this client (for example banned for a while).
        this.failFatal('blocked', code);
        return;
      }
      if (status === 409 && code === 'duplicate-instance') {
        // another file with the same SOP Instance UID is already in this upload
        this.finish(item, 'skipped', 'sameImage');
        return;
      }
      if (status === 409 && code === 'hash-mismatch' && !rehashed) {
        rehashed = true;
        try {
          sha = await this.hasher.hash(item.entry.blob);
          item.sha256 = sha;
        } catch (e) {
          this.finish(item, 'failed', 'unreadable');
          return;
        }
        continue;
      }
      if (status === 409 && code === 'hash-mismatch') {
        this.finish(item, 'failed', 'changed');
        return;
      }
      if (status === 413) {
        this.finish(item, 'failed', 'tooLarge');
        return;
      }
      if (status === 400) {
        this.finish(item, 'failed', 'invalid');
        return;
      }
      if (!RETRYABLE.has(status)) {
        this.finish(item, 'failed', 'server');
        return;
      }
      const told = result.retryAfter !== null && result.retryAfter !== undefined &&
        (status === 429 || status === 503);
      if (told) {
        busyAttempts++;
      } else {
        attempt++;
      }
      if (attempt >= MAX_ATTEMPTS || busyAttempts >= MAX_BUSY_ATTEMPTS) {
        this.finish(item, 'failed', status === 0 ? 'network' : 'server');
        return;
      }
      const seconds = told ? Math.max(1, result.retryAfter) : backoffSeconds(attempt);
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
  }

  // Resolves when every file is done, failed or skipped; rejects with FatalUploadError.
  async run() {
    let cursor = 0;
    const lane = async () => {
      while (!this.signal.aborted) {
        while (cursor < this.items.length && this.items[cursor].state !== 'pending') {
          cursor++;
        }
        if (cursor >= this.items.length) {
          return;
        }
        const item = this.items[cursor++];
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
