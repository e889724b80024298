// Every text of the upload page, in English and German. Values are strings with {named}
// placeholders, or {one, other} objects for words that depend on a count.

const en = {
  'lang.name': 'English',
  'lang.switch': 'Language',
  'app.product': 'Secure image upload',
  'app.loading': 'Loading…',
  'app.noscript': 'This page needs JavaScript.',
  'app.loadFailed': 'The upload service cannot be reached right now. Please check your internet connection and try again.',
  'app.retry': 'Try again',
  'app.title': 'Send medical images to {site}',
  'app.lead': 'Use this page to send X-ray, CT, MRI or other medical images, for example from a patient CD, directly to {site}. You do not need an account.',
  'app.footer': 'Your images are sent over an encrypted connection and only to {site}.',
  'app.footerPlain': 'Your images are sent only to {site}.',
  'app.skip': 'Skip to the form',
  'app.leaveWarning': 'The upload is still running. If you leave now, it stops.',

  'steps.label': 'Steps',
  'steps.privacy': 'Privacy',
  'steps.details': 'Your details',
  'steps.images': 'Images',
  'steps.send': 'Sending',
  'steps.receipt': 'Receipt',
  'steps.current': '(current step)',
  'steps.done': '(done)',

  'privacy.title': 'Privacy statement',
  'privacy.intro': 'Please read how your data and the images are handled.',
  'privacy.version': 'Version {version}',
  'privacy.accept': 'I have read the privacy statement and I agree to it.',
  'privacy.required': 'Please confirm that you agree to the privacy statement to continue.',

  'details.title': 'Your details',
  'details.intro': 'So that {site} knows who sent the images and can contact you.',
  'details.name': 'Your name',
  'details.email': 'E-mail address',
  'details.emailHint': 'We use it only to contact you about these images.',
  'details.institution': 'Hospital, practice or institution',
  'details.institutionHint': 'Leave empty if you are sending your own images.',
  'details.phone': 'Phone number',
  'details.recipient': 'Send to',
  'details.recipientChoose': 'Please choose…',
  'details.message': 'Message to the recipient',
  'details.messageHint': 'For example: which examination this is and why you are sending it.',
  'details.optional': '(optional)',
  'details.required': '(required)',
  'details.errorsTitle': 'Please correct the following:',

  'error.required': 'Please enter {field}.',
  'error.chooseRecipient': 'Please choose who should receive the images.',
  'error.tooLong': '{field} is too long (at most {max} characters).',
  'error.control': '{field} contains characters that cannot be sent.',
  'error.email': 'Please enter a valid e-mail address, like name@example.org.',

  'field.name': 'your name',
  'field.email': 'your e-mail address',
  'field.institution': 'The institution',
  'field.phone': 'The phone number',
  'field.message': 'The message',

  'images.title': 'Choose the images',
  'images.intro': 'Choose the folder of the CD or DVD (or the folder the images were copied to). You can also choose single files or a ZIP archive. Only medical images (DICOM) are sent; other files are ignored.',
  'images.pickFolder': 'Choose folder',
  'images.pickFiles': 'Choose files or ZIP',
  'images.drop': 'or drag a folder, files or a ZIP archive here',
  'images.dropActive': 'Drop to add',
  'images.scanning': 'Looking for images…',
  'images.scanProgress': '{done} of {total} files checked',
  'images.unzipping': 'Opening {name}…',
  'images.cancelScan': 'Stop',
  'images.noneFound': 'No medical images (DICOM) were found in what you chose. Please choose the folder of the CD, or the folder that holds the images.',
  'images.found': 'Found: {patients}, {studies}, {images} ({size}).',
  'images.selected': 'Selected to send: {studies}, {images} ({size}).',
  'images.nothingSelected': 'Please tick at least one examination to send.',
  'images.tooMany': 'This is more than {site} accepts in one upload ({max}). Please untick some examinations and send them in a second upload.',
  'images.tableCaption': 'Examinations found. Untick the ones you do not want to send.',
  'images.colSend': 'Send',
  'images.colPatient': 'Patient',
  'images.colDate': 'Date',
  'images.colModality': 'Type',
  'images.colDescription': 'Description',
  'images.colSeries': 'Series',
  'images.colImages': 'Images',
  'images.selectAll': 'Send all examinations',
  'images.selectStudy': 'Send the examination of {date}, {description}',
  'images.showSeries': 'Show series',
  'images.hideSeries': 'Hide series',
  'images.unknownPatient': 'Unknown patient',
  'images.unknownDate': 'Date unknown',
  'images.noDescription': 'No description',
  'images.unreadable': 'Images whose details could not be read',
  'images.birth': 'born {date}',
  'images.patientId': 'ID {id}',
  'images.pickAgain': 'Choose other images',
  'images.addMore': 'Add more images',
  'images.send': 'Send images',
  'images.skippedSummary': '{count} not sent — show why',
  'images.resumeNote': 'Continuing the interrupted upload: the examinations ticked below were part of it. Images that already arrived are not sent again.',
  'images.resumeMissing': '{count} of the interrupted upload were not found in what you chose. Choose the same folder as before to send them.',

  'skip.notDicom': 'not medical images (DICOM), for example programs or documents on the CD',
  'skip.dicomdir': 'index files of the CD (DICOMDIR); the hospital does not need them',
  'skip.notListed': 'not listed in the index of the CD (DICOMDIR)',
  'skip.empty': 'empty files',
  'skip.tooLarge': 'larger than the {max} allowed for one file',
  'skip.unreadable': 'could not be read from your computer',
  'skip.unticked': 'belong to examinations you did not tick',
  'skip.zipFailed': 'inside a ZIP archive that could not be opened',
  'skip.duplicate': 'already included (the same file was chosen twice)',
  'skip.missing': 'listed in the index of the CD but not found',
  'skip.sameImage': 'another version of an image that was already sent (same image identifier)',
  'skip.examples': 'For example: {files}',

  'send.title': 'Sending the images',
  'send.intro': 'Please keep this page open until the upload is finished.',
  'send.opening': 'Starting the upload…',
  'send.preparing': 'Preparing the images…',
  'send.progressLabel': 'Upload progress',
  'send.counts': '{done} of {total} images · {sent} of {size}',
  'send.speed': '{speed}/s',
  'send.timeLeft': 'about {time} left',
  'send.waitingNetwork': 'The connection was lost. The upload continues automatically when the connection is back.',
  'send.retrying': 'The server is busy. Trying again in {seconds} s…',
  'send.completing': 'Finishing the upload…',
  'send.confirming': 'Waiting for {site} to confirm receipt…',
  'send.announce': '{percent} percent sent.',
  'send.cancel': 'Cancel upload',
  'send.cancelConfirm': 'Cancel the upload? The images sent so far will be deleted.',
  'send.cancelYes': 'Yes, cancel',
  'send.cancelNo': 'No, continue',
  'send.cancelled': 'The upload was cancelled and the images sent so far were deleted.',
  'send.startOver': 'Start again',
  'send.someFailed': '{count} could not be sent because of connection problems.',
  'send.retryFailed': 'Try these again',
  'send.finishAnyway': 'Finish without them',
  'send.storageFull': '{site} cannot accept images at the moment. Your upload has been kept: please open this page again later to continue it.',
  'send.blocked': '{site} is not accepting uploads from your network at the moment. Your upload has been kept: please open this page again later (for example in 15 minutes) to continue it.',
  'send.closed': 'This upload can no longer be continued (it expired or was closed). Please start a new upload.',
  'send.openFailed': 'The upload could not be started: {reason}',
  'send.nothingArrived': 'None of the images could be sent, so nothing was delivered.',
  'send.error': 'Something went wrong: {reason}',

  'fail.invalid': 'not readable as medical images (damaged or incomplete)',
  'fail.tooLarge': 'too large for {site}',
  'fail.network': 'connection problems',
  'fail.changed': 'changed on your computer while being sent',
  'fail.unreadable': 'could not be read from your computer (was the CD removed?)',
  'fail.server': 'refused by the server',

  'receipt.title': 'Images received',
  'receipt.ok': 'Thank you. {site} has received your images.',
  'receipt.code': 'Your receipt code',
  'receipt.codeHint': 'Please quote this code if you call {site} about these images.',
  'receipt.site': 'Sent to',
  'receipt.recipient': 'Department',
  'receipt.sender': 'Sent by',
  'receipt.completedAt': 'Received on',
  'receipt.images': 'Images',
  'receipt.size': 'Size',
  'receipt.studies': 'Examinations received',
  'receipt.colDate': 'Date',
  'receipt.colModality': 'Type',
  'receipt.colDescription': 'Description',
  'receipt.colImages': 'Images',
  'receipt.notSent': 'Not sent',
  'receipt.failed': 'Could not be sent',
  'receipt.print': 'Print receipt',
  'receipt.again': 'Send more images',

  'resume.title': 'Continue your interrupted upload?',
  'resume.text': 'An upload to {site} started on {date} was interrupted: {received} of {total} have arrived.',
  'resume.how': 'To continue, choose the same folder, files or ZIP archive again. Images that already arrived are not sent again.',
  'resume.continue': 'Continue the upload',
  'resume.discard': 'Discard it',
  'resume.discarded': 'The interrupted upload was discarded.',
  'resume.gone': 'The interrupted upload can no longer be continued. Please start again.',

  'nav.continue': 'Continue',
  'nav.back': 'Back',

  'unit.B': 'B', 'unit.kB': 'kB', 'unit.MB': 'MB', 'unit.GB': 'GB', 'unit.TB': 'TB',
  'count.patients': { one: '{n} patient', other: '{n} patients' },
  'count.studies': { one: '{n} examination', other: '{n} examinations' },
  'count.images': { one: '{n} image', other: '{n} images' },
  'count.files': { one: '{n} file', other: '{n} files' },
  'count.series': { one: '{n} series', other: '{n} series' },
  'time.seconds': { one: '{n} second', other: '{n} seconds' },
  'time.minutes': { one: '{n} minute', other: '{n} minutes' },
  'time.hours': { one: '{n} hour', other: '{n} hours' },
};

