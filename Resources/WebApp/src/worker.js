// The hashing worker: SHA-256 of one file at a time, away from the page's thread.
// Message in: {id, blob} (or {id, blob, partBytes} for a file sent in parts: then also the
// hashes of its parts, parthash.js). Messages out: {id, progress} while hashing, then
// {id, sha256[, parts]} or {id, error}. Small and medium files are hashed by the browser's native SHA-256 in one go;
// large files (and browsers without crypto.subtle) are hashed incrementally in chunks, so that
// a file of hundreds of megabytes is never held in memory as a whole.

import { sha256 } from '@noble/hashes/sha2.js';
import { hashWithParts, hex } from './parthash.js';

const NATIVE_LIMIT = 128 * 1024 * 1024;
const CHUNK = 8 * 1024 * 1024;

async function hashNative(blob) {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return hex(new Uint8Array(digest));
}

async function hashIncremental(id, blob) {
  const hash = sha256.create();
  for (let offset = 0; offset < blob.size; offset += CHUNK) {
    const end = Math.min(blob.size, offset + CHUNK);
    hash.update(new Uint8Array(await blob.slice(offset, end).arrayBuffer()));
    self.postMessage({ id, progress: end });
  }
  return hex(hash.digest());
}

const queue = [];
let busy = false;

async function drain() {
  if (busy) {
    return;
  }
  busy = true;
  while (queue.length) {
    const { id, blob, partBytes } = queue.shift();
    try {
      if (partBytes) {
        const { sha256: value, parts } = await hashWithParts(blob, partBytes, {
          onProgress: (done) => self.postMessage({ id, progress: done }),
        });
        self.postMessage({ id, sha256: value, parts });
        continue;
      }
      const native = self.crypto && self.crypto.subtle && blob.size <= NATIVE_LIMIT;
      const value = native ? await hashNative(blob) : await hashIncremental(id, blob);
      self.postMessage({ id, sha256: value });
    } catch (error) {
      self.postMessage({ id, error: (error && error.name) || 'Error' });
    }
  }
  busy = false;
}

self.onmessage = (event) => {
  queue.push(event.data);
  drain();
};
