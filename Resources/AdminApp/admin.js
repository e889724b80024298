// The admin page of Orthanc Inbound: inbox, release to the PACS, limits and bans, gateways,
// notifications, audit trail. Plain ES module, no dependencies, no request outside the site.
//
// Every text that comes from a sender (name, institution, e-mail, phone, message, …) and
// every text of the server is inserted as text (textContent, text nodes), never as HTML.

const API = '/inbound/admin/';
const EXPLORER_STUDY = '/app/explorer.html#study?uuid=';
const POLL_INTERVAL = 2000;
const AUDIT_LIMIT = 200;
const INBOX_LIMIT = 1000;
const BAN_SECONDS = 86400;

// ------------------------------------------------------------------------------------- texts

const TEXTS = {
  en: {
    languageName: 'English',
    skip: 'Skip to the content',
    title: 'Orthanc Inbound – Administration',
    explorer: 'Orthanc Explorer',
    sections: 'Sections',
    'tab.inbox': 'Inbox',
    'tab.limits': 'Limits & bans',
    'tab.gateways': 'Gateways',
    'tab.notifications': 'Notifications',
    'tab.audit': 'Audit trail',
    close: 'Close',
    cancel: 'Cancel',
    refresh: 'Refresh',
    actions: 'Actions',
    time: 'Time',
    none: '—',
    off: 'off',
    unknown: 'unknown',
    noLimit: 'no limit',
    loading: 'Loading…',
    'inbox.heading': 'Inbox',
    'inbox.state': 'State',
    'inbox.search': 'Search (sender, institution, e-mail, recipient, receipt code)',
    'inbox.sort': 'Sort by',
    'inbox.count': '{shown} of {total} uploads',
    'inbox.empty': 'No uploads.',
    'inbox.noMatch': 'No upload matches the filter.',
    'sort.newest': 'Newest first',
    'sort.oldest': 'Oldest first',
    'sort.sender': 'Sender (A–Z)',
    'state.all': 'All',
    'state.open': 'Open',
    'state.complete': 'Complete',
    'state.delivered': 'Delivered',
    'state.cancelled': 'Cancelled',
    'state.expired': 'Expired',
    'state.deleted': 'Deleted',
    'state.pending': 'Pending',
    'state.sending': 'Sending',
    'state.done': 'Sent',
    'state.failed': 'Failed',
    'state.ok': 'OK',
    'state.warning': 'Warning',
    'state.stopped': 'Stopped',
    unknownSender: '(no name)',
    'upload.to': 'To {recipient}',
    'n.study.one': '1 study',
    'n.study.other': '{n} studies',
    'n.file.one': '1 file',
    'n.file.other': '{n} files',
    'n.instance.one': '1 instance',
    'n.instance.other': '{n} instances',
    'n.event.one': '1 event',
    'n.event.other': '{n} events',
    'n.transfer.one': '1 transfer',
    'n.transfer.other': '{n} transfers',
    'upload.receivedLabel': 'Received',
    'upload.details': 'Details of the upload',
    'upload.message': 'Message',
    'upload.noMessage': '(no message)',
    'upload.email': 'E-mail',
    'upload.phone': 'Phone',
    'upload.institution': 'Institution',
    'upload.recipient': 'Recipient',
    'upload.consent': 'Consent',
    'upload.consentVersion': 'privacy statement version {version} accepted',
    'upload.client': 'Client address',
    'upload.userAgent': 'Browser',
    'upload.created': 'Opened',
    'upload.completed': 'Completed',
    'upload.receiptCode': 'Receipt code',
    'upload.id': 'Upload ID',
    'upload.size': 'Files',
    'upload.dataRemoved': 'The data of this upload has been removed; its record is kept.',
    'upload.studies': 'Studies',
    'upload.noStudies': 'No study is stored in this Orthanc.',
    'upload.study': '{description} · {date} · {modalities} · {instances}',
    'upload.noDescription': '(no description)',
    'upload.senderPatientId': 'Sender\'s PatientID {id}',
    'upload.isolatedPatientId': 'Isolated as {id}',
    'upload.history': 'History ({count})',
    'upload.forwards': 'Releases and forwards',
    'upload.noForwards': 'Not released yet.',
    'upload.release': 'Release…',
    'upload.delete': 'Delete…',
    'upload.ban': 'Ban sender\'s address…',
    'forward.study': 'Study',
    'forward.target': 'Target',
    'forward.patientId': 'PatientID sent',
    'forward.namespaced': 'namespaced (foreign exams)',
    'forward.attempts': 'Attempts',
    'forward.error': 'Last error',
    'forward.updated': 'Updated',
    'forward.retry': 'Retry',
    'forward.origin.rule': 'auto-forward',
    'forward.origin.admin': 'release',
    'forward.newUids': 'new UIDs',
    'forward.following': 'Following the transfer…',
    'release.title': 'Release to the PACS',
    'release.of': 'Upload {id} from {sender}',
    'release.modality': 'Target',
    'release.noModality': 'No target is configured (Orthanc\'s DicomModalities is empty).',
    'release.studies': 'Studies',
    'release.identity': 'The hospital\'s identity of the patient',
    'release.original': 'The sender\'s PatientID, for reference: {ids}',
    'release.patientId': 'Hospital PatientID',
    'release.patientName': 'Patient name',
    'release.patientNameHint': 'DICOM form: Family name^Given name, e.g. Doe^Jane',
    'release.birthDate': 'Birth date',
    'release.newUids': 'New UIDs (Study, Series and SOP Instance UIDs are replaced)',
    'release.keepNamespace': 'Send with the namespaced PatientID (foreign exams area)',
    'release.keepNamespaceHint': 'The study reaches the PACS with its isolated PatientID (INB-…), not with a hospital PatientID. Only for an area of foreign examinations.',
    'release.submit': 'Release',
    'release.needPatientId': 'Enter the hospital\'s PatientID, or tick “Send with the namespaced PatientID”.',
    'release.needStudy': 'Choose at least one study.',
    'release.started': 'Release of upload {id} started: {count}.',
    'delete.title': 'Delete this upload?',
    'delete.text': 'Upload {id} from {sender} and every study it stored are removed from Orthanc. The record and its history are kept.',
    'delete.ok': 'Delete',
    'delete.done': 'Upload {id} deleted.',
    'ban.title': 'Ban the sender\'s address?',
    'ban.text': 'The address {ip} (upload {id} from {sender}) cannot send anything for 1 day.',
    'ban.ok': 'Ban for 1 day',
    'ban.done': 'Address {ip} banned.',
    'limits.heading': 'Limits & bans',
    'limits.monitor': 'Data monitor',
    'limits.lift': 'Lift the stop for today',
    'limits.lifted': 'The data monitor\'s stop is lifted for today.',
    'limits.state': 'State',
    'limits.reason': 'Reason',
    'limits.freeBytes': 'Free disk space',
    'limits.bytesToday': 'Received today',
    'limits.warnFree': 'Warn below / stop below',
    'limits.warnDay': 'Warn above / stop above (per day)',
    'limits.quotas': 'Quotas used today',
    'limits.day': 'Day (UTC)',
    'limits.resets': 'Resets in',
    'limits.uploadsToday': 'Uploads (whole site)',
    'limits.bytesTodayQuota': 'Volume (whole site)',
    'limits.perClient': 'Per address and day',
    'limits.perSender': 'Per sender e-mail and day',
    'limits.inFlight': 'Bodies in flight',
    'limits.rates': 'Requests per second / bytes per second (per address)',
    'limits.refusals': 'Refusals',
    'limits.noRefusals': 'No refusals since the start.',
    'limits.autoBan': 'Automatic ban',
    'limits.autoBanRule': 'after {what} within {window} s, for {ban} s',
    'limits.autoBanRefusals': '{n} refusals',
    'limits.autoBanHits': '{n} rate-limit hits',
    or: 'or',
    'limits.bans': 'Bans',
    'limits.quotaValue': '{used} of {limit}',
    'bans.entry': 'Address',
    'bans.reason': 'Reason',
    'bans.since': 'Since',
    'bans.until': 'Until',
    'bans.forever': 'permanent',
    'bans.automatic': 'automatic',
    'bans.inactive': 'expired',
    'bans.none': 'No bans.',
    'bans.lift': 'Lift',
    'bans.liftLabel': 'Lift the ban of {entry}',
    'bans.lifted': 'Ban of {entry} lifted.',
    'bans.add': 'Ban an address',
    'bans.entryLabel': 'Address or network (CIDR)',
    'bans.duration': 'Duration',
    'bans.reasonLabel': 'Reason',
    'bans.submit': 'Ban',
    'bans.needEntry': 'Enter an address or a network.',
    'bans.added': 'Address {entry} banned.',
    'duration.hour': '1 hour',
    'duration.day': '1 day',
    'duration.week': '1 week',
    'duration.month': '30 days',
    'gateways.heading': 'Gateways',
    'gateways.none': 'No gateways: this Orthanc does not pull from a gateway (only the Internal role does).',
    'gateways.name': 'Gateway',
    'gateways.contact': 'Last contact',
    'gateways.never': 'never',
    'gateways.backlog': 'Waiting',
    'gateways.delivered': 'Delivered',
    'gateways.failures': 'Failures',
    'gateways.held': 'Held uploads',
    'gateways.error': 'Last error',
    'notifications.heading': 'Notifications',
    'notifications.none': 'No notifications.',
    'notifications.kind': 'Kind',
    'notifications.target': 'To',
    'notifications.subject': 'Subject',
    'notifications.attempts': 'Attempts',
    'notifications.retry': 'Retry',
    'notifications.retried': 'Notification {id} is due again.',
    'notifications.next': 'next attempt {time}',
    'audit.heading': 'Audit trail',
    'audit.filter': 'Filter (event, upload, address, detail)',
    'audit.event': 'Event',
    'audit.upload': 'Upload',
    'audit.address': 'Address',
    'audit.detail': 'Detail',
    'audit.count': '{shown} of the last {total} events, newest first',
    'error.network': 'The server could not be reached.',
    'error.http': 'The server answered HTTP {status}.',
    'error.format': '{message} ({code}, HTTP {status})',
  },
  de: {
    languageName: 'Deutsch',
    skip: 'Zum Inhalt springen',
    title: 'Orthanc Inbound – Verwaltung',
    explorer: 'Orthanc Explorer',
    sections: 'Bereiche',
    'tab.inbox': 'Eingang',
    'tab.limits': 'Grenzen & Sperren',
    'tab.gateways': 'Gateways',
    'tab.notifications': 'Benachrichtigungen',
    'tab.audit': 'Protokoll',
    close: 'Schließen',
    cancel: 'Abbrechen',
    refresh: 'Aktualisieren',
    actions: 'Aktionen',
    time: 'Zeit',
    none: '—',
    off: 'aus',
    unknown: 'unbekannt',
    noLimit: 'keine Grenze',
    loading: 'Wird geladen …',
    'inbox.heading': 'Eingang',
    'inbox.state': 'Status',
    'inbox.search': 'Suche (Absender, Einrichtung, E-Mail, Empfänger, Empfangscode)',
    'inbox.sort': 'Sortieren nach',
    'inbox.count': '{shown} von {total} Sendungen',
    'inbox.empty': 'Keine Sendungen.',
    'inbox.noMatch': 'Keine Sendung passt zum Filter.',
    'sort.newest': 'Neueste zuerst',
    'sort.oldest': 'Älteste zuerst',
    'sort.sender': 'Absender (A–Z)',
    'state.all': 'Alle',
    'state.open': 'Offen',
    'state.complete': 'Vollständig',
    'state.delivered': 'Zugestellt',
    'state.cancelled': 'Abgebrochen',
    'state.expired': 'Abgelaufen',
    'state.deleted': 'Gelöscht',
    'state.pending': 'Wartend',
    'state.sending': 'Wird gesendet',
    'state.done': 'Gesendet',
    'state.failed': 'Fehlgeschlagen',
    'state.ok': 'OK',
    'state.warning': 'Warnung',
    'state.stopped': 'Gestoppt',
    unknownSender: '(ohne Namen)',
    'upload.to': 'An {recipient}',
    'n.study.one': '1 Untersuchung',
    'n.study.other': '{n} Untersuchungen',
    'n.file.one': '1 Datei',
    'n.file.other': '{n} Dateien',
    'n.instance.one': '1 Bild',
    'n.instance.other': '{n} Bilder',
    'n.event.one': '1 Ereignis',
    'n.event.other': '{n} Ereignisse',
    'n.transfer.one': '1 Übertragung',
    'n.transfer.other': '{n} Übertragungen',
    'upload.receivedLabel': 'Eingegangen',
    'upload.details': 'Einzelheiten der Sendung',
    'upload.message': 'Nachricht',
    'upload.noMessage': '(keine Nachricht)',
    'upload.email': 'E-Mail',
    'upload.phone': 'Telefon',
    'upload.institution': 'Einrichtung',
    'upload.recipient': 'Empfänger',
    'upload.consent': 'Einwilligung',
    'upload.consentVersion': 'Datenschutzerklärung Version {version} akzeptiert',
    'upload.client': 'Absenderadresse',
    'upload.userAgent': 'Browser',
    'upload.created': 'Begonnen',
    'upload.completed': 'Abgeschlossen',
    'upload.receiptCode': 'Empfangscode',
    'upload.id': 'Sendungsnummer',
    'upload.size': 'Dateien',
    'upload.dataRemoved': 'Die Daten dieser Sendung wurden entfernt; ihr Eintrag bleibt erhalten.',
    'upload.studies': 'Untersuchungen',
    'upload.noStudies': 'In diesem Orthanc ist keine Untersuchung gespeichert.',
    'upload.study': '{description} · {date} · {modalities} · {instances}',
    'upload.noDescription': '(ohne Beschreibung)',
    'upload.senderPatientId': 'PatientID des Absenders {id}',
    'upload.isolatedPatientId': 'Isoliert als {id}',
    'upload.history': 'Verlauf ({count})',
    'upload.forwards': 'Freigaben und Weiterleitungen',
    'upload.noForwards': 'Noch nicht freigegeben.',
    'upload.release': 'Freigeben …',
    'upload.delete': 'Löschen …',
    'upload.ban': 'Adresse des Absenders sperren …',
    'forward.study': 'Untersuchung',
    'forward.target': 'Ziel',
    'forward.patientId': 'Gesendete PatientID',
    'forward.namespaced': 'Namensraum (Fremdaufnahmen)',
    'forward.attempts': 'Versuche',
    'forward.error': 'Letzter Fehler',
    'forward.updated': 'Aktualisiert',
    'forward.retry': 'Erneut versuchen',
    'forward.origin.rule': 'automatische Weiterleitung',
    'forward.origin.admin': 'Freigabe',
    'forward.newUids': 'neue UIDs',
    'forward.following': 'Die Übertragung wird verfolgt …',
    'release.title': 'An das PACS freigeben',
    'release.of': 'Sendung {id} von {sender}',
    'release.modality': 'Ziel',
    'release.noModality': 'Kein Ziel eingerichtet (DicomModalities von Orthanc ist leer).',
    'release.studies': 'Untersuchungen',
    'release.identity': 'Identität des Patienten im Krankenhaus',
    'release.original': 'PatientID des Absenders, zum Vergleich: {ids}',
    'release.patientId': 'PatientID des Krankenhauses',
    'release.patientName': 'Name des Patienten',
    'release.patientNameHint': 'DICOM-Form: Nachname^Vorname, z. B. Mustermann^Erika',
    'release.birthDate': 'Geburtsdatum',
    'release.newUids': 'Neue UIDs (Study, Series und SOP Instance UIDs werden ersetzt)',
    'release.keepNamespace': 'Mit der Namensraum-PatientID senden (Bereich für Fremdaufnahmen)',
    'release.keepNamespaceHint': 'Die Untersuchung kommt mit ihrer isolierten PatientID (INB-…) im PACS an, nicht mit einer PatientID des Krankenhauses. Nur für einen Bereich für Fremdaufnahmen.',
    'release.submit': 'Freigeben',
    'release.needPatientId': 'Bitte die PatientID des Krankenhauses eingeben oder „Mit der Namensraum-PatientID senden“ ankreuzen.',
    'release.needStudy': 'Bitte mindestens eine Untersuchung wählen.',
    'release.started': 'Freigabe der Sendung {id} gestartet: {count}.',
    'delete.title': 'Diese Sendung löschen?',
    'delete.text': 'Sendung {id} von {sender} und alle von ihr gespeicherten Untersuchungen werden aus Orthanc entfernt. Eintrag und Verlauf bleiben erhalten.',
    'delete.ok': 'Löschen',
    'delete.done': 'Sendung {id} gelöscht.',
    'ban.title': 'Adresse des Absenders sperren?',
    'ban.text': 'Die Adresse {ip} (Sendung {id} von {sender}) kann 1 Tag lang nichts senden.',
    'ban.ok': 'Für 1 Tag sperren',
    'ban.done': 'Adresse {ip} gesperrt.',
    'limits.heading': 'Grenzen & Sperren',
    'limits.monitor': 'Datenwächter',
    'limits.lift': 'Stopp für heute aufheben',
    'limits.lifted': 'Der Stopp des Datenwächters ist für heute aufgehoben.',
    'limits.state': 'Status',
    'limits.reason': 'Grund',
    'limits.freeBytes': 'Freier Speicherplatz',
    'limits.bytesToday': 'Heute empfangen',
    'limits.warnFree': 'Warnen unter / stoppen unter',
    'limits.warnDay': 'Warnen über / stoppen über (pro Tag)',
    'limits.quotas': 'Heute verbrauchte Kontingente',
    'limits.day': 'Tag (UTC)',
    'limits.resets': 'Zurückgesetzt in',
    'limits.uploadsToday': 'Sendungen (gesamte Site)',
    'limits.bytesTodayQuota': 'Volumen (gesamte Site)',
    'limits.perClient': 'Pro Adresse und Tag',
    'limits.perSender': 'Pro Absender-E-Mail und Tag',
    'limits.inFlight': 'Laufende Übertragungen',
    'limits.rates': 'Anfragen pro Sekunde / Bytes pro Sekunde (pro Adresse)',
    'limits.refusals': 'Abweisungen',
    'limits.noRefusals': 'Keine Abweisungen seit dem Start.',
    'limits.autoBan': 'Automatische Sperre',
    'limits.autoBanRule': 'nach {what} in {window} s, für {ban} s',
    'limits.autoBanRefusals': '{n} Abweisungen',
    'limits.autoBanHits': '{n} Ratenbegrenzungen',
    or: 'oder',
    'limits.bans': 'Sperren',
    'limits.quotaValue': '{used} von {limit}',
    'bans.entry': 'Adresse',
    'bans.reason': 'Grund',
    'bans.since': 'Seit',
    'bans.until': 'Bis',
    'bans.forever': 'dauerhaft',
    'bans.automatic': 'automatisch',
    'bans.inactive': 'abgelaufen',
    'bans.none': 'Keine Sperren.',
    'bans.lift': 'Aufheben',
    'bans.liftLabel': 'Sperre von {entry} aufheben',
    'bans.lifted': 'Sperre von {entry} aufgehoben.',
    'bans.add': 'Adresse sperren',
    'bans.entryLabel': 'Adresse oder Netz (CIDR)',
    'bans.duration': 'Dauer',
    'bans.reasonLabel': 'Grund',
    'bans.submit': 'Sperren',
    'bans.needEntry': 'Bitte eine Adresse oder ein Netz eingeben.',
    'bans.added': 'Adresse {entry} gesperrt.',
    'duration.hour': '1 Stunde',
    'duration.day': '1 Tag',
    'duration.week': '1 Woche',
    'duration.month': '30 Tage',
    'gateways.heading': 'Gateways',
    'gateways.none': 'Keine Gateways: dieses Orthanc holt nichts von einem Gateway ab (nur die Rolle Internal tut das).',
    'gateways.name': 'Gateway',
    'gateways.contact': 'Letzter Kontakt',
    'gateways.never': 'nie',
    'gateways.backlog': 'Wartend',
    'gateways.delivered': 'Zugestellt',
    'gateways.failures': 'Fehler',
    'gateways.held': 'Zurückgehaltene Sendungen',
    'gateways.error': 'Letzter Fehler',
    'notifications.heading': 'Benachrichtigungen',
    'notifications.none': 'Keine Benachrichtigungen.',
    'notifications.kind': 'Art',
    'notifications.target': 'An',
    'notifications.subject': 'Betreff',
    'notifications.attempts': 'Versuche',
    'notifications.retry': 'Erneut versuchen',
    'notifications.retried': 'Benachrichtigung {id} ist wieder fällig.',
    'notifications.next': 'nächster Versuch {time}',
    'audit.heading': 'Protokoll',
    'audit.filter': 'Filter (Ereignis, Sendung, Adresse, Einzelheiten)',
    'audit.event': 'Ereignis',
    'audit.upload': 'Sendung',
    'audit.address': 'Adresse',
    'audit.detail': 'Einzelheiten',
    'audit.count': '{shown} der letzten {total} Ereignisse, neueste zuerst',
    'error.network': 'Der Server ist nicht erreichbar.',
    'error.http': 'Der Server antwortete mit HTTP {status}.',
    'error.format': '{message} ({code}, HTTP {status})',
  },
};