const de = {
  'lang.name': 'Deutsch',
  'lang.switch': 'Sprache',
  'app.product': 'Sicherer Bild-Upload',
  'app.loading': 'Wird geladen …',
  'app.noscript': 'Diese Seite benötigt JavaScript.',
  'app.loadFailed': 'Der Upload-Dienst ist gerade nicht erreichbar. Bitte prüfen Sie Ihre Internetverbindung und versuchen Sie es erneut.',
  'app.retry': 'Erneut versuchen',
  'app.title': 'Medizinische Bilder an {site} senden',
  'app.lead': 'Mit dieser Seite senden Sie Röntgen-, CT-, MRT- oder andere medizinische Bilder, zum Beispiel von einer Patienten-CD, direkt an {site}. Sie brauchen kein Konto.',
  'app.footer': 'Ihre Bilder werden verschlüsselt übertragen und nur an {site} gesendet.',
  'app.footerPlain': 'Ihre Bilder werden nur an {site} gesendet.',
  'app.skip': 'Zum Formular springen',
  'app.leaveWarning': 'Der Upload läuft noch. Wenn Sie die Seite verlassen, wird er unterbrochen.',

  'steps.label': 'Schritte',
  'steps.privacy': 'Datenschutz',
  'steps.details': 'Ihre Angaben',
  'steps.images': 'Bilder',
  'steps.send': 'Senden',
  'steps.receipt': 'Bestätigung',
  'steps.current': '(aktueller Schritt)',
  'steps.done': '(erledigt)',

  'privacy.title': 'Datenschutzerklärung',
  'privacy.intro': 'Bitte lesen Sie, wie mit Ihren Daten und den Bildern umgegangen wird.',
  'privacy.version': 'Version {version}',
  'privacy.accept': 'Ich habe die Datenschutzerklärung gelesen und bin einverstanden.',
  'privacy.required': 'Bitte bestätigen Sie die Datenschutzerklärung, um fortzufahren.',

  'details.title': 'Ihre Angaben',
  'details.intro': 'Damit {site} weiß, wer die Bilder gesendet hat, und Sie erreichen kann.',
  'details.name': 'Ihr Name',
  'details.email': 'E-Mail-Adresse',
  'details.emailHint': 'Wir nutzen sie nur für Rückfragen zu diesen Bildern.',
  'details.institution': 'Klinik, Praxis oder Einrichtung',
  'details.institutionHint': 'Leer lassen, wenn Sie Ihre eigenen Bilder senden.',
  'details.phone': 'Telefonnummer',
  'details.recipient': 'Empfänger',
  'details.recipientChoose': 'Bitte wählen …',
  'details.message': 'Nachricht an den Empfänger',
  'details.messageHint': 'Zum Beispiel: um welche Untersuchung es sich handelt und warum Sie sie senden.',
  'details.optional': '(freiwillig)',
  'details.required': '(Pflichtfeld)',
  'details.errorsTitle': 'Bitte korrigieren Sie Folgendes:',

  'error.required': 'Bitte geben Sie {field} ein.',
  'error.chooseRecipient': 'Bitte wählen Sie, wer die Bilder erhalten soll.',
  'error.tooLong': '{field} ist zu lang (höchstens {max} Zeichen).',
  'error.control': '{field} enthält Zeichen, die nicht gesendet werden können.',
  'error.email': 'Bitte geben Sie eine gültige E-Mail-Adresse ein, etwa name@example.org.',

  'field.name': 'Ihren Namen',
  'field.email': 'Ihre E-Mail-Adresse',
  'field.institution': 'Die Einrichtung',
  'field.phone': 'Die Telefonnummer',
  'field.message': 'Die Nachricht',

  'images.title': 'Bilder auswählen',
  'images.intro': 'Wählen Sie den Ordner der CD oder DVD (oder den Ordner, in den die Bilder kopiert wurden). Sie können auch einzelne Dateien oder ein ZIP-Archiv wählen. Gesendet werden nur medizinische Bilder (DICOM); andere Dateien werden übergangen.',
  'images.pickFolder': 'Ordner wählen',
  'images.pickFiles': 'Dateien oder ZIP wählen',
  'images.drop': 'oder einen Ordner, Dateien oder ein ZIP-Archiv hierher ziehen',
  'images.dropActive': 'Zum Hinzufügen loslassen',
  'images.scanning': 'Bilder werden gesucht …',
  'images.scanProgress': '{done} von {total} Dateien geprüft',
  'images.unzipping': '{name} wird geöffnet …',
  'images.cancelScan': 'Abbrechen',
  'images.noneFound': 'In Ihrer Auswahl wurden keine medizinischen Bilder (DICOM) gefunden. Bitte wählen Sie den Ordner der CD oder den Ordner, in dem die Bilder liegen.',
  'images.found': 'Gefunden: {patients}, {studies}, {images} ({size}).',
  'images.selected': 'Zum Senden ausgewählt: {studies}, {images} ({size}).',
  'images.nothingSelected': 'Bitte wählen Sie mindestens eine Untersuchung aus.',
  'images.tooMany': 'Das ist mehr, als {site} in einem Upload annimmt ({max}). Bitte entfernen Sie einige Haken und senden Sie diese Untersuchungen in einem zweiten Upload.',
  'images.tableCaption': 'Gefundene Untersuchungen. Entfernen Sie den Haken bei denen, die Sie nicht senden möchten.',
  'images.colSend': 'Senden',
  'images.colPatient': 'Patient/in',
  'images.colDate': 'Datum',
  'images.colModality': 'Art',
  'images.colDescription': 'Beschreibung',
  'images.colSeries': 'Serien',
  'images.colImages': 'Bilder',
  'images.selectAll': 'Alle Untersuchungen senden',
  'images.selectStudy': 'Untersuchung vom {date} senden, {description}',
  'images.showSeries': 'Serien zeigen',
  'images.hideSeries': 'Serien ausblenden',
  'images.unknownPatient': 'Unbekannte/r Patient/in',
  'images.unknownDate': 'Datum unbekannt',
  'images.noDescription': 'Keine Beschreibung',
  'images.unreadable': 'Bilder, deren Angaben nicht gelesen werden konnten',
  'images.birth': 'geb. {date}',
  'images.patientId': 'ID {id}',
  'images.pickAgain': 'Andere Bilder wählen',
  'images.addMore': 'Weitere Bilder hinzufügen',
  'images.send': 'Bilder senden',
  'images.skippedSummary': '{count} werden nicht gesendet – Gründe anzeigen',
  'images.resumeNote': 'Der unterbrochene Upload wird fortgesetzt: Die unten angehakten Untersuchungen gehörten dazu. Bereits angekommene Bilder werden nicht erneut gesendet.',
  'images.resumeMissing': '{count} des unterbrochenen Uploads wurden in Ihrer Auswahl nicht gefunden. Wählen Sie denselben Ordner wie zuvor, um sie zu senden.',

  'skip.notDicom': 'keine medizinischen Bilder (DICOM), etwa Programme oder Dokumente auf der CD',
  'skip.dicomdir': 'Verzeichnisdateien der CD (DICOMDIR); das Krankenhaus benötigt sie nicht',
  'skip.notListed': 'nicht im Verzeichnis der CD (DICOMDIR) aufgeführt',
  'skip.empty': 'leere Dateien',
  'skip.tooLarge': 'größer als die für eine Datei erlaubten {max}',
  'skip.unreadable': 'konnten auf Ihrem Gerät nicht gelesen werden',
  'skip.unticked': 'gehören zu Untersuchungen ohne Haken',
  'skip.zipFailed': 'in einem ZIP-Archiv, das nicht geöffnet werden konnte',
  'skip.duplicate': 'bereits enthalten (dieselbe Datei wurde zweimal gewählt)',
  'skip.missing': 'im Verzeichnis der CD aufgeführt, aber nicht gefunden',
  'skip.sameImage': 'eine andere Fassung eines bereits gesendeten Bildes (gleiche Bildkennung)',
  'skip.examples': 'Zum Beispiel: {files}',

  'send.title': 'Die Bilder werden gesendet',
  'send.intro': 'Bitte lassen Sie diese Seite geöffnet, bis der Upload abgeschlossen ist.',
  'send.opening': 'Upload wird gestartet …',
  'send.preparing': 'Bilder werden vorbereitet …',
  'send.progressLabel': 'Fortschritt des Uploads',
  'send.counts': '{done} von {total} Bildern · {sent} von {size}',
  'send.speed': '{speed}/s',
  'send.timeLeft': 'noch etwa {time}',
  'send.waitingNetwork': 'Die Verbindung ist unterbrochen. Der Upload geht automatisch weiter, sobald sie wieder besteht.',
  'send.retrying': 'Der Server ist ausgelastet. Neuer Versuch in {seconds} s …',
  'send.completing': 'Upload wird abgeschlossen …',
  'send.confirming': 'Warten auf die Empfangsbestätigung von {site} …',
  'send.announce': '{percent} Prozent gesendet.',
  'send.cancel': 'Upload abbrechen',
  'send.cancelConfirm': 'Upload abbrechen? Die bisher gesendeten Bilder werden gelöscht.',
  'send.cancelYes': 'Ja, abbrechen',
  'send.cancelNo': 'Nein, weiter senden',
  'send.cancelled': 'Der Upload wurde abgebrochen; die bisher gesendeten Bilder wurden gelöscht.',
  'send.startOver': 'Neu beginnen',
  'send.someFailed': '{count} konnten wegen Verbindungsproblemen nicht gesendet werden.',
  'send.retryFailed': 'Erneut versuchen',
  'send.finishAnyway': 'Ohne sie abschließen',
  'send.storageFull': '{site} kann gerade keine Bilder annehmen. Ihr Upload bleibt erhalten: Bitte öffnen Sie diese Seite später erneut, um ihn fortzusetzen.',
  'send.blocked': '{site} nimmt von Ihrem Netzwerk gerade keine Uploads an. Ihr Upload bleibt erhalten: Bitte öffnen Sie diese Seite später erneut (zum Beispiel in 15 Minuten), um ihn fortzusetzen.',
  'send.closed': 'Dieser Upload kann nicht mehr fortgesetzt werden (er ist abgelaufen oder wurde geschlossen). Bitte beginnen Sie einen neuen Upload.',
  'send.openFailed': 'Der Upload konnte nicht gestartet werden: {reason}',
  'send.nothingArrived': 'Keines der Bilder konnte gesendet werden; es wurde nichts übermittelt.',
  'send.error': 'Etwas ist schiefgegangen: {reason}',

  'fail.invalid': 'nicht als medizinische Bilder lesbar (beschädigt oder unvollständig)',
  'fail.tooLarge': 'zu groß für {site}',
  'fail.network': 'Verbindungsprobleme',
  'fail.changed': 'wurden während des Sendens auf Ihrem Gerät verändert',
  'fail.unreadable': 'konnten auf Ihrem Gerät nicht gelesen werden (wurde die CD entnommen?)',
  'fail.server': 'vom Server abgelehnt',

  'receipt.title': 'Bilder empfangen',
  'receipt.ok': 'Vielen Dank. {site} hat Ihre Bilder erhalten.',
  'receipt.code': 'Ihr Bestätigungscode',
  'receipt.codeHint': 'Bitte nennen Sie diesen Code, wenn Sie {site} wegen dieser Bilder anrufen.',
  'receipt.site': 'Gesendet an',
  'receipt.recipient': 'Abteilung',
  'receipt.sender': 'Gesendet von',
  'receipt.completedAt': 'Empfangen am',
  'receipt.images': 'Bilder',
  'receipt.size': 'Größe',
  'receipt.studies': 'Empfangene Untersuchungen',
  'receipt.colDate': 'Datum',
  'receipt.colModality': 'Art',
  'receipt.colDescription': 'Beschreibung',
  'receipt.colImages': 'Bilder',
  'receipt.notSent': 'Nicht gesendet',
  'receipt.failed': 'Konnten nicht gesendet werden',
  'receipt.print': 'Bestätigung drucken',
  'receipt.again': 'Weitere Bilder senden',

  'resume.title': 'Unterbrochenen Upload fortsetzen?',
  'resume.text': 'Ein am {date} begonnener Upload an {site} wurde unterbrochen: {received} von {total} sind angekommen.',
  'resume.how': 'Wählen Sie zum Fortsetzen erneut denselben Ordner, dieselben Dateien oder dasselbe ZIP-Archiv. Bereits angekommene Bilder werden nicht erneut gesendet.',
  'resume.continue': 'Upload fortsetzen',
  'resume.discard': 'Verwerfen',
  'resume.discarded': 'Der unterbrochene Upload wurde verworfen.',
  'resume.gone': 'Der unterbrochene Upload kann nicht mehr fortgesetzt werden. Bitte beginnen Sie neu.',

  'nav.continue': 'Weiter',
  'nav.back': 'Zurück',

  'unit.B': 'B', 'unit.kB': 'kB', 'unit.MB': 'MB', 'unit.GB': 'GB', 'unit.TB': 'TB',
  'count.patients': { one: '{n} Patient/in', other: '{n} Patient/innen' },
  'count.studies': { one: '{n} Untersuchung', other: '{n} Untersuchungen' },
  'count.images': { one: '{n} Bild', other: '{n} Bilder' },
  'count.files': { one: '{n} Datei', other: '{n} Dateien' },
  'count.series': { one: '{n} Serie', other: '{n} Serien' },
  'time.seconds': { one: '{n} Sekunde', other: '{n} Sekunden' },
  'time.minutes': { one: '{n} Minute', other: '{n} Minuten' },
  'time.hours': { one: '{n} Stunde', other: '{n} Stunden' },
};

