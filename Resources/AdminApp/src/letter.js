// The printable letter of a request just created: the site, who asks, the hospital's message,
// how to send, the link as text and as QR code, the expiry and, for challenge "code", the code
// or a blank to write it in. Written in the request's language; printed alone on one A4 page
// (admin.css, "@media print"). The link exists only in this page: the server keeps its hash.

import { $, el } from '../../WebShared/dom.js';
import { languageInfo } from '../../WebShared/languages.js';
import { qrSvg } from './qr.js';
import { texts } from './texts.js';

// A text of the letter in "language" (the request's, not necessarily the page's).
function letterText(language, key, params = {}) {
  const table = texts[language] || texts.en;
  const text = table[key] !== undefined ? table[key] : texts.en[key];
  return String(text).replace(/\{(\w+)\}/g, (match, name) =>
    (params[name] !== undefined ? String(params[name]) : match));
}

function formatExpiry(iso, language) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) {
    return '';
  }
  return new Intl.DateTimeFormat(languageInfo(language).locale, { dateStyle: 'long', timeStyle: 'short' }).format(date);
}

function secondStep(request, leaveCodeOut) {
  if (request.challenge === 'birthDate') {
    return 'letter.step2.birthDate';
  }
  if (request.challenge === 'code') {
    return leaveCodeOut ? 'letter.step2.codeBlank' : 'letter.step2.code';
  }
  return null;
}

// request: {siteName, recipientName, message, url, expiresAt, challenge, code, language};
// leaveCodeOut: a blank line instead of the code.
export function renderLetter(request, leaveCodeOut) {
  const lang = request.language;
  const tx = (key, params) => letterText(lang, key, params);
  const letter = $('letter');
  letter.lang = lang;
  const step2 = secondStep(request, leaveCodeOut);
  const steps = el('ol', { className: 'letter-steps' },
    el('li', {}, tx('letter.step1')),
    step2 ? el('li', {}, tx(step2)) : null,
    el('li', {}, tx('letter.step3')));
  let code = null;
  if (request.challenge === 'code') {
    code = el('p', { className: 'letter-code' },
      el('span', { className: 'letter-code-label' }, `${tx('letter.code')}: `),
      leaveCodeOut || !request.code
        ? el('span', { className: 'letter-blank', 'aria-label': tx('letter.code') }, '\u00a0')
        : el('strong', { className: 'letter-code-value' }, request.code));
  }
  letter.replaceChildren(
    el('p', { className: 'letter-site' }, request.siteName || ''),
    el('h2', { id: 'letter-label', className: 'letter-title' }, tx('letter.title')),
    el('p', { className: 'letter-from' }, tx('letter.from', { recipient: request.recipientName || '' })),
    request.message
      ? el('div', { className: 'letter-message' },
        el('h3', {}, tx('letter.message')),
        el('p', {}, request.message))
      : null,
    el('h3', {}, tx('letter.how')),
    steps,
    el('div', { className: 'letter-link-box' },
      qrSvg(request.url, tx('letter.qr'), 'qr letter-qr'),
      el('div', { className: 'letter-link-text' },
        el('p', { className: 'letter-link-label' }, tx('letter.link')),
        el('p', { className: 'letter-link' }, request.url),
        el('p', { className: 'letter-expiry' }, tx('letter.expires', { date: formatExpiry(request.expiresAt, lang) })),
        code)));
  document.body.classList.add('has-letter');
}

// The letter is printed only while the request just created is shown; elsewhere printing
// prints the page.
export function hideLetter() {
  document.body.classList.remove('has-letter');
}