const LANGUAGE_KEY = 'inbound-admin-language';
let lang = chooseLanguage();

function chooseLanguage() {
  let stored = null;
  try {
    stored = localStorage.getItem(LANGUAGE_KEY);
  } catch (e) {
    // storage may be disabled
  }
  if (stored && TEXTS[stored]) {
    return stored;
  }
  const languages = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
  for (const l of languages) {
    const code = String(l).toLowerCase().slice(0, 2);
    if (TEXTS[code]) {
      return code;
    }
  }
  return 'en';
}

function t(key, params = {}) {
  const text = (TEXTS[lang] && TEXTS[lang][key]) || TEXTS.en[key] || key;
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));
}

// "1 file", "2 files": key n.<noun>.one or n.<noun>.other
function count(noun, n) {
  const value = Number(n) || 0;
  return t(`n.${noun}.${value === 1 ? 'one' : 'other'}`, { n: formatNumber(value) });
}

function applyTexts() {
  document.documentElement.lang = lang;
  document.title = t('title');
  for (const node of document.querySelectorAll('[data-i18n]')) {
    node.textContent = t(node.dataset.i18n);
  }
  for (const node of document.querySelectorAll('[data-i18n-aria-label]')) {
    node.setAttribute('aria-label', t(node.dataset.i18nAriaLabel));
  }
  const other = lang === 'de' ? 'en' : 'de';
  const button = $('language-switch');
  button.textContent = TEXTS[other].languageName;
  button.lang = other;
}

