// Debian's Chromium driven by playwright-core, the same way for every browser test: headless,
// English, a desktop window, nothing fetched from outside, a profile of its own in a temporary
// folder (removed by the caller). "options" are added to Playwright's, e.g. httpCredentials.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic'];

export async function launchChromium(profilePrefix, options = {}) {
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), profilePrefix));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    locale: 'en-GB',
    viewport: { width: 1280, height: 900 },
    args: CHROMIUM_ARGS,
    ...options,
  });
  return { context, userDataDir };
}
