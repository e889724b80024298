// The release dialog's "Who is this patient?" (doc/Reconciliation.md): the patients as sent beside
// the hospital's candidates from GET uploads/{id}/candidates (asked while the dialog is in use;
// "Ask again" asks the sources afresh), one click fills the identity and chooses that patient's
// studies, and a mismatch needs the confirmation checkbox (confirmMismatch).

import { $, el, uniqueId } from '../../WebShared/dom.js';
import { hasText, t, tn } from '../../WebShared/i18n.js';
import { api, describeError } from './api.js';
import { dateInputValue, dicomDate, formatTime } from './format.js';
import { knownSex, mismatches, patientsOfStudies, score, splitCandidates } from './reconcile-rules.js';

const state = {
  uploadId: null,
  round: 0,          // answers of an earlier round (or upload) are ignored
  result: null,      // the last answer
  chosen: null,      // {patient, candidate} whose identity the form holds
  serverMessage: '', // the server's 409 confirmation-required message
  rows: [],          // [{candidate, row}] of the candidates shown
};

function sourceName(source) {
  if (source === 'local' || source === 'request') {
    return t(`reconcile.source.${source}`);
  }
  return String(source || t('unknown'));
}

function sexText(sex) {
  return knownSex(sex) ? t(`sex.${sex}`) : t('sex.unknown');
}

function textOr(value, fallback = t('none')) {
  return value ? String(value) : fallback;
}

const STATUS_BADGES = { answered: 'ok', timeout: 'warning', busy: 'warning', failed: 'failed', unavailable: 'failed' };

function renderSources(sources) {
  const list = $('reconcile-sources');
  list.replaceChildren();
  for (const source of sources || []) {
    const status = STATUS_BADGES[source.status] ? source.status : 'failed';
    const query = hasText(`reconcile.query.${source.query}`) ? t(`reconcile.query.${source.query}`) : String(source.query || '');
    const seconds = (Number(source.elapsedMs) || 0) / 1000;
    list.append(el('li', { className: 'reconcile-source' },
      el('span', { className: `badge badge-${STATUS_BADGES[status]}` }, t(`reconcile.status.${status}`)),
      ' ',
      el('span', { className: 'reconcile-source-name' }, t('reconcile.sourceLine', { source: sourceName(source.source), query })),
      el('span', { className: 'muted' }, ` · ${tn('reconcile.records', Number(source.records) || 0)} · ${
        t('reconcile.seconds', { seconds: seconds.toFixed(1) })}`),
      source.truncated ? el('span', { className: 'muted' }, ` · ${t('reconcile.truncated')}`) : null,
      source.message ? el('span', { className: 'reconcile-source-message' }, ` — ${source.message}`) : null));
  }
}

// What the sender sent for one patient: name, birth date, sex, IDs, accession numbers.
function renderSent(patient, headingId) {
  const facts = el('dl', { className: 'facts facts-compact' });
  const add = (label, ...value) => facts.append(el('div', { className: 'fact' }, el('dt', {}, label), el('dd', {}, ...value)));
  add(t('reconcile.sentId'), el('code', {}, textOr(patient.originalPatientId)),
    patient.issuer ? ` (${t('reconcile.issuerOf', { issuer: patient.issuer })})` : null);
  add(t('release.birthDate'), dicomDate(patient.birthDate));
  add(t('release.sex'), sexText(patient.sex));
  if ((patient.otherPatientIds || []).length) {
    add(t('reconcile.otherIds'), patient.otherPatientIds.join(', '));
  }
  if ((patient.accessionNumbers || []).length) {
    add(t('reconcile.accessions'), patient.accessionNumbers.join(', '));
  }
  add(t('release.studies'), tn('count.study', (patient.studies || []).length));
  return el('div', { className: 'reconcile-sent' },
    el('h4', { id: headingId, className: 'reconcile-name' }, t('reconcile.asSent', { name: textOr(patient.name, t('reconcile.noName')) })),
    facts);
}

