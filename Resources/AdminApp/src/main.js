// The admin page of Orthanc Inbound: inbox, release to the PACS, request links, partner sites,
// limits and bans, gateways, notifications, audit trail. Starts the page, switches views by the URL's
// hash and the language; each view is a module of its own (inbox.js … audit.js).
//
// Every text that comes from a sender (name, institution, e-mail, phone, message, …) and
// every text of the server is inserted as text (textContent, text nodes), never as HTML.

import { $, storageGet, storageSet } from '../../WebShared/dom.js';
import { availableLanguages, language, preferredLanguage, setLanguage, t, translateDocument, useTexts }
  from '../../WebShared/i18n.js';
import { languageInfo } from '../../WebShared/languages.js';
import { loadAudit, wireAudit } from './audit.js';
import { loadGateways, wireGateways } from './gateways.js';
import { loadInbox, renderInbox, showUpload, wireInbox } from './inbox.js';
import { loadLimits, wireLimits } from './limits.js';
import { loadNotifications, wireNotifications } from './notifications.js';
import { leavePartners, loadPartners, showPartners, wirePartners } from './partners.js';
import { leaveRequests, loadRequests, showRequests, wireRequests } from './requests.js';
import { texts } from './texts.js';
import { hideError, setUpConfirmDialog } from './ui.js';

const LANGUAGE_KEY = 'inbound-admin-language';
const VIEWS = { inbox: loadInbox, requests: loadRequests, partners: loadPartners, limits: loadLimits, gateways: loadGateways, notifications: loadNotifications, audit: loadAudit };
let currentView = null;

// The language after the current one: the switch's button offers it.
function nextLanguage() {
  const codes = availableLanguages();
  return codes[(codes.indexOf(language()) + 1) % codes.length];
}

function applyTexts() {
  translateDocument();
  document.title = t('title');
  const other = nextLanguage();
  const button = $('language-switch');
  button.textContent = languageInfo(other).name;
  button.lang = other;
}

function parseHash() {
  const raw = window.location.hash.replace(/^#/, '');
  // "#new-request?patientId=…&patientName=…&birthDate=…": the form, filled in (Orthanc Explorer)
  const form = /^new-request(?:\?(.*))?$/.exec(raw);
  if (form) {
    return { view: 'requests', newRequest: new URLSearchParams(form[1] || ''), rawHash: raw };
  }
  if (raw === 'request-created') {
    return { view: 'requests', created: true };
  }
  const hash = decodeURIComponent(raw);
  const m = /^(release|upload|request|partner)=(.+)$/.exec(hash);
  if (m) {
    const view = { request: 'requests', partner: 'partners' }[m[1]] || 'inbox';
    return { view, [m[1]]: m[2] };
  }
  return { view: Object.keys(VIEWS).includes(hash) ? hash : 'inbox' };
}

async function route({ focus = true } = {}) {
  const target = parseHash();
  showView(target.view, focus && !target.release && !['requests', 'partners'].includes(target.view));
  if (target.view === 'requests') {
    await showRequests(target, focus);
  } else if (target.view === 'partners') {
    await showPartners(target, focus);
  } else if (target.upload || target.release) {
    await showUpload(target.upload || target.release, Boolean(target.release));
  } else {
    await VIEWS[target.view]();
  }
}

function showView(view, focus) {
  const changed = currentView !== view;
  currentView = view;
  if (view !== 'requests') {
    leaveRequests();
  }
  if (view !== 'partners') {
    leavePartners();
  }
  for (const name of Object.keys(VIEWS)) {
    $(`view-${name}`).hidden = name !== view;
  }
  for (const link of document.querySelectorAll('.tabs a[data-view]')) {
    if (link.dataset.view === view) {
      link.setAttribute('aria-current', 'page');
    } else {
      link.removeAttribute('aria-current');
    }
  }
  if (changed && focus) {
    $(`${view}-heading`).focus();
  }
}

// After a change of language: the current view again, from the server.
function rerender() {
  if (currentView === 'inbox') {
    renderInbox();
  } else {
    route({ focus: false });
  }
}

function setUp() {
  useTexts(texts);
  setLanguage(preferredLanguage(null, storageGet(LANGUAGE_KEY)));
  applyTexts();
  setUpConfirmDialog();
  $('alert-close').addEventListener('click', () => hideError());
  $('language-switch').addEventListener('click', () => {
    setLanguage(nextLanguage());
    storageSet(LANGUAGE_KEY, language());
    applyTexts();
    rerender();
  });
  for (const form of document.querySelectorAll('form')) {
    // form-action 'none': no form is ever submitted to the server
    form.addEventListener('submit', (event) => event.preventDefault());
  }
  wireInbox();
  wireRequests();
  wirePartners();
  wireLimits();
  wireGateways();
  wireNotifications();
  wireAudit();
  window.addEventListener('hashchange', () => route());
  route({ focus: false });
}

setUp();
