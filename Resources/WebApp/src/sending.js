// Step 4, sending: opens the upload (or continues the interrupted one), runs the transfer of
// the ticked files (upload.js), completes it for the receipt, and handles what stops it:
// refusals, lost connections, cancelling.

import { $ } from '../../WebShared/dom.js';
import { formatBytes } from '../../WebShared/format.js';
import { language, t, tn } from '../../WebShared/i18n.js';
import { api, ApiError } from './api.js';
import { Hasher } from './hash.js';
import { recipients, showView, siteName, state, tp } from './page.js';
import { selectedStudies } from './preview.js';
import { renderProblem, renderProgress, setSendButtons } from './progress.js';
import { renderReceipt } from './receipt.js';
import { requestProblem } from './request.js';
import { forgetUpload, saveResume, saver } from './resume.js';
import { FatalUploadError, Pacer, UploadRun } from './upload.js';

function collectItems() {
  const items = [];
  for (const study of selectedStudies()) {
    const files = [...study.files].sort((a, b) => a.path.localeCompare(b.path));
    for (const entry of files) {
      items.push({ entry, key: entry.key, study: study.key });
    }
  }
  return items;
}

function showSelectError(text) {
  $('select-error').textContent = text;
  $('select-error').hidden = false;
  $('select-error').scrollIntoView({ block: 'nearest' });
}

async function onSend() {
  const items = collectItems();
  if (!items.length) {
    showSelectError(state.checks && !state.checks.some((p) => p.accepted)
      ? tp('check.noneTicked') : t('images.nothingSelected'));
    return;
  }
  const bytes = items.reduce((n, it) => n + it.entry.size, 0);
  const limits = state.info.limits || {};
  if (!state.resume && ((limits.maxFilesPerUpload && items.length > limits.maxFilesPerUpload) ||
      (limits.maxBytesPerUpload && bytes > limits.maxBytesPerUpload))) {
    const max = items.length > limits.maxFilesPerUpload
      ? tn('count.images', limits.maxFilesPerUpload) : formatBytes(limits.maxBytesPerUpload);
    showSelectError(tp('images.tooMany', { max }));
    return;
  }
  state.items = items;
  state.problem = null;
  renderProblem();
  showView('send');
  $('send-state').textContent = t('send.opening');
  setSendButtons({ cancel: true });

  let received = new Set();
  state.partial = new Map();
  if (state.resume) {
    received = await reopenUpload(items);
    if (!received) {
      return;
    }
    state.resumeBase = { ...state.resume.stored, partial: { ...state.resume.stored.partial } };
  } else if (!(await openUpload(items, bytes))) {
    return;
  }
  await runUpload(items, received);
}

// Files sent in parts, not yet assembled: the parts the server holds of each (from its status).
function notePartial(status) {
  for (const file of status.partialFiles || []) {
    state.partial.set(file.sha256, new Set(Array.isArray(file.parts) ? file.parts : []));
  }
}

// Before trying again: parts that arrived without their answer reaching the page are not
// sent again (without an answer, the assembly names what is missing).
async function retry(items) {
  state.problem = null;
  renderProblem();
  try {
    notePartial(await api.status(state.upload.id, state.upload.token));
  } catch (e) {
    // asked again by the run itself
  }
  runUpload(items, state.run ? state.run.received : new Set());
}

// What identifies a file sent in parts across two picks: its key (path and size) and its
// modification time (null inside a ZIP archive).
function lastModifiedOf(entry) {
  return Number.isFinite(entry.blob.lastModified) ? entry.blob.lastModified : null;
}

// Continuing an interrupted upload: the hashes of the files that arrived, or null when the
// upload turned out to be over (then finished or reported here).
async function reopenUpload(items) {
  const stored = state.resume.stored;
  state.upload = { id: stored.id, token: stored.token, createdAt: stored.createdAt };
  let received;
  try {
    const status = await api.status(state.upload.id, state.upload.token);
    if (status.state !== 'open') {
      if (status.state === 'complete' || status.state === 'delivered') {
        await finishUpload();
        return null;
      }
      throw new ApiError(409, 'upload-closed');
    }
    received = new Set((status.files || []).map((f) => f.sha256));
    notePartial(status);
  } catch (e) {
    handleFatal(e.status === 404 || e.status === 409 ? new FatalUploadError('closed') : e);
    return null;
  }
  const hashes = stored.hashes || {};
  const partial = stored.partial || {};
  for (const item of items) {
    const part = partial[item.key];
    if (hashes[item.key] && received.has(hashes[item.key])) {
      item.sha256 = hashes[item.key];
    } else if (part && part.size === item.entry.size && part.lastModified === lastModifiedOf(item.entry)) {
      // A file sent in parts: not hashed again (the server checks the whole file's SHA-256
      // when it assembles it, and a changed file is started again).
      item.sha256 = part.sha256;
    }
  }
  return received;
}

