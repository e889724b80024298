// The release dialog (IHE Import Reconciliation): an upload's studies sent to a DICOM modality
// with the hospital's identity of the patient, or explicitly with the namespaced PatientID. An
// upload made through a request link starts with the request's patient filled in; the
// candidates of "Who is this patient?" (reconcile.js) fill it in with one click.

import { $, el, uniqueId } from '../../WebShared/dom.js';
import { t } from '../../WebShared/i18n.js';
import { ApiError } from '../../WebShared/http.js';
import { api } from './api.js';
import { dateInputValue, matchText, senderName } from './format.js';
import { reconcileFields, requireConfirmation, setUpReconcile, startReconcile, stopReconcile } from './reconcile.js';
import { inbox, loadDetails } from './store.js';
import { act, hideError, showError } from './ui.js';
import { studyText } from './upload.js';

const release = { uploadId: null, opener: null, modalities: null, onReleased: null };
const IDENTITY_FIELDS = ['release-patient-id', 'release-patient-name', 'release-birth-date', 'release-patient-sex',
  'release-issuer', 'release-accession'];

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
  startReconcile(upload);

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
  $('release-patient-sex').value = '';
  $('release-issuer').value = '';
  $('release-accession').value = '';
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
  stopReconcile();
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
  const reconciled = reconcileFields(keep);
  if (reconciled === null) {
    return null;
  }
  if (!keep) {
    Object.assign(body, reconciled);
    body.patient = { id: patientId };
    const name = $('release-patient-name').value.trim();
    const birthDate = $('release-birth-date').value;
    if (name) {
      body.patient.name = name;
    }
    if (birthDate) {
      body.patient.birthDate = birthDate.replace(/-/g, '');
    }
    const sex = $('release-patient-sex').value;
    const issuer = $('release-issuer').value.trim();
    const accession = $('release-accession').value.trim();
    if (sex) {
      body.patient.sex = sex;
    }
    if (issuer) {
      body.patient.issuer = issuer;
    }
    if (accession) {
      body.accessionNumber = accession;
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
  let confirm = null;
  const answer = await act($('release-submit'), async () => {
    try {
      return await api('POST', `uploads/${encodeURIComponent(id)}/release`, body);
    } catch (error) {
      // A mismatch the server found (doc/Api.md): the confirmation checkbox, not an alert.
      if (error instanceof ApiError && error.status === 409 && error.code === 'confirmation-required') {
        confirm = error;
        return null;
      }
      throw error;
    }
  }, 'release-alert');
  if (confirm) {
    requireConfirmation(confirm.serverMessage);
    return;
  }
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
  setUpReconcile();
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
