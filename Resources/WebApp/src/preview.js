// Step 3, what was found: patients, studies and series to tick or untick, the files that are
// not sent and why, and the size of the selection.

import { $, el } from '../../WebShared/dom.js';
import { formatBytes, formatDicomDate } from '../../WebShared/format.js';
import { locale, t, tn } from '../../WebShared/i18n.js';
import { formatPersonName } from './format.js';
import { renderChecks } from './matchview.js';
import { state } from './page.js';
import { studySelectable } from './request.js';
import { summarizeSkipped } from './scan.js';

export function selectedStudies() {
  return state.scanResult ? [...state.scanResult.tree.studies.values()].filter((s) => s.selected) : [];
}

function studyLabel(study) {
  return study.readable ? (study.description || t('images.noDescription')) : t('images.unreadable');
}

function seriesRowsOf(study, id) {
  const rows = [];
  const ids = [];
  let seriesIndex = 0;
  for (const series of study.series.values()) {
    const seriesId = `${id}-series-${seriesIndex++}`;
    ids.push(seriesId);
    rows.push(el('tr', { className: 'series-row', id: seriesId, hidden: true },
      el('td'),
      el('td', { colspan: 2 }, Number.isNaN(series.number) ? '' : `#${series.number}`),
      el('td', {}, series.modality ? el('span', { className: 'modality', text: series.modality }) : ''),
      el('td', { text: series.description || '' }),
      el('td'),
      el('td', { className: 'num', text: series.count.toLocaleString(locale()) })));
  }
  return { rows, ids };
}

function studyRows(patient, study, id) {
  const date = study.date ? formatDicomDate(study.date) : t('images.unknownDate');
  const checkbox = el('input', {
    type: 'checkbox',
    id,
    'aria-label': t('images.selectStudy', { date, description: studyLabel(study) }),
    onchange: (event) => {
      study.selected = event.target.checked;
      row.classList.toggle('unselected', !study.selected);
      updateSelection();
    },
  });
  checkbox.checked = study.selected;
  if (!studySelectable(study)) {
    // On a request link: a patient that was not ticked above (its studies follow it).
    checkbox.disabled = true;
    checkbox.title = t('check.tickPatientFirst');
  }
  const series = seriesRowsOf(study, id);
  const toggle = el('button', {
    type: 'button',
    className: 'series-toggle',
    'aria-expanded': 'false',
    'aria-controls': series.ids.join(' '),
    text: tn('count.series', study.series.size),
    onclick: () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      toggle.setAttribute('title', open ? t('images.hideSeries') : t('images.showSeries'));
      for (const r of series.rows) {
        r.hidden = !open;
      }
    },
  });
  toggle.setAttribute('title', t('images.showSeries'));
  const patientName = study.readable ? (formatPersonName(patient.name) || t('images.unknownPatient')) : '–';
  const extra = study.readable ? [
    patient.birthDate ? t('images.birth', { date: formatDicomDate(patient.birthDate) }) : '',
    patient.id ? t('images.patientId', { id: patient.id }) : '',
  ].filter(Boolean).join(' · ') : '';
  const birth = extra ? el('span', { className: 'patient-extra muted small', text: extra }) : null;
  const row = el('tr', { className: `study-row${study.selected ? '' : ' unselected'}`, 'data-study': study.uid },
    el('td', { className: 'col-check' }, checkbox),
    el('td', { className: 'c-patient' }, el('label', { for: id, className: 'patient-label', text: patientName }), birth),
    el('td', { className: 'c-date', text: date }),
    el('td', { className: 'c-type' }, [...study.modalities].map((m) => el('span', { className: 'modality', text: m }))),
    el('td', { className: 'desc', text: studyLabel(study) }),
    el('td', { className: 'num c-series' }, toggle),
    el('td', { className: 'num c-images', 'data-label': t('images.colImages'), text: study.files.length.toLocaleString(locale()) }));
  return [row, ...series.rows];
}

