// The page's side of the hashing worker: hash(blob) → Promise of the lower-case hex SHA-256.

import { sha256 } from '@noble/hashes/sha2.js';
import { yieldToBrowser } from './scan.js';

export class HashError extends Error {
  constructor(name) {
    super(`hashing failed: ${name}`);
    this.reason = name;
  }
}

function hex(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    out += bytes[i].toString(16).padStart(2, '0');
  }
  return out;
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
      job.resolve(message.sha256);
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
      hashHere(job.blob).then(job.resolve, () => job.reject(new HashError(reason)));
    }
  }

  hash(blob) {
    if (!this.worker) {
      return hashHere(blob).catch((e) => {
        throw new HashError((e && e.name) || 'Error');
      });
    }
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject, blob });
      this.worker.postMessage({ id, blob });
    });
  }

  terminate() {
    if (this.worker) {
      this.worker.terminate();
      this.worker = null;
    }
  }
}
