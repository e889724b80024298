// The upload page's state and its frame: which step is shown, the step list, the notice, and
// the site's name and offers from api/info that every step reads.

import { $ } from '../../WebShared/dom.js';
import { availableLanguages, t } from '../../WebShared/i18n.js';

const STEPS = ['request', 'privacy', 'details', 'images', 'send', 'receipt'];

export const state = {
  info: null,
  view: 'loading',
  consentVersion: null,
  sender: null,
  recipient: null,
  message: '',
  detailErrors: null,
  scanResult: null,
  scanId: 0,
  resume: null, // {stored, received: Set} when continuing an interrupted upload
  upload: null, // {id, token, createdAt}
  items: [],
  run: null,
  sending: false,
  receipt: null,
  problem: null,
  hasher: null,
  // On a request link (/inbound/r/<token>): {token, info (api/requests/<token>), ticket,
  // expected: {patientName, birthDate}} — expected only once the challenge is passed.
  request: null,
  checks: null, // the patients found, compared with the requested one (matchview.js)
  onChecksChange: null,
};

export function siteName() {
  return (state.info && state.info.siteName) || 'Orthanc Inbound';
}

// A text with the site's name as {site}.
export function tp(key, params) {
  return t(key, { site: siteName(), ...params });
}

// The recipients to choose from: none on a request link (the request names its recipient).
export function recipients() {
  if (state.request) {
    return [];
  }
  return (state.info && Array.isArray(state.info.recipients)) ? state.info.recipients : [];
}

// The languages the site offers (api/info) that the page has texts for.
export function offeredLanguages() {
  const available = availableLanguages();
  const offered = state.info && Array.isArray(state.info.languages)
    ? state.info.languages.filter((l) => available.includes(l)) : [];
  return offered.length ? offered : available;
}

function stepOf(view) {
  if (view === 'resume') {
    return 'images';
  }
  return STEPS.includes(view) ? view : null;
}

export function renderSteps() {
  const current = stepOf(state.view);
  $('steps').hidden = !current;
  const index = STEPS.indexOf(current);
  let number = 0;
  for (const li of document.querySelectorAll('#steps li')) {
    const i = STEPS.indexOf(li.dataset.step);
    li.hidden = li.dataset.step === 'request' && !state.request;
    if (!li.hidden) {
      li.querySelector('.step-num').textContent = String(++number);
    }
    li.classList.toggle('done', i < index);
    if (i === index) {
      li.setAttribute('aria-current', 'step');
    } else {
      li.removeAttribute('aria-current');
    }
    li.querySelector('.step-state').textContent =
      i === index ? ` ${t('steps.current')}` : i < index ? ` ${t('steps.done')}` : '';
  }
}

export function showView(view, { focus = true } = {}) {
  state.view = view;
  for (const node of document.querySelectorAll('.view')) {
    node.hidden = node.id !== `view-${view}`;
  }
  renderSteps();
  if (focus) {
    const heading = document.querySelector(`#view-${view} h2`);
    if (heading) {
      heading.focus();
      heading.scrollIntoView({ block: 'nearest' });
      window.scrollTo({ top: 0 });
    }
  }
}

export function showNotice(text) {
  const notice = $('notice');
  notice.textContent = text || '';
  notice.hidden = !text;
}