function candidateRow(patient, candidate, threshold) {
  const name = textOr(candidate.name, t('reconcile.noName'));
  const value = score(candidate);
  const worklist = candidate.accessionNumber || candidate.requestedProcedureId || candidate.procedure;
  const reasons = (candidate.reasons || []).map((code) =>
    el('li', {}, hasText(`reason.${code}`) ? t(`reason.${code}`) : String(code)));
  const inUse = el('span', { className: 'badge badge-ok candidate-in-use', hidden: true }, t('reconcile.inUse'));
  const row = el('li', { className: `candidate${value < threshold ? ' candidate-weak' : ''}` },
    el('div', { className: 'candidate-who' },
      el('span', { className: 'candidate-name' }, name), ' ', inUse,
      el('span', { className: 'candidate-line' }, t('reconcile.candidateId'), ' ', el('code', {}, textOr(candidate.patientId)),
        candidate.issuer ? ` (${t('reconcile.issuerOf', { issuer: candidate.issuer })})` : null),
      el('span', { className: 'candidate-line' }, t('reconcile.candidateFacts', {
        birthDate: dicomDate(candidate.birthDate), sex: sexText(candidate.sex), source: sourceName(candidate.source),
      })),
      worklist ? el('span', { className: 'candidate-line' }, t('reconcile.scheduled', {
        accession: textOr(candidate.accessionNumber), procedure: textOr(candidate.procedure),
        date: dicomDate(candidate.scheduledDate), modality: textOr(candidate.scheduledModality),
      })) : null),
    el('div', { className: 'candidate-score' },
      el('meter', { min: 0, max: 100, low: threshold, optimum: 100, value, 'aria-label': t('reconcile.score') }),
      el('span', { className: 'candidate-score-value' }, String(value))),
    reasons.length ? el('ul', { className: 'candidate-reasons' }, reasons) : null,
    el('button', { type: 'button', className: 'button button-small candidate-use', onclick: () => use(patient, candidate) },
      t('reconcile.use'), el('span', { className: 'visually-hidden' }, ` ${name} (${textOr(candidate.patientId)})`)));
  state.rows.push({ candidate, row, inUse });
  return row;
}

function renderPatient(patient, threshold) {
  const headingId = uniqueId('reconcile-patient');
  const { fit, other } = splitCandidates(patient, threshold);
  const right = el('div', { className: 'reconcile-candidates' });
  if (patient.ambiguous === true) {
    right.append(el('p', { className: 'notice-inline' }, t('reconcile.ambiguous')));
  }
  if (fit.length) {
    right.append(el('ul', { className: 'candidate-list', 'aria-label': t('reconcile.fitFor', { name: textOr(patient.name, t('reconcile.noName')) }) },
      fit.map((c) => candidateRow(patient, c, threshold))));
  } else {
    right.append(el('p', { className: 'muted' }, t('reconcile.noneFits')));
  }
  if (other.length) {
    right.append(el('details', { className: 'candidates-other' },
      el('summary', {}, tn('reconcile.notFit', other.length)),
      el('ul', { className: 'candidate-list' }, other.map((c) => candidateRow(patient, c, threshold)))));
  }
  return el('div', { className: 'reconcile-patient', role: 'group', 'aria-labelledby': headingId },
    renderSent(patient, headingId), right);
}

function threshold() {
  const value = Number(state.result && state.result.threshold);
  return Number.isFinite(value) ? value : 50;
}

function render(result) {
  state.rows = [];
  renderSources(result.sources);
  const box = $('reconcile-patients');
  box.replaceChildren(...(result.patients || []).map((p) => renderPatient(p, threshold())));
  const answered = (result.sources || []).every((s) => s.status === 'answered');
  setStatus(t(answered ? 'reconcile.answered' : 'reconcile.partly', {
    time: formatTime(new Date(Number(result.generatedAt) || Date.now()).toISOString()),
  }));
}

