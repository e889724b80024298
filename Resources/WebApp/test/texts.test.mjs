// One list of languages (Resources/WebShared/languages.js): both pages have every text in
// each of them, every key their markup and code name exists, and the mails and the
// configurations know the same languages (the plugin's own list, Plugin/Toolbox/Languages.h,
// is checked against it by UnitTests/LanguagesTests.cpp).

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { loadModules, RESOURCES } from './modules.mjs';

const web = await loadModules();
const PAGES = {
  upload: { texts: web.uploadTexts, html: 'WebApp/src/index.html', code: 'WebApp/src' },
  admin: { texts: web.adminTexts, html: 'AdminApp/index.html', code: 'AdminApp/src' },
};

function placeholders(value) {
  const texts = typeof value === 'string' ? [value] : Object.values(value);
  return [...new Set(texts.flatMap((text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1])))].sort();
}

test('the language list has unique codes, names and locales', () => {
  assert.ok(web.LANGUAGES.length >= 1);
  assert.equal(new Set(web.LANGUAGE_CODES).size, web.LANGUAGES.length);
  for (const language of web.LANGUAGES) {
    assert.match(language.code, /^[a-z]{2}$/);
    assert.ok(language.name);
    assert.equal(new Intl.Locale(language.locale).language, language.code);
  }
});

for (const [page, { texts }] of Object.entries(PAGES)) {
  test(`the ${page} page has a table for every language and no other`, () => {
    assert.deepEqual(Object.keys(texts).sort(), [...web.LANGUAGE_CODES].sort());
  });

  test(`the ${page} page has every text in every language, with the same placeholders`, () => {
    const [first, ...others] = web.LANGUAGE_CODES;
    const reference = texts[first];
    for (const code of others) {
      const table = texts[code];
      assert.deepEqual(Object.keys(table).filter((k) => !(k in reference)), [], `${code}: keys that ${first} lacks`);
      assert.deepEqual(Object.keys(reference).filter((k) => !(k in table)), [], `${code}: keys missing`);
      for (const [key, value] of Object.entries(reference)) {
        assert.equal(typeof table[key], typeof value, `${code} ${key}: a text or plural forms, as in ${first}`);
        assert.deepEqual(placeholders(table[key]), placeholders(value), `${code} ${key}: placeholders`);
      }
    }
    for (const [code, table] of Object.entries(texts)) {
      for (const [key, value] of Object.entries(table)) {
        if (typeof value === 'object') {
          assert.ok(typeof value.one === 'string' && typeof value.other === 'string', `${code} ${key}: one and other`);
        } else {
          assert.ok(value.trim(), `${code} ${key} is empty`);
        }
      }
    }
  });

  test(`every key the ${page} page's markup and code name has a text`, async () => {
    const { texts: tables, html, code } = PAGES[page];
    const keys = new Set();
    const markup = await readFile(path.join(RESOURCES, html), 'utf8');
    for (const m of markup.matchAll(/data-i18n(?:-aria-label)?="([^"]+)"/g)) {
      keys.add(m[1]);
    }
    for (const file of (await readdir(path.join(RESOURCES, code))).filter((f) => f.endsWith('.js'))) {
      const source = await readFile(path.join(RESOURCES, code, file), 'utf8');
      for (const m of source.matchAll(/\bt[np]?\(\s*'([\w.]+)'/g)) {
        keys.add(m[1]);
      }
    }
    assert.ok(keys.size > 50, `only ${keys.size} keys found`);
    const reference = tables[web.LANGUAGE_CODES[0]];
    assert.deepEqual([...keys].filter((key) => !(key in reference)), [], 'keys without a text');
  });
}

test('the mails have templates in every language and in no other', async () => {
  const folder = path.join(RESOURCES, 'Notifications');
  const entries = await readdir(folder, { withFileTypes: true });
  const languages = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  assert.deepEqual(languages, [...web.LANGUAGE_CODES].sort());
  const files = async (code) => (await readdir(path.join(folder, code))).sort();
  for (const code of web.LANGUAGE_CODES) {
    assert.deepEqual(await files(code), await files(web.LANGUAGE_CODES[0]), `templates of ${code}`);
  }
});

test('the configurations offer only languages of the list', async () => {
  const files = ['DefaultConfiguration.json',
    ...(await readdir(path.join(RESOURCES, 'Configurations'))).map((f) => `Configurations/${f}`)];
  let seen = 0;
  for (const file of files.filter((f) => f.endsWith('.json'))) {
    const text = await readFile(path.join(RESOURCES, file), 'utf8');
    for (const m of text.matchAll(/"Languages?"\s*:\s*(\[[^\]]*\]|"[^"]*")/g)) {
      const codes = [...m[1].matchAll(/"(\w+)"/g)].map((x) => x[1]);
      for (const code of codes) {
        assert.ok(web.LANGUAGE_CODES.includes(code), `${file}: "${code}" is not in the language list`);
      }
      seen += 1;
    }
  }
  assert.ok(seen > 0, 'no "Languages" found in the configurations');
});
