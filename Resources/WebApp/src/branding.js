// The site's optional branding from api/info: {primaryColor, logoUrl}. The colour is darkened
// until white text on it (and it as text on white) reaches WCAG AA contrast (4.5:1). The logo
// is shown only from this site itself (the page's Content-Security-Policy allows nothing else).

function parseColor(value) {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(value || '').trim());
  if (!m) {
    return null;
  }
  let hex = m[1];
  if (hex.length === 3) {
    hex = hex.split('').map((c) => c + c).join('');
  }
  return [0, 2, 4].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
}

function luminance([r, g, b]) {
  const channel = (c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}

function contrastWithWhite(rgb) {
  return 1.05 / (luminance(rgb) + 0.05);
}

function toHex(rgb) {
  return `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;
}

function darken(rgb, factor) {
  return rgb.map((c) => c * factor);
}

function mixWithWhite(rgb, amount) {
  return rgb.map((c) => c + (255 - c) * amount);
}

export function applyBranding(branding) {
  if (!branding || typeof branding !== 'object') {
    return;
  }
  let rgb = parseColor(branding.primaryColor);
  if (rgb) {
    for (let i = 0; i < 40 && contrastWithWhite(rgb) < 4.6; i++) {
      rgb = darken(rgb, 0.92);
    }
    const root = document.documentElement.style;
    root.setProperty('--primary', toHex(rgb));
    root.setProperty('--primary-strong', toHex(darken(rgb, 0.8)));
    root.setProperty('--primary-soft', toHex(mixWithWhite(rgb, 0.9)));
  }
  if (branding.logoUrl) {
    let url;
    try {
      url = new URL(branding.logoUrl, window.location.href);
    } catch (e) {
      url = null;
    }
    if (url && (url.origin === window.location.origin || url.protocol === 'data:')) {
      const logo = document.getElementById('brand-logo');
      logo.addEventListener('load', () => {
        logo.hidden = false;
        document.getElementById('brand-mark').setAttribute('hidden', '');
      });
      logo.src = url.href;
    }
  }
}
