// The details of one upload in the inbox: message, sender, client, studies with links into
// Orthanc Explorer, the actions, the releases and forwards (followed while they run), history.

import { el } from '../../WebShared/dom.js';
import { formatNumber } from '../../WebShared/format.js';
import { t, tn } from '../../WebShared/i18n.js';
import { api, query } from './api.js';
import { dicomDate, matchText, size, stateBadge, timeElement } from './format.js';
import { inbox } from './store.js';
import { act, fact, showError } from './ui.js';

const EXPLORER_STUDY = '/app/explorer.html#study?uuid=';
const POLL_INTERVAL = 2000;

// "Description · date · modalities · n instances", as the details and the release dialog list a study.
export function studyText(study) {
  return t('upload.study', {
    description: study.description || t('upload.noDescription'),
    date: dicomDate(study.studyDate),
    modalities: (study.modalities || []).join(', ') || t('none'),
    instances: tn('count.instance', study.instances),
  });
}

function renderFacts(container, upload) {
  const sender = upload.sender || {};
  const recipient = upload.recipient || {};
  const client = upload.client || {};
  const facts = el('dl', { className: 'facts' });
  fact(facts, t('upload.email'), sender.email ? el('a', { href: `mailto:${sender.email}` }, sender.email) : t('none'));
  fact(facts, t('upload.phone'), sender.phone || t('none'));
  fact(facts, t('upload.institution'), sender.institution || t('none'));
  fact(facts, t('upload.recipient'), recipient.name || recipient.id || t('none'));
  if (upload.request) {
    const request = upload.request;
    const patient = request.patient || {};
    fact(facts, t('upload.request'),
      el('a', { href: `#request=${encodeURIComponent(request.id)}` }, t('upload.requestText', {
        id: request.id, name: patient.name || t('none'), patientId: patient.id || t('none'), birthDate: dicomDate(patient.birthDate),
      })),
      el('span', { className: request.matched === false ? 'match-bad' : 'match' }, ` — ${matchText(request.matched)}`));
  }
  fact(facts, t('upload.consent'), upload.consentVersion ? t('upload.consentVersion', { version: upload.consentVersion }) : t('none'));
  fact(facts, t('upload.client'), client.ip || upload.clientIp || t('none'));
  if (client.userAgent) {
    fact(facts, t('upload.userAgent'), el('span', { className: 'small' }, client.userAgent));
  }
  fact(facts, t('upload.created'), timeElement(upload.createdAt));
  fact(facts, t('upload.completed'), timeElement(upload.completedAt));
  fact(facts, t('upload.receiptCode'), upload.receiptCode ? el('code', {}, upload.receiptCode) : t('none'));
  fact(facts, t('upload.id'), el('code', {}, upload.id));
  fact(facts, t('upload.size'), `${formatNumber(upload.files)} · ${size(upload.bytes)}`);
  container.append(facts);
  if (upload.dataRemoved) {
    container.append(el('p', { className: 'notice-inline' }, t('upload.dataRemoved')));
  }
}

// Studies, with links into Orthanc Explorer
function renderStudies(container, studies) {
  container.append(el('h3', { className: 'small-heading' }, t('upload.studies')));
  if (studies.length === 0) {
    container.append(el('p', { className: 'muted' }, t('upload.noStudies')));
    return;
  }
  const list = el('ul', { className: 'study-list' });
  for (const study of studies) {
    const text = studyText(study);
    list.append(el('li', {},
      study.orthancId
        ? el('a', { href: EXPLORER_STUDY + encodeURIComponent(study.orthancId), className: 'study-link' }, text)
        : el('span', {}, text),
      el('span', { className: 'study-ids' },
        study.originalPatientId ? t('upload.senderPatientId', { id: study.originalPatientId }) : null,
        study.patientId ? ` · ${t('upload.isolatedPatientId', { id: study.patientId })}` : null)));
  }
  container.append(list);
}

function renderHistory(container, history) {
  const table = el('table', { className: 'table table-compact' },
    el('thead', {}, el('tr', {},
      el('th', { scope: 'col' }, t('time')),
      el('th', { scope: 'col' }, t('audit.event')),
      el('th', { scope: 'col' }, t('audit.detail')),
      el('th', { scope: 'col' }, t('audit.address')))),
    el('tbody', {}, history.map((event) => el('tr', {},
      el('td', { className: 'nowrap' }, timeElement(event.time)),
      el('td', {}, el('code', {}, event.event || '')),
      el('td', { className: 'detail' }, event.detail || ''),
      el('td', {}, event.ip || '')))));
  const title = t('upload.history', { count: tn('count.event', history.length) });
  container.append(el('details', { className: 'history' },
    el('summary', {}, title),
    el('div', { className: 'table-wrap', role: 'region', tabindex: '0', 'aria-label': title }, table)));
}

