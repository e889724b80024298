// What the browser remembers of an unfinished upload, so that it can be continued after the
// page was closed: {id, token, site, createdAt, sender, totalFiles, totalBytes, studies, keys,
// hashes, partial}. `keys` identify the files of the upload (relative path and size), `hashes`
// map the keys of files known to have arrived to their SHA-256, `partial` those of files sent
// in parts and not yet assembled to {name, size, lastModified, sha256} (the server says which
// parts it holds). Never any content of the files.

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { requestTokenFromPath } from './request.js';

// One entry per page. A request link's token opens new uploads: only a digest of it is used.
function storageKey() {
  const token = requestTokenFromPath(location.pathname);
  return token
    ? `orthanc-inbound:upload:request:${bytesToHex(sha256(new TextEncoder().encode(token))).slice(0, 32)}`
    : `orthanc-inbound:upload:${location.pathname}`;
}

const STORAGE_KEY = storageKey();
const VERSION = 1;

function storage() {
  try {
    return window.localStorage;
  } catch (e) {
    return null;
  }
}

export function loadResume() {
  const store = storage();
  if (!store) {
    return null;
  }
  try {
    const state = JSON.parse(store.getItem(STORAGE_KEY) || 'null');
    if (state && state.v === VERSION && typeof state.id === 'string' && typeof state.token === 'string') {
      state.hashes = state.hashes && typeof state.hashes === 'object' ? state.hashes : {};
      state.keys = Array.isArray(state.keys) ? state.keys : [];
      state.studies = Array.isArray(state.studies) ? state.studies : [];
      state.partial = state.partial && typeof state.partial === 'object' ? state.partial : {};
      return state;
    }
  } catch (e) {
    // unreadable: forget it
  }
  return null;
}

export function saveResume(state) {
  const store = storage();
  if (!store) {
    return;
  }
  const full = { ...state, v: VERSION };
  try {
    store.setItem(STORAGE_KEY, JSON.stringify(full));
  } catch (e) {
    // Over quota with many files: keep what is needed to resume, the files are re-hashed.
    try {
      store.setItem(STORAGE_KEY, JSON.stringify({ ...full, hashes: {}, keys: [] }));
    } catch (e2) {
      // nothing to do: resuming will not be offered
    }
  }
}

export function clearResume() {
  const store = storage();
  if (store) {
    try {
      store.removeItem(STORAGE_KEY);
    } catch (e) {
      // ignore
    }
  }
}

// Writes at most every `ms` milliseconds (and on flush), for uploads of many files.
export function throttledSaver(ms) {
  let timer = null;
  let latest = null;
  const write = () => {
    timer = null;
    if (latest) {
      saveResume(latest());
    }
  };
  return {
    schedule(getState) {
      latest = getState;
      if (!timer) {
        timer = setTimeout(write, ms);
      }
    },
    flush() {
      if (timer) {
        clearTimeout(timer);
      }
      write();
    },
    cancel() {
      if (timer) {
        clearTimeout(timer);
      }
      timer = null;
      latest = null;
    },
  };
}

// The upload's progress, written at most every 2 seconds while files arrive.
export const saver = throttledSaver(2000);

// The upload's token is a key to it: once the upload is complete, cancelled, expired or
// unknown to the server (404), nothing of it may stay in this browser (a shared computer, a
// later visitor). A save still scheduled by the throttle is dropped too, so that it cannot
// write the token back after it was forgotten.
export function forgetUpload() {
  saver.cancel();
  clearResume();
}