function setStatus(text, failed = false) {
  const status = $('reconcile-status');
  status.textContent = text;
  status.classList.toggle('field-error', failed);
}

function markInUse() {
  for (const { candidate, row, inUse } of state.rows) {
    const used = Boolean(state.chosen) && state.chosen.candidate === candidate;
    row.classList.toggle('candidate-used', used);
    inUse.hidden = !used;
  }
}

function sameCandidate(a, b) {
  return ['source', 'patientId', 'issuer', 'accessionNumber', 'requestedProcedureId'].every((k) => (a[k] || '') === (b[k] || ''));
}

// After "Ask again": the candidate in use, as the new answer has it (kept as it was if gone).
// An upload bound to a request starts with the request's patient: that candidate is in use.
function adoptCandidate() {
  const patientId = $('release-patient-id').value.trim();
  if (state.chosen) {
    for (const patient of state.result.patients || []) {
      const candidate = (patient.candidates || []).find((c) => sameCandidate(c, state.chosen.candidate));
      if (candidate) {
        state.chosen = { patient, candidate };
        return;
      }
    }
    return;
  }
  if (!patientId) {
    return;
  }
  for (const patient of state.result.patients || []) {
    const candidate = (patient.candidates || []).find((c) => c.source === 'request' && c.patientId === patientId);
    if (candidate) {
      state.chosen = { patient, candidate };
      return;
    }
  }
}

async function load(fresh) {
  const round = ++state.round;
  const id = state.uploadId;
  const section = $('reconcile');
  section.setAttribute('aria-busy', 'true');
  $('reconcile-again').disabled = true;
  setStatus(t('reconcile.asking'));
  try {
    const result = await api('GET', `uploads/${encodeURIComponent(id)}/candidates${fresh ? '?fresh=true' : ''}`);
    if (round !== state.round) {
      return;
    }
    state.result = result && typeof result === 'object' ? result : { patients: [], sources: [] };
    render(state.result);
    adoptCandidate();
    markInUse();
    updateMismatch();
  } catch (error) {
    if (round === state.round) {
      setStatus(t('reconcile.loadFailed', { message: describeError(error) }), true);
    }
  } finally {
    if (round === state.round) {
      section.removeAttribute('aria-busy');
      $('reconcile-again').disabled = false;
    }
  }
}

// "Use": the candidate's identity into the form, its patient's studies chosen.
function use(patient, candidate) {
  const keep = $('release-keep-namespace');
  if (keep.checked) {
    keep.checked = false;
    keep.dispatchEvent(new Event('change'));
  }
  state.chosen = { patient, candidate };
  state.serverMessage = '';
  $('release-patient-id').value = String(candidate.patientId || '');
  $('release-patient-id').dispatchEvent(new Event('input'));
  $('release-patient-name').value = String(candidate.name || '');
  $('release-birth-date').value = dateInputValue(candidate.birthDate);
  $('release-patient-sex').value = knownSex(candidate.sex);
  $('release-issuer').value = String(candidate.issuer || '');
  $('release-accession').value = String(candidate.accessionNumber || '');
  const studies = new Set(patient.studies || []);
  if (studies.size) {
    for (const box of document.querySelectorAll('#release-studies input.release-study')) {
      box.checked = studies.has(box.value);
    }
  }
  $('release-confirm').checked = false;
  markInUse();
  const found = updateMismatch();
  setStatus(t(found.length ? 'reconcile.usedCheck' : 'reconcile.used', {
    source: sourceName(candidate.source), id: String(candidate.patientId || ''),
  }));
}

function chosenStudies() {
  const boxes = [...document.querySelectorAll('#release-studies input.release-study')];
  return boxes.length ? boxes.filter((b) => b.checked).map((b) => b.value) : null;
}

