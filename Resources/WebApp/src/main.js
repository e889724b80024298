// The upload page: privacy → sender details → images → sending → receipt, and continuing an
// interrupted upload; on a request link (/inbound/r/<token>) the request and its challenge
// come first (requestview.js). Starts the page, loads api/info and keeps every step in the
// chosen language; each step is a module of its own (privacy.js … receipt.js, resuming.js).

import { $, el, storageGet, storageSet } from '../../WebShared/dom.js';
import { language, onLanguageChange, preferredLanguage, setLanguage, t, translateDocument, useTexts }
  from '../../WebShared/i18n.js';
import { languageInfo } from '../../WebShared/languages.js';
import { api } from './api.js';
import { applyBranding } from './branding.js';
import { renderDetailErrors, renderRecipients, wireDetails } from './details.js';
import { wireImages } from './images.js';
import { renderExpectedNote, wireChecks } from './matchview.js';
import { offeredLanguages, renderSteps, showView, siteName, state, tp } from './page.js';
import { renderPreview, wirePreview } from './preview.js';
import { renderPrivacy, wirePrivacy } from './privacy.js';
import { renderProblem, renderProgress } from './progress.js';
import { renderReceipt, wireReceipt } from './receipt.js';
import { requestTokenFromPath } from './request.js';
import { renderRequest, renderRequestProblem, showStart, wireRequest } from './requestview.js';
import { loadResume } from './resume.js';
import { offerResume, renderResumeText, wireResuming } from './resuming.js';
import { wireSending } from './sending.js';
import { texts } from './texts.js';

const LANG_KEY = 'orthanc-inbound:language';

// Every text on the page again, in the current language.
function applyTranslations() {
  const requestsOnly = !state.request && state.info && state.info.openUploads === false;
  $('page-lead').dataset.i18n = state.request ? 'request.lead' : requestsOnly ? 'requestsOnly.lead' : 'app.lead';
  translateDocument(tp);
  document.title = `${t('app.product')} – ${siteName()}`;
  $('brand-site').textContent = siteName();
  document.querySelector('#studies-table th.col-check').setAttribute('data-label', t('images.selectAll'));
  $('footer-text').textContent = tp(window.location.protocol === 'https:' ? 'app.footer' : 'app.footerPlain');
  renderLanguageSwitch();
  renderSteps();
  if (state.info) {
    renderPrivacy();
    renderRecipients();
  }
  renderDetailErrors();
  renderRequest();
  renderRequestProblem();
  renderExpectedNote();
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
      text: languageInfo(lang).name,
    }));
  }
}

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
    showStart();
  }
}

// The page is also served at /inbound/r/<token> with <base href="../">: an in-page anchor
// such as "#main" would then lead to /inbound/#main, another page. Such links move the focus
// here instead.
function wireInPageLinks() {
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a[href^="#"]');
    if (!link || event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    const target = document.getElementById(link.getAttribute('href').slice(1));
    if (target) {
      event.preventDefault();
      if (!target.hasAttribute('tabindex') && !/^(INPUT|SELECT|TEXTAREA|BUTTON|A)$/.test(target.tagName)) {
        target.setAttribute('tabindex', '-1');
      }
      target.focus();
      target.scrollIntoView({ block: 'start' });
    }
  });
}

function init() {
  const token = requestTokenFromPath(window.location.pathname);
  state.request = token ? { token } : null;
  useTexts(texts);
  onLanguageChange(() => applyTranslations());
  setLanguage(preferredLanguage(null, storageGet(LANG_KEY)));
  applyTranslations();

  $('load-retry').addEventListener('click', loadInfo);
  wireInPageLinks();
  wireRequest();
  wireChecks();
  wirePrivacy();
  wireDetails();
  wireImages();
  wirePreview();
  wireSending();
  wireReceipt();
  wireResuming();
  loadInfo();
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', init);
} else {
  init();
}
