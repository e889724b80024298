// Whether a patient found on the sender's CD is the one a request asked for (doc/Requests.md):
// the same rule as Plugin/Requests/PatientMatch.cpp, both tested against
// UnitTests/Resources/patient-match-cases.json.
//
// Names: only the first (alphabetic) group of a DICOM person name counts; case ignored, accents
// removed, letters that carry no separable accent folded (ß→ss, ø→o, ł→l, …); words split on
// "^", spaces, commas and hyphens; the same words in any order (each as often) are the same
// name. Birth dates: compared when the request has one; a CD
// without one is "unknown", which is not a match.

const SEPARATORS = /[\^\s,-]+/u;
const MARKS = /\p{M}/gu;
// ς → σ: a final sigma depends on what follows ("^" does not end a word for toLowerCase).
const FOLD = { ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', ł: 'l', đ: 'd', ð: 'd', þ: 'th', ı: 'i', ħ: 'h', ŧ: 't', ς: 'σ' };
const FOLDED = /[ßæœøłđðþıħŧς]/gu;

// The words of a name as compared: lower case, without accents, folded, sorted. Lower case
// first, so that a capital whose small letter carries a mark (İ → i̇) loses it too.
export function nameWords(name) {
  const alphabetic = String(name || '').split('=')[0];
  return alphabetic.toLowerCase().normalize('NFD').replace(MARKS, '').replace(FOLDED, (c) => FOLD[c])
    .split(SEPARATORS).filter(Boolean).sort();
}

export function sameName(a, b) {
  const x = nameWords(a);
  const y = nameWords(b);
  return x.length > 0 && x.length === y.length && x.every((word, i) => word === y[i]);
}

function cleanDate(value) {
  return String(value || '').trim();
}

// 'same', 'different', 'unknown' (the CD has none) or 'not-requested' (the request has none).
export function compareBirthDates(expected, found) {
  const want = cleanDate(expected);
  const have = cleanDate(found);
  if (!want) {
    return 'not-requested';
  }
  if (!have) {
    return 'unknown';
  }
  return want === have ? 'same' : 'different';
}

// expected: {patientName, birthDate} of the request; found: {patientName, birthDate} of the CD.
// Answers {sameName, birthDate, matched}.
export function matchPatient(expected, found) {
  const name = sameName(expected && expected.patientName, found && found.patientName);
  const birthDate = compareBirthDates(expected && expected.birthDate, found && found.birthDate);
  return { sameName: name, birthDate, matched: name && (birthDate === 'same' || birthDate === 'not-requested') };
}
