// The page's side of the hashing worker: hash(blob) → Promise of the lower-case hex SHA-256;
// hashParts(blob, partBytes) → Promise of {sha256, parts} for a file sent in parts.

import { sha256 } from '@noble/hashes/sha2.js';
import { hashWithParts, hex, yieldToBrowser } from './parthash.js';

export class HashError extends Error {
  constructor(name) {
    super(`hashing failed: ${name}`);
    this.reason = name;
  }
}

// Used only where a worker cannot be started: same algorithm, on the page's thread, in
// small chunks with pauses.
async function hashHere(blob) {
  const hash = sha256.create();
  const chunk = 1024 * 1024;
  for (let offset = 0; offset < blob.size; offset += chunk) {
    hash.update(new Uint8Array(await blob.slice(offset, Math.min(blob.size, offset + chunk)).arrayBuffer()));
    await yieldToBrowser();
  }
  return hex(hash.digest());
}

function hashPartsHere(blob, partBytes) {
  return hashWithParts(blob, partBytes, { chunk: 1024 * 1024, native: false, pause: yieldToBrowser });
}

export class Hasher {
  constructor(workerUrl) {
    this.pending = new Map();
    this.nextId = 1;
    try {
      this.worker = new Worker(workerUrl);
      this.worker.onmessage = (event) => this.onMessage(event.data);
      this.worker.onerror = () => this.failAll('WorkerError');
    } catch (e) {
      this.worker = null;
    }
  }

  onMessage(message) {
    const job = this.pending.get(message.id);
    if (!job || message.progress !== undefined) {
      return;
    }
    this.pending.delete(message.id);
    if (message.sha256) {
      job.resolve(job.partBytes ? { sha256: message.sha256, parts: message.parts } : message.sha256);
    } else {
      job.reject(new HashError(message.error));
    }
  }

  failAll(reason) {
    const jobs = [...this.pending.values()];
    this.pending.clear();
    this.worker = null;
    for (const job of jobs) {
      // retry each one on the page's thread
      (job.partBytes ? hashPartsHere(job.blob, job.partBytes) : hashHere(job.blob))
        .then(job.resolve, () => job.reject(new HashError(reason)));
    }
  }

  hash(blob) {
    return this.submit(blob, 0);
  }

  // A file sent in parts: its SHA-256 and those of its parts of "partBytes", in one read.
  hashParts(blob, partBytes) {
    return this.submit(blob, partBytes);
  }

  submit(blob, partBytes) {
    if (!this.worker) {
      return (partBytes ? hashPartsHere(blob, partBytes) : hashHere(blob)).catch((e) => {
        throw new HashError((e && e.name) || 'Error');
      });
    }
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject, blob, partBytes });
      this.worker.postMessage(partBytes ? { id, blob, partBytes } : { id, blob });
    });
  }

  terminate() {
    if (this.worker) {
      this.worker.terminate();
      this.worker = null;
    }
  }
}
