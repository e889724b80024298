// QR codes of request links as inline SVG, made in the page by the npm library "qrcode" (no
// external service, nothing fetched): the modules are drawn as one path, with the standard
// quiet zone of four modules around them.

import { create } from 'qrcode';

const SVG = 'http://www.w3.org/2000/svg';
const QUIET_ZONE = 4;

function svgElement(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, String(value));
  }
  return node;
}

// The path of the dark modules, one "h" run per row segment.
function modulesPath(modules) {
  const n = modules.size;
  const parts = [];
  for (let row = 0; row < n; row++) {
    let col = 0;
    while (col < n) {
      if (!modules.get(row, col)) {
        col += 1;
        continue;
      }
      const start = col;
      while (col < n && modules.get(row, col)) {
        col += 1;
      }
      parts.push(`M${start + QUIET_ZONE} ${row + QUIET_ZONE}h${col - start}v1h${start - col}z`);
    }
  }
  return parts.join('');
}

// <svg role="img"> of "text" (error correction M), labelled "label"; sized by CSS.
export function qrSvg(text, label, className = 'qr') {
  const { modules } = create(text, { errorCorrectionLevel: 'M' });
  const side = modules.size + 2 * QUIET_ZONE;
  const svg = svgElement('svg', {
    viewBox: `0 0 ${side} ${side}`, role: 'img', 'aria-label': label, class: className,
    'shape-rendering': 'crispEdges',
  });
  svg.append(svgElement('rect', { width: side, height: side, fill: '#ffffff' }));
  svg.append(svgElement('path', { d: modulesPath(modules), fill: '#000000' }));
  return svg;
}
