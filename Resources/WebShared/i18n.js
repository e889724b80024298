// The texts of a web page in its current language: {named} placeholders, plural forms
// ({one, other} objects), the browser's preferred language and the page's data-i18n nodes.

import { LANGUAGE_CODES, languageInfo } from './languages.js';

const FALLBACK = LANGUAGE_CODES[0];
let tables = {};
let current = FALLBACK;
const listeners = [];

// The page's text tables, one per language code of languages.js.
export function useTexts(byLanguage) {
  tables = byLanguage;
}

// The languages the page has texts for, in the order of languages.js.
export function availableLanguages() {
  return LANGUAGE_CODES.filter((code) => tables[code]);
}

export function language() {
  return current;
}

export function locale() {
  return languageInfo(current).locale;
}

export function setLanguage(code) {
  if (!tables[code] || code === current) {
    return;
  }
  current = code;
  for (const listener of listeners) {
    listener(code);
  }
}

export function onLanguageChange(listener) {
  listeners.push(listener);
}

// The best language for this browser among the offered ones (the first one as fallback);
// a language the person chose before ("stored") wins.
export function preferredLanguage(offered, stored) {
  const available = (offered && offered.length ? offered : availableLanguages()).filter((l) => tables[l]);
  if (available.length === 0) {
    return FALLBACK;
  }
  if (stored && available.includes(stored)) {
    return stored;
  }
  const wanted = (navigator.languages && navigator.languages.length)
    ? navigator.languages : [navigator.language || ''];
  for (const tag of wanted) {
    const primary = String(tag).toLowerCase().split('-')[0];
    if (available.includes(primary)) {
      return primary;
    }
  }
  return available[0];
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (match, name) =>
    (params && params[name] !== undefined ? String(params[name]) : match));
}

export function t(key, params) {
  let value = tables[current] ? tables[current][key] : undefined;
  if (value === undefined && tables[FALLBACK]) {
    value = tables[FALLBACK][key];
  }
  if (value === undefined) {
    return key;
  }
  if (typeof value === 'object') {
    const n = params && typeof params.n === 'number' ? params.n : 0;
    value = value[new Intl.PluralRules(locale()).select(n)] || value.other;
    params = { ...params, n: n.toLocaleString(locale()) };
  }
  return fill(value, params);
}

// A count with its noun, e.g. tn('count.images', 3) = "3 images".
export function tn(key, n) {
  return t(key, { n: Number(n) || 0 });
}

// Whether the current table (or the fallback) has this key.
export function hasText(key) {
  return Boolean((tables[current] && key in tables[current]) || (tables[FALLBACK] && key in tables[FALLBACK]));
}

// The texts of the static markup: data-i18n (text) and data-i18n-aria-label (aria-label).
export function translateDocument(translate = t) {
  document.documentElement.lang = current;
  for (const node of document.querySelectorAll('[data-i18n]')) {
    node.textContent = translate(node.dataset.i18n);
  }
  for (const node of document.querySelectorAll('[data-i18n-aria-label]')) {
    node.setAttribute('aria-label', translate(node.dataset.i18nAriaLabel));
  }
}
