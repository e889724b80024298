// Numbers, sizes and DICOM dates as people read them, in the page's current language.

import { locale } from './i18n.js';

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

// Sizes in SI units (1 kB = 1000 bytes), the convention of the mails
// (NotificationPayloads::FormatSize in Plugin/Notify):
// whole bytes below 1 kB, one decimal above ("55.1 kB", German "55,1 kB"), never
// "1000.0 kB" but "1.0 MB". Both pages show this, so that a size reads the same everywhere.
export function formatBytes(bytes) {
  let value = Math.max(0, Number(bytes) || 0);
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  const roundsUp = unit === 0 ? value >= 999.5 : value >= 999.95;
  if (roundsUp && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  if (unit === 0) {
    return `${Math.round(value)} B`;
  }
  // Ties to even, as the C library's "%.1f" of the mails: 1250 bytes are "1.2 kB" in both.
  const number = new Intl.NumberFormat(locale(), {
    minimumFractionDigits: 1, maximumFractionDigits: 1, useGrouping: false, roundingMode: 'halfEven',
  }).format(value);
  return `${number} ${UNITS[unit]}`;
}

export function formatNumber(n) {
  return new Intl.NumberFormat(locale()).format(Number(n) || 0);
}

// DICOM DA "YYYYMMDD" → a local date; anything else is given back as it is (trimmed).
export function formatDicomDate(value) {
  const text = String(value || '').trim();
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  if (!m) {
    return text;
  }
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (Number.isNaN(date.getTime())) {
    return text;
  }
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeZone: 'UTC' }).format(date);
}