// ------------------------------------------------------------------------------------- DOM

function $(id) {
  return document.getElementById(id);
}

// el('p', {className: 'x'}, 'text', child, …): strings become text nodes, never HTML.
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (key === 'className') {
      node.className = value;
    } else if (key === 'dataset') {
      Object.assign(node.dataset, value);
    } else if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else if (value === true) {
      node.setAttribute(key, '');
    } else {
      node.setAttribute(key, String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) {
      continue;
    }
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node) {
  node.replaceChildren();
  return node;
}

let idCounter = 0;
function uniqueId(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// ------------------------------------------------------------------------------------- formats

function locale() {
  return lang === 'de' ? 'de-DE' : 'en-GB';
}

function formatNumber(n) {
  return new Intl.NumberFormat(locale()).format(Number(n) || 0);
}

function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) {
    return t('unknown');
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = Number(bytes) || 0;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value)} ${units[unit]}`;
}

function parseTime(iso) {
  if (!iso) {
    return null;
  }
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : new Date(ms);
}

function formatTime(iso) {
  const date = parseTime(iso);
  if (!date) {
    return t('none');
  }
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'medium' }).format(date);
}

function formatAge(iso) {
  const date = parseTime(iso);
  if (!date) {
    return t('none');
  }
  const seconds = (date.getTime() - Date.now()) / 1000;
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
  const steps = [[60, 'second'], [3600, 'minute'], [86400, 'hour'], [86400 * 30, 'day'], [86400 * 365, 'month']];
  const abs = Math.abs(seconds);
  if (abs < 60) {
    return rtf.format(Math.round(seconds), 'second');
  }
  for (let i = 1; i < steps.length; i++) {
    if (abs < steps[i][0]) {
      return rtf.format(Math.round(seconds / steps[i - 1][0]), steps[i - 1][1]);
    }
  }
  return rtf.format(Math.round(seconds / (86400 * 365)), 'year');
}

function timeElement(iso, relative = false) {
  const date = parseTime(iso);
  if (!date) {
    return document.createTextNode(t('none'));
  }
  return el('time', { datetime: date.toISOString(), title: formatTime(iso) }, relative ? formatAge(iso) : formatTime(iso));
}

function formatDicomDate(value) {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(value || '');
  if (!m) {
    return value || t('none');
  }
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeZone: 'UTC' })
    .format(new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))));
}

function stateBadge(state) {
  const known = `state.${state}`;
  const text = TEXTS.en[known] ? t(known) : String(state || t('unknown'));
  const safe = /^[a-z]+$/.test(state || '') ? state : 'unknown';
  return el('span', { className: `badge badge-${safe}` }, text);
}

function senderName(sender) {
  return (sender && sender.name) || t('unknownSender');
}

// ------------------------------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  describe() {
    if (!this.status) {
      return this.message;
    }
    return t('error.format', { message: this.message, code: this.code || 'error', status: this.status });
  }
}

// Every call says it comes from this page's own script: the plugin refuses admin writes
// (POST, PUT, DELETE) without X-Requested-With or the site's own Origin (403 cross-site), so
// that a page on another site cannot use the browser's cached credentials (CSRF). Another
// site cannot add this header without a CORS preflight, which Orthanc never grants.
async function api(method, path, body) {
  const init = {
    method,
    headers: { Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' },
    credentials: 'same-origin',
    cache: 'no-store',
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API + path, init);
  } catch (e) {
    throw new ApiError(0, 'network', t('error.network'));
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (e) {
    json = null;
  }
  if (!response.ok) {
    const code = json && typeof json.error === 'string' ? json.error : '';
    const message = json && typeof json.message === 'string' && json.message
      ? json.message : t('error.http', { status: response.status });
    throw new ApiError(response.status, code, message);
  }
  return json;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') {
      search.set(key, value);
    }
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

// ------------------------------------------------------------------------------------- alerts

function showError(error, region = 'alert') {
  const text = error instanceof ApiError ? error.describe() : String((error && error.message) || error);
  $(`${region}-text`).textContent = text;
  $(region).hidden = false;
  if (!(error instanceof ApiError)) {
    console.error(error);
  }
}

function hideError(region = 'alert') {
  $(region).hidden = true;
  $(`${region}-text`).textContent = '';
}

let announceTimer;
function announce(text) {
  const status = $('status');
  status.textContent = '';
  window.clearTimeout(announceTimer);
  // a new text node, so that screen readers announce it again
  announceTimer = window.setTimeout(() => {
    status.textContent = text;
    announceTimer = window.setTimeout(() => {
      status.textContent = '';
    }, 20000);
  }, 50);
}

// Runs an action of a button: the button is disabled meanwhile, an error goes to the alert.
async function act(button, action, region = 'alert') {
  if (button) {
    button.disabled = true;
  }
  try {
    hideError(region);
    return await action();
  } catch (error) {
    showError(error, region);
    return undefined;
  } finally {
    if (button) {
      button.disabled = false;
    }
  }
}

// ------------------------------------------------------------------------------------- dialogs

let confirmResolve = null;

function confirmAction({ title, text, ok }) {
  const dialog = $('confirm-dialog');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = ok;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    confirmResolve = (answer) => {
      confirmResolve = null;
      if (dialog.open) {
        dialog.close();
      }
      if (opener && opener.isConnected) {
        opener.focus();
      }
      resolve(answer);
    };
    dialog.showModal();
    $('confirm-cancel').focus();
  });
}

function setUpConfirmDialog() {
  const dialog = $('confirm-dialog');
  $('confirm-form').addEventListener('submit', (event) => {
    event.preventDefault();
    if (confirmResolve) {
      confirmResolve(true);
    }
  });
  $('confirm-cancel').addEventListener('click', () => confirmResolve && confirmResolve(false));
  dialog.addEventListener('cancel', (event) => {
    event.preventDefault();
    if (confirmResolve) {
      confirmResolve(false);
    }
  });
}

// ------------------------------------------------------------------------------------- views

const VIEWS = ['inbox', 'limits', 'gateways', 'notifications', 'audit'];
let currentView = null;

function parseHash() {
  const hash = decodeURIComponent(window.location.hash.replace(/^#/, ''));
  const m = /^(release|upload)=(.+)$/.exec(hash);
  if (m) {
    return { view: 'inbox', [m[1]]: m[2] };
  }
  return { view: VIEWS.includes(hash) ? hash : 'inbox' };
}

async function route({ focus = true } = {}) {
  const target = parseHash();
  showView(target.view, focus && !target.release);
  if (target.view === 'inbox') {
    if (target.upload || target.release) {
      $('inbox-state').value = '';  // the upload is listed whatever its state
      $('inbox-text').value = '';
    }
    await loadInbox();
    if (target.upload || target.release) {
      const id = target.upload || target.release;
      await expandUpload(id, true);
      if (target.release) {
        await openRelease(id);
      }
    }
  } else if (target.view === 'limits') {
    await loadLimits();
  } else if (target.view === 'gateways') {
    await loadGateways();
  } else if (target.view === 'notifications') {
    await loadNotifications();
  } else if (target.view === 'audit') {
    await loadAudit();
  }
}

function showView(view, focus) {
  const changed = currentView !== view;
  currentView = view;
  for (const name of VIEWS) {
    $(`view-${name}`).hidden = name !== view;
  }
  for (const link of document.querySelectorAll('.tabs a[data-view]')) {
    if (link.dataset.view === view) {
      link.setAttribute('aria-current', 'page');
    } else {
      link.removeAttribute('aria-current');
    }
  }
  if (changed && focus) {
    $(`${view}-heading`).focus();
  }
}

// ------------------------------------------------------------------------------------- inbox

const inbox = {
  uploads: [],
  expanded: new Set(),
  details: new Map(),     // upload id → GET /uploads/{id}
  forwards: new Map(),    // upload id → forwards
  polls: new Map(),       // upload id → timer
  rows: new Map(),        // upload id → <li>
};

async function loadInbox() {
  await act($('inbox-refresh'), async () => {
    const state = $('inbox-state').value;
    const answer = await api('GET', `uploads${query({ state, limit: INBOX_LIMIT })}`);
    inbox.uploads = Array.isArray(answer && answer.uploads) ? answer.uploads : [];
    // Details of expanded uploads are loaded again, so that they are current.
    const reload = [...inbox.expanded].filter((id) => inbox.uploads.some((u) => u.id === id));
    inbox.details.clear();
    await Promise.all(reload.map((id) => loadDetails(id).catch((error) => showError(error))));
    renderInbox();
  });
}

function matches(upload, text) {
  if (!text) {
    return true;
  }
  const s = upload.sender || {};
  const r = upload.recipient || {};
  const haystack = [s.name, s.institution, s.email, s.phone, r.name, r.id, upload.receiptCode, upload.id,
    upload.message, upload.client && upload.client.ip].join('\n').toLowerCase();
  return text.toLowerCase().split(/\s+/).filter(Boolean).every((word) => haystack.includes(word));
}

function sortedUploads() {
  const text = $('inbox-text').value.trim();
  const list = inbox.uploads.filter((u) => matches(u, text));
  const sort = $('inbox-sort').value;
  const time = (u) => Date.parse(u.createdAt) || 0;
  if (sort === 'oldest') {
    list.sort((a, b) => time(a) - time(b));
  } else if (sort === 'sender') {
    const collator = new Intl.Collator(locale(), { sensitivity: 'base' });
    list.sort((a, b) => collator.compare(senderName(a.sender), senderName(b.sender)) || time(b) - time(a));
  } else {
    list.sort((a, b) => time(b) - time(a));
  }
  return list;
}

function renderInbox() {
  const list = clear($('inbox-list'));
  inbox.rows.clear();
  const uploads = sortedUploads();
  if (inbox.uploads.length === 0) {
    $('inbox-count').textContent = t('inbox.empty');
  } else if (uploads.length === 0) {
    $('inbox-count').textContent = t('inbox.noMatch');
  } else {
    $('inbox-count').textContent = t('inbox.count', { shown: uploads.length, total: inbox.uploads.length });
  }
  for (const upload of uploads) {
    const row = renderUploadRow(upload);
    inbox.rows.set(upload.id, row);
    list.append(row);
  }
}

function countsText(upload) {
  const studies = Array.isArray(upload.studies) ? upload.studies.length : 0;
  return `${count('study', studies)} · ${count('file', upload.files)} · ${formatBytes(upload.bytes)}`;
}

function renderUploadRow(upload) {
  const detailsId = uniqueId('upload-details');
  const expanded = inbox.expanded.has(upload.id);
  const sender = upload.sender || {};
  const recipient = upload.recipient || {};
  const toggle = el('button', {
    type: 'button', className: 'upload-toggle', 'aria-expanded': expanded ? 'true' : 'false', 'aria-controls': detailsId,
  },
  el('span', { className: 'upload-who' },
    el('span', { className: 'upload-sender' }, senderName(sender)),
    sender.institution ? el('span', { className: 'upload-institution' }, sender.institution) : null),
  stateBadge(upload.state));
  const meta = el('p', { className: 'upload-meta' },
    el('span', {}, t('upload.to', { recipient: recipient.name || recipient.id || t('none') })),
    el('span', {}, countsText(upload)),
    el('span', {}, t('upload.receivedLabel'), ' ', timeElement(upload.createdAt, true)),
    upload.receiptCode ? el('span', {}, t('upload.receiptCode'), ' ',
      el('code', { className: 'receipt-code' }, upload.receiptCode)) : null);
  const details = el('div', { className: 'upload-details', id: detailsId, hidden: !expanded });
  const row = el('li', { className: 'upload', dataset: { uploadId: upload.id } },
    el('h2', { className: 'upload-heading' }, toggle), meta, details);
  toggle.addEventListener('click', () => {
    if (inbox.expanded.has(upload.id)) {
      collapseUpload(upload.id);
    } else {
      expandUpload(upload.id, false);
    }
  });
  if (expanded) {
    renderDetails(upload.id, details);
  }
  return row;
}

async function loadDetails(id) {
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

async function expandUpload(id, scroll) {
  inbox.expanded.add(id);
  const row = inbox.rows.get(id);
  if (!inbox.details.has(id)) {
    try {
      await loadDetails(id);
    } catch (error) {
      inbox.expanded.delete(id);
      showError(error);
      return;
    }
  }
  if (!row) {
    return;
  }
  const toggle = row.querySelector('.upload-toggle');
  const details = row.querySelector('.upload-details');
  toggle.setAttribute('aria-expanded', 'true');
  details.hidden = false;
  renderDetails(id, details);
  if (scroll) {
    row.scrollIntoView({ block: 'start' });
  }
}

function collapseUpload(id) {
  inbox.expanded.delete(id);
  const row = inbox.rows.get(id);
  if (row) {
    row.querySelector('.upload-toggle').setAttribute('aria-expanded', 'false');
    const details = row.querySelector('.upload-details');
    details.hidden = true;
    clear(details);
  }
}

function fact(list, label, ...value) {
  list.append(el('div', { className: 'fact' }, el('dt', {}, label), el('dd', {}, ...value)));
}

function renderDetails(id, container) {
  const upload = inbox.details.get(id);
  clear(container);
  if (!upload) {
    container.append(el('p', { className: 'muted' }, t('loading')));
    return;
  }
  const sender = upload.sender || {};
  const recipient = upload.recipient || {};
  const client = upload.client || {};

  container.append(el('h3', { className: 'visually-hidden' }, t('upload.details')));
  const message = el('div', { className: 'message' },
    el('h3', { className: 'small-heading' }, t('upload.message')),
    el('p', { className: upload.message ? 'message-text' : 'message-text muted' }, upload.message || t('upload.noMessage')));
  container.append(message);

  const facts = el('dl', { className: 'facts' });
  fact(facts, t('upload.email'), sender.email ? el('a', { href: `mailto:${sender.email}` }, sender.email) : t('none'));
  fact(facts, t('upload.phone'), sender.phone || t('none'));
  fact(facts, t('upload.institution'), sender.institution || t('none'));
  fact(facts, t('upload.recipient'), recipient.name || recipient.id || t('none'));
  fact(facts, t('upload.consent'), upload.consentVersion ? t('upload.consentVersion', { version: upload.consentVersion }) : t('none'));
  fact(facts, t('upload.client'), client.ip || upload.clientIp || t('none'));
  if (client.userAgent) {
    fact(facts, t('upload.userAgent'), el('span', { className: 'small' }, client.userAgent));
  }
  fact(facts, t('upload.created'), timeElement(upload.createdAt));
  fact(facts, t('upload.completed'), timeElement(upload.completedAt));
  fact(facts, t('upload.receiptCode'), upload.receiptCode ? el('code', {}, upload.receiptCode) : t('none'));
  fact(facts, t('upload.id'), el('code', {}, upload.id));
  fact(facts, t('upload.size'), `${formatNumber(upload.files)} · ${formatBytes(upload.bytes)}`);
  container.append(facts);
  if (upload.dataRemoved) {
    container.append(el('p', { className: 'notice-inline' }, t('upload.dataRemoved')));
  }

  // Studies, with links into Orthanc Explorer
  const studies = Array.isArray(upload.studies) ? upload.studies : [];
  container.append(el('h3', { className: 'small-heading' }, t('upload.studies')));
  if (studies.length === 0) {
    container.append(el('p', { className: 'muted' }, t('upload.noStudies')));
  } else {
    const list = el('ul', { className: 'study-list' });
    for (const study of studies) {
      const text = t('upload.study', {
        description: study.description || t('upload.noDescription'),
        date: formatDicomDate(study.studyDate),
        modalities: (study.modalities || []).join(', ') || t('none'),
        instances: count('instance', study.instances),
      });
      list.append(el('li', {},
        study.orthancId
          ? el('a', { href: EXPLORER_STUDY + encodeURIComponent(study.orthancId), className: 'study-link' }, text)
          : el('span', {}, text),
        el('span', { className: 'study-ids' },
          study.originalPatientId ? t('upload.senderPatientId', { id: study.originalPatientId }) : null,
          study.patientId ? ` · ${t('upload.isolatedPatientId', { id: study.patientId })}` : null)));
    }
    container.append(list);
  }

  // Actions
  const actions = el('div', { className: 'actions' });
  const releasable = upload.state === 'complete' && studies.some((s) => s.orthancId);
  if (releasable) {
    actions.append(el('button', {
      type: 'button', className: 'button button-primary', onclick: () => openRelease(id),
    }, t('upload.release')));
  }
  if (upload.state !== 'deleted') {
    actions.append(el('button', {
      type: 'button', className: 'button button-danger', onclick: (event) => deleteUpload(id, event.currentTarget),
    }, t('upload.delete')));
  }
  if (client.ip) {
    actions.append(el('button', {
      type: 'button', className: 'button', onclick: (event) => banSender(id, event.currentTarget),
    }, t('upload.ban')));
  }
  container.append(actions);

  // Forwards
  const forwardsBox = el('div', { className: 'forwards', dataset: { forwardsOf: id } });
  container.append(el('h3', { className: 'small-heading' }, t('upload.forwards')), forwardsBox);
  renderForwards(id, forwardsBox);

  // History
  const history = Array.isArray(upload.history) ? upload.history : [];
  const table = el('table', { className: 'table table-compact' },
    el('thead', {}, el('tr', {},
      el('th', { scope: 'col' }, t('time')),
      el('th', { scope: 'col' }, t('audit.event')),
      el('th', { scope: 'col' }, t('audit.detail')),
      el('th', { scope: 'col' }, t('audit.address')))),
    el('tbody', {}, history.map((event) => el('tr', {},
      el('td', { className: 'nowrap' }, timeElement(event.time)),
      el('td', {}, el('code', {}, event.event || '')),
      el('td', { className: 'detail' }, event.detail || ''),
      el('td', {}, event.ip || '')))));
  container.append(el('details', { className: 'history' },
    el('summary', {}, t('upload.history', { count: count('event', history.length) })),
    el('div', { className: 'table-wrap', role: 'region', tabindex: '0', 'aria-label': t('upload.history', { count: count('event', history.length) }) }, table)));
}

function renderForwards(id, box = document.querySelector(`[data-forwards-of="${CSS.escape(id)}"]`)) {
  if (!box) {
    return;
  }
  clear(box);
  const forwards = inbox.forwards.get(id) || [];
  if (forwards.length === 0) {
    box.append(el('p', { className: 'muted' }, t('upload.noForwards')));
    return;
  }
  if (inbox.polls.has(id)) {
    box.append(el('p', { className: 'muted' }, t('forward.following')));
  }
  const upload = inbox.details.get(id);
  const studies = new Map(((upload && upload.studies) || []).map((s) => [s.orthancId, s]));
  const rows = forwards.map((f) => {
    const study = studies.get(f.study);
    const studyText = study ? (study.description || formatDicomDate(study.studyDate)) : (f.study || '');
    const retry = f.state === 'failed'
      ? el('button', {
        type: 'button', className: 'button button-small', onclick: (event) => retryForward(id, f.id, event.currentTarget),
      }, t('forward.retry'))
      : null;
    return el('tr', { className: `forward forward-${/^[a-z]+$/.test(f.state || '') ? f.state : 'unknown'}` },
      el('td', {}, studyText),
      el('td', {}, f.modality || '', el('span', { className: 'small muted' },
        ` (${t(`forward.origin.${f.origin === 'rule' ? 'rule' : 'admin'}`)}${f.newUids ? `, ${t('forward.newUids')}` : ''})`)),
      el('td', {}, f.keepNamespacedPatientId || !f.patientId ? t('forward.namespaced') : el('code', {}, f.patientId)),
      el('td', {}, stateBadge(f.state)),
      el('td', { className: 'number' }, formatNumber(f.attempts)),
      el('td', { className: 'detail' }, f.lastError || ''),
      el('td', { className: 'nowrap' }, timeElement(f.updatedAt, true)),
      el('td', {}, retry));
  });
  box.append(el('div', { className: 'table-wrap', role: 'region', tabindex: '0', 'aria-label': t('upload.forwards') },
    el('table', { className: 'table table-compact' },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, t('forward.study')),
        el('th', { scope: 'col' }, t('forward.target')),
        el('th', { scope: 'col' }, t('forward.patientId')),
        el('th', { scope: 'col' }, t('inbox.state')),
        el('th', { scope: 'col' }, t('forward.attempts')),
        el('th', { scope: 'col' }, t('forward.error')),
        el('th', { scope: 'col' }, t('forward.updated')),
        el('th', { scope: 'col' }, el('span', { className: 'visually-hidden' }, t('actions'))))),
      el('tbody', {}, rows))));
}

// Follows the forwards of an upload every 2 s until every one is sent or failed.
function pollForwards(id) {
  stopPolling(id);
  const tick = async () => {
    try {
      const answer = await api('GET', `forwards${query({ upload: id, limit: 100 })}`);
      const forwards = Array.isArray(answer && answer.forwards) ? answer.forwards : [];
      inbox.forwards.set(id, forwards);
      const finished = forwards.length > 0 && forwards.every((f) => f.state === 'done' || f.state === 'failed');
      if (finished) {
        stopPolling(id);
      } else {
        inbox.polls.set(id, window.setTimeout(tick, POLL_INTERVAL));
      }
      renderForwards(id);
    } catch (error) {
      stopPolling(id);
      renderForwards(id);
      showError(error);
    }
  };
  inbox.polls.set(id, window.setTimeout(tick, 0));
}

function stopPolling(id) {
  const timer = inbox.polls.get(id);
  if (timer !== undefined) {
    window.clearTimeout(timer);
    inbox.polls.delete(id);
  }
}

async function retryForward(uploadId, forwardId, button) {
  await act(button, async () => {
    const forward = await api('POST', `forwards/${encodeURIComponent(forwardId)}/retry`);
    if (forward && forward.id !== undefined) {
      inbox.forwards.set(uploadId, (inbox.forwards.get(uploadId) || []).map((f) => (f.id === forward.id ? forward : f)));
    }
    pollForwards(uploadId);
    renderForwards(uploadId);
  });
}

function uploadFor(id) {
  return inbox.details.get(id) || inbox.uploads.find((u) => u.id === id) || { id };
}

async function deleteUpload(id, button) {
  const upload = uploadFor(id);
  const ok = await confirmAction({
    title: t('delete.title'),
    text: t('delete.text', { id, sender: senderName(upload.sender) }),
    ok: t('delete.ok'),
  });
  if (!ok) {
    return;
  }
  await act(button, async () => {
    await api('DELETE', `uploads/${encodeURIComponent(id)}`);
    stopPolling(id);
    inbox.expanded.delete(id);
    inbox.details.delete(id);
    announce(t('delete.done', { id }));
    await loadInbox();
    $('inbox-heading').focus();
  });
}

async function banSender(id, button) {
  const upload = uploadFor(id);
  const ip = (upload.client && upload.client.ip) || upload.clientIp;
  if (!ip) {
    return;
  }
  const ok = await confirmAction({
    title: t('ban.title'),
    text: t('ban.text', { ip, id, sender: senderName(upload.sender) }),
    ok: t('ban.ok'),
  });
  if (!ok) {
    return;
  }
  await act(button, async () => {
    await api('POST', 'bans', { entry: ip, seconds: BAN_SECONDS, reason: `Upload ${id} (admin page)` });
    announce(t('ban.done', { ip }));
  });
}

// ------------------------------------------------------------------------------------- release

const release = { uploadId: null, opener: null, modalities: null };

async function loadModalities() {
  if (release.modalities === null) {
    const answer = await api('GET', 'modalities');
    release.modalities = Array.isArray(answer && answer.modalities) ? answer.modalities.map(String) : [];
  }
  return release.modalities;
}

async function openRelease(id) {
  const dialog = $('release-dialog');
  release.opener = document.activeElement;
  let upload = inbox.details.get(id);
  try {
    if (!upload) {
      upload = await loadDetails(id);
    }
  } catch (error) {
    showError(error);
    return;
  }
  release.uploadId = id;
  hideError('release-alert');
  $('release-upload').textContent = t('release.of', { id, sender: senderName(upload.sender) });

  // Targets
  const select = clear($('release-modality'));
  let modalities = [];
  try {
    modalities = await loadModalities();
  } catch (error) {
    showError(error, 'release-alert');
  }
  for (const name of modalities) {
    select.append(el('option', { value: name }, name));
  }
  if (modalities.length === 0 && $('release-alert').hidden) {
    showError(new Error(t('release.noModality')), 'release-alert');
  }
  $('release-submit').disabled = modalities.length === 0;

  // Studies
  const box = clear($('release-studies'));
  const studies = (upload.studies || []).filter((s) => s.orthancId);
  for (const study of studies) {
    const inputId = uniqueId('release-study');
    box.append(el('div', { className: 'check' },
      el('input', { type: 'checkbox', id: inputId, value: study.orthancId, checked: true, className: 'release-study' }),
      el('label', { for: inputId }, t('upload.study', {
        description: study.description || t('upload.noDescription'),
        date: formatDicomDate(study.studyDate),
        modalities: (study.modalities || []).join(', ') || t('none'),
        instances: count('instance', study.instances),
      }))));
  }
  $('release-studies-set').hidden = studies.length <= 1;

  // The sender's PatientIDs, for reference; the hospital's identity starts empty.
  const originals = [...new Set((upload.studies || []).map((s) => s.originalPatientId).filter(Boolean))];
  $('release-original').textContent = t('release.original', { ids: originals.length ? originals.join(', ') : t('none') });
  for (const field of ['release-patient-id', 'release-patient-name', 'release-birth-date']) {
    $(field).value = '';
  }
  $('release-new-uids').checked = false;
  $('release-keep-namespace').checked = false;
  updateNamespaceChoice();
  setPatientIdError('');

  if (!dialog.open) {
    dialog.showModal();
  }
  (modalities.length > 1 ? select : $('release-patient-id')).focus();
}

function closeRelease() {
  const dialog = $('release-dialog');
  if (dialog.open) {
    dialog.close();
  }
  release.uploadId = null;
  if (window.location.hash.startsWith('#release=')) {
    history.replaceState(null, '', '#inbox');
  }
  if (release.opener && release.opener.isConnected && release.opener !== document.body) {
    release.opener.focus();
  }
}

function updateNamespaceChoice() {
  const keep = $('release-keep-namespace').checked;
  $('release-dialog').classList.toggle('keeping-namespace', keep);
  for (const field of ['release-patient-id', 'release-patient-name', 'release-birth-date']) {
    $(field).disabled = keep;
  }
  if (keep) {
    setPatientIdError('');
  }
}

function setPatientIdError(text) {
  const error = $('release-patient-id-error');
  error.textContent = text;
  error.hidden = !text;
  if (text) {
    $('release-patient-id').setAttribute('aria-invalid', 'true');
  } else {
    $('release-patient-id').removeAttribute('aria-invalid');
  }
}

async function submitRelease(event) {
  event.preventDefault();
  const id = release.uploadId;
  if (!id) {
    return;
  }
  hideError('release-alert');
  const keep = $('release-keep-namespace').checked;
  const patientId = $('release-patient-id').value.trim();
  if (!keep && !patientId) {
    setPatientIdError(t('release.needPatientId'));
    $('release-patient-id').focus();
    return;
  }
  setPatientIdError('');
  const studies = [...document.querySelectorAll('#release-studies input.release-study')];
  const chosen = studies.filter((box) => box.checked).map((box) => box.value);
  if (studies.length > 0 && chosen.length === 0) {
    showError(new Error(t('release.needStudy')), 'release-alert');
    return;
  }
  const body = {
    modality: $('release-modality').value,
    newUids: $('release-new-uids').checked,
    keepNamespacedPatientId: keep,
  };
  if (chosen.length !== studies.length) {
    body.studies = chosen;
  }
  if (!keep) {
    body.patient = { id: patientId };
    const name = $('release-patient-name').value.trim();
    const birthDate = $('release-birth-date').value;
    if (name) {
      body.patient.name = name;
    }
    if (birthDate) {
      body.patient.birthDate = birthDate.replace(/-/g, '');
    }
  }
  const answer = await act($('release-submit'), async () => {
    return api('POST', `uploads/${encodeURIComponent(id)}/release`, body);
  }, 'release-alert');
  if (!answer) {
    return;
  }
  const forwards = Array.isArray(answer.forwards) ? answer.forwards : [];
  closeRelease();
  announce(t('release.started', { id, count: count('transfer', forwards.length) }));
  if (!inbox.expanded.has(id)) {
    await expandUpload(id, false);
  }
  inbox.forwards.set(id, [...forwards, ...(inbox.forwards.get(id) || []).filter((f) => !forwards.some((n) => n.id === f.id))]);
  pollForwards(id);
  const box = document.querySelector(`[data-forwards-of="${CSS.escape(id)}"]`);
  if (box) {
    box.scrollIntoView({ block: 'nearest' });
  }
}

function setUpReleaseDialog() {
  $('release-form').addEventListener('submit', submitRelease);
  $('release-cancel').addEventListener('click', closeRelease);
  $('release-keep-namespace').addEventListener('change', updateNamespaceChoice);
  $('release-patient-id').addEventListener('input', () => {
    if ($('release-patient-id').value.trim()) {
      setPatientIdError('');
    }
  });
  $('release-dialog').addEventListener('cancel', (event) => {
    event.preventDefault();
    closeRelease();
  });
}

// ------------------------------------------------------------------------------------- limits

async function loadLimits() {
  await act($('limits-refresh'), async () => {
    const limits = await api('GET', 'limits');
    renderLimits(limits || {});
  });
}

function limitValue(used, limit, format = formatNumber) {
  if (!limit) {
    return `${format(used)} (${t('noLimit')})`;
  }
  return t('limits.quotaValue', { used: format(used), limit: format(limit) });
}

function renderLimits(limits) {
  const monitor = limits.dataMonitor || {};
  const monitorFacts = clear($('monitor-facts'));
  fact(monitorFacts, t('limits.state'), stateBadge(monitor.state || 'unknown'));
  if (monitor.reason) {
    fact(monitorFacts, t('limits.reason'), monitor.reason);
  }
  fact(monitorFacts, t('limits.freeBytes'), formatBytes(monitor.freeBytes));
  fact(monitorFacts, t('limits.bytesToday'), formatBytes(monitor.bytesToday));
  const threshold = (value) => (value ? formatBytes(value) : t('off'));
  fact(monitorFacts, t('limits.warnFree'), `${threshold(monitor.warnFreeBytes)} / ${threshold(monitor.stopFreeBytes)}`);
  fact(monitorFacts, t('limits.warnDay'), `${threshold(monitor.warnBytesPerDay)} / ${threshold(monitor.stopBytesPerDay)}`);
  $('monitor-lift').hidden = monitor.state !== 'stopped';

  const quotas = limits.quotas || {};
  const quotaLimits = quotas.limits || {};
  const global = quotas.global || {};
  const quotaFacts = clear($('quota-facts'));
  fact(quotaFacts, t('limits.day'), quotas.day || t('none'));
  if (quotas.resetsInSeconds !== undefined) {
    const hours = Math.floor(quotas.resetsInSeconds / 3600);
    const minutes = Math.floor((quotas.resetsInSeconds % 3600) / 60);
    fact(quotaFacts, t('limits.resets'), `${hours} h ${String(minutes).padStart(2, '0')} min`);
  }
  fact(quotaFacts, t('limits.uploadsToday'), limitValue(global.uploads || 0, quotaLimits.uploadsPerDay));
  fact(quotaFacts, t('limits.bytesTodayQuota'), limitValue(global.bytes || 0, quotaLimits.bytesPerDay, formatBytes));
  const pair = (uploads, bytes) => `${uploads ? formatNumber(uploads) : t('noLimit')} · ${bytes ? formatBytes(bytes) : t('noLimit')}`;
  fact(quotaFacts, t('limits.perClient'), pair(quotaLimits.uploadsPerClientPerDay, quotaLimits.bytesPerClientPerDay));
  fact(quotaFacts, t('limits.perSender'), pair(quotaLimits.uploadsPerSenderPerDay, quotaLimits.bytesPerSenderPerDay));
  const inFlight = limits.inFlight || {};
  const rateLimits = limits.limits || {};
  fact(quotaFacts, t('limits.inFlight'), limitValue(inFlight.bytes || 0, rateLimits.maxBytesInFlight, formatBytes));
  fact(quotaFacts, t('limits.rates'), `${rateLimits.requestsPerSecond ? formatNumber(rateLimits.requestsPerSecond) : t('noLimit')} / ${
    rateLimits.bytesPerSecond ? `${formatBytes(rateLimits.bytesPerSecond)}/s` : t('noLimit')}`);

  const refusalFacts = clear($('refusal-facts'));
  const refusals = limits.refusals && typeof limits.refusals === 'object' ? Object.entries(limits.refusals) : [];
  if (refusals.length === 0) {
    refusalFacts.append(el('div', { className: 'fact' }, el('dt', {}, t('limits.refusals')), el('dd', {}, t('limits.noRefusals'))));
  }
  for (const [reason, count] of refusals) {
    fact(refusalFacts, reason, typeof count === 'object' ? JSON.stringify(count) : formatNumber(count));
  }
  const autoBan = limits.autoBan || {};
  const triggers = [];
  if (autoBan.refusals) {
    triggers.push(t('limits.autoBanRefusals', { n: formatNumber(autoBan.refusals) }));
  }
  if (autoBan.limitHits) {
    triggers.push(t('limits.autoBanHits', { n: formatNumber(autoBan.limitHits) }));
  }
  fact(refusalFacts, t('limits.autoBan'), triggers.length
    ? t('limits.autoBanRule', { what: triggers.join(` ${t('or')} `), window: formatNumber(autoBan.windowSeconds), ban: formatNumber(autoBan.banSeconds) })
    : t('off'));

  renderBans(Array.isArray(limits.bans) ? limits.bans : []);
}

function renderBans(bans) {
  const body = clear($('bans-body'));
  $('bans-empty').hidden = bans.length > 0;
  body.closest('.table-wrap').hidden = bans.length === 0;
  for (const ban of bans) {
    const notes = [];
    if (ban.automatic) {
      notes.push(t('bans.automatic'));
    }
    if (ban.active === false) {
      notes.push(t('bans.inactive'));
    }
    body.append(el('tr', {},
      el('td', {}, el('code', {}, ban.entry || '')),
      el('td', { className: 'detail' }, ban.reason || '', notes.length ? el('span', { className: 'small muted' }, ` (${notes.join(', ')})`) : null),
      el('td', { className: 'nowrap' }, timeElement(ban.createdAt)),
      el('td', { className: 'nowrap' }, ban.until ? timeElement(ban.until) : t('bans.forever')),
      el('td', {}, el('button', {
        type: 'button',
        className: 'button button-small',
        'aria-label': t('bans.liftLabel', { entry: ban.entry }),
        onclick: (event) => liftBan(ban.entry, event.currentTarget),
      }, t('bans.lift')))));
  }
}

async function liftBan(entry, button) {
  await act(button, async () => {
    // The entry's "/" and ":" stay as they are: the proxy refuses escaped slashes (path
    // tricks), and the route takes the rest of the path as the entry.
    await api('DELETE', `bans/${encodeURIComponent(entry).replace(/%2F/gi, '/').replace(/%3A/gi, ':')}`);
    announce(t('bans.lifted', { entry }));
    await loadLimits();
    $('limits-heading').focus();
  });
}

async function addBan(event) {
  event.preventDefault();
  const entry = $('ban-entry').value.trim();
  if (!entry) {
    showError(new Error(t('bans.needEntry')));
    $('ban-entry').focus();
    return;
  }
  await act(event.submitter || null, async () => {
    await api('POST', 'bans', {
      entry, seconds: Number($('ban-duration').value), reason: $('ban-reason').value.trim() || 'admin page',
    });
    $('ban-entry').value = '';
    $('ban-reason').value = '';
    announce(t('bans.added', { entry }));
    await loadLimits();
  });
}

async function liftMonitor(event) {
  await act(event.currentTarget, async () => {
    await api('POST', 'limits/lift');
    announce(t('limits.lifted'));
    await loadLimits();
  });
}

// ------------------------------------------------------------------------------------- gateways

async function loadGateways() {
  await act($('gateways-refresh'), async () => {
    const answer = await api('GET', 'gateways');
    const gateways = Array.isArray(answer && answer.gateways) ? answer.gateways : [];
    const body = clear($('gateways-body'));
    $('gateways-empty').hidden = gateways.length > 0;
    $('gateways-wrap').hidden = gateways.length === 0;
    for (const g of gateways) {
      const held = Array.isArray(g.held) ? g.held : [];
      body.append(el('tr', { className: g.lastError || held.length ? 'row-attention' : null },
        el('th', { scope: 'row' }, g.name || ''),
        el('td', { className: 'nowrap' }, g.lastContact ? timeElement(g.lastContact, true) : t('gateways.never')),
        el('td', { className: 'number' }, formatNumber(g.backlog)),
        el('td', { className: 'number' }, formatNumber(g.delivered)),
        el('td', { className: 'number' }, formatNumber(g.failures)),
        el('td', {}, held.length === 0 ? t('none') : el('ul', { className: 'plain-list' },
          held.map((id) => el('li', {}, el('a', { href: `#upload=${encodeURIComponent(id)}` }, String(id)))))),
        el('td', { className: 'detail' }, g.lastError || '',
          g.lastFailure ? el('span', { className: 'small muted' }, ' (', timeElement(g.lastFailure, true), ')') : null)));
    }
  });
}

