// Request mode without the DOM: the link's token, the challenge's answer, what a refusal means
// for the sender, and which patients of the CD are ticked against the requested patient
// (tested in node: test/request.test.mjs).

import { matchPatient } from './patientmatch.js';

// The token of a request link /inbound/r/<token>, or null on the open page.
export function requestTokenFromPath(pathname) {
  const m = /\/r\/([A-Za-z0-9_-]{16,128})\/?$/.exec(String(pathname || ''));
  return m ? m[1] : null;
}

// Codes as the hospital gives them ("ABCD-2345"): spaces, dashes and case do not matter.
export function normalizeCode(value) {
  return String(value || '').toUpperCase().replace(/[\s\-\u2010-\u2015\u2212]+/g, '');
}

// The answer to post, or {error: <text key>} for an input that cannot be right (checked here so
// that a typing slip does not cost one of the few attempts).
export function challengeAnswer(kind, value) {
  if (kind === 'birthDate') {
    const text = String(value || '').trim();
    if (!text) {
      return { error: 'challenge.birthDateRequired' };
    }
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 12 || Number(m[3]) < 1 || Number(m[3]) > 31) {
      return { error: 'challenge.birthDateInvalid' };
    }
    return { answer: text };
  }
  if (kind === 'code') {
    const code = normalizeCode(value);
    if (!code) {
      return { error: 'challenge.codeRequired' };
    }
    if (!/^[A-Z0-9]{8}$/.test(code)) {
      return { error: 'challenge.codeInvalid' };
    }
    return { answer: code };
  }
  return { answer: '' };
}

// What a refusal of the request (loading it, answering, opening the upload) tells the sender:
// {key, params} of the text to show, and whether the request is over for good (no form then).
// null: not about the request (no answer, server busy): offered again.
export function requestProblem(error) {
  const status = error ? error.status : 0;
  const code = error ? error.code : '';
  const final = (key) => ({ key, final: true });
  if (status === 404) {
    return final('request.notFound');
  }
  if (status === 410 && code === 'request-expired') {
    return final('request.expired');
  }
  if (status === 410 && code === 'request-used') {
    return final('request.used');
  }
  if (status === 410 && code === 'request-revoked') {
    return final('request.revoked');
  }
  if (status === 410) {
    return final('request.gone');
  }
  if (status === 403 && code === 'request-locked') {
    return final('request.locked');
  }
  if (status === 403 && code === 'challenge-failed') {
    const left = error.body && typeof error.body.remainingAttempts === 'number' ? error.body.remainingAttempts : Number.NaN;
    if (left === 0) {
      return final('request.locked');
    }
    return left > 0
      ? { key: 'challenge.wrong', params: { n: left }, final: false }
      : { key: 'challenge.wrongNoCount', final: false };
  }
  if (status === 403 && code === 'challenge-required') {
    return { key: 'request.ticketExpired', final: false };
  }
  if (status === 403 && code === 'requests-only') {
    return { key: 'requestsOnly.text', final: true };
  }
  if (status === 403 && !code) {
    return { key: 'request.blocked', final: false };
  }
  if (status === 0 || status === 429 || status >= 500) {
    return null;
  }
  return { key: 'request.failed', params: { reason: (error && error.message) || String(status) }, final: false };
}

// The patients found on the CD, each compared with the requested one: a patient that matches
// is ticked, any other (also images whose details could not be read) is not. Studies follow
// their patient. Sets patient.check = {sameName, birthDate, matched, readable} and
// patient.accepted; answers the patients in the order of the tree.
export function checkPatients(tree, expected) {
  const patients = [...tree.patients.values()];
  for (const patient of patients) {
    const readable = !patient.key.startsWith('\u0000');
    const result = readable
      ? matchPatient(expected, { patientName: patient.name, birthDate: patient.birthDate })
      : { sameName: false, birthDate: 'unknown', matched: false };
    patient.check = { ...result, readable };
    setAccepted(patient, result.matched);
  }
  return patients;
}

// Ticks or unticks a patient with all its studies (a patient that does not match is ticked only
// after the sender confirmed it: the page asks first).
export function setAccepted(patient, accepted) {
  patient.accepted = accepted;
  for (const study of patient.studies) {
    study.selected = accepted;
  }
}

// A study may be ticked unless its patient was checked and is not ticked.
export function studySelectable(study) {
  return !study.patient || study.patient.accepted !== false;
}

// Whether the CD holds the requested patient at all, and how many others.
export function checkSummary(patients) {
  const checked = patients.filter((p) => p.check);
  return {
    matching: checked.filter((p) => p.check.matched).length,
    others: checked.filter((p) => !p.check.matched).length,
    othersTicked: checked.filter((p) => !p.check.matched && p.accepted).length,
  };
}
