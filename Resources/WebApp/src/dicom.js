// Reading the little the page needs from DICOM files: the Part 10 signature, a few header
// attributes for the preview, and the file references of a DICOMDIR. Only the beginning of
// each file is read; pixel data is never touched.

import dicomParser from 'dicom-parser';
import { Inflate } from 'fflate';

export const DICOMDIR_SOP_CLASS = '1.2.840.10008.1.3.10';

const HEADER_SLICES = [64 * 1024, 1024 * 1024, 16 * 1024 * 1024];
const MAX_DICOMDIR_BYTES = 256 * 1024 * 1024;

const TAG = {
  mediaStorageSopClass: 'x00020002',
  transferSyntax: 'x00020010',
  charset: 'x00080005',
  sopClass: 'x00080016',
  sopInstance: 'x00080018',
  studyDate: 'x00080020',
  modality: 'x00080060',
  studyDescription: 'x00081030',
  seriesDescription: 'x0008103e',
  patientName: 'x00100010',
  patientId: 'x00100020',
  birthDate: 'x00100030',
  studyUid: 'x0020000d',
  seriesUid: 'x0020000e',
  seriesNumber: 'x00200011',
  directoryRecords: 'x00041220',
  recordType: 'x00041430',
  referencedFileId: 'x00041500',
  pixelData: 'x7fe00010',
};

// Specific Character Set defined terms → names the browser's TextDecoder knows.
const CHARSETS = {
  'ISO_IR 100': 'windows-1252', 'ISO 2022 IR 100': 'windows-1252',
  'ISO_IR 101': 'iso-8859-2', 'ISO 2022 IR 101': 'iso-8859-2',
  'ISO_IR 109': 'iso-8859-3', 'ISO 2022 IR 109': 'iso-8859-3',
  'ISO_IR 110': 'iso-8859-4', 'ISO 2022 IR 110': 'iso-8859-4',
  'ISO_IR 144': 'iso-8859-5', 'ISO 2022 IR 144': 'iso-8859-5',
  'ISO_IR 127': 'iso-8859-6', 'ISO 2022 IR 127': 'iso-8859-6',
  'ISO_IR 126': 'iso-8859-7', 'ISO 2022 IR 126': 'iso-8859-7',
  'ISO_IR 138': 'iso-8859-8', 'ISO 2022 IR 138': 'iso-8859-8',
  'ISO_IR 148': 'iso-8859-9', 'ISO 2022 IR 148': 'iso-8859-9',
  'ISO_IR 203': 'iso-8859-15', 'ISO 2022 IR 203': 'iso-8859-15',
  'ISO_IR 166': 'windows-874', 'ISO 2022 IR 166': 'windows-874',
  'ISO_IR 13': 'shift_jis', 'ISO 2022 IR 13': 'shift_jis',
  'ISO 2022 IR 87': 'iso-2022-jp', 'ISO 2022 IR 159': 'iso-2022-jp',
  'ISO 2022 IR 149': 'euc-kr', 'ISO 2022 IR 58': 'gb2312',
  'ISO_IR 192': 'utf-8', GB18030: 'gb18030', GBK: 'gbk',
};

const decoders = new Map();

function decoderFor(charsetValue) {
  const terms = String(charsetValue || '').split('\\').map((s) => s.trim()).filter(Boolean);
  const term = terms.length ? terms[terms.length - 1] : '';
  const label = CHARSETS[term] || 'windows-1252';
  if (!decoders.has(label)) {
    let decoder;
    try {
      decoder = new TextDecoder(label);
    } catch (e) {
      decoder = new TextDecoder('windows-1252');
    }
    decoders.set(label, decoder);
  }
  return decoders.get(label);
}

export async function readBytes(blob, start, end) {
  return new Uint8Array(await blob.slice(start, end).arrayBuffer());
}

// True when the bytes hold "DICM" at offset 128 (DICOM Part 10 file).
export function hasDicomSignature(bytes) {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 &&
    bytes[130] === 0x43 && bytes[131] === 0x4d;
}

function rawString(dataSet, tag) {
  const element = dataSet.elements[tag];
  if (!element || !element.length || element.dataOffset === undefined) {
    return '';
  }
  return String.fromCharCode.apply(null,
    dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + element.length))
    .replace(/[\0 ]+$/, '').trim();
}

function textString(dataSet, tag, decoder) {
  const element = dataSet.elements[tag];
  if (!element || !element.length || element.dataOffset === undefined) {
    return '';
  }
  const bytes = dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + element.length);
  return decoder.decode(bytes).replace(/[\0 ]+$/, '').trim();
}