export const dictionaries = { en, de };
export const supportedLanguages = Object.keys(dictionaries);

let current = 'en';
const listeners = [];

export function language() {
  return current;
}

export function locale() {
  return current === 'de' ? 'de-DE' : 'en-GB';
}

export function setLanguage(lang) {
  if (!dictionaries[lang] || lang === current) {
    return;
  }
  current = lang;
  for (const listener of listeners) {
    listener(lang);
  }
}

export function onLanguageChange(listener) {
  listeners.push(listener);
}

// The best language for this browser among the offered ones (first one as fallback).
export function preferredLanguage(offered, stored) {
  const available = (offered && offered.length ? offered : supportedLanguages)
    .filter((l) => dictionaries[l]);
  if (available.length === 0) {
    return 'en';
  }
  if (stored && available.includes(stored)) {
    return stored;
  }
  const wanted = (navigator.languages && navigator.languages.length)
    ? navigator.languages : [navigator.language || ''];
  for (const tag of wanted) {
    const primary = String(tag).toLowerCase().split('-')[0];
    if (available.includes(primary)) {
      return primary;
    }
  }
  return available[0];
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (match, name) =>
    (params && params[name] !== undefined ? String(params[name]) : match));
}

export function t(key, params) {
  let value = dictionaries[current][key];
  if (value === undefined) {
    value = en[key];
  }
  if (value === undefined) {
    return key;
  }
  if (typeof value === 'object') {
    const n = params && typeof params.n === 'number' ? params.n : 0;
    value = value[new Intl.PluralRules(locale()).select(n)] || value.other;
    params = { ...params, n: n.toLocaleString(locale()) };
  }
  return fill(value, params);
}

// A count with its noun, e.g. tn('count.images', 3) = "3 images".
export function tn(key, n) {
  return t(key, { n });
}
