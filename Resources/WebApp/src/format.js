// Numbers, sizes, durations, dates and names as people read them.

import { locale, t, tn } from './i18n.js';

export function formatBytes(bytes) {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = Math.max(0, Number(bytes) || 0);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toLocaleString(locale(), { maximumFractionDigits: digits })} ${t('unit.' + units[unit])}`;
}

export function formatDuration(seconds) {
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) {
    return tn('time.seconds', s < 10 ? s : Math.round(s / 5) * 5);
  }
  if (s < 3600) {
    return tn('time.minutes', Math.round(s / 60));
  }
  const hours = Math.floor(s / 3600);
  const minutes = Math.round((s % 3600) / 60);
  return minutes ? `${tn('time.hours', hours)} ${tn('time.minutes', minutes)}` : tn('time.hours', hours);
}

// DICOM DA "YYYYMMDD" → a local date; anything else is shown as it is.
export function formatDicomDate(value) {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(String(value || '').trim());
  if (!m) {
    return String(value || '').trim();
  }
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (Number.isNaN(date.getTime())) {
    return value;
  }
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeZone: 'UTC' }).format(date);
}

export function formatDateTime(value) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) {
    return String(value || '');
  }
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'long', timeStyle: 'short' }).format(date);
}

// DICOM PN "Family^Given^Middle^Prefix^Suffix" (alphabetic group first) → "Family, Given Middle".
export function formatPersonName(value) {
  const groups = String(value || '').split('=');
  const group = groups.find((g) => g.replace(/\^/g, '').trim() !== '') || '';
  const [family = '', given = '', middle = '', prefix = '', suffix = ''] =
    group.split('^').map((part) => part.trim());
  const first = [prefix, given, middle].filter(Boolean).join(' ');
  let name = family && first ? `${family}, ${first}` : family || first;
  if (suffix) {
    name += ` ${suffix}`;
  }
  return name;
}
