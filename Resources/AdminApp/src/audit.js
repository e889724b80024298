// The audit trail view: the last events, newest first, filtered by words; upload ids link to
// the upload in the inbox.

import { $, el } from '../../WebShared/dom.js';
import { t } from '../../WebShared/i18n.js';
import { api, query } from './api.js';
import { timeElement } from './format.js';
import { act } from './ui.js';

const AUDIT_LIMIT = 200;
let auditEvents = [];

export async function loadAudit() {
  await act($('audit-refresh'), async () => {
    const answer = await api('GET', `audit${query({ limit: AUDIT_LIMIT })}`);
    auditEvents = Array.isArray(answer && answer.events) ? answer.events.slice() : [];
    // Newest first by time: refusals are written in batches, one entry per client and
    // interval, so an entry's place in the ledger can come after later events.
    const when = (e) => Date.parse(e.time) || 0;
    auditEvents.sort((a, b) => (when(b) - when(a)) || ((Number(b.id) || 0) - (Number(a.id) || 0)));
    renderAudit();
  });
}

function renderAudit() {
  const text = $('audit-text').value.trim().toLowerCase();
  const words = text.split(/\s+/).filter(Boolean);
  const shown = auditEvents.filter((e) => {
    const haystack = [e.event, e.uploadId, e.ip, e.detail].join('\n').toLowerCase();
    return words.every((w) => haystack.includes(w));
  });
  $('audit-count').textContent = t('audit.count', { shown: shown.length, total: auditEvents.length });
  $('audit-body').replaceChildren(...shown.map((e) => el('tr', {},
    el('td', { className: 'nowrap' }, timeElement(e.time)),
    el('td', {}, el('code', {}, e.event || '')),
    el('td', {}, e.uploadId ? el('a', { href: `#upload=${encodeURIComponent(e.uploadId)}` }, String(e.uploadId)) : ''),
    el('td', {}, e.ip || ''),
    el('td', { className: 'detail' }, e.detail || ''))));
}

export function wireAudit() {
  $('audit-refresh').addEventListener('click', () => loadAudit());
  $('audit-text').addEventListener('input', renderAudit);
}
