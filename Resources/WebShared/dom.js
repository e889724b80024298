// Building the pages' DOM safely: every string becomes a text node or an attribute, never HTML.

export function $(id) {
  return document.getElementById(id);
}

// el('p', {className: 'x', text: 'y', onclick: f, dataset: {…}}, 'text', child, […]):
// attributes that are null, undefined or false are left out, true ones are set empty.
export function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (name === 'className') {
      node.className = value;
    } else if (name === 'text') {
      node.textContent = value;
    } else if (name === 'dataset') {
      Object.assign(node.dataset, value);
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

export function clear(node) {
  node.replaceChildren();
  return node;
}

let idCounter = 0;

// An id not used before on this page, for labels and aria-controls.
export function uniqueId(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// localStorage, which a browser may refuse (private mode, disabled storage): then nothing is
// remembered.
export function storageGet(key) {
  try {
    return window.localStorage.getItem(key);
  } catch (e) {
    return null;
  }
}

export function storageSet(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch (e) {
    // not remembered
  }
}
