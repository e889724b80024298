// The gateways view (Internal role): each gateway pulled from, its last contact, backlog,
// deliveries, failures, held uploads and last error.

import { $, el } from '../../WebShared/dom.js';
import { formatNumber } from '../../WebShared/format.js';
import { t } from '../../WebShared/i18n.js';
import { api } from './api.js';
import { timeElement } from './format.js';
import { act } from './ui.js';

function gatewayRow(g) {
  const held = Array.isArray(g.held) ? g.held : [];
  return el('tr', { className: g.lastError || held.length ? 'row-attention' : null },
    el('th', { scope: 'row' }, g.name || ''),
    el('td', { className: 'nowrap' }, g.lastContact ? timeElement(g.lastContact, true) : t('gateways.never')),
    el('td', { className: 'number' }, formatNumber(g.backlog)),
    el('td', { className: 'number' }, formatNumber(g.delivered)),
    el('td', { className: 'number' }, formatNumber(g.failures)),
    el('td', {}, held.length === 0 ? t('none') : el('ul', { className: 'plain-list' },
      held.map((id) => el('li', {}, el('a', { href: `#upload=${encodeURIComponent(id)}` }, String(id)))))),
    el('td', { className: 'detail' }, g.lastError || '',
      g.lastFailure ? el('span', { className: 'small muted' }, ' (', timeElement(g.lastFailure, true), ')') : null));
}

export async function loadGateways() {
  await act($('gateways-refresh'), async () => {
    const answer = await api('GET', 'gateways');
    const gateways = Array.isArray(answer && answer.gateways) ? answer.gateways : [];
    $('gateways-empty').hidden = gateways.length > 0;
    $('gateways-wrap').hidden = gateways.length === 0;
    $('gateways-body').replaceChildren(...gateways.map(gatewayRow));
  });
}

export function wireGateways() {
  $('gateways-refresh').addEventListener('click', () => loadGateways());
}
