// Durations, dates with times and person names as senders read them (sizes, numbers and
// DICOM dates: Resources/WebShared/format.js).

import { locale, tn } from '../../WebShared/i18n.js';

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
