// The limits view: the data monitor (and lifting its stop), the quotas used today, refusals
// and automatic bans, the list of bans with lifting and adding one.

import { $, el } from '../../WebShared/dom.js';
import { formatBytes, formatNumber } from '../../WebShared/format.js';
import { t } from '../../WebShared/i18n.js';
import { api } from './api.js';
import { size, stateBadge, timeElement } from './format.js';
import { act, announce, fact, showError } from './ui.js';

export async function loadLimits() {
  await act($('limits-refresh'), async () => {
    const limits = await api('GET', 'limits');
    renderLimits(limits || {});
  });
}

function limitValue(used, limit, format = formatNumber) {
  if (!limit) {
    return `${format(used)} (${t('noLimit')})`;
  }
  return t('limits.quotaValue', { used: format(used), limit: format(limit) });
}

function renderMonitor(monitor) {
  const facts = $('monitor-facts');
  facts.replaceChildren();
  fact(facts, t('limits.state'), stateBadge(monitor.state || 'unknown'));
  if (monitor.reason) {
    fact(facts, t('limits.reason'), monitor.reason);
  }
  fact(facts, t('limits.freeBytes'), size(monitor.freeBytes));
  fact(facts, t('limits.bytesToday'), size(monitor.bytesToday));
  const threshold = (value) => (value ? formatBytes(value) : t('off'));
  fact(facts, t('limits.warnFree'), `${threshold(monitor.warnFreeBytes)} / ${threshold(monitor.stopFreeBytes)}`);
  fact(facts, t('limits.warnDay'), `${threshold(monitor.warnBytesPerDay)} / ${threshold(monitor.stopBytesPerDay)}`);
  $('monitor-lift').hidden = monitor.state !== 'stopped';
}

function renderQuotas(limits) {
  const quotas = limits.quotas || {};
  const quotaLimits = quotas.limits || {};
  const global = quotas.global || {};
  const facts = $('quota-facts');
  facts.replaceChildren();
  fact(facts, t('limits.day'), quotas.day || t('none'));
  if (quotas.resetsInSeconds !== undefined) {
    const hours = Math.floor(quotas.resetsInSeconds / 3600);
    const minutes = Math.floor((quotas.resetsInSeconds % 3600) / 60);
    fact(facts, t('limits.resets'), `${hours} h ${String(minutes).padStart(2, '0')} min`);
  }
  fact(facts, t('limits.uploadsToday'), limitValue(global.uploads || 0, quotaLimits.uploadsPerDay));
  fact(facts, t('limits.bytesTodayQuota'), limitValue(global.bytes || 0, quotaLimits.bytesPerDay, formatBytes));
  const pair = (uploads, bytes) => `${uploads ? formatNumber(uploads) : t('noLimit')} · ${bytes ? formatBytes(bytes) : t('noLimit')}`;
  fact(facts, t('limits.perClient'), pair(quotaLimits.uploadsPerClientPerDay, quotaLimits.bytesPerClientPerDay));
  fact(facts, t('limits.perSender'), pair(quotaLimits.uploadsPerSenderPerDay, quotaLimits.bytesPerSenderPerDay));
  const inFlight = limits.inFlight || {};
  const rateLimits = limits.limits || {};
  fact(facts, t('limits.inFlight'), limitValue(inFlight.bytes || 0, rateLimits.maxBytesInFlight, formatBytes));
  fact(facts, t('limits.rates'), `${rateLimits.requestsPerSecond ? formatNumber(rateLimits.requestsPerSecond) : t('noLimit')} / ${
    rateLimits.bytesPerSecond ? `${formatBytes(rateLimits.bytesPerSecond)}/s` : t('noLimit')}`);
}

function renderRefusals(limits) {
  const facts = $('refusal-facts');
  facts.replaceChildren();
  const refusals = limits.refusals && typeof limits.refusals === 'object' ? Object.entries(limits.refusals) : [];
  if (refusals.length === 0) {
    facts.append(el('div', { className: 'fact' }, el('dt', {}, t('limits.refusals')), el('dd', {}, t('limits.noRefusals'))));
  }
  for (const [reason, count] of refusals) {
    fact(facts, reason, typeof count === 'object' ? JSON.stringify(count) : formatNumber(count));
  }
  const autoBan = limits.autoBan || {};
  const triggers = [];
  if (autoBan.refusals) {
    triggers.push(t('limits.autoBanRefusals', { n: formatNumber(autoBan.refusals) }));
  }
  if (autoBan.limitHits) {
    triggers.push(t('limits.autoBanHits', { n: formatNumber(autoBan.limitHits) }));
  }
  fact(facts, t('limits.autoBan'), triggers.length
    ? t('limits.autoBanRule', { what: triggers.join(` ${t('or')} `), window: formatNumber(autoBan.windowSeconds), ban: formatNumber(autoBan.banSeconds) })
    : t('off'));
}

function renderLimits(limits) {
  renderMonitor(limits.dataMonitor || {});
  renderQuotas(limits);
  renderRefusals(limits);
  renderBans(Array.isArray(limits.bans) ? limits.bans : []);
}

function renderBans(bans) {
  const body = $('bans-body');
  body.replaceChildren();
  $('bans-empty').hidden = bans.length > 0;
  body.closest('.table-wrap').hidden = bans.length === 0;
  for (const ban of bans) {
    const notes = [];
    if (ban.automatic) {
      notes.push(t('bans.automatic'));
    }
    if (ban.active === false) {
      notes.push(t('bans.inactive'));
    }
    body.append(el('tr', {},
      el('td', {}, el('code', {}, ban.entry || '')),
      el('td', { className: 'detail' }, ban.reason || '', notes.length ? el('span', { className: 'small muted' }, ` (${notes.join(', ')})`) : null),
      el('td', { className: 'nowrap' }, timeElement(ban.createdAt)),
      el('td', { className: 'nowrap' }, ban.until ? timeElement(ban.until) : t('bans.forever')),
      el('td', {}, el('button', {
        type: 'button',
        className: 'button button-small',
        'aria-label': t('bans.liftLabel', { entry: ban.entry }),
        onclick: (event) => liftBan(ban.entry, event.currentTarget),
      }, t('bans.lift')))));
  }
}

async function liftBan(entry, button) {
  await act(button, async () => {
    // The entry's "/" and ":" stay as they are: the proxy refuses escaped slashes (path
    // tricks), and the route takes the rest of the path as the entry.
    await api('DELETE', `bans/${encodeURIComponent(entry).replace(/%2F/gi, '/').replace(/%3A/gi, ':')}`);
    announce(t('bans.lifted', { entry }));
    await loadLimits();
    $('limits-heading').focus();
  });
}

async function addBan(event) {
  event.preventDefault();
  const entry = $('ban-entry').value.trim();
  if (!entry) {
    showError(new Error(t('bans.needEntry')));
    $('ban-entry').focus();
    return;
  }
  await act(event.submitter || null, async () => {
    await api('POST', 'bans', {
      entry, seconds: Number($('ban-duration').value), reason: $('ban-reason').value.trim() || 'admin page',
    });
    $('ban-entry').value = '';
    $('ban-reason').value = '';
    announce(t('bans.added', { entry }));
    await loadLimits();
  });
}

async function liftMonitor(event) {
  await act(event.currentTarget, async () => {
    await api('POST', 'limits/lift');
    announce(t('limits.lifted'));
    await loadLimits();
  });
}

export function wireLimits() {
  $('limits-refresh').addEventListener('click', () => loadLimits());
  $('monitor-lift').addEventListener('click', liftMonitor);
  $('ban-form').addEventListener('submit', addBan);
}
