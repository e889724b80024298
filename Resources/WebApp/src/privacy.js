// Step 1, the privacy statement: shown in the page's language, accepted before anything else.

import { $, el } from '../../WebShared/dom.js';
import { language, t } from '../../WebShared/i18n.js';
import { offeredLanguages, showView, state } from './page.js';

function privacyText() {
  const privacy = (state.info && state.info.privacy) || {};
  let text = privacy.text;
  if (text && typeof text === 'object') {
    text = text[language()] || text[offeredLanguages()[0]] || Object.values(text)[0];
  }
  return String(text || '');
}

export function renderPrivacy() {
  if (!state.info) {
    return;
  }
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

export function wirePrivacy() {
  $('privacy-form').addEventListener('submit', onPrivacySubmit);
  $('privacy-accept').addEventListener('change', () => {
    if ($('privacy-accept').checked) {
      $('privacy-error').hidden = true;
      $('privacy-accept').removeAttribute('aria-invalid');
    }
  });
}
