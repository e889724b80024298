// The languages of the web pages, the one list that both pages and their text tables follow.
//
// Adding a language: an entry here, a table in Resources/WebApp/src/texts.js and in
// Resources/AdminApp/src/texts.js (a test checks that each has every key), and the mail
// templates in Resources/Notifications/<code>/ (checked by the same test).

export const LANGUAGES = [
  { code: 'en', name: 'English', locale: 'en-GB' },
  { code: 'de', name: 'Deutsch', locale: 'de-DE' },
];

export const LANGUAGE_CODES = LANGUAGES.map((l) => l.code);

export function languageInfo(code) {
  return LANGUAGES.find((l) => l.code === code) || LANGUAGES[0];
}
