// What the admin page's views share: the alert regions, announcements for screen readers,
// buttons that run an action, the confirmation dialog, and label/value facts.

import { $, el } from '../../WebShared/dom.js';
import { ApiError } from '../../WebShared/http.js';
import { describeError } from './api.js';

export function showError(error, region = 'alert') {
  $(`${region}-text`).textContent = describeError(error);
  $(region).hidden = false;
  if (!(error instanceof ApiError)) {
    console.error(error);
  }
}

export function hideError(region = 'alert') {
  $(region).hidden = true;
  $(`${region}-text`).textContent = '';
}

let announceTimer;
export function announce(text) {
  const status = $('status');
  status.textContent = '';
  window.clearTimeout(announceTimer);
  // a new text node, so that screen readers announce it again
  announceTimer = window.setTimeout(() => {
    status.textContent = text;
    announceTimer = window.setTimeout(() => {
      status.textContent = '';
    }, 20000);
  }, 50);
}

// Runs an action of a button: the button is disabled meanwhile, an error goes to the alert.
export async function act(button, action, region = 'alert') {
  if (button) {
    button.disabled = true;
  }
  try {
    hideError(region);
    return await action();
  } catch (error) {
    showError(error, region);
    return undefined;
  } finally {
    if (button) {
      button.disabled = false;
    }
  }
}

let confirmResolve = null;

// Asks before a deletion or a ban; resolves true or false.
export function confirmAction({ title, text, ok }) {
  const dialog = $('confirm-dialog');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = ok;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    confirmResolve = (answer) => {
      confirmResolve = null;
      if (dialog.open) {
        dialog.close();
      }
      if (opener && opener.isConnected) {
        opener.focus();
      }
      resolve(answer);
    };
    dialog.showModal();
    $('confirm-cancel').focus();
  });
}

export function setUpConfirmDialog() {
  const dialog = $('confirm-dialog');
  $('confirm-form').addEventListener('submit', (event) => {
    event.preventDefault();
    if (confirmResolve) {
      confirmResolve(true);
    }
  });
  $('confirm-cancel').addEventListener('click', () => confirmResolve && confirmResolve(false));
  dialog.addEventListener('cancel', (event) => {
    event.preventDefault();
    if (confirmResolve) {
      confirmResolve(false);
    }
  });
}

// A label and its value in a <dl class="facts">.
export function fact(list, label, ...value) {
  list.append(el('div', { className: 'fact' }, el('dt', {}, label), el('dd', {}, ...value)));
}
