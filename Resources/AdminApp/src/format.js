// How the admin page shows times (absolute and relative), states, senders, sizes, DICOM
// dates and request matches; "—" or "unknown" where a value is missing.

import { el } from '../../WebShared/dom.js';
import { formatBytes, formatDicomDate } from '../../WebShared/format.js';
import { hasText, locale, t } from '../../WebShared/i18n.js';

function parseTime(iso) {
  if (!iso) {
    return null;
  }
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : new Date(ms);
}

export function formatTime(iso) {
  const date = parseTime(iso);
  if (!date) {
    return t('none');
  }
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'medium' }).format(date);
}

// "3 minutes ago", "in 2 hours".
export function formatAge(iso) {
  const date = parseTime(iso);
  if (!date) {
    return t('none');
  }
  const seconds = (date.getTime() - Date.now()) / 1000;
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
  const steps = [[60, 'second'], [3600, 'minute'], [86400, 'hour'], [86400 * 30, 'day'], [86400 * 365, 'month']];
  const abs = Math.abs(seconds);
  if (abs < 60) {
    return rtf.format(Math.round(seconds), 'second');
  }
  for (let i = 1; i < steps.length; i++) {
    if (abs < steps[i][0]) {
      return rtf.format(Math.round(seconds / steps[i - 1][0]), steps[i - 1][1]);
    }
  }
  return rtf.format(Math.round(seconds / (86400 * 365)), 'year');
}

// <time> with the full time as its title; relative: "3 minutes ago" as its text.
export function timeElement(iso, relative = false) {
  const date = parseTime(iso);
  if (!date) {
    return document.createTextNode(t('none'));
  }
  return el('time', { datetime: date.toISOString(), title: formatTime(iso) }, relative ? formatAge(iso) : formatTime(iso));
}

export function dicomDate(value) {
  return formatDicomDate(value) || t('none');
}

// "19700131" or "1970-01-31" → "1970-01-31" for <input type="date">; anything else → "".
export function dateInputValue(value) {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(String(value || '').trim());
  return m ? `${m[1]}-${m[2]}-${m[3]}` : '';
}

// Whether the images of an upload bound to a request are of its patient (null: not known yet).
export function matchText(matched) {
  if (matched === true) {
    return t('upload.matched');
  }
  return matched === false ? t('upload.mismatch') : t('upload.matchUnknown');
}

export function size(bytes) {
  return bytes === null || bytes === undefined ? t('unknown') : formatBytes(bytes);
}

export function stateBadge(state) {
  const known = `state.${state}`;
  const text = hasText(known) ? t(known) : String(state || t('unknown'));
  const safe = /^[a-z]+$/.test(state || '') ? state : 'unknown';
  return el('span', { className: `badge badge-${safe}` }, text);
}

// "upload": the upload's JSON; on a sealing gateway its sender is sealed for the inside.
export function senderName(upload) {
  const sender = (upload && upload.sender) || {};
  if (upload && upload.sealed && !sender.name) {
    return t('sealedSender');
  }
  return sender.name || t('unknownSender');
}