// Opens a new upload and remembers it for resuming; false when the server refused.
async function openUpload(items, bytes) {
  const request = {
    sender: state.sender,
    consent: { version: state.consentVersion, accepted: true },
    expected: { files: items.length, bytes },
    language: language(), // the receipt comes in the language of this page
  };
  if (state.request) {
    // Bound to the hospital's request: its recipient, no choice here.
    request.request = { token: state.request.token, ticket: state.request.ticket };
  } else if (state.recipient) {
    request.recipient = state.recipient;
  }
  if (state.message) {
    request.message = state.message;
  }
  let opened;
  try {
    opened = await api.open(request);
  } catch (e) {
    if (e.status === 403 && e.code === 'requests-only') {
      showView('requests-only'); // the site accepts uploads only through a hospital's link now
      return false;
    }
    const problem = state.request ? requestProblem(e) : null;
    state.problem = problem
      ? { kind: 'request', key: problem.key, params: problem.params }
      : { kind: 'openFailed', reason: e.message, status: e.status };
    renderProblem();
    setSendButtons({ restart: true });
    return false;
  }
  state.upload = { id: opened.id, token: opened.token, createdAt: new Date().toISOString(), limits: opened.limits };
  const recipient = state.request && state.request.info ? state.request.info.recipient
    : recipients().find((r) => r.id === state.recipient);
  state.resume = null;
  state.resumeBase = {
    id: opened.id,
    token: opened.token,
    site: siteName(),
    createdAt: state.upload.createdAt,
    expiresAt: opened.expiresAt,
    sender: { name: state.sender.name, institution: state.sender.institution || '' },
    recipientName: recipient ? recipient.name : '',
    totalFiles: items.length,
    totalBytes: bytes,
    studies: [...new Set(items.map((it) => it.study))],
    keys: items.map((it) => it.key),
    hashes: {},
    partial: {}, // key → {name, size, lastModified, sha256} of files sent in parts, not yet all there
  };
  saveResume(state.resumeBase);
  return true;
}

async function runUpload(items, received) {
  if (!state.hasher) {
    // eslint-disable-next-line no-undef
    state.hasher = new Hasher(typeof __WORKER_URL__ === 'string' ? __WORKER_URL__ : 'app/worker.js');
  }
  state.sending = true;
  state.sendStatus = null;
  const run = new UploadRun({
    id: state.upload.id,
    token: state.upload.token,
    items,
    received,
    partial: state.partial,
    hasher: state.hasher,
    limits: { ...state.info.limits, ...(state.upload.limits || {}) },
    pacer: state.pacer || (state.pacer = new Pacer(state.info.limits)),
    onProgress: () => {},
    onStatus: (status) => {
      state.sendStatus = status.kind === 'running' ? null : status;
    },
    onFileDone: (item) => {
      if (state.run !== run || run.fatal) {
        return; // cancelled or closed: the upload was forgotten, nothing is saved again
      }
      state.resumeBase.hashes[item.key] = item.sha256;
      delete state.resumeBase.partial[item.key];
      saver.schedule(() => state.resumeBase);
    },
    onPartialFile: (item) => {
      if (state.run !== run || run.fatal) {
        return;
      }
      // Kept at once: a page closed during its parts continues it part by part.
      state.resumeBase.partial[item.key] = { name: item.entry.name, size: item.entry.size,
        lastModified: lastModifiedOf(item.entry), sha256: item.sha256 };
      saver.schedule(() => state.resumeBase);
      saver.flush();
    },
  });
  state.run = run;
  state.speedSamples = [];
  state.lastAnnounce = { percent: -1, time: 0 };
  setSendButtons({ cancel: true });
  renderProgress();
  const timer = setInterval(renderProgress, 500);
  try {
    await run.run();
  } catch (e) {
    clearInterval(timer);
    state.sending = false;
    const over = e instanceof FatalUploadError && (e.kind === 'cancelled' || e.kind === 'closed');
    if (over) {
      saver.cancel(); // the upload is gone: its progress is not written back
    } else {
      saver.flush();
    }
    if (!(e instanceof FatalUploadError && e.kind === 'cancelled')) {
      handleFatal(e);
    }
    return;
  }
  clearInterval(timer);
  saver.flush();
  state.sending = false;
  renderProgress();
  const retryable = state.items.filter((it) => it.state === 'failed' && (it.reason === 'network' || it.reason === 'server'));
  if (retryable.length) {
    state.problem = { kind: 'someFailed', count: retryable.length };
    renderProblem();
    setSendButtons({ retry: true, finish: true, cancel: true });
    $('send-retry').focus();
    return;
  }
  await finishUpload();
}