export function renderPreview() {
  if (!state.scanResult) {
    return;
  }
  const { tree } = state.scanResult;
  const body = $('studies-body');
  body.replaceChildren();
  let rowId = 0;
  const allStudies = [...tree.studies.values()];
  const allFiles = allStudies.reduce((n, s) => n + s.files.length, 0);
  const allBytes = allStudies.reduce((n, s) => n + s.bytes, 0);
  const patients = [...tree.patients.values()].filter((p) => !p.key.startsWith('\u0000'));
  $('found-summary').textContent = t('images.found', {
    patients: tn('count.patients', patients.length),
    studies: tn('count.studies', allStudies.length),
    images: tn('count.images', allFiles),
    size: formatBytes(allBytes),
  });

  for (const patient of tree.patients.values()) {
    for (const study of patient.studies) {
      body.append(...studyRows(patient, study, `study-${rowId++}`));
    }
  }
  if (state.resume) {
    $('resume-note').hidden = false;
    const present = new Set();
    for (const study of allStudies) {
      for (const file of study.files) {
        present.add(file.key);
      }
    }
    const missing = state.resume.stored.keys.filter((k) => !present.has(k)).length;
    $('resume-missing').hidden = missing === 0;
    $('resume-missing').textContent = missing ? t('images.resumeMissing', { count: tn('count.files', missing) }) : '';
  } else {
    $('resume-note').hidden = true;
    $('resume-missing').hidden = true;
  }
  renderChecks((focusId) => {
    renderPreview();
    if ($(focusId)) {
      $(focusId).focus();
    }
  });
  updateSelection();
}

// The files that are not sent, by reason: skipped by the scan, in unticked studies, missing.
export function skippedGroups() {
  const result = state.scanResult;
  const groups = summarizeSkipped(result.skipped);
  const unticked = [...result.tree.studies.values()].filter((s) => !s.selected);
  const otherPatient = (s) => !studySelectable(s);
  for (const [reason, studies] of [['unticked', unticked.filter((s) => !otherPatient(s))],
    ['otherPatient', unticked.filter(otherPatient)]]) {
    const count = studies.reduce((n, s) => n + s.files.length, 0);
    if (count) {
      groups.push({ reason, count, examples: [] });
    }
  }
  if (result.missing) {
    groups.push({ reason: 'missing', count: result.missing, examples: [] });
  }
  return groups;
}

function skipReasonText(reason) {
  const max = state.info && state.info.limits && state.info.limits.maxFileBytes;
  return t(`skip.${reason}`, { max: formatBytes(max || 0) });
}

export function renderSkippedList(list, groups) {
  list.replaceChildren();
  for (const group of groups) {
    const li = el('li', {}, el('strong', { text: tn('count.files', group.count) }), ': ', skipReasonText(group.reason));
    if (group.examples.length) {
      li.append(el('span', { className: 'examples', text: t('skip.examples', { files: group.examples.join(', ') }) }));
    }
    list.append(li);
  }
}

function updateSelection() {
  const all = $('select-all');
  const studies = [...state.scanResult.tree.studies.values()].filter(studySelectable);
  all.disabled = studies.length === 0;
  const chosen = studies.filter((s) => s.selected);
  const files = chosen.reduce((n, s) => n + s.files.length, 0);
  const bytes = chosen.reduce((n, s) => n + s.bytes, 0);
  all.checked = studies.length > 0 && chosen.length === studies.length;
  all.indeterminate = chosen.length > 0 && chosen.length < studies.length;
  $('selected-summary').textContent = chosen.length
    ? t('images.selected', { studies: tn('count.studies', chosen.length), images: tn('count.images', files), size: formatBytes(bytes) })
    : t('images.nothingSelected');
  if (chosen.length) {
    $('select-error').hidden = true;
  }
  const groups = skippedGroups();
  const skippedCount = groups.reduce((n, g) => n + g.count, 0);
  $('skipped').hidden = skippedCount === 0;
  $('skipped-summary').textContent = t('images.skippedSummary', { count: tn('count.files', skippedCount) });
  renderSkippedList($('skipped-list'), groups);
}

function onSelectAll(event) {
  for (const study of [...state.scanResult.tree.studies.values()].filter(studySelectable)) {
    study.selected = event.target.checked;
  }
  for (const box of document.querySelectorAll('#studies-body input[type="checkbox"]:not(:disabled)')) {
    box.checked = event.target.checked;
    box.closest('tr').classList.toggle('unselected', !event.target.checked);
  }
  updateSelection();
}

export function wirePreview() {
  $('select-all').addEventListener('change', onSelectAll);
}