// ------------------------------------------------------------------------------------- notifications

async function loadNotifications() {
  await act($('notifications-refresh'), async () => {
    const state = $('notifications-state').value;
    const answer = await api('GET', `notifications${query({ state, limit: 200 })}`);
    const counts = (answer && answer.counts) || {};
    const countList = clear($('notification-counts'));
    for (const key of ['pending', 'delivered', 'failed']) {
      countList.append(el('div', { className: `count count-${key}` },
        el('dt', {}, t(`state.${key}`)), el('dd', {}, formatNumber(counts[key]))));
    }
    const list = Array.isArray(answer && answer.notifications) ? answer.notifications : [];
    $('notifications-empty').hidden = list.length > 0;
    $('notifications-wrap').hidden = list.length === 0;
    const body = clear($('notifications-body'));
    for (const n of list) {
      body.append(el('tr', {},
        el('td', { className: 'nowrap' }, timeElement(n.createdAt)),
        el('td', {}, `${n.channel || ''} · ${n.kind || n.event || ''}`,
          n.uploadId ? el('span', { className: 'small' }, ' ', el('a', { href: `#upload=${encodeURIComponent(n.uploadId)}` }, String(n.uploadId))) : null),
        el('td', { className: 'detail' }, n.target || ''),
        el('td', { className: 'detail' }, n.subject || ''),
        el('td', {}, stateBadge(n.state),
          n.nextAttemptAt ? el('span', { className: 'small muted' }, ' ', t('notifications.next', { time: formatAge(n.nextAttemptAt) })) : null),
        el('td', { className: 'number' }, formatNumber(n.attempts)),
        el('td', { className: 'detail' }, n.lastError || ''),
        el('td', {}, n.state === 'failed' ? el('button', {
          type: 'button', className: 'button button-small', onclick: (event) => retryNotification(n.id, event.currentTarget),
        }, t('notifications.retry')) : null)));
    }
  });
}

