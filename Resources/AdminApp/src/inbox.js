// The inbox view: the uploads with their state, filtered, searched and sorted; an upload
// expanded to its details; deleting an upload, banning its sender, releasing it.

import { $, el, uniqueId } from '../../WebShared/dom.js';
import { locale, t, tn } from '../../WebShared/i18n.js';
import { api, query } from './api.js';
import { senderName, size, stateBadge, timeElement } from './format.js';
import { openRelease, setUpReleaseDialog } from './release.js';
import { inbox, loadDetails, uploadFor } from './store.js';
import { act, announce, confirmAction, showError } from './ui.js';
import { forwardsBoxOf, pollForwards, renderDetails, stopPolling } from './upload.js';

const INBOX_LIMIT = 1000;
const BAN_SECONDS = 86400;

export async function loadInbox() {
  await act($('inbox-refresh'), async () => {
    const state = $('inbox-state').value;
    const answer = await api('GET', `uploads${query({ state, limit: INBOX_LIMIT })}`);
    inbox.uploads = Array.isArray(answer && answer.uploads) ? answer.uploads : [];
    // Details of expanded uploads are loaded again, so that they are current.
    const reload = [...inbox.expanded].filter((id) => inbox.uploads.some((u) => u.id === id));
    inbox.details.clear();
    await Promise.all(reload.map((id) => loadDetails(id).catch((error) => showError(error))));
    renderInbox();
  });
}

function matches(upload, text) {
  if (!text) {
    return true;
  }
  const s = upload.sender || {};
  const r = upload.recipient || {};
  const haystack = [s.name, s.institution, s.email, s.phone, r.name, r.id, upload.receiptCode, upload.id,
    upload.message, upload.client && upload.client.ip].join('\n').toLowerCase();
  return text.toLowerCase().split(/\s+/).filter(Boolean).every((word) => haystack.includes(word));
}

function sortedUploads() {
  const text = $('inbox-text').value.trim();
  const list = inbox.uploads.filter((u) => matches(u, text));
  const sort = $('inbox-sort').value;
  const time = (u) => Date.parse(u.createdAt) || 0;
  if (sort === 'oldest') {
    list.sort((a, b) => time(a) - time(b));
  } else if (sort === 'sender') {
    const collator = new Intl.Collator(locale(), { sensitivity: 'base' });
    list.sort((a, b) => collator.compare(senderName(a), senderName(b)) || time(b) - time(a));
  } else {
    list.sort((a, b) => time(b) - time(a));
  }
  return list;
}

export function renderInbox() {
  const list = $('inbox-list');
  list.replaceChildren();
  inbox.rows.clear();
  const uploads = sortedUploads();
  if (inbox.uploads.length === 0) {
    $('inbox-count').textContent = t('inbox.empty');
  } else if (uploads.length === 0) {
    $('inbox-count').textContent = t('inbox.noMatch');
  } else {
    $('inbox-count').textContent = t('inbox.count', { shown: uploads.length, total: inbox.uploads.length });
  }
  for (const upload of uploads) {
    const row = renderUploadRow(upload);
    inbox.rows.set(upload.id, row);
    list.append(row);
  }
}

function countsText(upload) {
  const studies = Array.isArray(upload.studies) ? upload.studies.length : 0;
  return `${tn('count.study', studies)} · ${tn('count.file', upload.files)} · ${size(upload.bytes)}`;
}

const detailActions = { release: openRelease, remove: deleteUpload, ban: banSender };