// A deflated data set can only be read by inflating; a header slice is a truncated stream,
// so inflate what is there and ignore the end.
function inflater(byteArray, position) {
  const parts = [];
  let total = 0;
  const inflate = new Inflate((chunk) => {
    parts.push(chunk);
    total += chunk.length;
  });
  try {
    inflate.push(byteArray.subarray(position), false);
  } catch (e) {
    // keep what was inflated
  }
  const result = new Uint8Array(position + total);
  result.set(byteArray.subarray(0, position), 0);
  let offset = position;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

function parseHeaderBytes(bytes) {
  const meta = dicomParser.readPart10Header(bytes);
  const mediaSopClass = rawString(meta, TAG.mediaStorageSopClass);
  if (mediaSopClass === DICOMDIR_SOP_CLASS) {
    return { complete: true, dataSet: meta, meta };
  }
  try {
    const dataSet = dicomParser.parseDicom(bytes, { untilTag: TAG.pixelData, inflater });
    return { complete: true, dataSet, meta };
  } catch (error) {
    // A slice of the file ends inside the data set: what was read is enough when the
    // parser got past the attributes the preview needs (they come early in tag order).
    const partial = error && error.dataSet;
    if (partial && Object.keys(partial.elements).some((tag) => tag > TAG.seriesNumber)) {
      return { complete: true, dataSet: partial, meta };
    }
    return { complete: false, dataSet: partial, meta };
  }
}

// The attributes of one file shown in the preview, or null when the file is not DICOM.
// Throws when the file cannot be read at all.
export async function readDicomHeader(blob) {
  let bytes = null;
  let parsed = null;
  for (const sliceSize of HEADER_SLICES) {
    const end = Math.min(blob.size, sliceSize);
    bytes = await readBytes(blob, 0, end);
    if (!hasDicomSignature(bytes)) {
      return null;
    }
    try {
      parsed = parseHeaderBytes(bytes);
    } catch (e) {
      parsed = null;
    }
    if ((parsed && parsed.complete) || end >= blob.size) {
      break;
    }
  }
  if (!parsed || !parsed.dataSet) {
    return { readable: false, isDicomdir: false };
  }
  const ds = parsed.dataSet;
  const sopClass = rawString(parsed.meta, TAG.mediaStorageSopClass) || rawString(ds, TAG.sopClass);
  if (sopClass === DICOMDIR_SOP_CLASS || ds.elements[TAG.directoryRecords]) {
    return { readable: true, isDicomdir: true };
  }
  const decoder = decoderFor(rawString(ds, TAG.charset));
  const header = {
    readable: true,
    isDicomdir: false,
    sopInstanceUid: rawString(ds, TAG.sopInstance),
    studyUid: rawString(ds, TAG.studyUid),
    seriesUid: rawString(ds, TAG.seriesUid),
    studyDate: rawString(ds, TAG.studyDate),
    modality: rawString(ds, TAG.modality),
    studyDescription: textString(ds, TAG.studyDescription, decoder),
    seriesDescription: textString(ds, TAG.seriesDescription, decoder),
    seriesNumber: rawString(ds, TAG.seriesNumber),
    patientName: textString(ds, TAG.patientName, decoder),
    patientId: textString(ds, TAG.patientId, decoder),
    birthDate: rawString(ds, TAG.birthDate),
  };
  if (!header.studyUid) {
    header.readable = false;
  }
  return header;
}

// The file IDs a DICOMDIR references, each as an array of path components, or null when the
// file is no readable DICOMDIR.
export async function readDicomdirReferences(blob) {
  if (blob.size > MAX_DICOMDIR_BYTES || blob.size < 132) {
    return null;
  }
  const bytes = await readBytes(blob, 0, blob.size);
  if (!hasDicomSignature(bytes)) {
    return null;
  }
  let dataSet;
  try {
    dataSet = dicomParser.parseDicom(bytes, { inflater });
  } catch (error) {
    dataSet = error && error.dataSet;
  }
  const sequence = dataSet && dataSet.elements[TAG.directoryRecords];
  if (!sequence || !sequence.items) {
    return null;
  }
  const references = [];
  for (const item of sequence.items) {
    const record = item.dataSet;
    if (!record) {
      continue;
    }
    const fileId = rawString(record, TAG.referencedFileId);
    if (fileId) {
      references.push(fileId.split('\\').map((s) => s.trim()).filter(Boolean));
    }
  }
  return references;
}
