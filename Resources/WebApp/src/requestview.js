// Where the page starts (a request link, the open page, or "uploads need a link" when the
// site accepts only requests), and on a request link the first step: who asks, the
// hospital's message, expiry and uploads left, and the challenge. No patient data is shown
// before the challenge is passed: the server sends none until then.

import { $, el } from '../../WebShared/dom.js';
import { locale, setLanguage, t } from '../../WebShared/i18n.js';
import { api } from './api.js';
import { formatDateTime } from './format.js';
import { renderExpectedNote } from './matchview.js';
import { offeredLanguages, showView, siteName, state, tp } from './page.js';
import { challengeAnswer, requestProblem } from './request.js';

let answering = false;

// The first view once api/info is known (and no interrupted upload is continued).
export function showStart({ focus = false } = {}) {
  if (state.request) {
    loadRequest(focus);
  } else if (state.info && state.info.openUploads === false) {
    showView('requests-only', { focus });
  } else {
    showView('privacy', { focus });
  }
}

async function loadRequest(focus) {
  showView('loading', { focus: false });
  let info;
  try {
    info = await api.request(state.request.token);
  } catch (e) {
    const problem = requestProblem(e);
    if (problem) {
      showRequestProblem(problem);
    } else {
      showView('load-error', { focus: false });
    }
    return;
  }
  state.request.info = info;
  // The request's language is the page's first language; the sender may still switch.
  if (!state.request.languageApplied) {
    state.request.languageApplied = true;
    if (offeredLanguages().includes(info.language)) {
      setLanguage(info.language); // renders the page again, the request included
    }
  }
  renderRequest();
  showView('request', { focus });
  const input = challengeInput();
  if (input && focus) {
    input.focus();
  }
}

function challengeInput() {
  const kind = state.request && state.request.info && state.request.info.challenge;
  return kind === 'birthDate' ? $('challenge-birthdate') : kind === 'code' ? $('challenge-code') : null;
}

function recipientName() {
  const info = state.request && state.request.info;
  return (info && info.recipient && (info.recipient.name || info.recipient.id)) || '';
}

export function renderRequest() {
  const info = state.request && state.request.info;
  if (!info) {
    return;
  }
  const facts = $('request-facts');
  facts.replaceChildren();
  const fact = (label, value) => facts.append(el('dt', { text: t(label) }), el('dd', { text: value }));
  const recipient = recipientName();
  fact('request.from', recipient ? tp('request.fromValue', { recipient }) : siteName());
  if (info.expiresAt) {
    fact('request.validUntil', formatDateTime(info.expiresAt));
  }
  if (typeof info.remainingUploads === 'number') {
    fact('request.uploadsLeft', info.remainingUploads.toLocaleString(locale()));
  }
  $('request-message-box').hidden = !info.message;
  $('request-message').textContent = info.message || '';
  const kind = info.challenge;
  $('challenge-birthdate-field').hidden = kind !== 'birthDate';
  $('challenge-code-field').hidden = kind !== 'code';
  $('challenge-intro').textContent = tp(kind === 'birthDate' ? 'challenge.birthDateIntro'
    : kind === 'code' ? 'challenge.codeIntro' : 'challenge.noneIntro');
  $('challenge-birthdate').max = new Date().toISOString().slice(0, 10);
  const error = $('challenge-error');
  if (!error.hidden && error.dataset.key) {
    error.textContent = tp(error.dataset.key, JSON.parse(error.dataset.params || '{}'));
  }
}

function showChallengeError(key, params) {
  const error = $('challenge-error');
  error.dataset.key = key;
  error.dataset.params = JSON.stringify(params || {});
  error.textContent = tp(key, params);
  error.hidden = false;
  const input = challengeInput();
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

function clearChallengeError() {
  const error = $('challenge-error');
  error.hidden = true;
  error.textContent = '';
  delete error.dataset.key;
  for (const input of [$('challenge-birthdate'), $('challenge-code')]) {
    input.removeAttribute('aria-invalid');
  }
}

async function onChallengeSubmit(event) {
  event.preventDefault();
  if (answering || !state.request || !state.request.info) {
    return;
  }
  const kind = state.request.info.challenge;
  const input = challengeInput();
  const checked = challengeAnswer(kind, input ? input.value : '');
  if (checked.error) {
    showChallengeError(checked.error);
    return;
  }
  answering = true;
  $('challenge-submit').disabled = true;
  let result;
  try {
    result = await api.challenge(state.request.token, checked.answer);
  } catch (e) {
    const problem = requestProblem(e);
    if (!problem) {
      showChallengeError('request.unreachable');
    } else if (problem.final) {
      showRequestProblem(problem);
    } else {
      showChallengeError(problem.key, problem.params);
    }
    return;
  } finally {
    answering = false;
    $('challenge-submit').disabled = false;
  }
  clearChallengeError();
  for (const field of [$('challenge-birthdate'), $('challenge-code')]) {
    field.value = '';
  }
  state.request.ticket = result.ticket;
  state.request.ticketExpiresAt = result.ticketExpiresAt;
  state.request.expected = result.expected && typeof result.expected === 'object' ? result.expected : null;
  renderExpectedNote();
  showView('privacy');
}

// A request that cannot be used (unknown, expired, used, revoked, locked) or a refusal met
// later on (requests-only): what happened and whom to ask.
export function showRequestProblem(problem) {
  if (problem.key === 'requestsOnly.text') {
    showView('requests-only');
    return;
  }
  state.request.problem = problem;
  renderRequestProblem();
  showView('request-error');
}

export function renderRequestProblem() {
  const problem = state.request && state.request.problem;
  if (!problem) {
    return;
  }
  $('request-error-text').textContent = tp(problem.key, problem.params);
  $('request-error-how').textContent = tp('request.contact');
}

export function wireRequest() {
  $('challenge-form').addEventListener('submit', onChallengeSubmit);
  for (const input of [$('challenge-birthdate'), $('challenge-code')]) {
    input.addEventListener('input', () => {
      if (!$('challenge-error').hidden) {
        clearChallengeError();
      }
    });
  }
}
