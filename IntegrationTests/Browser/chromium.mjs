// Debian's Chromium driven by playwright-core, the same way for every browser test: headless,
// English, a desktop window, nothing fetched from outside, a profile of its own in a temporary
// folder (removed by the caller). "options" are added to Playwright's, e.g. httpCredentials.
// Also what several tests check on their pages: script errors, and axe-core's WCAG rules.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
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

const AXE_SOURCE = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// A new page of "context" that records script errors, and console errors unless "allow"
// matches them (or they are of the favicon that Chromium asks for by itself): {page, problems}.
export async function newWatchedPage(context, allow = null) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !(allow && allow.test(message.text())) &&
        !/\/favicon\.ico$/.test(message.location().url || '')) {
      problems.push(`console: ${message.text()} (${message.location().url})`);
    }
  });
  return { page, problems };
}

// axe-core's WCAG 2.1 A/AA rules on the page as it is (evaluated through the debugging
// protocol, so the page's Content-Security-Policy stays as it is): the violations in words.
export async function accessibilityViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.evaluate(await AXE_SOURCE);
  }
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  }));
  return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

// One browser for a whole test file: launched before its first test, closed (and its profile
// removed) after the last. Answers {context} once launched, e.g. browser.context.newPage().
export function chromiumForTests(profilePrefix, options = {}) {
  const browser = { context: null, userDataDir: null };
  before(async () => {
    Object.assign(browser, await launchChromium(profilePrefix, options));
  });
  after(async () => {
    if (browser.context) {
      await browser.context.close();
    }
    if (browser.userDataDir) {
      await rm(browser.userDataDir, { recursive: true, force: true });
    }
  });
  return browser;
}
