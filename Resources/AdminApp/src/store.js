// What the inbox holds between renderings: the uploads listed, which are expanded, their
// details and forwards as last loaded, and the timers following transfers.

import { api, query } from './api.js';

export const inbox = {
  uploads: [],
  expanded: new Set(),
  details: new Map(),     // upload id → GET /uploads/{id}
  forwards: new Map(),    // upload id → forwards
  polls: new Map(),       // upload id → timer
  rows: new Map(),        // upload id → <li>
};

export async function loadDetails(id) {
  const [detail, forwards] = await Promise.all([
    api('GET', `uploads/${encodeURIComponent(id)}`),
    api('GET', `forwards${query({ upload: id, limit: 100 })}`).catch(() => null),
  ]);
  inbox.details.set(id, detail);
  if (forwards && Array.isArray(forwards.forwards)) {
    inbox.forwards.set(id, forwards.forwards);
  }
  return detail;
}

// The most detailed record of an upload known to the page.
export function uploadFor(id) {
  return inbox.details.get(id) || inbox.uploads.find((u) => u.id === id) || { id };
}
