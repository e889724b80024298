// The requests view: request links with their state, patient, times, uses and wrong answers;
// one request's details with its uploads and the revocation; which panel of the view is shown
// ("#requests", "#request=<id>", "#new-request[?…]", "#request-created"). The form and the
// request just created are request-form.js.

import { $, el } from '../../WebShared/dom.js';
import { formatNumber } from '../../WebShared/format.js';
import { hasText, t, tn } from '../../WebShared/i18n.js';
import { languageInfo } from '../../WebShared/languages.js';
import { api } from './api.js';
import { dicomDate, size, stateBadge, timeElement } from './format.js';
import { hideLetter } from './letter.js';
import { hasCreated, openForm, showCreated, wireRequestForm } from './request-form.js';
import { act, announce, confirmAction, fact, showError } from './ui.js';

const PANELS = ['requests-list', 'request-detail', 'request-new', 'request-created'];
const state = { list: [], current: null, panel: null };

function showPanel(id, focus) {
  state.panel = id;
  for (const panel of PANELS) {
    $(panel).hidden = panel !== id;
  }
  $('requests-refresh').hidden = id !== 'requests-list';
  $('requests-new').hidden = id === 'request-new';
  if (id !== 'request-created') {
    hideLetter();
  }
  if (focus) {
    const heading = id === 'requests-list' ? $('requests-heading') : $(`${id}-heading`);
    heading.focus();
  }
}

export function statusBadge(status) {
  const key = `request.status.${status}`;
  const safe = /^[a-z]+$/.test(status || '') ? status : 'unknown';
  return el('span', { className: `badge badge-request-${safe}` }, hasText(key) ? t(key) : String(status || t('unknown')));
}

// "DOE^JANE · HOSP-1 · 31 Jan 1970", what is known of the hospital's patient.
export function patientText(patient) {
  const p = patient || {};
  const parts = [p.name, p.id, p.birthDate ? dicomDate(p.birthDate) : ''].filter(Boolean);
  return parts.length ? parts.join(' · ') : t('none');
}

function recipientText(request) {
  const r = request.recipient || {};
  return r.name || r.id || t('none');
}

function usesText(request) {
  return t('requests.usesValue', { used: formatNumber(request.usedUploads), max: formatNumber(request.maxUploads) });
}

function requestLink(request, text) {
  return el('a', { href: `#request=${encodeURIComponent(request.id)}` }, text);
}

function renderList() {
  const body = $('requests-body');
  body.replaceChildren();
  const list = [...state.list].sort((a, b) => (Date.parse(b.createdAt) || 0) - (Date.parse(a.createdAt) || 0));
  $('requests-count').textContent = list.length ? tn('requests.count', list.length) : t('requests.empty');
  $('requests-wrap').hidden = list.length === 0;
  for (const request of list) {
    body.append(el('tr', { className: request.status === 'locked' ? 'row-attention' : null, dataset: { requestId: request.id } },
      el('td', {}, statusBadge(request.status)),
      el('td', {}, recipientText(request)),
      el('td', { className: 'detail' }, requestLink(request, patientText(request.patient))),
      el('td', { className: 'nowrap' }, timeElement(request.createdAt, true)),
      el('td', { className: 'nowrap' }, timeElement(request.expiresAt)),
      el('td', { className: 'nowrap' }, requestLink(request, usesText(request))),
      el('td', { className: 'number' }, formatNumber(request.failures || 0))));
  }
}

async function loadList() {
  await act($('requests-refresh'), async () => {
    const answer = await api('GET', 'requests');
    state.list = Array.isArray(answer && answer.requests) ? answer.requests : [];
    renderList();
  });
}

function challengeText(challenge) {
  const key = `request.challenge.${challenge}`;
  return hasText(key) ? t(key) : String(challenge || t('none'));
}

function renderGateways(facts, gateways) {
  for (const [name, g] of Object.entries(gateways || {})) {
    fact(facts, t('request.gateway', { name }), (g && g.state) || t('unknown'),
      g && g.syncedAt ? [' · ', timeElement(g.syncedAt, true)] : null);
  }
}

