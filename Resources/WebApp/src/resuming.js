// Continuing an upload that was interrupted (the page closed, the computer restarted): asks the
// server what arrived and offers to continue or discard it (what is stored: resume.js).

import { $ } from '../../WebShared/dom.js';
import { t, tn } from '../../WebShared/i18n.js';
import { api } from './api.js';
import { formatDateTime } from './format.js';
import { resetPicker } from './images.js';
import { showNotice, showView, state, tp } from './page.js';
import { renderReceipt } from './receipt.js';
import { showStart } from './requestview.js';
import { forgetUpload } from './resume.js';

function expired(stored) {
  const end = Date.parse(stored.expiresAt || '');
  return Number.isFinite(end) && end <= Date.now();
}

export async function offerResume(stored) {
  let status;
  try {
    status = await api.status(stored.id, stored.token);
  } catch (e) {
    // 404: unknown or expired on the server. Without an answer (offline, busy) the browser's
    // own clock decides: past its expiry the upload cannot be continued either.
    if (e.status === 404 || expired(stored)) {
      forgetUpload();
      showNotice(t('resume.gone'));
    }
    showStart();
    return;
  }
  if (status.state === 'complete' || status.state === 'delivered') {
    // Closed before the page learned it: completing again answers the same receipt.
    state.upload = { id: stored.id, token: stored.token };
    state.resumeBase = stored;
    try {
      state.receipt = await api.complete(stored.id, stored.token);
      forgetUpload();
      renderReceipt();
      showView('receipt', { focus: false });
      return;
    } catch (e) {
      forgetUpload();
      showStart();
      return;
    }
  }
  if (status.state !== 'open') {
    forgetUpload();
    showNotice(t('resume.gone'));
    showStart();
    return;
  }
  state.resume = { stored, received: new Set((status.files || []).map((f) => f.sha256)), status };
  renderResumeText();
  showView('resume', { focus: false });
}

export function renderResumeText() {
  const { stored, status } = state.resume;
  $('resume-text').textContent = tp('resume.text', {
    date: formatDateTime(stored.createdAt || status.createdAt),
    received: tn('count.images', status.receivedFiles || (status.files || []).length),
    total: tn('count.images', stored.totalFiles || 0),
  });
  // Large files that arrived in part: only their missing parts are sent.
  const partial = (status.partialFiles || []).length;
  $('resume-partial').textContent = partial ? tn('resume.partial', partial) : '';
  $('resume-partial').hidden = !partial;
}

function onResumeContinue() {
  state.consentVersion = null;
  state.sender = state.resume.stored.sender || null;
  resetPicker();
  showView('images');
}

async function onResumeDiscard() {
  const { stored } = state.resume;
  state.resume = null;
  try {
    await api.cancel(stored.id, stored.token);
  } catch (e) {
    // expires by itself
  }
  forgetUpload();
  showNotice(t('resume.discarded'));
  showStart({ focus: true });
}

export function wireResuming() {
  $('resume-continue').addEventListener('click', onResumeContinue);
  $('resume-discard').addEventListener('click', onResumeDiscard);
}
