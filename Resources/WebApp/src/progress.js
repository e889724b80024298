// Step 4, what the sender sees while sending: the progress bar, counts, speed and time left,
// the state of the connection, the problem that stopped the upload and the buttons it offers.

import { $, el } from '../../WebShared/dom.js';
import { formatBytes } from '../../WebShared/format.js';
import { locale, t, tn } from '../../WebShared/i18n.js';
import { formatDuration } from './format.js';
import { state, tp } from './page.js';

export function setSendButtons({ retry = false, finish = false, restart = false, cancel = false }) {
  $('send-retry').hidden = !retry;
  $('send-finish').hidden = !finish;
  $('send-restart').hidden = !restart;
  $('send-cancel').hidden = !cancel;
  $('cancel-confirm').hidden = true;
}

export function renderProblem() {
  const box = $('send-problem');
  const problem = state.problem;
  if (!problem) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  let text;
  switch (problem.kind) {
    case 'openFailed': text = t('send.openFailed', { reason: problem.reason }); break;
    case 'request': text = tp(problem.key, problem.params); break;
    case 'someFailed': text = t('send.someFailed', { count: tn('count.images', problem.count) }); break;
    case 'closed': text = t('send.closed'); break;
    case 'storageFull': text = tp('send.storageFull'); break;
    case 'blocked': text = tp('send.blocked'); break;
    case 'cancelled': text = t('send.cancelled'); break;
    case 'nothingArrived': text = t('send.nothingArrived'); break;
    default: text = t('send.error', { reason: problem.reason });
  }
  box.replaceChildren(el('p', { text }));
  box.className = problem.kind === 'cancelled' ? 'info-box' : 'error-box';
  box.hidden = false;
  if (problem.kind !== 'someFailed') {
    $('send-state').textContent = '';
  }
}

function sendStatusText(p) {
  if (navigator.onLine === false || (state.sendStatus && state.sendStatus.kind === 'network')) {
    return t('send.waitingNetwork');
  }
  if (state.sendStatus && state.sendStatus.kind === 'busy') {
    return t('send.retrying', { seconds: state.sendStatus.seconds });
  }
  if (p.active === 0 && p.doneFiles === 0) {
    return t('send.preparing');
  }
  if (p.doneBytes >= p.totalBytes && p.doneFiles < p.totalFiles) {
    return tp('send.confirming');
  }
  return '';
}

export function renderProgress() {
  const run = state.run;
  if (!run) {
    return;
  }
  const p = run.progress();
  const now = performance.now();
  const samples = state.speedSamples;
  samples.push({ time: now, bytes: p.uploadedBytes });
  while (samples.length > 2 && now - samples[0].time > 15000) {
    samples.shift();
  }
  const fraction = p.totalBytes ? p.doneBytes / p.totalBytes : (p.totalFiles ? p.doneFiles / p.totalFiles : 1);
  // 100 % only once every file is confirmed by the server.
  const percent = p.doneFiles < p.totalFiles ? Math.min(99, Math.floor(fraction * 100)) : Math.floor(fraction * 100);
  $('send-progress').value = percent === 100 ? 1000 : Math.min(990, Math.round(fraction * 1000));
  $('send-progress').setAttribute('aria-valuetext', `${percent} %`);
  $('send-percent').textContent = `${percent.toLocaleString(locale())} %`;
  $('send-counts').textContent = t('send.counts', {
    done: p.doneFiles.toLocaleString(locale()),
    total: p.totalFiles.toLocaleString(locale()),
    sent: formatBytes(p.doneBytes),
    size: formatBytes(p.totalBytes),
  });
  const span = samples.length > 1 ? (samples[samples.length - 1].time - samples[0].time) / 1000 : 0;
  const speed = span >= 2 ? (samples[samples.length - 1].bytes - samples[0].bytes) / span : 0;
  const parts = [];
  if (state.sending && speed > 0) {
    parts.push(t('send.speed', { speed: formatBytes(speed) }));
    const left = (p.totalBytes - p.doneBytes) / speed;
    if (left >= 1) {
      parts.push(t('send.timeLeft', { time: formatDuration(left) }));
    }
  }
  $('send-rate').textContent = parts.join(' · ');
  if (state.sending) {
    $('send-state').textContent = sendStatusText(p);
  }
  // Screen readers hear the progress every quarter, or every 30 seconds at most.
  const last = state.lastAnnounce;
  const quarter = Math.floor(percent / 25);
  if (quarter !== Math.floor(last.percent / 25) || (now - last.time > 30000 && percent !== last.percent)) {
    if (last.percent >= 0 || percent > 0) {
      $('send-announce').textContent = t('send.announce', { percent });
    }
    state.lastAnnounce = { percent, time: now };
  }
}
