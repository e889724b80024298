// Turning what the sender picked or dropped into a flat list of entries
// {path, name, size, blob}: files of a folder, single files, and the files inside ZIP archives
// (opened here, in the browser, one entry at a time).

import { Unzip, UnzipInflate } from 'fflate';
import { hasDicomSignature, readBytes } from './dicom.js';

export function normalizePath(path) {
  return String(path || '').replace(/\\/g, '/').replace(/^\/+/, '').replace(/\/{2,}/g, '/');
}

export function baseName(path) {
  const parts = normalizePath(path).split('/');
  return parts[parts.length - 1];
}

export function isDicomdirName(name) {
  return /^DICOMDIR(\.|;1)?$/i.test(baseName(name));
}

function isZipName(name) {
  return /\.zip$/i.test(name);
}

function fileEntry(file, path) {
  return { path: normalizePath(path || file.webkitRelativePath || file.name), name: file.name,
    size: file.size, blob: file };
}

// Files of an <input type=file> (with or without webkitdirectory).
export function entriesFromFileList(fileList) {
  return Array.from(fileList, (file) => fileEntry(file));
}

function readAllEntries(reader) {
  return new Promise((resolve, reject) => {
    const all = [];
    const next = () => reader.readEntries((batch) => {
      if (batch.length === 0) {
        resolve(all);
      } else {
        all.push(...batch);
        next();
      }
    }, reject);
    next();
  });
}

function fileOf(entry) {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

async function walk(entry, out, problems) {
  if (entry.isFile) {
    try {
      out.push(fileEntry(await fileOf(entry), entry.fullPath));
    } catch (e) {
      problems.push({ path: normalizePath(entry.fullPath), reason: 'unreadable' });
    }
  } else if (entry.isDirectory) {
    let children = [];
    try {
      children = await readAllEntries(entry.createReader());
    } catch (e) {
      problems.push({ path: normalizePath(entry.fullPath), reason: 'unreadable' });
    }
    for (const child of children) {
      await walk(child, out, problems);
    }
  }
}

// What was dropped: folders are walked. The DataTransfer must be read synchronously inside
// the drop event, so the entries are taken first and walked afterwards.
export function takeDropped(dataTransfer) {
  const items = dataTransfer.items ? Array.from(dataTransfer.items) : [];
  const fsEntries = [];
  const plainFiles = [];
  for (const item of items) {
    if (item.kind !== 'file') {
      continue;
    }
    const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null;
    if (entry) {
      fsEntries.push(entry);
    } else {
      const file = item.getAsFile();
      if (file) {
        plainFiles.push(file);
      }
    }
  }
  if (items.length === 0 && dataTransfer.files) {
    plainFiles.push(...Array.from(dataTransfer.files));
  }
  return async (problems) => {
    const out = plainFiles.map((file) => fileEntry(file));
    for (const entry of fsEntries) {
      await walk(entry, out, problems);
    }
    return out;
  };
}

export async function isZip(entry) {
  if (!isZipName(entry.name) || entry.size < 22) {
    return false;
  }
  const head = await readBytes(entry.blob, 0, 4);
  return head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5) &&
    (head[3] === 4 || head[3] === 6);
}

// The DICOM files (and DICOMDIRs) inside a ZIP archive, as in-memory blobs; every other
// entry is counted as skipped without being kept. The archive is read in chunks from disk.
export async function entriesFromZip(zipEntry, { onProgress, isCancelled, skipped }) {
  const out = [];
  const pending = [];
  const unzip = new Unzip();
  unzip.register(UnzipInflate);
  unzip.onfile = (file) => {
    if (file.name.endsWith('/')) {
      return;
    }
    const path = `${zipEntry.path}/${normalizePath(file.name)}`;
    const chunks = [];
    let head = null;
    let decided = false;
    let keep = false;
    let size = 0;
    file.ondata = (error, data, final) => {
      if (error) {
        skipped.push({ path, reason: 'zipFailed' });
        decided = true;
        keep = false;
        return;
      }
      if (!decided) {
        head = head ? concat(head, data) : data;
        if (head.length >= 132 || final) {
          decided = true;
          keep = hasDicomSignature(head) || isDicomdirName(path);
          if (keep) {
            chunks.push(head);
            size += head.length;
          } else {
            skipped.push({ path, reason: head.length === 0 ? 'empty' : 'notDicom' });
            if (!final) {
              file.terminate();
            }
          }
          head = null;
        }
      } else if (keep) {
        chunks.push(data);
        size += data.length;
      }
      if (final && keep) {
        const blob = new Blob(chunks, { type: 'application/dicom' });
        chunks.length = 0;
        out.push({ path, name: baseName(path), size, blob, fromZip: true });
      }
    };
    try {
      file.start();
    } catch (e) {
      skipped.push({ path, reason: 'zipFailed' });
    }
    pending.push(file);
  };

  const reader = zipEntry.blob.stream().getReader();
  let read = 0;
  for (;;) {
    if (isCancelled && isCancelled()) {
      await reader.cancel();
      break;
    }
    const { done, value } = await reader.read();
    if (done) {
      unzip.push(new Uint8Array(0), true);
      break;
    }
    // Large chunks are pushed in slices, so that the page stays responsive.
    for (let offset = 0; offset < value.length; offset += 1024 * 1024) {
      unzip.push(value.subarray(offset, Math.min(value.length, offset + 1024 * 1024)), false);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    read += value.length;
    if (onProgress) {
      onProgress(read, zipEntry.size);
    }
  }
  return out;
}

function concat(a, b) {
  const result = new Uint8Array(a.length + b.length);
  result.set(a, 0);
  result.set(b, a.length);
  return result;
}
