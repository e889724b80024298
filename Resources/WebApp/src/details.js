// Step 2, the sender's details: name, e-mail, institution, phone, recipient and message,
// checked here against the limits of api/info before the upload is opened.

import { $, el } from '../../WebShared/dom.js';
import { t } from '../../WebShared/i18n.js';
import { recipients, showView, state } from './page.js';

const DEFAULT_TEXT_LIMITS = { name: 128, email: 254, institution: 128, phone: 40, message: 2000 };

export function renderRecipients() {
  const list = recipients();
  const select = $('recipient');
  const previous = select.value;
  $('recipient-field').hidden = list.length === 0;
  select.replaceChildren();
  if (list.length > 1) {
    select.append(el('option', { value: '', text: t('details.recipientChoose') }));
  }
  for (const r of list) {
    select.append(el('option', { value: r.id, text: r.name || r.id }));
  }
  if (previous && list.some((r) => r.id === previous)) {
    select.value = previous;
  }
}

function textLimits() {
  const fromInfo = (state.info && ((state.info.limits && state.info.limits.text) || state.info.textLimits)) || {};
  return { ...DEFAULT_TEXT_LIMITS, ...fromInfo };
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const EMAIL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

// Single-line fields: tabs and runs of spaces become one space. The message keeps its
// lines, joined with " / " (the API accepts no line breaks).
function cleanLine(value) {
  return String(value || '').replace(/[\t ]+/g, ' ').trim();
}

function cleanMessage(value) {
  return String(value || '').split(/\r\n|\r|\n/).map(cleanLine).filter(Boolean).join(' / ');
}

function validateDetails() {
  const limits = textLimits();
  const values = {
    name: cleanLine($('sender-name').value),
    email: cleanLine($('sender-email').value),
    institution: cleanLine($('sender-institution').value),
    phone: cleanLine($('sender-phone').value),
    message: cleanMessage($('message').value),
    recipient: $('recipient').value,
  };
  const errors = [];
  const check = (field, inputId, label, required) => {
    const value = values[field];
    if (!value) {
      if (required) {
        errors.push({ inputId, text: t('error.required', { field: t(label) }) });
      }
      return;
    }
    if (CONTROL.test(value)) {
      errors.push({ inputId, text: t('error.control', { field: capitalize(t(label)) }) });
    } else if ([...value].length > limits[field]) {
      errors.push({ inputId, text: t('error.tooLong', { field: capitalize(t(label)), max: limits[field] }) });
    } else if (field === 'email' && (!EMAIL.test(value) || value.indexOf('@') > 64)) {
      errors.push({ inputId, text: t('error.email') });
    }
  };
  check('name', 'sender-name', 'field.name', true);
  check('email', 'sender-email', 'field.email', true);
  check('institution', 'sender-institution', 'field.institution', false);
  check('phone', 'sender-phone', 'field.phone', false);
  if (recipients().length && !recipients().some((r) => r.id === values.recipient)) {
    errors.push({ inputId: 'recipient', text: t('error.chooseRecipient') });
  }
  check('message', 'message', 'field.message', false);
  return { values, errors };
}

function capitalize(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

function showDetailErrors(errors, focusSummary) {
  for (const input of document.querySelectorAll('#details-form input, #details-form select, #details-form textarea')) {
    input.removeAttribute('aria-invalid');
    const message = $(`${input.id}-error`);
    if (message) {
      message.hidden = true;
      message.textContent = '';
    }
  }
  const summary = $('details-errors');
  const list = $('details-error-list');
  list.replaceChildren();
  if (!errors.length) {
    summary.hidden = true;
    state.detailErrors = null;
    return;
  }
  state.detailErrors = errors;
  for (const error of errors) {
    const input = $(error.inputId);
    input.setAttribute('aria-invalid', 'true');
    const message = $(`${error.inputId}-error`);
    if (message && message.hidden) {
      message.textContent = error.text;
      message.hidden = false;
    }
    list.append(el('li', {}, el('a', {
      href: `#${error.inputId}`,
      onclick: (event) => {
        event.preventDefault();
        input.focus();
      },
      text: error.text,
    })));
  }
  summary.hidden = false;
  if (focusSummary) {
    summary.focus();
  }
}

// After a change of language: the errors shown, in the new language.
export function renderDetailErrors() {
  if (state.detailErrors) {
    showDetailErrors(validateDetails().errors, false);
  }
}

function onDetailsSubmit(event) {
  event.preventDefault();
  const { values, errors } = validateDetails();
  showDetailErrors(errors, true);
  if (errors.length) {
    return;
  }
  state.sender = { name: values.name, email: values.email };
  if (values.institution) {
    state.sender.institution = values.institution;
  }
  if (values.phone) {
    state.sender.phone = values.phone;
  }
  state.recipient = recipients().length ? values.recipient : null;
  state.message = values.message;
  showView('images');
}

export function wireDetails() {
  $('details-form').addEventListener('submit', onDetailsSubmit);
  $('details-back').addEventListener('click', () => showView('privacy'));
}
