// Step 3, choosing the images: the folder and file pickers, dropped folders and files, and the
// search for DICOM files among them (scan.js), shown with its progress.

import { $, el } from '../../WebShared/dom.js';
import { formatBytes } from '../../WebShared/format.js';
import { locale, t } from '../../WebShared/i18n.js';
import { prepareChecks } from './matchview.js';
import { showView, state } from './page.js';
import { renderPreview } from './preview.js';
import { scan } from './scan.js';
import { entriesFromFileList, takeDropped } from './sources.js';

// Which part of the step is shown: the pickers, the search's progress or what was found.
function showPart(part) {
  $('picker').hidden = part !== 'picker';
  $('scan-status').hidden = part !== 'scanning';
  for (const id of ['preview', 'send-button', 'pick-again']) {
    $(id).hidden = part !== 'preview';
  }
}

export function resetPicker() {
  state.scanResult = null;
  showPart('picker');
  $('select-error').hidden = true;
  $('images-back').hidden = !!state.resume;
  $('folder-input').value = '';
  $('files-input').value = '';
}

async function startScan(collect) {
  const scanId = ++state.scanId;
  const cancelled = () => scanId !== state.scanId;
  showPart('scanning');
  $('scan-empty').hidden = true;
  $('scan-text').textContent = t('images.scanning');
  $('scan-detail').textContent = '';
  $('scan-progress').removeAttribute('value');
  $('scan-cancel').focus();

  const problems = [];
  let result = null;
  try {
    const inputs = await collect(problems);
    if (cancelled()) {
      return;
    }
    result = await scan(inputs, {
      limits: state.info.limits,
      isCancelled: cancelled,
      onProgress: (p) => {
        if (cancelled()) {
          return;
        }
        if (p.phase === 'zip') {
          $('scan-text').textContent = t('images.unzipping', { name: p.name });
          $('scan-progress').value = p.total ? p.done / p.total : 0;
          $('scan-detail').textContent = `${formatBytes(p.done)} / ${formatBytes(p.total)}`;
        } else {
          $('scan-text').textContent = t('images.scanning');
          $('scan-progress').value = p.total ? p.done / p.total : 1;
          $('scan-detail').textContent = t('images.scanProgress', {
            done: p.done.toLocaleString(locale()), total: p.total.toLocaleString(locale()),
          });
        }
      },
    });
  } catch (e) {
    result = null;
  }
  if (cancelled() || !result) {
    if (!cancelled()) {
      resetPicker();
    }
    return;
  }
  result.skipped.push(...problems);
  $('scan-status').hidden = true;
  if (result.tree.studies.size === 0) {
    resetPicker();
    $('scan-empty').replaceChildren(el('p', { text: t('images.noneFound') }));
    $('scan-empty').hidden = false;
    $('pick-folder').focus();
    return;
  }
  if (state.resume) {
    const wanted = new Set(state.resume.stored.studies);
    for (const study of result.tree.studies.values()) {
      study.selected = wanted.size === 0 || wanted.has(study.key);
    }
  }
  prepareChecks(result);
  state.scanResult = result;
  $('scan-empty').hidden = true;
  showPart('preview');
  renderPreview();
  $('found-summary').setAttribute('tabindex', '-1');
  $('found-summary').focus();
}

function cancelScan() {
  state.scanId++;
  resetPicker();
  $('pick-folder').focus();
}

function setupDropzone() {
  const zone = $('view-images');
  const box = $('dropzone');
  let depth = 0;
  const accepting = () => state.view === 'images' && !$('picker').hidden;
  zone.addEventListener('dragenter', (event) => {
    if (!accepting()) {
      return;
    }
    event.preventDefault();
    depth++;
    box.classList.add('active');
    $('dropzone-hint').textContent = t('images.dropActive');
  });
  zone.addEventListener('dragover', (event) => {
    if (!accepting()) {
      return;
    }
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  const leave = () => {
    depth = 0;
    box.classList.remove('active');
    $('dropzone-hint').textContent = t('images.drop');
  };
  zone.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) {
      leave();
    }
  });
  zone.addEventListener('drop', (event) => {
    if (!accepting()) {
      return;
    }
    event.preventDefault();
    leave();
    const collect = takeDropped(event.dataTransfer);
    startScan(collect);
  });
  // Files dropped beside the zone must not make the browser leave the page.
  window.addEventListener('dragover', (event) => event.preventDefault());
  window.addEventListener('drop', (event) => event.preventDefault());
}

export function wireImages() {
  $('images-back').addEventListener('click', () => {
    state.scanId++;
    showView('details');
  });
  const folderInput = $('folder-input');
  if (!('webkitdirectory' in folderInput)) {
    $('pick-folder').hidden = true;
  }
  $('pick-folder').addEventListener('click', () => folderInput.click());
  $('pick-files').addEventListener('click', () => $('files-input').click());
  folderInput.addEventListener('change', () => {
    if (folderInput.files.length) {
      const entries = entriesFromFileList(folderInput.files);
      startScan(async () => entries);
    }
  });
  $('files-input').addEventListener('change', () => {
    const input = $('files-input');
    if (input.files.length) {
      const entries = entriesFromFileList(input.files);
      startScan(async () => entries);
    }
  });
  $('scan-cancel').addEventListener('click', cancelScan);
  $('pick-again').addEventListener('click', () => {
    resetPicker();
    $('pick-folder').hidden ? $('pick-files').focus() : $('pick-folder').focus();
  });
  setupDropzone();
}
