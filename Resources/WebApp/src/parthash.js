// SHA-256 of a file sent in parts and of each of its parts, in one read of the file: slices
// of it (Blob.slice), never the whole file in memory (used by the worker and, without one, on the page).

import { sha256 } from '@noble/hashes/sha2.js';

// Parts up to this size are read whole and hashed by the browser's native SHA-256 as well;
// larger parts are read in chunks.
const NATIVE_PART_LIMIT = 64 * 1024 * 1024;
const CHUNK = 8 * 1024 * 1024;

export function hex(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    out += bytes[i].toString(16).padStart(2, '0');
  }
  return out;
}

// Lets the page breathe between chunks of work on its thread.
export function yieldToBrowser() {
  if (globalThis.scheduler && typeof globalThis.scheduler.yield === 'function') {
    return globalThis.scheduler.yield();
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

async function readSlice(blob, start, end) {
  return new Uint8Array(await blob.slice(start, end).arrayBuffer());
}

// {sha256, parts: [hex of part 0, 1, …]} of "blob" cut into parts of "partBytes" (the last one
// smaller or equal). Options: chunk (bytes read at a time when not native), native (false: the
// parts are hashed by @noble/hashes too), onProgress(bytesDone), pause() awaited between chunks.
export async function hashWithParts(blob, partBytes, options = {}) {
  const { chunk = CHUNK, onProgress = null, pause = null } = options;
  const subtle = options.native !== false && globalThis.crypto && globalThis.crypto.subtle;
  const whole = sha256.create();
  const parts = [];
  for (let start = 0; start < blob.size; start += partBytes) {
    const end = Math.min(blob.size, start + partBytes);
    if (subtle && end - start <= NATIVE_PART_LIMIT) {
      const bytes = await readSlice(blob, start, end);
      whole.update(bytes);
      parts.push(hex(new Uint8Array(await subtle.digest('SHA-256', bytes))));
    } else {
      const part = sha256.create();
      for (let offset = start; offset < end; offset += chunk) {
        const bytes = await readSlice(blob, offset, Math.min(end, offset + chunk));
        whole.update(bytes);
        part.update(bytes);
        if (pause) {
          await pause();
        }
      }
      parts.push(hex(part.digest()));
    }
    if (onProgress) {
      onProgress(end);
    }
    if (pause) {
      await pause();
    }
  }
  return { sha256: hex(whole.digest()), parts };
}