function mismatchText(item) {
  if (item.code === 'birthDate') {
    return t('release.mismatch.birthDate', { sent: item.sent.map((d) => dicomDate(d)).join(', ') });
  }
  if (item.code === 'sex') {
    return t('release.mismatch.sex', { sent: item.sent.map(sexText).join(', ') });
  }
  if (item.code === 'score') {
    return t('release.mismatch.score', { threshold: item.threshold });
  }
  return item.code === 'ambiguous' ? t('release.mismatch.ambiguous') : item.message;
}

// Shows the confirmation when the identity in the form differs from what was sent; returns
// what differs.
export function updateMismatch() {
  const keep = $('release-keep-namespace').checked;
  let found = [];
  if (!keep) {
    const patients = state.result ? patientsOfStudies(state.result.patients, chosenStudies()) : [];
    found = mismatches({
      patients,
      identity: { birthDate: $('release-birth-date').value.replace(/-/g, ''), sex: $('release-patient-sex').value },
      chosen: state.chosen,
      threshold: threshold(),
    });
    if (state.serverMessage) {
      found.push({ code: 'server', message: state.serverMessage });
    }
  }
  const box = $('release-confirm-box');
  $('release-confirm-why').replaceChildren(...found.map((item) => el('li', {}, mismatchText(item))));
  box.hidden = found.length === 0;
  if (box.hidden) {
    $('release-confirm').checked = false;
    setConfirmError(false);
  }
  return found;
}

function setConfirmError(shown) {
  $('release-confirm-error').hidden = !shown;
  if (shown) {
    $('release-confirm').setAttribute('aria-invalid', 'true');
  } else {
    $('release-confirm').removeAttribute('aria-invalid');
  }
}

// The release body's fields of this part ({candidate?, confirmMismatch?}), or null after
// showing that the confirmation is missing.
export function reconcileFields(keep) {
  if (keep) {
    return {};
  }
  const fields = {};
  if (state.chosen) {
    fields.candidate = { source: String(state.chosen.candidate.source), score: score(state.chosen.candidate) };
  }
  if (!$('release-confirm-box').hidden) {
    if (!$('release-confirm').checked) {
      setConfirmError(true);
      $('release-confirm').focus();
      return null;
    }
    fields.confirmMismatch = true;
  }
  return fields;
}

// The server answered 409 confirmation-required: its message shown with the checkbox.
export function requireConfirmation(message) {
  state.serverMessage = message || t('release.mismatch.server');
  updateMismatch();
  setConfirmError(true);
  $('release-confirm').focus();
}

// A new dialog for "upload": its candidates asked (unless nothing of it is stored).
export function startReconcile(upload) {
  state.uploadId = upload.id;
  state.result = null;
  state.chosen = null;
  state.serverMessage = '';
  state.rows = [];
  $('reconcile-sources').replaceChildren();
  $('reconcile-patients').replaceChildren();
  $('release-confirm').checked = false;
  updateMismatch();
  const stored = (upload.studies || []).some((s) => s.orthancId);
  $('reconcile').hidden = !stored;
  if (stored) {
    load(false);
  } else {
    state.round += 1;
  }
}

export function stopReconcile() {
  state.round += 1;
  state.uploadId = null;
}

export function setUpReconcile() {
  $('reconcile-again').addEventListener('click', () => load(true));
  // A PatientID typed over the candidate's: no longer that candidate's identity.
  $('release-patient-id').addEventListener('input', () => {
    if (state.chosen && $('release-patient-id').value.trim() !== String(state.chosen.candidate.patientId || '')) {
      state.chosen = null;
      markInUse();
    }
    updateMismatch();
  });
  for (const id of ['release-birth-date', 'release-patient-sex', 'release-studies', 'release-keep-namespace']) {
    $(id).addEventListener('change', () => updateMismatch());
  }
  $('release-birth-date').addEventListener('input', () => updateMismatch());
  $('release-confirm').addEventListener('change', () => setConfirmError(false));
}
