// The new-request form ("#new-request", with "?patientId=&patientName=&birthDate=&recipient="
// from Orthanc Explorer's "Request images") and the request just created: its link (shown only
// now), QR code, code, whether it was mailed, and the printable letter (letter.js).

import { $, el } from '../../WebShared/dom.js';
import { requestJson } from '../../WebShared/http.js';
import { language, t } from '../../WebShared/i18n.js';
import { LANGUAGES } from '../../WebShared/languages.js';
import { api } from './api.js';
import { dateInputValue, formatTime } from './format.js';
import { renderLetter } from './letter.js';
import { qrSvg } from './qr.js';
import { act, announce, fact, hideError, showError } from './ui.js';

const form = { info: null, modalities: null, shownFor: null, created: null };

// The site's name, recipients, the sender page's languages and text limits (public on a
// Standalone or Gateway, admin-only on an Internal).
async function loadInfo() {
  if (form.info === null) {
    form.info = await requestJson('GET', '/inbound/api/info');
  }
  return form.info;
}

async function loadModalities() {
  if (form.modalities === null) {
    try {
      const answer = await api('GET', 'modalities');
      form.modalities = Array.isArray(answer && answer.modalities) ? answer.modalities.map(String) : [];
    } catch (error) {
      form.modalities = [];  // a Gateway has none: nothing is forwarded there
    }
  }
  return form.modalities;
}

function fillSelect(select, options, chosen) {
  select.replaceChildren(...options.map(([value, text]) => el('option', { value }, text)));
  if (options.some(([value]) => value === chosen)) {
    select.value = chosen;
  }
}

function setChallenge(value) {
  for (const radio of document.querySelectorAll('input[name="request-challenge"]')) {
    radio.checked = radio.value === value;
  }
}

function challenge() {
  const chosen = document.querySelector('input[name="request-challenge"]:checked');
  return chosen ? chosen.value : 'code';
}

function setFormError(text, field = null) {
  const error = $('request-form-error');
  error.textContent = text;
  error.hidden = !text;
  for (const input of document.querySelectorAll('#request-form [aria-invalid]')) {
    input.removeAttribute('aria-invalid');
  }
  if (field) {
    field.setAttribute('aria-invalid', 'true');
    field.focus();
  }
}

// Shows the form, emptied and filled in from the hash's parameters; "shown": the form is on
// the screen already, and for the same hash (a change of language) keeps what was typed.
export async function openForm(params, rawHash, shown) {
  if (shown && form.shownFor === rawHash && form.info) {
    return;
  }
  form.shownFor = rawHash;
  hideError('request-alert');
  setFormError('');
  $('request-patient-id').value = params.get('patientId') || '';
  $('request-patient-name').value = params.get('patientName') || '';
  $('request-birth-date').value = dateInputValue(params.get('birthDate'));
  for (const id of ['request-sender-name', 'request-sender-email', 'request-message-text', 'request-expiry', 'request-max-uploads']) {
    $(id).value = '';
  }
  setChallenge($('request-birth-date').value ? 'birthDate' : 'code');
  let info = { recipients: [] };
  try {
    info = await loadInfo();
  } catch (error) {
    showError(error, 'request-alert');
  }
  const modalities = await loadModalities();
  const recipients = Array.isArray(info.recipients) ? info.recipients : [];
  fillSelect($('request-recipient'), recipients.map((r) => [String(r.id), r.name || r.id]), params.get('recipient') || '');
  if (recipients.length === 0 && $('request-alert').hidden) {
    showError(new Error(t('form.noRecipient')), 'request-alert');
  }
  const offered = Array.isArray(info.languages) && info.languages.length ? info.languages : LANGUAGES.map((l) => l.code);
  fillSelect($('request-language'), LANGUAGES.filter((l) => offered.includes(l.code)).map((l) => [l.code, l.name]), language());
  fillSelect($('request-forward'), [['', t('form.forwardNone')], ...modalities.map((m) => [m, m])], '');
  $('request-forward-field').hidden = modalities.length === 0;
  const limits = (info.limits && info.limits.text) || {};
  if (limits.message) {
    $('request-message-text').maxLength = limits.message;
  }
}

// Single-line texts: tabs and runs of spaces become one space. The message keeps its lines,
// joined with " / " (the API accepts no line breaks), as on the upload page.
function cleanLine(value) {
  return String(value || '').replace(/[\t ]+/g, ' ').trim();
}

function cleanMessage(value) {
  return String(value || '').split(/\r\n|\r|\n/).map(cleanLine).filter(Boolean).join(' / ');
}

function positiveNumber(input) {
  const text = input.value.trim();
  if (!text) {
    return { ok: true, value: undefined };
  }
  const value = Number(text);
  return { ok: Number.isInteger(value) && value >= 1, value };
}

