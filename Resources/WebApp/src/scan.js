// Finding the DICOM files among the picked ones and grouping them into patients, studies and
// series. Where a DICOMDIR exists, the files it references are taken and the rest of its
// folder is skipped; elsewhere every file is checked for the DICOM signature. File by file,
// yielding to the browser, so that a large CD does not freeze the page.

import { readDicomHeader, readDicomdirReferences } from './dicom.js';
import { yieldToBrowser } from './parthash.js';
import { baseName, entriesFromZip, isDicomdirName, isZip, normalizePath } from './sources.js';

function dirName(path) {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

// CD file IDs are upper case, ISO 9660 may add ";1" or a trailing dot; folders copied from a
// CD may have become lower case.
function fileIdKey(path) {
  return normalizePath(path).split('/')
    .map((part) => part.replace(/;\d+$/, '').replace(/\.$/, '').toUpperCase())
    .join('/');
}

// The identity of a file across two picks of the same folder (the picked folder's own name
// may differ, e.g. a drive letter).
export function fileKey(entry) {
  const parts = entry.path.split('/');
  const rel = parts.length > 1 ? parts.slice(1).join('/') : parts[0];
  return `${rel}|${entry.size}`;
}

function emptyTree() {
  return { patients: new Map(), studies: new Map() };
}

function addToTree(tree, entry, header) {
  const readable = header.readable;
  const patientKey = readable ? `${header.patientId}\u0000${header.patientName}\u0000${header.birthDate}` : '\u0000unreadable';
  let patient = tree.patients.get(patientKey);
  if (!patient) {
    patient = {
      key: patientKey,
      name: readable ? header.patientName : '',
      id: readable ? header.patientId : '',
      birthDate: readable ? header.birthDate : '',
      studies: [],
    };
    tree.patients.set(patientKey, patient);
  }
  const studyKey = readable ? header.studyUid : '\u0000unreadable';
  let study = tree.studies.get(studyKey);
  if (!study) {
    study = {
      key: studyKey,
      uid: readable ? header.studyUid : '',
      readable,
      patient,
      date: readable ? header.studyDate : '',
      description: readable ? header.studyDescription : '',
      modalities: new Set(),
      series: new Map(),
      files: [],
      bytes: 0,
      selected: true,
    };
    tree.studies.set(studyKey, study);
    patient.studies.push(study);
  }
  if (readable && header.modality) {
    study.modalities.add(header.modality);
  }
  const seriesKey = readable ? header.seriesUid || '' : '';
  let series = study.series.get(seriesKey);
  if (!series) {
    series = {
      uid: seriesKey,
      modality: readable ? header.modality : '',
      description: readable ? header.seriesDescription : '',
      number: readable ? Number.parseInt(header.seriesNumber, 10) : Number.NaN,
      count: 0,
      bytes: 0,
    };
    study.series.set(seriesKey, series);
  }
  series.count++;
  series.bytes += entry.size;
  study.files.push(entry);
  study.bytes += entry.size;
}

// Runs the whole search. `inputs` are entries (files) as picked; `limits` from api/info.
// Answers {tree, files, skipped, missing} where skipped = [{path, reason}].
export async function scan(inputs, { limits, onProgress, isCancelled }) {
  const skipped = [];
  const seenPaths = new Set();
  let entries = [];

  // 1. Open ZIP archives; drop repeated paths.
  for (const entry of inputs) {
    if (seenPaths.has(entry.path)) {
      skipped.push({ path: entry.path, reason: 'duplicate' });
      continue;
    }
    seenPaths.add(entry.path);
    if (await isZip(entry)) {
      try {
        const inner = await entriesFromZip(entry, {
          skipped,
          isCancelled,
          onProgress: (read, total) => onProgress && onProgress({ phase: 'zip', name: entry.name, done: read, total }),
        });
        entries.push(...inner);
      } catch (e) {
        skipped.push({ path: entry.path, reason: 'zipFailed' });
      }
    } else {
      entries.push(entry);
    }
    if (isCancelled && isCancelled()) {
      return null;
    }
  }

  // 2. Read the DICOMDIRs: which folders they cover, which files they reference.
  const covered = new Map(); // folder path → {references: Set of keys, found: Set}
  const dicomdirs = entries.filter((e) => isDicomdirName(e.path));
  for (const entry of dicomdirs) {
    skipped.push({ path: entry.path, reason: 'dicomdir' });
    let references = null;
    try {
      references = await readDicomdirReferences(entry.blob);
    } catch (e) {
      references = null;
    }
    if (references && references.length) {
      const folder = dirName(entry.path);
      const keys = new Set(references.map((parts) => fileIdKey(folder ? `${folder}/${parts.join('/')}` : parts.join('/'))));
      covered.set(folder, { references: keys, found: new Set() });
    }
  }
  entries = entries.filter((e) => !isDicomdirName(e.path));

  const coveringFolder = (path) => {
    let folder = dirName(path);
    for (;;) {
      if (covered.has(folder)) {
        return covered.get(folder);
      }
      if (folder === '') {
        return null;
      }
      folder = dirName(folder);
    }
  };

  const candidates = [];
  for (const entry of entries) {
    const dir = coveringFolder(entry.path);
    if (dir) {
      const key = fileIdKey(entry.path);
      if (!dir.references.has(key)) {
        skipped.push({ path: entry.path, reason: 'notListed' });
        continue;
      }
      dir.found.add(key);
    }
    candidates.push(entry);
  }
  let missing = 0;
  for (const dir of covered.values()) {
    missing += dir.references.size - dir.found.size;
  }

  // 3. Check and read every candidate, a few at a time.
  const tree = emptyTree();
  const seenInstances = new Set();
  const maxFileBytes = limits && limits.maxFileBytes ? limits.maxFileBytes : Infinity;
  let done = 0;
  let lastReport = 0;
  let next = 0;
  const worker = async () => {
    while (next < candidates.length) {
      if (isCancelled && isCancelled()) {
        return;
      }
      const entry = candidates[next++];
      let header = null;
      if (entry.size === 0) {
        skipped.push({ path: entry.path, reason: 'empty' });
      } else {
        try {
          header = await readDicomHeader(entry.blob);
          if (!header) {
            skipped.push({ path: entry.path, reason: 'notDicom' });
          } else if (header.isDicomdir) {
            skipped.push({ path: entry.path, reason: 'dicomdir' });
            header = null;
          }
        } catch (e) {
          skipped.push({ path: entry.path, reason: 'unreadable' });
          header = null;
        }
      }
      if (header && entry.size > maxFileBytes) {
        skipped.push({ path: entry.path, reason: 'tooLarge' });
        header = null;
      }
      if (header && header.readable && header.sopInstanceUid) {
        if (seenInstances.has(header.sopInstanceUid)) {
          skipped.push({ path: entry.path, reason: 'duplicate' });
          header = null;
        } else {
          seenInstances.add(header.sopInstanceUid);
        }
      }
      if (header) {
        entry.key = fileKey(entry);
        entry.studyKey = header.readable ? header.studyUid : '\u0000unreadable';
        addToTree(tree, entry, header);
      }
      done++;
      const now = performance.now();
      if (onProgress && (now - lastReport > 100 || done === candidates.length)) {
        lastReport = now;
        onProgress({ phase: 'files', done, total: candidates.length });
      }
      if (done % 16 === 0) {
        await yieldToBrowser();
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  if (isCancelled && isCancelled()) {
    return null;
  }

  // Stable order: patients by name, studies by date, series by number.
  for (const patient of tree.patients.values()) {
    patient.studies.sort((a, b) => (a.date || '').localeCompare(b.date || '') || a.uid.localeCompare(b.uid));
    for (const study of patient.studies) {
      study.series = new Map([...study.series.entries()].sort((a, b) =>
        (Number.isNaN(a[1].number) ? 1e9 : a[1].number) - (Number.isNaN(b[1].number) ? 1e9 : b[1].number)));
    }
  }
  tree.patients = new Map([...tree.patients.entries()].sort((a, b) =>
    (a[1].key.startsWith('\u0000') ? 1 : 0) - (b[1].key.startsWith('\u0000') ? 1 : 0) ||
    a[1].name.localeCompare(b[1].name)));
  return { tree, skipped, missing };
}

// Groups skipped files by reason: [{reason, count, examples: [name]}].
export function summarizeSkipped(skipped) {
  const byReason = new Map();
  for (const item of skipped) {
    let group = byReason.get(item.reason);
    if (!group) {
      group = { reason: item.reason, count: 0, examples: [] };
      byReason.set(item.reason, group);
    }
    group.count++;
    if (group.examples.length < 3) {
      group.examples.push(baseName(item.path));
    }
  }
  return [...byReason.values()];
}
