// The upload API (see doc/Api.md), called relative to the page: the page lives at /inbound/
// (on a request link /inbound/r/<token>, whose <base href="../"> points at /inbound/ again).

import { ApiError, requestJson, retryAfterSeconds } from '../../WebShared/http.js';

export { ApiError };

async function call(method, path, { token, json } = {}) {
  const headers = token ? { 'X-Inbound-Token': token } : {};
  return (await requestJson(method, path, { headers, json, redirect: 'error' })) || {};
}

// The plugin's rate limits answer 503 (a proxy's 429) with Retry-After before doing anything:
// such calls are simply made again after the pause asked for.
async function callPolitely(method, path, options) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(method, path, options);
    } catch (error) {
      const busy = (error.status === 503 || error.status === 429) && error.retryAfter !== null &&
        error.retryAfter !== undefined && error.retryAfter <= 60;
      if (!busy || attempt >= 6) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, error.retryAfter) * 1000));
    }
  }
}

const uploadPath = (id) => `api/uploads/${encodeURIComponent(id)}`;
const requestPath = (token) => `api/requests/${encodeURIComponent(token)}`;

export const api = {
  info: () => callPolitely('GET', 'api/info'),
  request: (token) => callPolitely('GET', requestPath(token)),
  challenge: (token, answer) => callPolitely('POST', `${requestPath(token)}/challenge`, { json: { answer } }),
  open: (request) => callPolitely('POST', 'api/uploads', { json: request }),
  status: (id, token) => callPolitely('GET', uploadPath(id), { token }),
  complete: (id, token) => callPolitely('POST', `${uploadPath(id)}/complete`, { token }),
  cancel: (id, token) => callPolitely('DELETE', uploadPath(id), { token }),
};

// One body (a file, a part, an assembly request) with upload progress. Resolves {status, body,
// retryAfter}; status 0 means the request did not get an answer (network down, stalled,
// aborted). "answerMs": how long the answer may take once the body is sent.
function sendBody(method, url, token, body, headers, { onProgress, register, answerMs = 5 * 60 * 1000 }) {
  const size = typeof body === 'string' ? body.length : body.size;
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    let lastActivity = Date.now();
    let settled = false;
    let sent = false;
    const finish = (result) => {
      if (settled) {
        return;
      }
      settled = true;
      clearInterval(watchdog);
      if (register) {
        register(null);
      }
      resolve(result);
    };
    // A request that makes no progress for too long is given up and retried.
    const watchdog = setInterval(() => {
      const limit = sent ? answerMs : 90 * 1000;
      if (Date.now() - lastActivity > limit) {
        xhr.abort();
        finish({ status: 0, stalled: true });
      }
    }, 5000);
    xhr.open(method, url);
    xhr.setRequestHeader('X-Inbound-Token', token);
    for (const [name, value] of Object.entries(headers)) {
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (event) => {
      lastActivity = Date.now();
      if (onProgress) {
        onProgress(event.loaded);
      }
    };
    xhr.upload.onload = () => {
      lastActivity = Date.now();
      sent = true;
      if (onProgress) {
        onProgress(size);
      }
    };
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch (e) {
        body = null;
      }
      finish({ status: xhr.status, body, retryAfter: retryAfterSeconds(xhr.getResponseHeader('Retry-After')) });
    };
    xhr.onerror = () => finish({ status: 0 });
    xhr.onabort = () => finish({ status: 0, aborted: true });
    xhr.ontimeout = () => finish({ status: 0 });
    if (register) {
      register(() => xhr.abort());
    }
    xhr.send(body);
  });
}

const filePath = (id, sha256) => `${uploadPath(id)}/files/${sha256}`;

// One whole file.
export function putFile(id, token, sha256, blob, hooks) {
  return sendBody('PUT', filePath(id, sha256), token, blob, { 'Content-Type': 'application/dicom' }, hooks);
}

// Part n of the file "sha256" (a slice of it) with its own SHA-256 (doc/Api.md, large files).
export function putPart(id, token, sha256, n, partSha256, blob, hooks) {
  return sendBody('PUT', `${filePath(id, sha256)}/parts/${n}`, token, blob,
    { 'Content-Type': 'application/octet-stream', 'X-Inbound-Part-Sha256': partSha256 }, hooks);
}

// The file's "count" parts made into the file, checked and stored on the server: answers like
// putFile. Checking and storing a file of several gigabytes takes a while: its answer may take
// up to an hour.
export function assembleFile(id, token, sha256, count, hooks) {
  return sendBody('POST', `${filePath(id, sha256)}/assemble`, token, JSON.stringify({ parts: count }),
    { 'Content-Type': 'application/json' }, { ...hooks, answerMs: 60 * 60 * 1000 });
}