// The body of POST requests, or null after saying what is missing.
function requestBody() {
  const body = {
    recipient: $('request-recipient').value,
    challenge: challenge(),
    language: $('request-language').value,
  };
  if (!body.recipient) {
    setFormError(t('form.needRecipient'), $('request-recipient'));
    return null;
  }
  const patient = {
    id: cleanLine($('request-patient-id').value),
    name: cleanLine($('request-patient-name').value),
    birthDate: $('request-birth-date').value.replace(/-/g, ''),
  };
  const forwardTo = $('request-forward').value;
  if (!patient.id && (body.challenge === 'birthDate' || forwardTo)) {
    setFormError(t('form.needPatientId'), $('request-patient-id'));
    return null;
  }
  if (!patient.birthDate && body.challenge === 'birthDate') {
    setFormError(t('form.needBirthDate'), $('request-birth-date'));
    return null;
  }
  // What arrives is forwarded without a person only if name AND birth date match.
  if (!patient.birthDate && forwardTo) {
    setFormError(t('form.needBirthDateForward'), $('request-birth-date'));
    return null;
  }
  if (patient.id || patient.name || patient.birthDate) {
    body.patient = Object.fromEntries(Object.entries(patient).filter(([, v]) => v));
  }
  const sender = { name: cleanLine($('request-sender-name').value), email: cleanLine($('request-sender-email').value) };
  if (sender.name || sender.email) {
    body.sender = Object.fromEntries(Object.entries(sender).filter(([, v]) => v));
  }
  const message = cleanMessage($('request-message-text').value);
  if (message) {
    body.message = message;
  }
  for (const [id, key] of [['request-expiry', 'expiresInDays'], ['request-max-uploads', 'maxUploads']]) {
    const number = positiveNumber($(id));
    if (!number.ok) {
      setFormError(t('form.badNumber'), $(id));
      return null;
    }
    if (number.value !== undefined) {
      body[key] = number.value;
    }
  }
  if (forwardTo) {
    body.forwardTo = forwardTo;
  }
  setFormError('');
  return body;
}

async function submitForm(event) {
  event.preventDefault();
  const body = requestBody();
  if (!body) {
    return;
  }
  const answer = await act($('request-submit'), () => api('POST', 'requests', body), 'request-alert');
  if (!answer || !answer.url) {
    return;
  }
  const recipient = ((form.info && form.info.recipients) || []).find((r) => String(r.id) === body.recipient) || {};
  form.created = {
    id: answer.id,
    url: answer.url,
    code: answer.code || '',
    expiresAt: answer.expiresAt,
    mailed: Boolean(answer.mailed),
    gateways: answer.gateways || null,
    email: (body.sender && body.sender.email) || '',
    challenge: body.challenge,
    language: body.language,
    message: body.message || '',
    recipientName: recipient.name || body.recipient,
    siteName: (form.info && form.info.siteName) || '',
  };
  form.shownFor = null;
  $('created-leave-code-out').checked = false;
  // The hash names no token: the link stays in this page only (requests.js shows the panel).
  window.location.hash = '#request-created';
}

export function hasCreated() {
  return form.created !== null;
}

// Fills the panel of the request just created, and its letter.
export function showCreated() {
  const created = form.created;
  $('created-url').value = created.url;
  $('created-qr').replaceChildren(qrSvg(created.url, t('created.qr')));
  const facts = $('created-facts');
  facts.replaceChildren();
  fact(facts, t('request.id'), el('code', {}, created.id));
  fact(facts, t('created.expires'), formatTime(created.expiresAt));
  if (created.code) {
    fact(facts, t('created.code'), el('strong', { className: 'created-code', id: 'created-code' }, created.code));
  }
  for (const [name, g] of Object.entries(created.gateways || {})) {
    fact(facts, t('request.gateway', { name }), (g && g.state) || t('unknown'));
  }
  $('created-code-note').hidden = !created.code;
  $('created-code-choice').hidden = created.challenge !== 'code';
  let mail = t('created.noEmail');
  if (created.email) {
    mail = created.mailed ? t('created.mailed', { email: created.email }) : t('created.notMailed', { email: created.email });
  }
  $('created-mail').textContent = mail;
  $('created-show').href = `#request=${encodeURIComponent(created.id)}`;
  renderLetter(created, $('created-leave-code-out').checked);
}

async function copyLink() {
  const input = $('created-url');
  try {
    await navigator.clipboard.writeText(input.value);
    announce(t('created.copied'));
  } catch (error) {
    input.select();
    announce(t('created.copyFailed'));
  }
}

export function wireRequestForm() {
  $('request-form').addEventListener('submit', submitForm);
  $('created-copy').addEventListener('click', copyLink);
  $('created-print').addEventListener('click', () => window.print());
  $('created-leave-code-out').addEventListener('change', () => {
    if (form.created) {
      renderLetter(form.created, $('created-leave-code-out').checked);
    }
  });
}