function onRetryFailed() {
  retry(state.items.filter((it) => it.state === 'failed' && (it.reason === 'network' || it.reason === 'server')));
}

// Retrying after "storage full": everything not yet delivered.
function onRetryPending() {
  retry(state.items.filter((it) => it.state !== 'done' && it.state !== 'skipped' &&
    !(it.state === 'failed' && ['invalid', 'tooLarge', 'changed', 'malware'].includes(it.reason))));
}

function nothingArrived() {
  forgetUpload();
  state.problem = { kind: 'nothingArrived' };
  renderProblem();
  setSendButtons({ restart: true });
}

async function finishUpload() {
  setSendButtons({});
  $('send-state').textContent = t('send.completing');
  const anything = state.run ? state.run.received.size > 0 : true;
  if (!anything) {
    try {
      await api.cancel(state.upload.id, state.upload.token);
    } catch (e) {
      // it expires by itself
    }
    nothingArrived();
    return;
  }
  let receipt = null;
  for (let attempt = 1; !receipt; attempt++) {
    try {
      receipt = await api.complete(state.upload.id, state.upload.token);
    } catch (e) {
      if (e.status === 404 || (e.status === 409 && e.code === 'upload-closed')) {
        handleFatal(new FatalUploadError('closed'));
        return;
      }
      if (e.status === 409 && e.code === 'empty-upload') {
        nothingArrived();
        return;
      }
      const retryable = e.status === 0 || e.status === 429 || e.status >= 500;
      if (!retryable || attempt >= 8) {
        state.problem = { kind: 'error', reason: e.message };
        renderProblem();
        setSendButtons({ finish: true, cancel: true });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000 * (e.retryAfter || Math.min(30, 2 ** attempt))));
    }
  }
  forgetUpload();
  state.receipt = receipt;
  renderReceipt();
  showView('receipt');
}

function handleFatal(error) {
  state.sending = false;
  if (error instanceof FatalUploadError && error.kind === 'closed') {
    forgetUpload();
    state.problem = { kind: 'closed' };
    setSendButtons({ restart: true });
  } else if (error instanceof FatalUploadError && (error.kind === 'storageFull' || error.kind === 'blocked')) {
    state.problem = { kind: error.kind };
    setSendButtons({ cancel: true });
    $('send-retry').hidden = false;
    $('send-retry').dataset.mode = 'pending';
  } else {
    state.problem = { kind: 'error', reason: (error && error.message) || String(error) };
    setSendButtons({ restart: true, cancel: true });
  }
  renderProblem();
}

function onCancelClick() {
  $('cancel-confirm').hidden = false;
  $('cancel-no').focus();
}

async function onCancelConfirmed() {
  $('cancel-confirm').hidden = true;
  if (state.run) {
    state.run.abort();
  }
  state.sending = false;
  forgetUpload();
  if (state.upload) {
    try {
      await api.cancel(state.upload.id, state.upload.token);
    } catch (e) {
      // an open upload also expires by itself
    }
  }
  forgetUpload();
  state.problem = { kind: 'cancelled' };
  renderProblem();
  setSendButtons({ restart: true });
  $('send-restart').focus();
}

export function wireSending() {
  $('send-button').addEventListener('click', onSend);
  $('send-cancel').addEventListener('click', onCancelClick);
  $('cancel-no').addEventListener('click', () => {
    $('cancel-confirm').hidden = true;
    $('send-cancel').focus();
  });
  $('cancel-yes').addEventListener('click', onCancelConfirmed);
  $('send-retry').addEventListener('click', () => {
    if ($('send-retry').dataset.mode === 'pending') {
      delete $('send-retry').dataset.mode;
      onRetryPending();
    } else {
      onRetryFailed();
    }
  });
  $('send-finish').addEventListener('click', () => finishUpload());
  $('send-restart').addEventListener('click', () => window.location.reload());
  window.addEventListener('beforeunload', (event) => {
    if (state.sending) {
      event.preventDefault();
      event.returnValue = t('app.leaveWarning');
    }
  });
}
