// The notifications view: mails and webhooks by state, with their attempts and last error;
// a failed one can be made due again.

import { $, el } from '../../WebShared/dom.js';
import { formatNumber } from '../../WebShared/format.js';
import { t } from '../../WebShared/i18n.js';
import { api, query } from './api.js';
import { formatAge, stateBadge, timeElement } from './format.js';
import { act, announce } from './ui.js';

function notificationRow(n) {
  return el('tr', {},
    el('td', { className: 'nowrap' }, timeElement(n.createdAt)),
    el('td', {}, `${n.channel || ''} · ${n.kind || n.event || ''}`,
      n.uploadId ? el('span', { className: 'small' }, ' ', el('a', { href: `#upload=${encodeURIComponent(n.uploadId)}` }, String(n.uploadId))) : null),
    el('td', { className: 'detail' }, n.target || ''),
    el('td', { className: 'detail' }, n.subject || ''),
    el('td', {}, stateBadge(n.state),
      n.nextAttemptAt ? el('span', { className: 'small muted' }, ' ', t('notifications.next', { time: formatAge(n.nextAttemptAt) })) : null),
    el('td', { className: 'number' }, formatNumber(n.attempts)),
    el('td', { className: 'detail' }, n.lastError || ''),
    el('td', {}, n.state === 'failed' ? el('button', {
      type: 'button', className: 'button button-small', onclick: (event) => retryNotification(n.id, event.currentTarget),
    }, t('notifications.retry')) : null));
}

export async function loadNotifications() {
  await act($('notifications-refresh'), async () => {
    const state = $('notifications-state').value;
    const answer = await api('GET', `notifications${query({ state, limit: 200 })}`);
    const counts = (answer && answer.counts) || {};
    $('notification-counts').replaceChildren(...['pending', 'delivered', 'failed'].map((key) =>
      el('div', { className: `count count-${key}` }, el('dt', {}, t(`state.${key}`)), el('dd', {}, formatNumber(counts[key])))));
    const list = Array.isArray(answer && answer.notifications) ? answer.notifications : [];
    $('notifications-empty').hidden = list.length > 0;
    $('notifications-wrap').hidden = list.length === 0;
    $('notifications-body').replaceChildren(...list.map(notificationRow));
  });
}

async function retryNotification(id, button) {
  await act(button, async () => {
    await api('POST', `notifications/${encodeURIComponent(id)}/retry`);
    announce(t('notifications.retried', { id }));
    await loadNotifications();
    $('notifications-heading').focus();
  });
}

export function wireNotifications() {
  $('notifications-refresh').addEventListener('click', () => loadNotifications());
  $('notifications-state').addEventListener('change', () => loadNotifications());
}
