// The release dialog (IHE Import Reconciliation): an upload's studies sent to a DICOM modality
// with the hospital's identity of the patient, or explicitly with the namespaced PatientID. An
// upload made through a request link starts with the request's patient filled in.

import { $, el, uniqueId } from '../../WebShared/dom.js';
import { t } from '../../WebShared/i18n.js';
import { api } from './api.js';
import { dateInputValue, matchText, senderName } from './format.js';
import { inbox, loadDetails } from './store.js';
import { act, hideError, showError } from './ui.js';
import { studyText } from './upload.js';

const release = { uploadId: null, opener: null, modalities: null, onReleased: null };
const IDENTITY_FIELDS = ['release-patient-id', 'release-patient-name', 'release-birth-date'];

async function loadModalities() {
  if (release.modalities === null) {
    const answer = await api('GET', 'modalities');
    release.modalities = Array.isArray(answer && answer.modalities) ? answer.modalities.map(String) : [];
  }
  return release.modalities;
}

async function fillTargets() {
  const select = $('release-modality');
  select.replaceChildren();
  let modalities = [];
  try {
    modalities = await loadModalities();
  } catch (error) {
    showError(error, 'release-alert');
  }
  for (const name of modalities) {
    select.append(el('option', { value: name }, name));
  }
  if (modalities.length === 0 && $('release-alert').hidden) {
    showError(new Error(t('release.noModality')), 'release-alert');
  }
  $('release-submit').disabled = modalities.length === 0;
  return modalities;
}

function fillStudies(upload) {
  const box = $('release-studies');
  box.replaceChildren();
  const studies = (upload.studies || []).filter((s) => s.orthancId);
  for (const study of studies) {
    const inputId = uniqueId('release-study');
    box.append(el('div', { className: 'check' },
      el('input', { type: 'checkbox', id: inputId, value: study.orthancId, checked: true, className: 'release-study' }),
      el('label', { for: inputId }, studyText(study))));
  }
  $('release-studies-set').hidden = studies.length <= 1;
}

export async function openRelease(id) {
  const dialog = $('release-dialog');
  release.opener = document.activeElement;
  let upload = inbox.details.get(id);
  try {
    if (!upload) {
      upload = await loadDetails(id);
    }
  } catch (error) {
    showError(error);
    return;
  }
  release.uploadId = id;
  hideError('release-alert');
  $('release-upload').textContent = t('release.of', { id, sender: senderName(upload) });
  const modalities = await fillTargets();
  fillStudies(upload);

  // The sender's PatientIDs, for reference; the hospital's identity starts empty, or with
  // the patient of the request the upload was made for.
  const originals = [...new Set((upload.studies || []).map((s) => s.originalPatientId).filter(Boolean))];
  $('release-original').textContent = t('release.original', { ids: originals.length ? originals.join(', ') : t('none') });
  fillFromRequest(upload.request);
  $('release-new-uids').checked = false;
  $('release-keep-namespace').checked = false;
  updateNamespaceChoice();
  setPatientIdError('');

  if (!dialog.open) {
    dialog.showModal();
  }
  (modalities.length > 1 ? $('release-modality') : $('release-patient-id')).focus();
}

// The hospital's identity: the request's patient for an upload bound to a request, else empty.
function fillFromRequest(request) {
  const patient = (request && request.patient) || {};
  $('release-patient-id').value = patient.id || '';
  $('release-patient-name').value = patient.name || '';
  $('release-birth-date').value = dateInputValue(patient.birthDate);
  const note = $('release-request');
  note.textContent = request ? t('release.fromRequest', { id: request.id, match: matchText(request.matched) }) : '';
  note.hidden = !request;
  note.classList.toggle('match-bad', Boolean(request) && request.matched === false);
}

function closeRelease() {
  const dialog = $('release-dialog');
  if (dialog.open) {
    dialog.close();
  }
  release.uploadId = null;
  if (window.location.hash.startsWith('#release=')) {
    history.replaceState(null, '', '#inbox');
  }
  if (release.opener && release.opener.isConnected && release.opener !== document.body) {
    release.opener.focus();
  }
}

function updateNamespaceChoice() {
  const keep = $('release-keep-namespace').checked;
  $('release-dialog').classList.toggle('keeping-namespace', keep);
  for (const field of IDENTITY_FIELDS) {
    $(field).disabled = keep;
  }
  if (keep) {
    setPatientIdError('');
  }
}

function setPatientIdError(text) {
  const error = $('release-patient-id-error');
  error.textContent = text;
  error.hidden = !text;
  if (text) {
    $('release-patient-id').setAttribute('aria-invalid', 'true');
  } else {
    $('release-patient-id').removeAttribute('aria-invalid');
  }
}

// The body of POST uploads/{id}/release from the dialog, or null after showing what is missing.
function releaseRequest() {
  const keep = $('release-keep-namespace').checked;
  const patientId = $('release-patient-id').value.trim();
  if (!keep && !patientId) {
    setPatientIdError(t('release.needPatientId'));
    $('release-patient-id').focus();
    return null;
  }
  setPatientIdError('');
  const studies = [...document.querySelectorAll('#release-studies input.release-study')];
  const chosen = studies.filter((box) => box.checked).map((box) => box.value);
  if (studies.length > 0 && chosen.length === 0) {
    showError(new Error(t('release.needStudy')), 'release-alert');
    return null;
  }
  const body = {
    modality: $('release-modality').value,
    newUids: $('release-new-uids').checked,
    keepNamespacedPatientId: keep,
  };
  if (chosen.length !== studies.length) {
    body.studies = chosen;
  }
  if (!keep) {
    body.patient = { id: patientId };
    const name = $('release-patient-name').value.trim();
    const birthDate = $('release-birth-date').value;
    if (name) {
      body.patient.name = name;
    }
    if (birthDate) {
      body.patient.birthDate = birthDate.replace(/-/g, '');
    }
  }
  return body;
}

async function submitRelease(event) {
  event.preventDefault();
  const id = release.uploadId;
  if (!id) {
    return;
  }
  hideError('release-alert');
  const body = releaseRequest();
  if (!body) {
    return;
  }
  const answer = await act($('release-submit'), async () => {
    return api('POST', `uploads/${encodeURIComponent(id)}/release`, body);
  }, 'release-alert');
  if (!answer) {
    return;
  }
  closeRelease();
  await release.onReleased(id, Array.isArray(answer.forwards) ? answer.forwards : []);
}

// onReleased(uploadId, forwards): what the inbox does once a release has started.
export function setUpReleaseDialog(onReleased) {
  release.onReleased = onReleased;
  $('release-form').addEventListener('submit', submitRelease);
  $('release-cancel').addEventListener('click', closeRelease);
  $('release-keep-namespace').addEventListener('change', updateNamespaceChoice);
  $('release-patient-id').addEventListener('input', () => {
    if ($('release-patient-id').value.trim()) {
      setPatientIdError('');
    }
  });
  $('release-dialog').addEventListener('cancel', (event) => {
    event.preventDefault();
    closeRelease();
  });
}
