// The upload page: privacy → sender details → images (pick, find, preview) → sending →
// receipt, plus continuing an interrupted upload. All texts come from i18n.js.

import { api, ApiError } from './api.js';
import { applyBranding } from './branding.js';
import { formatBytes, formatDateTime, formatDicomDate, formatDuration, formatPersonName } from './format.js';
import { Hasher } from './hash.js';
import { dictionaries, language, locale, onLanguageChange, preferredLanguage, setLanguage, t, tn } from './i18n.js';
import { clearResume, loadResume, saveResume, throttledSaver } from './resume.js';
import { scan, summarizeSkipped } from './scan.js';
import { entriesFromFileList, takeDropped } from './sources.js';
import { FatalUploadError, Pacer, UploadRun } from './upload.js';

const $ = (id) => document.getElementById(id);

const DEFAULT_TEXT_LIMITS = { name: 128, email: 254, institution: 128, phone: 40, message: 2000 };
const LANG_KEY = 'orthanc-inbound:language';
const STEPS = ['privacy', 'details', 'images', 'send', 'receipt'];

const state = {
  info: null,
  view: 'loading',
  consentVersion: null,
  sender: null,
  recipient: null,
  message: '',
  detailErrors: null,
  scanResult: null,
  scanId: 0,
  resume: null, // {stored, received: Set} when continuing an interrupted upload
  upload: null, // {id, token, createdAt}
  items: [],
  run: null,
  sending: false,
  receipt: null,
  problem: null,
  hasher: null,
};