function renderUploads(request) {
  const box = $('request-uploads');
  box.replaceChildren();
  $('request-uploads-heading').textContent = t('requests.uploadsOf', { id: request.id });
  const uploads = Array.isArray(request.uploads) ? request.uploads : [];
  if (uploads.length === 0) {
    box.append(el('p', { className: 'muted' }, t('request.noUploads')));
    return;
  }
  box.append(el('div', { className: 'table-wrap', role: 'region', tabindex: '0', 'aria-labelledby': 'request-uploads-heading' },
    el('table', { className: 'table table-compact' },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, t('request.upload')),
        el('th', { scope: 'col' }, t('request.uploadState')),
        el('th', { scope: 'col' }, t('request.uploadFiles')),
        el('th', { scope: 'col' }, t('request.uploadCreated')))),
      el('tbody', {}, uploads.map((u) => el('tr', { dataset: { uploadId: u.id } },
        el('td', {}, el('a', { href: `#upload=${encodeURIComponent(u.id)}` }, el('code', {}, u.id))),
        el('td', {}, stateBadge(u.state)),
        el('td', { className: 'nowrap' }, `${formatNumber(u.files || 0)} · ${size(u.bytes)}`),
        el('td', { className: 'nowrap' }, timeElement(u.createdAt, true))))))));
}

function renderDetail(request) {
  $('request-detail-heading').textContent = t('request.detail', { id: request.id });
  const facts = $('request-facts');
  facts.replaceChildren();
  const sender = request.sender || {};
  fact(facts, t('requests.state'), statusBadge(request.status));
  fact(facts, t('requests.recipient'), recipientText(request));
  fact(facts, t('requests.patient'), patientText(request.patient));
  fact(facts, t('request.sender'), sender.name || t('none'));
  fact(facts, t('request.senderEmail'), sender.email || t('none'));
  fact(facts, t('request.challenge'), challengeText(request.challenge));
  fact(facts, t('request.language'), request.language ? languageInfo(request.language).name : t('none'));
  fact(facts, t('requests.created'), timeElement(request.createdAt));
  fact(facts, t('request.createdBy'), request.createdBy || t('none'));
  fact(facts, t('requests.expires'), timeElement(request.expiresAt));
  fact(facts, t('requests.uses'), usesText(request));
  fact(facts, t('request.remaining'), formatNumber(request.remainingUploads || 0));
  fact(facts, t('requests.failures'), formatNumber(request.failures || 0));
  fact(facts, t('request.forwardTo'), request.forwardTo || t('request.noForward'));
  fact(facts, t('request.id'), el('code', {}, request.id));
  renderGateways(facts, request.gateways);
  const message = $('request-message');
  message.textContent = request.message || t('upload.noMessage');
  message.classList.toggle('muted', !request.message);
  $('request-revoke').hidden = request.status === 'revoked';
  renderUploads(request);
}

async function loadDetail(id) {
  await act(null, async () => {
    const request = await api('GET', `requests/${encodeURIComponent(id)}`);
    state.current = request;
    renderDetail(request);
  });
}

async function revokeRequest() {
  const request = state.current;
  if (!request) {
    return;
  }
  const ok = await confirmAction({
    title: t('request.revokeTitle'),
    text: t('request.revokeText', { id: request.id }),
    ok: t('request.revokeOk'),
  });
  if (!ok) {
    return;
  }
  await act($('request-revoke'), async () => {
    await api('DELETE', `requests/${encodeURIComponent(request.id)}`);
    announce(t('request.revoked', { id: request.id }));
    await loadDetail(request.id);
    $('request-detail-heading').focus();
  });
}

// The panel of the URL's hash: target {request?: id, newRequest?: URLSearchParams, created?}.
export async function showRequests(target = {}, focus = true) {
  if (target.newRequest) {
    const shown = state.panel === 'request-new';
    showPanel('request-new', focus);
    await openForm(target.newRequest, target.rawHash, shown);
  } else if (target.created && hasCreated()) {
    showPanel('request-created', focus);
    showCreated();
  } else if (target.request) {
    showPanel('request-detail', false);
    state.current = null;
    await loadDetail(target.request);
    if (focus && state.current) {
      $('request-detail-heading').focus();
    }
  } else {
    showPanel('requests-list', focus);
    await loadList();
  }
}

// Another view is shown: no panel of this one is on the screen, no letter to print.
export function leaveRequests() {
  state.panel = null;
  hideLetter();
}

export function loadRequests() {
  return showRequests({}, false);
}

export function wireRequests() {
  $('requests-refresh').addEventListener('click', () => loadList().catch((error) => showError(error)));
  $('request-revoke').addEventListener('click', revokeRequest);
  wireRequestForm();
}
