// Sending the files of an open upload: hashes are computed in the worker a few files ahead,
// three PUT requests run in parallel, each file is retried with exponential back-off on
// network errors and on 429/503 (honouring Retry-After), and progress is reported in bytes.

import { putFile } from './api.js';
import { HashError } from './hash.js';

export class FatalUploadError extends Error {
  constructor(kind, detail) {
    super(kind);
    this.kind = kind; // 'closed' | 'storageFull' | 'cancelled'
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

// items: [{entry, key, sha256?}] — every file to deliver. received: Set of sha256 the server
// already holds. Events: onProgress({...}), onStatus({kind, seconds}), onFileDone(item).
export class UploadRun {
  constructor({ id, token, items, received, hasher, onProgress, onStatus, onFileDone }) {
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
        this.received.add(sha);
        this.finish(item, 'done');
        return;
      }
      this.inflight.set(item, 0);
      this.emit();
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

export { HashError };