// ---------------------------------------------------------------- small DOM helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (name === 'className') {
      node.className = value;
    } else if (name === 'text') {
      node.textContent = value;
    } else if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2), value);
    } else if (value === true) {
      node.setAttribute(name, '');
    } else {
      node.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

function siteName() {
  return (state.info && state.info.siteName) || 'Orthanc Inbound';
}

function tp(key, params) {
  return t(key, { site: siteName(), ...params });
}

function storageGet(key) {
  try {
    return window.localStorage.getItem(key);
  } catch (e) {
    return null;
  }
}

function storageSet(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch (e) {
    // private mode: the choice is not remembered
  }
}

// ---------------------------------------------------------------- language

function applyTranslations() {
  document.documentElement.lang = language();
  document.title = `${t('app.product')} – ${siteName()}`;
  for (const node of document.querySelectorAll('[data-i18n]')) {
    node.textContent = tp(node.dataset.i18n);
  }
  for (const node of document.querySelectorAll('[data-i18n-aria-label]')) {
    node.setAttribute('aria-label', tp(node.dataset.i18nAriaLabel));
  }
  $('brand-site').textContent = siteName();
  document.querySelector('#studies-table th.col-check').setAttribute('data-label', t('images.selectAll'));
  $('footer-text').textContent = tp(window.location.protocol === 'https:' ? 'app.footer' : 'app.footerPlain');
  renderLanguageSwitch();
  renderSteps();
  if (state.info) {
    renderPrivacy();
    renderRecipients();
  }
  if (state.detailErrors) {
    showDetailErrors(validateDetails().errors, false);
  }
  if (state.scanResult) {
    renderPreview();
  }
  if (state.view === 'resume') {
    renderResumeText();
  }
  if (state.view === 'send' && state.run) {
    renderProgress();
  }
  if (state.problem) {
    renderProblem();
  }
  if (state.receipt) {
    renderReceipt();
  }
}

function offeredLanguages() {
  const offered = state.info && Array.isArray(state.info.languages)
    ? state.info.languages.filter((l) => dictionaries[l]) : [];
  return offered.length ? offered : Object.keys(dictionaries);
}

function renderLanguageSwitch() {
  const box = $('lang-switch');
  box.replaceChildren();
  const offered = offeredLanguages();
  if (offered.length < 2) {
    return;
  }
  for (const lang of offered) {
    box.append(el('button', {
      type: 'button',
      lang,
      'aria-pressed': lang === language() ? 'true' : 'false',
      onclick: () => {
        storageSet(LANG_KEY, lang);
        setLanguage(lang);
      },
      text: dictionaries[lang]['lang.name'],
    }));
  }
}

// ---------------------------------------------------------------- views and steps

function stepOf(view) {
  if (view === 'resume') {
    return 'images';
  }
  return STEPS.includes(view) ? view : null;
}

function renderSteps() {
  const current = stepOf(state.view);
  $('steps').hidden = !current;
  const index = STEPS.indexOf(current);
  for (const li of document.querySelectorAll('#steps li')) {
    const i = STEPS.indexOf(li.dataset.step);
    li.classList.toggle('done', i < index);
    if (i === index) {
      li.setAttribute('aria-current', 'step');
    } else {
      li.removeAttribute('aria-current');
    }
    li.querySelector('.step-state').textContent =
      i === index ? ` ${t('steps.current')}` : i < index ? ` ${t('steps.done')}` : '';
  }
}

function showView(view, { focus = true } = {}) {
  state.view = view;
  for (const node of document.querySelectorAll('.view')) {
    node.hidden = node.id !== `view-${view}`;
  }
  renderSteps();
  if (focus) {
    const heading = document.querySelector(`#view-${view} h2`);
    if (heading) {
      heading.focus();
      heading.scrollIntoView({ block: 'nearest' });
      window.scrollTo({ top: 0 });
    }
  }
}

function showNotice(text) {
  const notice = $('notice');
  notice.textContent = text || '';
  notice.hidden = !text;
}

// ---------------------------------------------------------------- start

async function loadInfo() {
  showView('loading', { focus: false });
  let info;
  try {
    info = await api.info();
  } catch (e) {
    showView('load-error', { focus: false });
    return;
  }
  state.info = info;
  setLanguage(preferredLanguage(offeredLanguages(), storageGet(LANG_KEY)));
  applyBranding(info.branding);
  applyTranslations();
  const stored = loadResume();
  if (stored) {
    await offerResume(stored);
  } else {
    showView('privacy', { focus: false });
  }
}

// ---------------------------------------------------------------- privacy

function privacyText() {
  const privacy = (state.info && state.info.privacy) || {};
  let text = privacy.text;
  if (text && typeof text === 'object') {
    text = text[language()] || text[offeredLanguages()[0]] || Object.values(text)[0];
  }
  return String(text || '');
}

function renderPrivacy() {
  const box = $('privacy-text');
  box.replaceChildren();
  for (const paragraph of privacyText().split(/\n\s*\n/)) {
    const p = el('p');
    paragraph.split('\n').forEach((line, i) => {
      if (i > 0) {
        p.append(el('br'));
      }
      p.append(line);
    });
    box.append(p);
  }
  const version = state.info.privacy && state.info.privacy.version;
  $('privacy-version').textContent = version ? t('privacy.version', { version }) : '';
  if (!$('privacy-error').hidden) {
    $('privacy-error').textContent = t('privacy.required');
  }
}

function onPrivacySubmit(event) {
  event.preventDefault();
  const box = $('privacy-accept');
  if (!box.checked) {
    $('privacy-error').textContent = t('privacy.required');
    $('privacy-error').hidden = false;
    box.setAttribute('aria-invalid', 'true');
    box.focus();
    return;
  }
  $('privacy-error').hidden = true;
  box.removeAttribute('aria-invalid');
  state.consentVersion = state.info.privacy && state.info.privacy.version;
  showView('details');
}

// ---------------------------------------------------------------- sender details

function recipients() {
  return (state.info && Array.isArray(state.info.recipients)) ? state.info.recipients : [];
}

function renderRecipients() {
  const list = recipients();
  const select = $('recipient');
  const previous = select.value;
  $('recipient-field').hidden = list.length === 0;
  select.replaceChildren();
  if (list.length > 1) {
    select.append(el('option', { value: '', text: t('details.recipientChoose') }));
  }
  for (const r of list) {
    select.append(el('option', { value: r.id, text: r.name || r.id }));
  }
  if (previous && list.some((r) => r.id === previous)) {
    select.value = previous;
  }
}

function textLimits() {
  const fromInfo = (state.info && ((state.info.limits && state.info.limits.text) || state.info.textLimits)) || {};
  return { ...DEFAULT_TEXT_LIMITS, ...fromInfo };
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const EMAIL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

// Single-line fields: tabs and runs of spaces become one space. The message keeps its
// lines, joined with " / " (the API accepts no line breaks).
function cleanLine(value) {
  return String(value || '').replace(/[\t ]+/g, ' ').trim();
}

function cleanMessage(value) {
  return String(value || '').split(/\r\n|\r|\n/).map(cleanLine).filter(Boolean).join(' / ');
}

function validateDetails() {
  const limits = textLimits();
  const values = {
    name: cleanLine($('sender-name').value),
    email: cleanLine($('sender-email').value),
    institution: cleanLine($('sender-institution').value),
    phone: cleanLine($('sender-phone').value),
    message: cleanMessage($('message').value),
    recipient: $('recipient').value,
  };
  const errors = [];
  const check = (field, inputId, label, required) => {
    const value = values[field];
    if (!value) {
      if (required) {
        errors.push({ inputId, text: t('error.required', { field: t(label) }) });
      }
      return;
    }
    if (CONTROL.test(value)) {
      errors.push({ inputId, text: t('error.control', { field: capitalize(t(label)) }) });
    } else if ([...value].length > limits[field]) {
      errors.push({ inputId, text: t('error.tooLong', { field: capitalize(t(label)), max: limits[field] }) });
    } else if (field === 'email' && (!EMAIL.test(value) || value.indexOf('@') > 64)) {
      errors.push({ inputId, text: t('error.email') });
    }
  };
  check('name', 'sender-name', 'field.name', true);
  check('email', 'sender-email', 'field.email', true);
  check('institution', 'sender-institution', 'field.institution', false);
  check('phone', 'sender-phone', 'field.phone', false);
  if (recipients().length && !recipients().some((r) => r.id === values.recipient)) {
    errors.push({ inputId: 'recipient', text: t('error.chooseRecipient') });
  }
  check('message', 'message', 'field.message', false);
  return { values, errors };
}

function capitalize(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

function showDetailErrors(errors, focusSummary) {
  for (const input of document.querySelectorAll('#details-form input, #details-form select, #details-form textarea')) {
    input.removeAttribute('aria-invalid');
    const message = $(`${input.id}-error`);
    if (message) {
      message.hidden = true;
      message.textContent = '';
    }
  }
  const summary = $('details-errors');
  const list = $('details-error-list');
  list.replaceChildren();
  if (!errors.length) {
    summary.hidden = true;
    state.detailErrors = null;
    return;
  }
  state.detailErrors = errors;
  for (const error of errors) {
    const input = $(error.inputId);
    input.setAttribute('aria-invalid', 'true');
    const message = $(`${error.inputId}-error`);
    if (message && message.hidden) {
      message.textContent = error.text;
      message.hidden = false;
    }
    list.append(el('li', {}, el('a', {
      href: `#${error.inputId}`,
      onclick: (event) => {
        event.preventDefault();
        input.focus();
      },
      text: error.text,
    })));
  }
  summary.hidden = false;
  if (focusSummary) {
    summary.focus();
  }
}

function onDetailsSubmit(event) {
  event.preventDefault();
  const { values, errors } = validateDetails();
  showDetailErrors(errors, true);
  if (errors.length) {
    return;
  }
  state.sender = { name: values.name, email: values.email };
  if (values.institution) {
    state.sender.institution = values.institution;
  }
  if (values.phone) {
    state.sender.phone = values.phone;
  }
  state.recipient = recipients().length ? values.recipient : null;
  state.message = values.message;
  showView('images');
}

// ---------------------------------------------------------------- images: picking and scanning

function resetPicker() {
  state.scanResult = null;
  $('picker').hidden = false;
  $('preview').hidden = true;
  $('scan-status').hidden = true;
  $('send-button').hidden = true;
  $('pick-again').hidden = true;
  $('select-error').hidden = true;
  $('images-back').hidden = !!state.resume;
  $('folder-input').value = '';
  $('files-input').value = '';
}

async function startScan(collect) {
  const scanId = ++state.scanId;
  const cancelled = () => scanId !== state.scanId;
  $('picker').hidden = true;
  $('preview').hidden = true;
  $('scan-empty').hidden = true;
  $('send-button').hidden = true;
  $('pick-again').hidden = true;
  $('scan-status').hidden = false;
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
  state.scanResult = result;
  $('scan-empty').hidden = true;
  $('preview').hidden = false;
  $('send-button').hidden = false;
  $('pick-again').hidden = false;
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

// ---------------------------------------------------------------- images: preview

function selectedStudies() {
  return state.scanResult ? [...state.scanResult.tree.studies.values()].filter((s) => s.selected) : [];
}

function studyLabel(study) {
  return study.readable ? (study.description || t('images.noDescription')) : t('images.unreadable');
}

function renderPreview() {
  const result = state.scanResult;
  const { tree } = result;
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
      const id = `study-${rowId++}`;
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
      const seriesRows = [];
      const seriesIds = [];
      let seriesIndex = 0;
      for (const series of study.series.values()) {
        const seriesId = `${id}-series-${seriesIndex++}`;
        seriesIds.push(seriesId);
        seriesRows.push(el('tr', { className: 'series-row', id: seriesId, hidden: true },
          el('td'),
          el('td', { colspan: 2 }, Number.isNaN(series.number) ? '' : `#${series.number}`),
          el('td', {}, series.modality ? el('span', { className: 'modality', text: series.modality }) : ''),
          el('td', { text: series.description || '' }),
          el('td'),
          el('td', { className: 'num', text: series.count.toLocaleString(locale()) })));
      }
      const toggle = el('button', {
        type: 'button',
        className: 'series-toggle',
        'aria-expanded': 'false',
        'aria-controls': seriesIds.join(' '),
        text: tn('count.series', study.series.size),
        onclick: () => {
          const open = toggle.getAttribute('aria-expanded') !== 'true';
          toggle.setAttribute('aria-expanded', String(open));
          toggle.setAttribute('title', open ? t('images.hideSeries') : t('images.showSeries'));
          for (const r of seriesRows) {
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
      body.append(row, ...seriesRows);
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
  updateSelection();
}

function skippedGroups() {
  const result = state.scanResult;
  const groups = summarizeSkipped(result.skipped);
  const unticked = [...result.tree.studies.values()].filter((s) => !s.selected);
  const untickedFiles = unticked.reduce((n, s) => n + s.files.length, 0);
  if (untickedFiles) {
    groups.push({ reason: 'unticked', count: untickedFiles, examples: [] });
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

function renderSkippedList(list, groups) {
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
  const studies = [...state.scanResult.tree.studies.values()];
  const chosen = studies.filter((s) => s.selected);
  const files = chosen.reduce((n, s) => n + s.files.length, 0);
  const bytes = chosen.reduce((n, s) => n + s.bytes, 0);
  const all = $('select-all');
  all.checked = chosen.length === studies.length;
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
  for (const study of state.scanResult.tree.studies.values()) {
    study.selected = event.target.checked;
  }
  for (const box of document.querySelectorAll('#studies-body input[type="checkbox"]')) {
    box.checked = event.target.checked;
    box.closest('tr').classList.toggle('unselected', !event.target.checked);
  }
  updateSelection();
}

// ---------------------------------------------------------------- sending

function collectItems() {
  const items = [];
  for (const study of selectedStudies()) {
    const files = [...study.files].sort((a, b) => a.path.localeCompare(b.path));
    for (const entry of files) {
      items.push({ entry, key: entry.key, study: study.key });
    }
  }
  return items;
}

function showSelectError(text) {
  $('select-error').textContent = text;
  $('select-error').hidden = false;
  $('select-error').scrollIntoView({ block: 'nearest' });
}

async function onSend() {
  const items = collectItems();
  if (!items.length) {
    showSelectError(t('images.nothingSelected'));
    return;
  }
  const bytes = items.reduce((n, it) => n + it.entry.size, 0);
  const limits = state.info.limits || {};
  if (!state.resume && ((limits.maxFilesPerUpload && items.length > limits.maxFilesPerUpload) ||
      (limits.maxBytesPerUpload && bytes > limits.maxBytesPerUpload))) {
    const max = items.length > limits.maxFilesPerUpload
      ? tn('count.images', limits.maxFilesPerUpload) : formatBytes(limits.maxBytesPerUpload);
    showSelectError(tp('images.tooMany', { max }));
    return;
  }
  state.items = items;
  state.problem = null;
  renderProblem();
  showView('send');
  $('send-state').textContent = t('send.opening');
  setSendButtons({ cancel: true });

  let received = new Set();
  if (state.resume) {
    state.upload = { id: state.resume.stored.id, token: state.resume.stored.token, createdAt: state.resume.stored.createdAt };
    try {
      const status = await api.status(state.upload.id, state.upload.token);
      if (status.state !== 'open') {
        if (status.state === 'complete' || status.state === 'delivered') {
          await finishUpload();
          return;
        }
        throw new ApiError(409, 'upload-closed');
      }
      received = new Set((status.files || []).map((f) => f.sha256));
    } catch (e) {
      handleFatal(e.status === 404 || e.status === 409 ? new FatalUploadError('closed') : e);
      return;
    }
    const hashes = state.resume.stored.hashes || {};
    for (const item of items) {
      if (hashes[item.key] && received.has(hashes[item.key])) {
        item.sha256 = hashes[item.key];
      }
    }
  } else {
    const request = {
      sender: state.sender,
      consent: { version: state.consentVersion, accepted: true },
      expected: { files: items.length, bytes },
      language: language(), // the receipt comes in the language of this page
    };
    if (state.recipient) {
      request.recipient = state.recipient;
    }
    if (state.message) {
      request.message = state.message;
    }
    let opened;
    try {
      opened = await api.open(request);
    } catch (e) {
      state.problem = { kind: 'openFailed', reason: e.message, status: e.status };
      renderProblem();
      setSendButtons({ restart: true });
      return;
    }
    state.upload = { id: opened.id, token: opened.token, createdAt: new Date().toISOString() };
    const recipient = recipients().find((r) => r.id === state.recipient);
    state.resume = null;
    state.resumeBase = {
      id: opened.id,
      token: opened.token,
      site: siteName(),
      createdAt: state.upload.createdAt,
      expiresAt: opened.expiresAt,
      sender: { name: state.sender.name, institution: state.sender.institution || '' },
      recipientName: recipient ? recipient.name : '',
      totalFiles: items.length,
      totalBytes: bytes,
      studies: [...new Set(items.map((it) => it.study))],
      keys: items.map((it) => it.key),
      hashes: {},
    };
    saveResume(state.resumeBase);
  }
  if (state.resume) {
    state.resumeBase = { ...state.resume.stored };
  }
  await runUpload(items, received);
}

const saver = throttledSaver(2000);

// The upload's token is a key to it: once the upload is complete, cancelled, expired or
// unknown to the server (404), nothing of it may stay in this browser (a shared computer, a
// later visitor). A save still scheduled by the throttle is dropped too, so that it cannot
// write the token back after it was forgotten.
function forgetUpload() {
  saver.cancel();
  clearResume();
}

function expired(stored) {
  const end = Date.parse(stored.expiresAt || '');
  return Number.isFinite(end) && end <= Date.now();
}

function setSendButtons({ retry = false, finish = false, restart = false, cancel = false }) {
  $('send-retry').hidden = !retry;
  $('send-finish').hidden = !finish;
  $('send-restart').hidden = !restart;
  $('send-cancel').hidden = !cancel;
  $('cancel-confirm').hidden = true;
}

async function runUpload(items, received) {
  if (!state.hasher) {
    // eslint-disable-next-line no-undef
    state.hasher = new Hasher(typeof __WORKER_URL__ === 'string' ? __WORKER_URL__ : 'app/worker.js');
  }
  state.sending = true;
  state.sendStatus = null;
  const run = new UploadRun({
    id: state.upload.id,
    token: state.upload.token,
    items,
    received,
    hasher: state.hasher,
    pacer: state.pacer || (state.pacer = new Pacer(state.info.limits)),
    onProgress: () => {},
    onStatus: (status) => {
      state.sendStatus = status.kind === 'running' ? null : status;
    },
    onFileDone: (item) => {
      if (state.run !== run || run.fatal) {
        return; // cancelled or closed: the upload was forgotten, nothing is saved again
      }
      state.resumeBase.hashes[item.key] = item.sha256;
      saver.schedule(() => state.resumeBase);
    },
  });
  state.run = run;
  state.speedSamples = [];
  state.lastAnnounce = { percent: -1, time: 0 };
  setSendButtons({ cancel: true });
  renderProgress();
  const timer = setInterval(renderProgress, 500);
  try {
    await run.run();
  } catch (e) {
    clearInterval(timer);
    state.sending = false;
    const over = e instanceof FatalUploadError && (e.kind === 'cancelled' || e.kind === 'closed');
    if (over) {
      saver.cancel(); // the upload is gone: its progress is not written back
    } else {
      saver.flush();
    }
    if (!(e instanceof FatalUploadError && e.kind === 'cancelled')) {
      handleFatal(e);
    }
    return;
  }
  clearInterval(timer);
  saver.flush();
  state.sending = false;
  renderProgress();
  const retryable = state.items.filter((it) => it.state === 'failed' && (it.reason === 'network' || it.reason === 'server'));
  if (retryable.length) {
    state.problem = { kind: 'someFailed', count: retryable.length };
    renderProblem();
    setSendButtons({ retry: true, finish: true, cancel: true });
    $('send-retry').focus();
    return;
  }
  await finishUpload();
}

function onRetryFailed() {
  const again = state.items.filter((it) => it.state === 'failed' && (it.reason === 'network' || it.reason === 'server'));
  state.problem = null;
  renderProblem();
  runUpload(again, state.run ? state.run.received : new Set());
}

// Retrying after "storage full": everything not yet delivered.
function onRetryPending() {
  const again = state.items.filter((it) => it.state !== 'done' && it.state !== 'skipped' &&
    !(it.state === 'failed' && ['invalid', 'tooLarge', 'changed'].includes(it.reason)));
  state.problem = null;
  renderProblem();
  runUpload(again, state.run ? state.run.received : new Set());
}

async function finishUpload() {
  setSendButtons({});
  $('send-state').textContent = t('send.completing');
  const anything = state.run ? state.run.received.size > 0 : true;
  if (!anything) {
    try {
      await api.cancel(state.upload.id, state.upload.token);
    } catch (e) {
      // it expires by itself
    }
    forgetUpload();
    state.problem = { kind: 'nothingArrived' };
    renderProblem();
    setSendButtons({ restart: true });
    return;
  }
  let receipt = null;
  for (let attempt = 1; !receipt; attempt++) {
    try {
      receipt = await api.complete(state.upload.id, state.upload.token);
    } catch (e) {
      if (e.status === 404 || (e.status === 409 && e.code === 'upload-closed')) {
        handleFatal(new FatalUploadError('closed'));
        return;
      }
      if (e.status === 409 && e.code === 'empty-upload') {
        forgetUpload();
        state.problem = { kind: 'nothingArrived' };
        renderProblem();
        setSendButtons({ restart: true });
        return;
      }
      const retryable = e.status === 0 || e.status === 429 || e.status >= 500;
      if (!retryable || attempt >= 8) {
        state.problem = { kind: 'error', reason: e.message };
        renderProblem();
        setSendButtons({ finish: true, cancel: true });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000 * (e.retryAfter || Math.min(30, 2 ** attempt))));
    }
  }
  forgetUpload();
  state.receipt = receipt;
  renderReceipt();
  showView('receipt');
}

function handleFatal(error) {
  state.sending = false;
  if (error instanceof FatalUploadError && error.kind === 'closed') {
    forgetUpload();
    state.problem = { kind: 'closed' };
    setSendButtons({ restart: true });
  } else if (error instanceof FatalUploadError && (error.kind === 'storageFull' || error.kind === 'blocked')) {
    state.problem = { kind: error.kind };
    setSendButtons({ cancel: true });
    $('send-retry').hidden = false;
    $('send-retry').dataset.mode = 'pending';
  } else {
    state.problem = { kind: 'error', reason: (error && error.message) || String(error) };
    setSendButtons({ restart: true, cancel: true });
  }
  renderProblem();
}

function renderProblem() {
  const box = $('send-problem');
  const problem = state.problem;
  if (!problem) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  let text;
  switch (problem.kind) {
    case 'openFailed': text = t('send.openFailed', { reason: problem.reason }); break;
    case 'someFailed': text = t('send.someFailed', { count: tn('count.images', problem.count) }); break;
    case 'closed': text = t('send.closed'); break;
    case 'storageFull': text = tp('send.storageFull'); break;
    case 'blocked': text = tp('send.blocked'); break;
    case 'cancelled': text = t('send.cancelled'); break;
    case 'nothingArrived': text = t('send.nothingArrived'); break;
    default: text = t('send.error', { reason: problem.reason });
  }
  box.replaceChildren(el('p', { text }));
  box.className = problem.kind === 'cancelled' ? 'info-box' : 'error-box';
  box.hidden = false;
  if (problem.kind !== 'someFailed') {
    $('send-state').textContent = '';
  }
}

function renderProgress() {
  const run = state.run;
  if (!run) {
    return;
  }
  const p = run.progress();
  const now = performance.now();
  const samples = state.speedSamples;
  samples.push({ time: now, bytes: p.uploadedBytes });
  while (samples.length > 2 && now - samples[0].time > 15000) {
    samples.shift();
  }
  const fraction = p.totalBytes ? p.doneBytes / p.totalBytes : (p.totalFiles ? p.doneFiles / p.totalFiles : 1);
  // 100 % only once every file is confirmed by the server.
  const percent = p.doneFiles < p.totalFiles ? Math.min(99, Math.floor(fraction * 100)) : Math.floor(fraction * 100);
  $('send-progress').value = percent === 100 ? 1000 : Math.min(990, Math.round(fraction * 1000));
  $('send-progress').setAttribute('aria-valuetext', `${percent} %`);
  $('send-percent').textContent = `${percent.toLocaleString(locale())} %`;
  $('send-counts').textContent = t('send.counts', {
    done: p.doneFiles.toLocaleString(locale()),
    total: p.totalFiles.toLocaleString(locale()),
    sent: formatBytes(p.doneBytes),
    size: formatBytes(p.totalBytes),
  });
  const span = samples.length > 1 ? (samples[samples.length - 1].time - samples[0].time) / 1000 : 0;
  const speed = span >= 2 ? (samples[samples.length - 1].bytes - samples[0].bytes) / span : 0;
  const parts = [];
  if (state.sending && speed > 0) {
    parts.push(t('send.speed', { speed: formatBytes(speed) }));
    const left = (p.totalBytes - p.doneBytes) / speed;
    if (left >= 1) {
      parts.push(t('send.timeLeft', { time: formatDuration(left) }));
    }
  }
  $('send-rate').textContent = parts.join(' · ');
  if (state.sending) {
    let status = '';
    if (navigator.onLine === false || (state.sendStatus && state.sendStatus.kind === 'network')) {
      status = t('send.waitingNetwork');
    } else if (state.sendStatus && state.sendStatus.kind === 'busy') {
      status = t('send.retrying', { seconds: state.sendStatus.seconds });
    } else if (p.active === 0 && p.doneFiles === 0) {
      status = t('send.preparing');
    } else if (p.doneBytes >= p.totalBytes && p.doneFiles < p.totalFiles) {
      status = tp('send.confirming');
    }
    $('send-state').textContent = status;
  }
  // Screen readers hear the progress every quarter, or every 30 seconds at most.
  const last = state.lastAnnounce;
  const quarter = Math.floor(percent / 25);
  if (quarter !== Math.floor(last.percent / 25) || (now - last.time > 30000 && percent !== last.percent)) {
    if (last.percent >= 0 || percent > 0) {
      $('send-announce').textContent = t('send.announce', { percent });
    }
    state.lastAnnounce = { percent, time: now };
  }
}

function onCancelClick() {
  $('cancel-confirm').hidden = false;
  $('cancel-no').focus();
}

async function onCancelConfirmed() {
  $('cancel-confirm').hidden = true;
  if (state.run) {
    state.run.abort();
  }
  state.sending = false;
  forgetUpload();
  if (state.upload) {
    try {
      await api.cancel(state.upload.id, state.upload.token);
    } catch (e) {
      // an open upload also expires by itself
    }
  }
  forgetUpload();
  state.problem = { kind: 'cancelled' };
  renderProblem();
  setSendButtons({ restart: true });
  $('send-restart').focus();
}

// ---------------------------------------------------------------- receipt

function renderReceipt() {
  const r = state.receipt;
  const base = state.resumeBase || {};
  $('receipt-ok').textContent = tp('receipt.ok', { site: r.siteName || siteName() });
  $('receipt-code').textContent = r.receiptCode || '';
  $('receipt-code-hint').textContent = tp('receipt.codeHint', { site: r.siteName || siteName() });
  const facts = $('receipt-facts');
  facts.replaceChildren();
  const fact = (label, value) => {
    if (value) {
      facts.append(el('dt', { text: t(label) }), el('dd', { text: value }));
    }
  };
  const recipientName = r.recipient && typeof r.recipient === 'object' ? r.recipient.name
    : (recipients().find((x) => x.id === r.recipient) || {}).name || base.recipientName || '';
  const sender = state.sender || base.sender || {};
  fact('receipt.site', r.siteName || siteName());
  fact('receipt.recipient', recipientName);
  fact('receipt.sender', [sender.name, sender.institution].filter(Boolean).join(', '));
  fact('receipt.completedAt', r.completedAt ? formatDateTime(r.completedAt) : '');
  fact('receipt.images', typeof r.files === 'number' ? r.files.toLocaleString(locale()) : '');
  fact('receipt.size', typeof r.bytes === 'number' ? formatBytes(r.bytes) : '');

  const body = $('receipt-studies');
  body.replaceChildren();
  const studies = [...(r.studies || [])].sort((a, b) => String(a.studyDate || '').localeCompare(String(b.studyDate || '')));
  for (const study of studies) {
    const modalities = Array.isArray(study.modalities) ? study.modalities : String(study.modalities || '').split(/[\\,]/).filter(Boolean);
    body.append(el('tr', {},
      el('td', { text: study.studyDate ? formatDicomDate(study.studyDate) : t('images.unknownDate') }),
      el('td', {}, modalities.map((m) => el('span', { className: 'modality', text: m }))),
      el('td', { text: study.description || t('images.noDescription') }),
      el('td', { className: 'num', text: typeof study.instances === 'number' ? study.instances.toLocaleString(locale()) : '' })));
  }

  const problems = $('receipt-problems');
  problems.replaceChildren();
  if (state.scanResult) {
    const groups = skippedGroups();
    // Files the server declined without fault (a DICOMDIR, a second version of an image).
    for (const item of state.items.filter((it) => it.state === 'skipped')) {
      let group = groups.find((g) => g.reason === item.reason);
      if (!group) {
        group = { reason: item.reason, count: 0, examples: [] };
        groups.push(group);
      }
      group.count++;
      if (group.examples.length < 3) {
        group.examples.push(item.entry.name);
      }
    }
    if (groups.length) {
      const list = el('ul', { className: 'problem-list' });
      renderSkippedList(list, groups);
      problems.append(el('h3', { text: t('receipt.notSent') }), list);
    }
  }
  const failed = state.items.filter((it) => it.state === 'failed' || it.state === 'pending' || it.state === 'sending');
  if (failed.length) {
    const byReason = new Map();
    for (const item of failed) {
      const reason = item.reason || 'network';
      if (!byReason.has(reason)) {
        byReason.set(reason, []);
      }
      byReason.get(reason).push(item.entry.name);
    }
    const list = el('ul', { className: 'problem-list' });
    for (const [reason, names] of byReason) {
      list.append(el('li', {}, el('strong', { text: tn('count.files', names.length) }), ': ', tp(`fail.${reason}`),
        el('span', { className: 'examples', text: t('skip.examples', { files: names.slice(0, 3).join(', ') }) })));
    }
    problems.append(el('h3', { text: t('receipt.failed') }), list);
  }
}

// ---------------------------------------------------------------- resuming

async function offerResume(stored) {
  let status;
  try {
    status = await api.status(stored.id, stored.token);
  } catch (e) {
    // 404: unknown or expired on the server. Without an answer (offline, busy) the browser's
    // own clock decides: past its expiry the upload cannot be continued either.
    if (e.status === 404 || expired(stored)) {
      forgetUpload();
      showNotice(t('resume.gone'));
    }
    showView('privacy', { focus: false });
    return;
  }
  if (status.state === 'complete' || status.state === 'delivered') {
    // Closed before the page learned it: completing again answers the same receipt.
    state.upload = { id: stored.id, token: stored.token };
    state.resumeBase = stored;
    try {
      state.receipt = await api.complete(stored.id, stored.token);
      forgetUpload();
      renderReceipt();
      showView('receipt', { focus: false });
      return;
    } catch (e) {
      forgetUpload();
      showView('privacy', { focus: false });
      return;
    }
  }
  if (status.state !== 'open') {
    forgetUpload();
    showNotice(t('resume.gone'));
    showView('privacy', { focus: false });
    return;
  }
  state.resume = { stored, received: new Set((status.files || []).map((f) => f.sha256)), status };
  renderResumeText();
  showView('resume', { focus: false });
}

function renderResumeText() {
  const { stored, status } = state.resume;
  $('resume-text').textContent = tp('resume.text', {
    date: formatDateTime(stored.createdAt || status.createdAt),
    received: tn('count.images', status.receivedFiles || (status.files || []).length),
    total: tn('count.images', stored.totalFiles || 0),
  });
}

function onResumeContinue() {
  state.consentVersion = null;
  state.sender = state.resume.stored.sender || null;
  resetPicker();
  showView('images');
}

async function onResumeDiscard() {
  const { stored } = state.resume;
  state.resume = null;
  try {
    await api.cancel(stored.id, stored.token);
  } catch (e) {
    // expires by itself
  }
  forgetUpload();
  showNotice(t('resume.discarded'));
  showView('privacy');
}

// ---------------------------------------------------------------- wiring

function init() {
  onLanguageChange(() => applyTranslations());
  setLanguage(preferredLanguage(null, storageGet(LANG_KEY)));
  applyTranslations();

  $('load-retry').addEventListener('click', loadInfo);
  $('privacy-form').addEventListener('submit', onPrivacySubmit);
  $('privacy-accept').addEventListener('change', () => {
    if ($('privacy-accept').checked) {
      $('privacy-error').hidden = true;
      $('privacy-accept').removeAttribute('aria-invalid');
    }
  });
  $('details-form').addEventListener('submit', onDetailsSubmit);
  $('details-back').addEventListener('click', () => showView('privacy'));
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
  $('select-all').addEventListener('change', onSelectAll);
  $('send-button').addEventListener('click', onSend);
  setupDropzone();

  $('send-cancel').addEventListener('click', onCancelClick);
  $('cancel-no').addEventListener('click', () => {
    $('cancel-confirm').hidden = true;
    $('send-cancel').focus();
  });
  $('cancel-yes').addEventListener('click', onCancelConfirmed);
  $('send-retry').addEventListener('click', () => {
    if ($('send-retry').dataset.mode === 'pending') {
      delete $('send-retry').dataset.mode;
      onRetryPending();
    } else {
      onRetryFailed();
    }
  });
  $('send-finish').addEventListener('click', () => finishUpload());
  $('send-restart').addEventListener('click', () => window.location.reload());
  $('receipt-print').addEventListener('click', () => window.print());
  $('receipt-again').addEventListener('click', () => window.location.reload());
  $('resume-continue').addEventListener('click', onResumeContinue);
  $('resume-discard').addEventListener('click', onResumeDiscard);

  window.addEventListener('beforeunload', (event) => {
    if (state.sending) {
      event.preventDefault();
      event.returnValue = t('app.leaveWarning');
    }
  });

  loadInfo();
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', init);
} else {
  init();
}