async function retryNotification(id, button) {
  await act(button, async () => {
    await api('POST', `notifications/${encodeURIComponent(id)}/retry`);
    announce(t('notifications.retried', { id }));
    await loadNotifications();
    $('notifications-heading').focus();
  });
}

// ------------------------------------------------------------------------------------- audit

let auditEvents = [];

async function loadAudit() {
  await act($('audit-refresh'), async () => {
    const answer = await api('GET', `audit${query({ limit: AUDIT_LIMIT })}`);
    auditEvents = Array.isArray(answer && answer.events) ? answer.events.slice() : [];
    // Newest first by time: refusals are written in batches, one entry per client and
    // interval, so an entry's place in the ledger can come after later events.
    const when = (e) => Date.parse(e.time) || 0;
    auditEvents.sort((a, b) => (when(b) - when(a)) || ((Number(b.id) || 0) - (Number(a.id) || 0)));
    renderAudit();
  });
}

function renderAudit() {
  const text = $('audit-text').value.trim().toLowerCase();
  const words = text.split(/\s+/).filter(Boolean);
  const shown = auditEvents.filter((e) => {
    const haystack = [e.event, e.uploadId, e.ip, e.detail].join('\n').toLowerCase();
    return words.every((w) => haystack.includes(w));
  });
  $('audit-count').textContent = t('audit.count', { shown: shown.length, total: auditEvents.length });
  const body = clear($('audit-body'));
  for (const e of shown) {
    body.append(el('tr', {},
      el('td', { className: 'nowrap' }, timeElement(e.time)),
      el('td', {}, el('code', {}, e.event || '')),
      el('td', {}, e.uploadId ? el('a', { href: `#upload=${encodeURIComponent(e.uploadId)}` }, String(e.uploadId)) : ''),
      el('td', {}, e.ip || ''),
      el('td', { className: 'detail' }, e.detail || '')));
  }
}

