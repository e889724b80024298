// The admin API (/inbound/admin/, see doc/Api.md) as the admin page calls it, and its errors
// in words.

import { ApiError, requestJson } from '../../WebShared/http.js';
import { t } from '../../WebShared/i18n.js';

const API = '/inbound/admin/';

// Every call says it comes from this page's own script: the plugin refuses admin writes
// (POST, PUT, DELETE) without X-Requested-With or the site's own Origin (403 cross-site), so
// that a page on another site cannot use the browser's cached credentials (CSRF). Another
// site cannot add this header without a CORS preflight, which Orthanc never grants.
export function api(method, path, body) {
  return requestJson(method, API + path, { headers: { 'X-Requested-With': 'XMLHttpRequest' }, json: body });
}

// "?a=1&b=2" of the parameters that have a value, or "".
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') {
      search.set(key, value);
    }
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

// An error as the admin reads it: the API's message with its code and HTTP status.
export function describeError(error) {
  if (!(error instanceof ApiError)) {
    return String((error && error.message) || error);
  }
  if (!error.status) {
    return t('error.network');
  }
  return t('error.format', {
    message: error.serverMessage || t('error.http', { status: error.status }),
    code: error.code || 'error',
    status: error.status,
  });
}