function renderUploadRow(upload) {
  const detailsId = uniqueId('upload-details');
  const expanded = inbox.expanded.has(upload.id);
  const sender = upload.sender || {};
  const recipient = upload.recipient || {};
  const toggle = el('button', {
    type: 'button', className: 'upload-toggle', 'aria-expanded': expanded ? 'true' : 'false', 'aria-controls': detailsId,
  },
  el('span', { className: 'upload-who' },
    el('span', { className: 'upload-sender' }, senderName(upload)),
    sender.institution ? el('span', { className: 'upload-institution' }, sender.institution) : null),
  stateBadge(upload.state));
  const meta = el('p', { className: 'upload-meta' },
    el('span', {}, t('upload.to', { recipient: recipient.name || recipient.id || t('none') })),
    el('span', {}, countsText(upload)),
    el('span', {}, t('upload.receivedLabel'), ' ', timeElement(upload.createdAt, true)),
    upload.receiptCode ? el('span', {}, t('upload.receiptCode'), ' ',
      el('code', { className: 'receipt-code' }, upload.receiptCode)) : null);
  const details = el('div', { className: 'upload-details', id: detailsId, hidden: !expanded });
  const row = el('li', { className: 'upload', dataset: { uploadId: upload.id } },
    el('h2', { className: 'upload-heading' }, toggle), meta, details);
  toggle.addEventListener('click', () => {
    if (inbox.expanded.has(upload.id)) {
      collapseUpload(upload.id);
    } else {
      expandUpload(upload.id, false);
    }
  });
  if (expanded) {
    renderDetails(upload.id, details, detailActions);
  }
  return row;
}

export async function expandUpload(id, scroll) {
  inbox.expanded.add(id);
  const row = inbox.rows.get(id);
  if (!inbox.details.has(id)) {
    try {
      await loadDetails(id);
    } catch (error) {
      inbox.expanded.delete(id);
      showError(error);
      return;
    }
  }
  if (!row) {
    return;
  }
  const toggle = row.querySelector('.upload-toggle');
  const details = row.querySelector('.upload-details');
  toggle.setAttribute('aria-expanded', 'true');
  details.hidden = false;
  renderDetails(id, details, detailActions);
  if (scroll) {
    row.scrollIntoView({ block: 'start' });
  }
}

function collapseUpload(id) {
  inbox.expanded.delete(id);
  const row = inbox.rows.get(id);
  if (row) {
    row.querySelector('.upload-toggle').setAttribute('aria-expanded', 'false');
    const details = row.querySelector('.upload-details');
    details.hidden = true;
    details.replaceChildren();
  }
}

async function deleteUpload(id, button) {
  const upload = uploadFor(id);
  const ok = await confirmAction({
    title: t('delete.title'),
    text: t('delete.text', { id, sender: senderName(upload) }),
    ok: t('delete.ok'),
  });
  if (!ok) {
    return;
  }
  await act(button, async () => {
    await api('DELETE', `uploads/${encodeURIComponent(id)}`);
    stopPolling(id);
    inbox.expanded.delete(id);
    inbox.details.delete(id);
    announce(t('delete.done', { id }));
    await loadInbox();
    $('inbox-heading').focus();
  });
}

async function banSender(id, button) {
  const upload = uploadFor(id);
  const ip = (upload.client && upload.client.ip) || upload.clientIp;
  if (!ip) {
    return;
  }
  const ok = await confirmAction({
    title: t('ban.title'),
    text: t('ban.text', { ip, id, sender: senderName(upload) }),
    ok: t('ban.ok'),
  });
  if (!ok) {
    return;
  }
  await act(button, async () => {
    await api('POST', 'bans', { entry: ip, seconds: BAN_SECONDS, reason: `Upload ${id} (admin page)` });
    announce(t('ban.done', { ip }));
  });
}

// A release has started: its forwards are shown in the upload's details and followed.
async function showRelease(id, forwards) {
  announce(t('release.started', { id, count: tn('count.transfer', forwards.length) }));
  if (!inbox.expanded.has(id)) {
    await expandUpload(id, false);
  }
  inbox.forwards.set(id, [...forwards, ...(inbox.forwards.get(id) || []).filter((f) => !forwards.some((n) => n.id === f.id))]);
  pollForwards(id);
  const box = forwardsBoxOf(id);
  if (box) {
    box.scrollIntoView({ block: 'nearest' });
  }
}

// Shows the upload of "#upload=<id>" or "#release=<id>" expanded, whatever its state.
export async function showUpload(id, releasing) {
  $('inbox-state').value = '';
  $('inbox-text').value = '';
  await loadInbox();
  await expandUpload(id, true);
  if (releasing) {
    await openRelease(id);
  }
}

export function wireInbox() {
  setUpReleaseDialog(showRelease);
  $('inbox-refresh').addEventListener('click', () => loadInbox());
  $('inbox-state').addEventListener('change', () => loadInbox());
  $('inbox-text').addEventListener('input', renderInbox);
  $('inbox-sort').addEventListener('change', renderInbox);
}