// actions: {release(id), remove(id, button), ban(id, button)}, the inbox's handlers.
export function renderDetails(id, container, actions) {
  const upload = inbox.details.get(id);
  container.replaceChildren();
  if (!upload) {
    container.append(el('p', { className: 'muted' }, t('loading')));
    return;
  }
  container.append(el('h3', { className: 'visually-hidden' }, t('upload.details')));
  container.append(el('div', { className: 'message' },
    el('h3', { className: 'small-heading' }, t('upload.message')),
    el('p', { className: upload.message ? 'message-text' : 'message-text muted' }, upload.message || t('upload.noMessage'))));
  renderFacts(container, upload);
  const studies = Array.isArray(upload.studies) ? upload.studies : [];
  renderStudies(container, studies);

  const buttons = el('div', { className: 'actions' });
  const releasable = upload.state === 'complete' && studies.some((s) => s.orthancId);
  if (releasable) {
    buttons.append(el('button', {
      type: 'button', className: 'button button-primary', onclick: () => actions.release(id),
    }, t('upload.release')));
  }
  if (upload.state !== 'deleted') {
    buttons.append(el('button', {
      type: 'button', className: 'button button-danger', onclick: (event) => actions.remove(id, event.currentTarget),
    }, t('upload.delete')));
  }
  if (upload.client && upload.client.ip) {
    buttons.append(el('button', {
      type: 'button', className: 'button', onclick: (event) => actions.ban(id, event.currentTarget),
    }, t('upload.ban')));
  }
  container.append(buttons);

  const forwardsBox = el('div', { className: 'forwards', dataset: { forwardsOf: id } });
  container.append(el('h3', { className: 'small-heading' }, t('upload.forwards')), forwardsBox);
  renderForwards(id, forwardsBox);
  renderHistory(container, Array.isArray(upload.history) ? upload.history : []);
}

export function forwardsBoxOf(id) {
  return document.querySelector(`[data-forwards-of="${CSS.escape(id)}"]`);
}

function forwardRow(id, f, studies) {
  const study = studies.get(f.study);
  const studyText = study ? (study.description || dicomDate(study.studyDate)) : (f.study || '');
  const retry = f.state === 'failed'
    ? el('button', {
      type: 'button', className: 'button button-small', onclick: (event) => retryForward(id, f.id, event.currentTarget),
    }, t('forward.retry'))
    : null;
  return el('tr', { className: `forward forward-${/^[a-z]+$/.test(f.state || '') ? f.state : 'unknown'}` },
    el('td', {}, studyText),
    el('td', {}, f.modality || '', el('span', { className: 'small muted' },
      ` (${t(`forward.origin.${f.origin === 'rule' ? 'rule' : 'admin'}`)}${f.newUids ? `, ${t('forward.newUids')}` : ''})`)),
    el('td', {}, f.keepNamespacedPatientId || !f.patientId ? t('forward.namespaced') : el('code', {}, f.patientId)),
    el('td', {}, stateBadge(f.state)),
    el('td', { className: 'number' }, formatNumber(f.attempts)),
    el('td', { className: 'detail' }, f.lastError || ''),
    el('td', { className: 'nowrap' }, timeElement(f.updatedAt, true)),
    el('td', {}, retry));
}

export function renderForwards(id, box = forwardsBoxOf(id)) {
  if (!box) {
    return;
  }
  box.replaceChildren();
  const forwards = inbox.forwards.get(id) || [];
  if (forwards.length === 0) {
    box.append(el('p', { className: 'muted' }, t('upload.noForwards')));
    return;
  }
  if (inbox.polls.has(id)) {
    box.append(el('p', { className: 'muted' }, t('forward.following')));
  }
  const upload = inbox.details.get(id);
  const studies = new Map(((upload && upload.studies) || []).map((s) => [s.orthancId, s]));
  box.append(el('div', { className: 'table-wrap', role: 'region', tabindex: '0', 'aria-label': t('upload.forwards') },
    el('table', { className: 'table table-compact' },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, t('forward.study')),
        el('th', { scope: 'col' }, t('forward.target')),
        el('th', { scope: 'col' }, t('forward.patientId')),
        el('th', { scope: 'col' }, t('inbox.state')),
        el('th', { scope: 'col' }, t('forward.attempts')),
        el('th', { scope: 'col' }, t('forward.error')),
        el('th', { scope: 'col' }, t('forward.updated')),
        el('th', { scope: 'col' }, el('span', { className: 'visually-hidden' }, t('actions'))))),
      el('tbody', {}, forwards.map((f) => forwardRow(id, f, studies))))));
}

// Follows the forwards of an upload every 2 s until every one is sent or failed.
export function pollForwards(id) {
  stopPolling(id);
  const tick = async () => {
    try {
      const answer = await api('GET', `forwards${query({ upload: id, limit: 100 })}`);
      const forwards = Array.isArray(answer && answer.forwards) ? answer.forwards : [];
      inbox.forwards.set(id, forwards);
      const finished = forwards.length > 0 && forwards.every((f) => f.state === 'done' || f.state === 'failed');
      if (finished) {
        stopPolling(id);
      } else {
        inbox.polls.set(id, window.setTimeout(tick, POLL_INTERVAL));
      }
      renderForwards(id);
    } catch (error) {
      stopPolling(id);
      renderForwards(id);
      showError(error);
    }
  };
  inbox.polls.set(id, window.setTimeout(tick, 0));
}

export function stopPolling(id) {
  const timer = inbox.polls.get(id);
  if (timer !== undefined) {
    window.clearTimeout(timer);
    inbox.polls.delete(id);
  }
}

async function retryForward(uploadId, forwardId, button) {
  await act(button, async () => {
    const forward = await api('POST', `forwards/${encodeURIComponent(forwardId)}/retry`);
    if (forward && forward.id !== undefined) {
      inbox.forwards.set(uploadId, (inbox.forwards.get(uploadId) || []).map((f) => (f.id === forward.id ? forward : f)));
    }
    pollForwards(uploadId);
    renderForwards(uploadId);
  });
}
