// What the release dialog's "Who is this patient?" decides without the DOM (doc/Reconciliation.md):
// which candidates fit, the request's patient first, and what differs between the identity to
// release and the patients as sent, so that a mismatch needs a confirmation.

export const SEXES = ['M', 'F', 'O'];

// A DICOM date YYYYMMDD that names a day (month 1-12, day 1-31).
export function validDate(value) {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(String(value || ''));
  return Boolean(m) && Number(m[2]) >= 1 && Number(m[2]) <= 12 && Number(m[3]) >= 1 && Number(m[3]) <= 31;
}

export function knownSex(value) {
  return SEXES.includes(value) ? value : '';
}

export function score(candidate) {
  const value = Number(candidate && candidate.score);
  return Number.isFinite(value) ? Math.max(0, Math.min(100, Math.round(value))) : 0;
}

export function fits(candidate, threshold) {
  return typeof candidate.fits === 'boolean' ? candidate.fits : score(candidate) >= threshold;
}

// The candidates of one patient as the dialog lists them: those that fit (the request's
// patient first, then in the server's order) and those that do not.
export function splitCandidates(patient, threshold) {
  const all = Array.isArray(patient && patient.candidates) ? patient.candidates : [];
  const fit = all.filter((c) => fits(c, threshold));
  const request = fit.filter((c) => c.source === 'request');
  return {
    fit: [...request, ...fit.filter((c) => c.source !== 'request')],
    other: all.filter((c) => !fits(c, threshold)),
  };
}

// The patients as sent whose studies are among "studyIds" (Orthanc study ids); all of them
// when studyIds is null.
export function patientsOfStudies(patients, studyIds) {
  const list = Array.isArray(patients) ? patients : [];
  if (studyIds === null) {
    return list;
  }
  const chosen = new Set(studyIds);
  return list.filter((p) => (p.studies || []).some((id) => chosen.has(id)));
}

// Why releasing "identity" ({birthDate: YYYYMMDD or "", sex}) for "patients" (those of the
// chosen studies) needs a person's confirmation: [{code, sent?, threshold?}] with code
// "birthDate" or "sex" (differs from what was sent; both known), "ambiguous" (several hospital
// patients fit) or "score" (the candidate used scores below the threshold). The server applies
// the same rule to the first three (409 confirmation-required).
export function mismatches({ patients, identity, chosen, threshold }) {
  const found = [];
  const birthDate = validDate(identity.birthDate) ? identity.birthDate : '';
  const sex = knownSex(identity.sex);
  const sentDates = new Set();
  const sentSexes = new Set();
  for (const patient of patients) {
    if (birthDate && validDate(patient.birthDate) && patient.birthDate !== birthDate) {
      sentDates.add(patient.birthDate);
    }
    if (sex && knownSex(patient.sex) && patient.sex !== sex) {
      sentSexes.add(patient.sex);
    }
  }
  if (sentDates.size > 0) {
    found.push({ code: 'birthDate', sent: [...sentDates] });
  }
  if (sentSexes.size > 0) {
    found.push({ code: 'sex', sent: [...sentSexes] });
  }
  if (patients.some((p) => p.ambiguous === true)) {
    found.push({ code: 'ambiguous' });
  }
  if (chosen && score(chosen.candidate) < threshold) {
    found.push({ code: 'score', threshold });
  }
  return found;
}
