// The partners view: the partner sites of Inbound.Partners with their last contact, today's and
// the last 7 days' figures, failures and silence, and on an Internal the partner labels of
// what its gateways delivered ("#partners"); one partner with its recent uploads, requests
// and alerts ("#partner=<id>"); a new partner token, shown once and kept only in this page's
// memory, never in the URL or the browser's storage.

import { $, el } from '../../WebShared/dom.js';
import { formatNumber } from '../../WebShared/format.js';
import { t } from '../../WebShared/i18n.js';
import { api } from './api.js';
import { size, stateBadge, timeElement } from './format.js';
import { act, announce, fact } from './ui.js';

const PANELS = ['partners-list', 'partner-detail', 'partner-token'];
const state = { token: null };

function showPanel(id, focus) {
  for (const panel of PANELS) {
    $(panel).hidden = panel !== id;
  }
  $('partners-refresh').hidden = id !== 'partners-list';
  if (focus) {
    $(id === 'partners-list' ? 'partners-heading' : `${id}-heading`).focus();
  }
}

function badge(kind, text) {
  return el('span', { className: `badge badge-${kind}` }, text);
}

function statusBadges(p) {
  const badges = [p.enabled ? badge('ok', t('partners.enabled')) : badge('cancelled', t('partners.disabled'))];
  if (p.silent) {
    badges.push(' ', badge('failed', t('partners.silent')));
  }
  return badges;
}

function figures(f) {
  const x = f || {};
  return t('partners.figures', { instances: formatNumber(x.instances || 0), bytes: size(x.bytes || 0) });
}

function lastFailure(p) {
  if (!p.lastFailure) {
    return t('none');
  }
  return [el('code', {}, String(p.lastFailure.code || t('unknown'))), ' · ', timeElement(p.lastFailure.at, true)];
}

function partnerLink(p, text) {
  return el('a', { href: `#partner=${encodeURIComponent(p.id)}` }, text);
}

function partnerRow(p) {
  return el('tr', { className: p.silent ? 'row-attention' : null, dataset: { partnerId: p.id } },
    el('th', { scope: 'row' }, partnerLink(p, p.name || p.id),
      el('div', { className: 'small muted' }, p.institution || '')),
    el('td', {}, p.recipient || t('none')),
    el('td', {}, statusBadges(p)),
    el('td', { className: 'nowrap' }, p.lastContactAt ? timeElement(p.lastContactAt, true) : t('partners.never')),
    el('td', { className: 'nowrap', dataset: { figure: 'today' } }, figures(p.today)),
    el('td', { className: 'nowrap', dataset: { figure: 'last7Days' } }, figures(p.last7Days)),
    el('td', { className: 'number' }, formatNumber((p.today && p.today.failures) || 0)),
    el('td', { className: 'nowrap' }, lastFailure(p)));
}

// (Internal) a partner label of uploads pulled from a gateway: the gateway's word only.
function pulledRow(p) {
  return el('tr', {},
    el('th', { scope: 'row' }, el('code', {}, String(p.partner || ''))),
    el('td', {}, p.gateway || ''),
    el('td', { className: 'nowrap' }, timeElement(p.lastUploadAt, true)),
    el('td', { className: 'number' }, formatNumber((p.last7Days || {}).uploads || 0)),
    el('td', { className: 'nowrap' }, figures(p.last7Days)));
}

async function loadList() {
  await act($('partners-refresh'), async () => {
    const answer = await api('GET', 'partners');
    const partners = Array.isArray(answer && answer.partners) ? answer.partners : [];
    const pulled = Array.isArray(answer && answer.pulled) ? answer.pulled : [];
    $('partners-empty').hidden = partners.length > 0 || pulled.length > 0;
    $('partners-wrap').hidden = partners.length === 0;
    $('partners-body').replaceChildren(...partners.map(partnerRow));
    $('partners-pulled').hidden = pulled.length === 0;
    $('partners-pulled-body').replaceChildren(...pulled.map(pulledRow));
  });
}

function silenceText(p) {
  if (!(p.silenceAlertHours > 0)) {
    return t('partners.noSilenceAlert');
  }
  return t('partners.silenceAfter', { hours: formatNumber(p.silenceAlertHours) });
}

function renderUploads(p) {
  const box = $('partner-uploads');
  const uploads = Array.isArray(p.uploads) ? p.uploads : [];
  if (uploads.length === 0) {
    box.replaceChildren(el('p', { className: 'muted' }, t('partners.noUploads')));
    return;
  }
  box.replaceChildren(el('div', { className: 'table-wrap', role: 'region', tabindex: '0', 'aria-labelledby': 'partner-uploads-heading' },
    el('table', { className: 'table table-compact' },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, t('request.upload')),
        el('th', { scope: 'col' }, t('request.uploadState')),
        el('th', { scope: 'col' }, t('partners.study')),
        el('th', { scope: 'col' }, t('request.uploadFiles')),
        el('th', { scope: 'col' }, t('request.uploadCreated')))),
      el('tbody', {}, uploads.map((u) => el('tr', { dataset: { uploadId: u.id } },
        el('td', {}, el('a', { href: `#upload=${encodeURIComponent(u.id)}` }, el('code', {}, u.id))),
        el('td', {}, stateBadge(u.state)),
        el('td', { className: 'detail' }, el('code', {}, u.study || '')),
        el('td', { className: 'nowrap' }, `${formatNumber(u.files || 0)} · ${size(u.bytes)}`),
        el('td', { className: 'nowrap' }, timeElement(u.createdAt, true))))))));
}

