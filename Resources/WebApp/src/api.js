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

// One file, with upload progress. Resolves {status, body, retryAfter}; status 0 means the
// request did not get an answer (network down, stalled, aborted).
export function putFile(id, token, sha256, blob, { onProgress, register }) {
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
      const limit = sent ? 5 * 60 * 1000 : 90 * 1000;
      if (Date.now() - lastActivity > limit) {
        xhr.abort();
        finish({ status: 0, stalled: true });
      }
    }, 5000);
    xhr.open('PUT', `${uploadPath(id)}/files/${sha256}`);
    xhr.setRequestHeader('X-Inbound-Token', token);
    xhr.setRequestHeader('Content-Type', 'application/dicom');
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
        onProgress(blob.size);
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
    xhr.send(blob);
  });
}
