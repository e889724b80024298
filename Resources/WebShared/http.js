// JSON requests to the plugin's API from either page, and the error they raise:
// {status, code, message} from the API's {"error", "message"} answers (status 0: no answer).

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.serverMessage = status ? message || '' : '';  // the API's own explanation, if any
    this.retryAfter = retryAfter;
  }
}

// Retry-After in seconds (at most an hour), or null.
export function retryAfterSeconds(value) {
  const seconds = Number.parseInt(value, 10);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 3600) : null;
}

// Sends a request with an optional JSON body and resolves the JSON answer (null when empty or
// not JSON). Never cached, credentials of this site only.
export async function requestJson(method, url, { headers = {}, json, redirect = 'follow' } = {}) {
  const init = {
    method,
    headers: { Accept: 'application/json', ...headers },
    cache: 'no-store',
    credentials: 'same-origin',
    redirect,
  };
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, 'network', e && e.message);
  }
  let body = null;
  try {
    const text = await response.text();
    body = text ? JSON.parse(text) : null;
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    const code = body && typeof body.error === 'string' ? body.error : '';
    const message = body && typeof body.message === 'string' ? body.message : '';
    const error = new ApiError(response.status, code, message, retryAfterSeconds(response.headers.get('Retry-After')));
    error.body = body; // the answer's other fields, e.g. remainingAttempts
    throw error;
  }
  return body;
}