// ------------------------------------------------------------------------------------- start

function setUp() {
  applyTexts();
  setUpConfirmDialog();
  setUpReleaseDialog();
  $('alert-close').addEventListener('click', () => hideError());
  $('language-switch').addEventListener('click', () => {
    lang = lang === 'de' ? 'en' : 'de';
    try {
      localStorage.setItem(LANGUAGE_KEY, lang);
    } catch (e) {
      // storage may be disabled
    }
    applyTexts();
    rerender();
  });
  for (const form of document.querySelectorAll('form')) {
    // form-action 'none': no form is ever submitted to the server
    form.addEventListener('submit', (event) => event.preventDefault());
  }
  $('inbox-refresh').addEventListener('click', () => loadInbox());
  $('inbox-state').addEventListener('change', () => loadInbox());
  $('inbox-text').addEventListener('input', renderInbox);
  $('inbox-sort').addEventListener('change', renderInbox);
  $('limits-refresh').addEventListener('click', () => loadLimits());
  $('monitor-lift').addEventListener('click', liftMonitor);
  $('ban-form').addEventListener('submit', addBan);
  $('gateways-refresh').addEventListener('click', () => loadGateways());
  $('notifications-refresh').addEventListener('click', () => loadNotifications());
  $('notifications-state').addEventListener('change', () => loadNotifications());
  $('audit-refresh').addEventListener('click', () => loadAudit());
  $('audit-text').addEventListener('input', renderAudit);
  window.addEventListener('hashchange', () => route());
  route({ focus: false });
}

// After a change of language: the current view again, from the server.
function rerender() {
  if (currentView === 'inbox') {
    renderInbox();
  } else {
    route({ focus: false });
  }
}

setUp();
