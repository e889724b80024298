// On a request link, once the images are chosen: every patient found, checked against the
// patient the hospital asked for, the way a careful receptionist checks a CD. A patient that
// matches is ticked; any other is marked and sent only if the sender ticks it and confirms.

import { $, el } from '../../WebShared/dom.js';
import { formatDicomDate } from '../../WebShared/format.js';
import { t, tn } from '../../WebShared/i18n.js';
import { formatPersonName } from './format.js';
import { state, tp } from './page.js';
import { checkPatients, checkSummary, setAccepted } from './request.js';

let pending = null; // the patient waiting for the sender's confirmation

// The patient the hospital asked for, or null (not on a request link, challenge not passed,
// continuing an interrupted upload, or a request that names no patient).
function expected() {
  const e = state.request && state.request.expected;
  return e && String(e.patientName || '').trim() && !state.resume ? e : null;
}

function expectedText(e) {
  const patient = formatPersonName(e.patientName);
  return e.birthDate
    ? tp('check.expected', { patient, date: formatDicomDate(e.birthDate) })
    : tp('check.expectedNoBirth', { patient });
}

// Above the pickers: whose images are asked for.
export function renderExpectedNote() {
  const e = expected();
  $('expected-note').hidden = !e;
  $('expected-note').textContent = e ? expectedText(e) : '';
}

// After a scan: the patients compared and ticked (nothing to do outside request mode).
export function prepareChecks(result) {
  const e = expected();
  state.checks = e ? checkPatients(result.tree, e) : null;
  pending = null;
}

function patientName(patient) {
  if (!patient.check.readable) {
    return t('images.unreadable');
  }
  return formatPersonName(patient.name) || t('images.unknownPatient');
}

function resultCell(patient) {
  const c = patient.check;
  if (c.matched) {
    return el('td', { className: 'check-result' }, el('span', { className: 'match-ok', text: `✓ ${t('check.matches')}` }));
  }
  const reasons = [];
  if (!c.readable) {
    reasons.push(t('check.unreadable'));
  } else {
    if (!c.sameName) {
      reasons.push(t('check.nameDiffers'));
    }
    if (c.birthDate === 'different') {
      reasons.push(t('check.birthDiffers'));
    } else if (c.birthDate === 'unknown') {
      reasons.push(t('check.birthMissing'));
    }
  }
  return el('td', { className: 'check-result' },
    el('span', { className: 'match-warn', text: `⚠ ${t('check.differs')}` }),
    el('span', { className: 'check-reasons muted small', text: reasons.join(' · ') }));
}

function checkRow(patient, index, onChange) {
  const id = `check-${index}`;
  const name = patientName(patient);
  const box = el('input', {
    type: 'checkbox',
    id,
    'aria-label': t('check.sendPatient', { patient: name }),
    'aria-describedby': `${id}-result`,
    onchange: (event) => {
      if (event.target.checked && !patient.check.matched) {
        event.target.checked = false; // only once confirmed
        askConfirmation(patient, name, id);
        return;
      }
      setAccepted(patient, event.target.checked);
      onChange(id);
    },
  });
  box.checked = !!patient.accepted;
  const extra = patient.check.readable && patient.id ? el('span', { className: 'patient-extra muted small', text: t('images.patientId', { id: patient.id }) }) : null;
  const result = resultCell(patient);
  result.id = `${id}-result`;
  return el('tr', { className: `check-row ${patient.check.matched ? 'match' : 'mismatch'}${patient.accepted ? '' : ' unselected'}` },
    el('td', { className: 'col-check' }, box),
    el('td', { className: 'c-patient' }, el('label', { for: id, className: 'patient-label', text: name }), extra),
    el('td', { className: 'c-birth', 'data-label': t('check.colBirth'),
      text: patient.check.readable && patient.birthDate ? formatDicomDate(patient.birthDate) : t('check.birthUnknown') }),
    result);
}

function askConfirmation(patient, name, id) {
  pending = { patient, id };
  $('check-confirm-text').textContent = tp('check.confirm', { patient: name });
  $('check-confirm').hidden = false;
  $('check-no').focus();
}

function renderSummary(patients) {
  const { matching, others, othersTicked } = checkSummary(patients);
  const box = $('check-summary');
  let text;
  let warn = true;
  if (matching === 0) {
    text = tp('check.noneMatches');
  } else if (othersTicked > 0) {
    text = tp('check.othersTicked', { count: tn('count.patients', othersTicked) });
  } else if (others > 0) {
    text = tp('check.othersUnticked', { count: tn('count.patients', others) });
  } else {
    text = tp('check.allMatch');
    warn = false;
  }
  box.className = `info-box ${warn ? 'warn' : 'ok'}`;
  box.textContent = text;
}

// The comparison table; onChange(focusId) renders the preview again after a tick.
export function renderChecks(onChange) {
  const patients = state.checks;
  $('patient-check').hidden = !patients;
  if (!patients) {
    return;
  }
  $('check-expected').textContent = expectedText(expected() || state.request.expected);
  const body = $('check-body');
  body.replaceChildren(...patients.map((p, i) => checkRow(p, i, onChange)));
  renderSummary(patients);
  if (pending) {
    $('check-confirm-text').textContent = tp('check.confirm', { patient: patientName(pending.patient) });
  }
  state.onChecksChange = onChange;
}

export function wireChecks() {
  $('check-yes').addEventListener('click', () => {
    $('check-confirm').hidden = true;
    if (pending) {
      const { patient, id } = pending;
      pending = null;
      setAccepted(patient, true);
      state.onChecksChange(id);
    }
  });
  $('check-no').addEventListener('click', () => {
    $('check-confirm').hidden = true;
    const id = pending && pending.id;
    pending = null;
    if (id && $(id)) {
      $(id).focus();
    }
  });
}
