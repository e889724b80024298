// The upload API (see README.md, "HTTP API"), called relative to the page: the page lives at
// /inbound/.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.retryAfter = retryAfter;
  }
}

function retryAfterSeconds(value) {
  const seconds = Number.parseInt(value, 10);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 3600) : null;
}

async function call(method, path, { token, json } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) {
    headers['X-Inbound-Token'] = token;
  }
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: json !== undefined ? JSON.stringify(json) : undefined,
      cache: 'no-store',
      credentials: 'same-origin',
      redirect: 'error',
    });
  } catch (e) {
    throw new ApiError(0, 'network', e && e.message);
  }
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, body && body.error, body && body.message,
      retryAfterSeconds(response.headers.get('Retry-After')));
  }
  return body || {};
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

export const api = {
  info: () => callPolitely('GET', 'api/info'),
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
