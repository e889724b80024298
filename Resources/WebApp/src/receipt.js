// Step 5, the receipt: the receipt code, what arrived (studies, images, size), and the files
// that were not sent or could not be sent, with the reasons.

import { $, el } from '../../WebShared/dom.js';
import { formatBytes, formatDicomDate } from '../../WebShared/format.js';
import { locale, t, tn } from '../../WebShared/i18n.js';
import { formatDateTime } from './format.js';
import { recipients, siteName, state, tp } from './page.js';
import { renderSkippedList, skippedGroups } from './preview.js';

function receiptRecipient(r) {
  const base = state.resumeBase || {};
  return r.recipient && typeof r.recipient === 'object' ? r.recipient.name
    : (recipients().find((x) => x.id === r.recipient) || {}).name || base.recipientName || '';
}

function renderFacts(r) {
  const base = state.resumeBase || {};
  const facts = $('receipt-facts');
  facts.replaceChildren();
  const fact = (label, value) => {
    if (value) {
      facts.append(el('dt', { text: t(label) }), el('dd', { text: value }));
    }
  };
  const recipientName = receiptRecipient(r);
  const sender = state.sender || base.sender || {};
  fact('receipt.site', r.siteName || siteName());
  fact('receipt.recipient', recipientName);
  fact('receipt.sender', [sender.name, sender.institution].filter(Boolean).join(', '));
  fact('receipt.completedAt', r.completedAt ? formatDateTime(r.completedAt) : '');
  fact('receipt.images', typeof r.files === 'number' ? r.files.toLocaleString(locale()) : '');
  fact('receipt.size', typeof r.bytes === 'number' ? formatBytes(r.bytes) : '');
}

function renderStudies(r) {
  const body = $('receipt-studies');
  body.replaceChildren();
  const studies = [...(r.studies || [])].sort((a, b) => String(a.studyDate || '').localeCompare(String(b.studyDate || '')));
  for (const study of studies) {
    const modalities = Array.isArray(study.modalities) ? study.modalities : String(study.modalities || '').split(/[\\,]/).filter(Boolean);
    body.append(el('tr', {},
      el('td', { text: study.studyDate ? formatDicomDate(study.studyDate) : t('images.unknownDate') }),
      el('td', {}, modalities.map((m) => el('span', { className: 'modality', text: m }))),
      el('td', { text: study.description || t('images.noDescription') }),
      el('td', { className: 'num', text: typeof study.instances === 'number' ? study.instances.toLocaleString(locale()) : '' })));
  }
}

function renderProblems() {
  const problems = $('receipt-problems');
  problems.replaceChildren();
  if (state.scanResult) {
    const groups = skippedGroups();
    // Files the server declined without fault (a DICOMDIR, a second version of an image).
    for (const item of state.items.filter((it) => it.state === 'skipped')) {
      let group = groups.find((g) => g.reason === item.reason);
      if (!group) {
        group = { reason: item.reason, count: 0, examples: [] };
        groups.push(group);
      }
      group.count++;
      if (group.examples.length < 3) {
        group.examples.push(item.entry.name);
      }
    }
    if (groups.length) {
      const list = el('ul', { className: 'problem-list' });
      renderSkippedList(list, groups);
      problems.append(el('h3', { text: t('receipt.notSent') }), list);
    }
  }
  const failed = state.items.filter((it) => it.state === 'failed' || it.state === 'pending' || it.state === 'sending');
  if (failed.length) {
    const byReason = new Map();
    for (const item of failed) {
      const reason = item.reason || 'network';
      if (!byReason.has(reason)) {
        byReason.set(reason, []);
      }
      byReason.get(reason).push(item.entry.name);
    }
    const list = el('ul', { className: 'problem-list' });
    for (const [reason, names] of byReason) {
      list.append(el('li', {}, el('strong', { text: tn('count.files', names.length) }), ': ', tp(`fail.${reason}`),
        el('span', { className: 'examples', text: t('skip.examples', { files: names.slice(0, 3).join(', ') }) })));
    }
    problems.append(el('h3', { text: t('receipt.failed') }), list);
  }
}

export function renderReceipt() {
  const r = state.receipt;
  if (!r) {
    return;
  }
  const site = r.siteName || siteName();
  const recipient = receiptRecipient(r);
  // On a request link: the images answer the hospital's request.
  $('receipt-ok').textContent = state.request
    ? tp(recipient ? 'receipt.okRequest' : 'receipt.okRequestSite', { site, recipient })
    : tp('receipt.ok', { site });
  $('receipt-code').textContent = r.receiptCode || '';
  $('receipt-code-hint').textContent = tp('receipt.codeHint', { site: r.siteName || siteName() });
  renderFacts(r);
  renderStudies(r);
  renderProblems();
}

export function wireReceipt() {
  $('receipt-print').addEventListener('click', () => window.print());
  $('receipt-again').addEventListener('click', () => window.location.reload());
}