// Its last requests (what was stored and failed), silence alerts and returns.
function renderEvents(p) {
  const events = Array.isArray(p.events) ? p.events : [];
  if (events.length === 0) {
    $('partner-events').replaceChildren(el('p', { className: 'muted' }, t('partners.noEvents')));
    return;
  }
  $('partner-events').replaceChildren(el('div', { className: 'table-wrap', role: 'region', tabindex: '0', 'aria-labelledby': 'partner-events-heading' },
    el('table', { className: 'table table-compact' },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, t('time')),
        el('th', { scope: 'col' }, t('audit.event')),
        el('th', { scope: 'col' }, t('audit.address')),
        el('th', { scope: 'col' }, t('audit.detail')))),
      el('tbody', {}, events.map((e) => el('tr', { className: /^alert-/.test(e.event || '') ? 'row-attention' : null },
        el('td', { className: 'nowrap' }, timeElement(e.time)),
        el('td', {}, el('code', {}, String(e.event || ''))),
        el('td', {}, e.ip || t('none')),
        el('td', { className: 'detail' }, e.detail || '')))))));
}

function renderDetail(p) {
  $('partner-detail-heading').textContent = p.name || p.id;
  const facts = $('partner-facts');
  facts.replaceChildren();
  fact(facts, t('partners.id'), el('code', {}, p.id));
  fact(facts, t('partners.institution'), p.institution || t('none'));
  fact(facts, t('partners.email'), p.email || t('none'));
  fact(facts, t('partners.recipient'), p.recipient || t('none'));
  fact(facts, t('partners.state'), statusBadges(p));
  fact(facts, t('partners.networks'), (p.networks || []).length ? p.networks.join(', ') : t('partners.anywhere'));
  fact(facts, t('partners.lastContact'), p.lastContactAt ? timeElement(p.lastContactAt) : t('partners.never'));
  fact(facts, t('partners.lastStudy'), p.lastStudyAt ? timeElement(p.lastStudyAt) : t('partners.never'));
  fact(facts, t('partners.today'), figures(p.today), ' · ', t('partners.requests', { count: formatNumber((p.today || {}).requests || 0) }));
  fact(facts, t('partners.last7Days'), figures(p.last7Days), ' · ', t('partners.requests', { count: formatNumber((p.last7Days || {}).requests || 0) }));
  fact(facts, t('partners.failures'), formatNumber((p.today || {}).failures || 0), ' · ', formatNumber((p.last7Days || {}).failures || 0));
  fact(facts, t('partners.lastFailure'), lastFailure(p));
  fact(facts, t('partners.openUploads'), formatNumber(p.openUploads || 0));
  fact(facts, t('partners.silence'), silenceText(p));
  renderUploads(p);
  renderEvents(p);
}

async function loadDetail(id) {
  await act(null, async () => {
    renderDetail(await api('GET', `partners/${encodeURIComponent(id)}`));
  });
}

// Asks the server for a new token; it is shown until the admin leaves this panel.
async function makeToken() {
  await act($('partners-token'), async () => {
    state.token = await api('POST', 'partners/token');
    showPanel('partner-token', true);
    $('token-value').value = state.token.token;
    $('token-hash').textContent = state.token.tokenSha256;
    $('token-snippet').textContent = `"TokenSha256" : "${state.token.tokenSha256}"`;
  });
}

function forgetToken() {
  state.token = null;
  $('token-value').value = '';
  $('token-hash').textContent = '';
  $('token-snippet').textContent = '';
}

async function copy(text, done) {
  try {
    await navigator.clipboard.writeText(text);
    announce(t(done));
  } catch (error) {
    announce(t('partners.copyFailed'));
  }
}

// The panel of the URL's hash: target {partner?: id}.
export async function showPartners(target = {}, focus = true) {
  forgetToken();
  if (target.partner) {
    showPanel('partner-detail', false);
    await loadDetail(target.partner);
    if (focus) {
      $('partner-detail-heading').focus();
    }
  } else {
    showPanel('partners-list', focus);
    await loadList();
  }
}

// Another view is shown: the token goes from the page.
export function leavePartners() {
  forgetToken();
}

export function loadPartners() {
  return showPartners({}, false);
}

export function wirePartners() {
  $('partners-refresh').addEventListener('click', () => loadList());
  $('partners-token').addEventListener('click', makeToken);
  $('token-copy').addEventListener('click', () => state.token && copy(state.token.token, 'partners.tokenCopied'));
  $('token-snippet-copy').addEventListener('click', () => state.token && copy($('token-snippet').textContent, 'partners.snippetCopied'));
  $('token-done').addEventListener('click', () => {
    forgetToken();
    showPanel('partners-list', true);
    loadList();
  });
}
