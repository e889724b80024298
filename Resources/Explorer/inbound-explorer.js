// Orthanc Inbound in Orthanc Explorer (Orthanc 1.10.1: jQuery 1.7, jQuery Mobile 1.1).
//
//  - the home page ("#lookup") gets a button to the admin page (/inbound/admin/ui/);
//  - the page of a study received through the plugin ("#study?uuid=…") gets a panel with
//    the sender, the message, the receipt code, the integrity check and the actions
//    (release, delete the upload, ban the sender's address);
//  - the page of one of the hospital's own patients ("#patient?uuid=…") gets "Request
//    images…": the admin page's new-request form with the patient's id, name and birth date.
//
// Every text of a sender is inserted with jQuery's .text(), never as HTML.
(function () {
  'use strict';

  if (typeof window.jQuery === 'undefined') {
    return;
  }
  var $ = window.jQuery;

  // Explorer is /app/explorer.html: the plugin's routes are one level up.
  var ADMIN_API = '../inbound/admin/';
  var ADMIN_PAGE = '../inbound/admin/ui/';
  var PANEL_ID = 'inbound-study-panel';
  var BAN_SECONDS = 86400;
  var requestSerial = 0;
  var panelStudy = null;  // the study whose panel is shown or on its way
  var REQUEST_BUTTON_ID = 'inbound-request-images';
  var patientSerial = 0;
  var buttonPatient = null;  // the patient whose button is shown or on its way

  // Every call to the plugin says it comes from a script of this site: admin writes without
  // X-Requested-With (or the site's own Origin) are refused (403 cross-site) against
  // cross-site request forgery. jQuery 1.7 adds it to same-origin requests by itself; it is
  // set here anyway, so that a change of Explorer's jQuery cannot break the actions.
  function adminAjax(options) {
    options.headers = $.extend({ 'X-Requested-With': 'XMLHttpRequest' }, options.headers || {});
    return $.ajax(options);
  }

  function addStyles() {
    if (document.getElementById('inbound-explorer-style')) {
      return;
    }
    var style = document.createElement('style');
    style.id = 'inbound-explorer-style';
    style.textContent = [
      '#' + PANEL_ID + ' { margin: 0 0 1em; }',
      '#' + PANEL_ID + ' .inbound-body { border: 2px solid #1f5c99; border-radius: 8px; padding: 0.5em 1em 0.75em; background: #f4f8fc; }',
      '#' + PANEL_ID + ' h3 { margin: 0.3em 0 0.6em; color: #174a7c; }',
      '#' + PANEL_ID + ' dl { margin: 0; display: table; width: 100%; }',
      '#' + PANEL_ID + ' .inbound-row { display: table-row; }',
      '#' + PANEL_ID + ' dt, #' + PANEL_ID + ' dd { display: table-cell; padding: 0.2em 0.5em 0.2em 0; vertical-align: top; }',
      '#' + PANEL_ID + ' dt { font-weight: bold; white-space: nowrap; width: 1%; color: #333; }',
      '#' + PANEL_ID + ' dd { margin: 0; word-break: break-word; overflow-wrap: anywhere; }',
      '#' + PANEL_ID + ' .inbound-message { white-space: pre-wrap; }',
      '#' + PANEL_ID + ' .inbound-verified-ok { color: #1d7a3e; font-weight: bold; }',
      '#' + PANEL_ID + ' .inbound-verified-bad { color: #b3261e; font-weight: bold; }',
      '#' + PANEL_ID + ' .inbound-alert { color: #b3261e; font-weight: bold; margin: 0.5em 0 0; }',
      '#' + PANEL_ID + ' .inbound-status { color: #1d7a3e; margin: 0.5em 0 0; }',
      '#' + PANEL_ID + ' .inbound-buttons { margin-top: 0.5em; }',
      '#inbound-open-admin { margin: 0 0 1em; }'
    ].join('\n');
    document.getElementsByTagName('head')[0].appendChild(style);
  }

  function formatTime(iso) {
    if (!iso) {
      return '—';
    }
    var date = new Date(iso);
    if (isNaN(date.getTime())) {
      return String(iso);
    }
    try {
      return date.toLocaleString();
    } catch (e) {
      return date.toISOString();
    }
  }

  // The uuid of "#<page>?uuid=…" in the address, or null.
  function hashUuid(page) {
    var m = new RegExp('^#' + page + '\\?(?:.*&)?uuid=([^&]+)').exec(window.location.hash);
    return m ? decodeURIComponent(m[1]) : null;
  }

  // The resource that page shows: jQuery Mobile's page data, else the address.
  function currentUuid(page) {
    if ($.mobile && $.mobile.pageData && $.mobile.pageData.uuid) {
      return String($.mobile.pageData.uuid);
    }
    return hashUuid(page) || '';
  }

  function pageIsActive(page) {
    return !!($.mobile && $.mobile.activePage && $.mobile.activePage.attr('id') === page);
  }

  function removePanel() {
    requestSerial += 1;  // an answer still on its way is for a page that is gone
    panelStudy = null;
    $('#' + PANEL_ID).remove();
  }

  function errorMessage(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.message) {
        return body.message + (body.error ? ' (' + body.error + ', HTTP ' + xhr.status + ')' : '');
      }
    } catch (e) {
      // not JSON
    }
    return 'HTTP ' + xhr.status;
  }

  function confirmThen(title, text, okLabel, action) {
    // Orthanc Explorer's own confirmation dialog, when it is there. It inserts its texts as
    // HTML: only fixed texts are given to it, never a sender's or the server's.
    if ($.fn.simpledialog2) {
      var buttons = {};
      buttons[okLabel] = { click: function () { action(); }, icon: 'alert', theme: 'c' };
      buttons.Cancel = { click: function () {} };
      $(document).simpledialog2({
        mode: 'button',
        animate: false,
        headerText: title,
        headerClose: true,
        buttonPrompt: text,
        width: '500px',
        buttons: buttons
      });
    } else if (window.confirm(title + '\n\n' + text)) {
      action();
    }
  }

  function row(list, label, value) {
    var dd = $('<dd>');
    if (value instanceof $) {
      dd.append(value);
    } else {
      dd.text(value === undefined || value === null || value === '' ? '—' : String(value));
    }
    list.append($('<div>').addClass('inbound-row').append($('<dt>').text(label)).append(dd));
    return dd;
  }

  function buildPanel(info, studyId) {
    var sender = info.sender || {};
    var recipient = info.recipient || {};
    var uploadId = String(info.uploadId || '');
    var panel = $('<div>').attr('id', PANEL_ID).attr('role', 'region')
      .attr('aria-labelledby', PANEL_ID + '-title').attr('data-study', studyId);
    var body = $('<div>').addClass('inbound-body');
    panel.append(body);
    body.append($('<h3>').attr('id', PANEL_ID + '-title').text('Received through Orthanc Inbound'));

    var list = $('<dl>');
    row(list, 'Sender', sender.name);
    row(list, 'Institution', sender.institution);
    if (sender.email) {
      row(list, 'E-mail', $('<a>').attr('href', 'mailto:' + String(sender.email))
        .attr('rel', 'external').attr('data-ajax', 'false').text(String(sender.email)));
    } else {
      row(list, 'E-mail', '');
    }
    row(list, 'Phone', sender.phone);
    row(list, 'Message', info.message).addClass('inbound-message');
    row(list, 'Recipient', recipient.name || recipient.id);
    row(list, 'Consent', info.consentVersion ? 'privacy statement version ' + info.consentVersion + ' accepted' : '');
    row(list, 'Client address', info.clientIp);
    if (info.viaGateway) {
      row(list, 'Via gateway', info.viaGateway);
    }
    row(list, 'Received', formatTime(info.receivedAt));
    if (info.completedAt) {
      row(list, 'Completed', formatTime(info.completedAt));
    }
    row(list, 'Receipt code', info.receiptCode);
    row(list, 'Upload', uploadId + (info.state ? ' (' + info.state + ')' : ''));
    if (info.originalPatientId) {
      row(list, 'Sender\'s PatientID', info.originalPatientId);
    }
    var instances = Number(info.instances) || 0;
    var verified = Number(info.verifiedInstances) || 0;
    row(list, 'Integrity', $('<span>')
      .addClass(verified === instances && instances > 0 ? 'inbound-verified-ok' : 'inbound-verified-bad')
      .text(verified + ' of ' + instances + ' instances verified by SHA-256'));
    if ($.isArray(info.forwards) && info.forwards.length > 0) {
      var forwards = $.map(info.forwards, function (f) {
        return String(f.modality || '') + ': ' + String(f.state || '') +
          (f.lastError ? ' (' + String(f.lastError) + ')' : '');
      });
      row(list, 'Released', forwards.join('; '));
    }
    body.append(list);

    var alert = $('<p>').addClass('inbound-alert').attr('role', 'alert');
    var status = $('<p>').addClass('inbound-status').attr('role', 'status');
    var buttons = $('<div>').addClass('inbound-buttons');

    var release = $('<a>').attr('id', 'inbound-release')
      .attr('href', ADMIN_PAGE + '#release=' + encodeURIComponent(uploadId))
      .attr('rel', 'external').attr('data-ajax', 'false')
      .attr('data-role', 'button').attr('data-inline', 'true').attr('data-icon', 'forward').attr('data-theme', 'b')
      .text('Release…');
    var remove = $('<a>').attr('id', 'inbound-delete-upload').attr('href', '#').attr('role', 'button')
      .attr('data-role', 'button').attr('data-inline', 'true').attr('data-icon', 'delete')
      .text('Delete upload…');
    var ban = $('<a>').attr('id', 'inbound-ban-sender').attr('href', '#').attr('role', 'button')
      .attr('data-role', 'button').attr('data-inline', 'true').attr('data-icon', 'alert')
      .text('Ban sender…');
    var open = $('<a>').attr('id', 'inbound-open-upload')
      .attr('href', ADMIN_PAGE + '#upload=' + encodeURIComponent(uploadId))
      .attr('rel', 'external').attr('data-ajax', 'false')
      .attr('data-role', 'button').attr('data-inline', 'true').attr('data-icon', 'info')
      .text('Upload in the inbox');
    if (info.state !== 'complete') {
      release = null;
    }
    buttons.append(release).append(open).append(remove);
    if (info.clientIp) {
      buttons.append(ban);
    }
    body.append(buttons).append(alert).append(status);

    remove.click(function (e) {
      e.preventDefault();
      confirmThen('Delete this upload?',
        'Every study of this upload is removed from Orthanc. The record and its history are kept.',
        'Delete', function () {
          alert.text('');
          adminAjax({
            url: ADMIN_API + 'uploads/' + encodeURIComponent(uploadId),
            type: 'DELETE',
            dataType: 'json',
            cache: false,
            success: function () {
              removePanel();
              $.mobile.changePage('#lookup');
            },
            error: function (xhr) {
              alert.text('The upload could not be deleted: ' + errorMessage(xhr));
            }
          });
        });
    });

    ban.click(function (e) {
      e.preventDefault();
      var ip = String(info.clientIp || '');
      confirmThen('Ban the sender\'s address?',
        'The client address of this upload cannot send anything for 1 day.', 'Ban for 1 day', function () {
          alert.text('');
          adminAjax({
            url: ADMIN_API + 'bans',
            type: 'POST',
            contentType: 'application/json',
            data: JSON.stringify({ entry: ip, seconds: BAN_SECONDS, reason: 'Upload ' + uploadId + ' (Orthanc Explorer)' }),
            dataType: 'json',
            cache: false,
            success: function () {
              status.text('Address ' + ip + ' banned for 1 day.');
            },
            error: function (xhr) {
              alert.text('The address could not be banned: ' + errorMessage(xhr));
            }
          });
        });
    });
    return panel;
  }

  function showPanel() {
    removePanel();
    var studyId = currentUuid('study');
    if (!studyId) {
      return;
    }
    var serial = requestSerial;
    panelStudy = studyId;
    adminAjax({
      url: ADMIN_API + 'studies/' + encodeURIComponent(studyId),
      dataType: 'json',
      cache: false,
      success: function (info) {
        var hashId = hashUuid('study');
        if (serial !== requestSerial || (hashId !== null && hashId !== studyId) || !info) {
          return;  // another page is shown by now
        }
        addStyles();
        var panel = buildPanel(info, studyId);
        var target = $('#list-series').closest('div');
        if (target.length) {
          target.prepend(panel);
        } else {
          $('#study [data-role="content"]').first().prepend(panel);
        }
        panel.trigger('create');
      },
      error: function () {
        // 404: not received through the plugin; anything else: no panel either.
      }
    });
  }

  function addAdminButton() {
    if ($('#inbound-open-admin').length) {
      return;
    }
    addStyles();
    var link = $('<a>').attr('id', 'inbound-open-admin').attr('href', ADMIN_PAGE)
      .attr('rel', 'external').attr('data-ajax', 'false')
      .attr('data-role', 'button').attr('data-icon', 'forward').attr('data-theme', 'b')
      .text('Inbound: uploads from outside senders');
    var form = $('#lookup-form');
    if (form.length) {
      link.insertBefore(form);
    } else {
      $('#lookup [data-role="content"]').first().prepend(link);
    }
    if ($.fn.button) {
      link.button();
    }
  }

  function removeRequestButton() {
    patientSerial += 1;  // an answer still on its way is for a page that is gone
    buttonPatient = null;
    var item = $('#' + REQUEST_BUTTON_ID).closest('li');
    var list = item.closest('ul');
    item.remove();
    if (list.length && $.fn.listview) {
      list.listview('refresh');
    }
  }

  // "#new-request?patientId=…&patientName=…&birthDate=…" of the admin page (src/main.js).
  function newRequestUrl(tags) {
    var params = [];
    $.each([['patientId', tags.PatientID], ['patientName', tags.PatientName],
      ['birthDate', tags.PatientBirthDate]], function (i, pair) {
      if (pair[1]) {
        params.push(pair[0] + '=' + encodeURIComponent(String(pair[1])));
      }
    });
    return ADMIN_PAGE + '#new-request' + (params.length ? '?' + params.join('&') : '');
  }

  function addRequestButton(tags) {
    var link = $('<a>').attr('id', REQUEST_BUTTON_ID).attr('href', newRequestUrl(tags))
      .attr('rel', 'external').attr('data-ajax', 'false').text('Request images…');
    var item = $('<li>').attr('data-icon', 'forward').append(link);
    var list = $('#patient-delete').closest('ul');
    if (list.length) {
      list.append(item);
      if ($.fn.listview) {
        list.listview('refresh');
      }
    } else {
      $('#patient [data-role="content"]').first().prepend($('<ul>').append(item));
    }
  }

  // Only for the hospital's own patients: a patient the plugin stored (isolated PatientID) has
  // studies that the plugin knows (admin/studies/{id} answers 200, as for the study panel);
  // a button is added only when every study of the patient is unknown to it (404).
  function showRequestButton() {
    removeRequestButton();
    var patientId = currentUuid('patient');
    if (!patientId) {
      return;
    }
    var serial = patientSerial;
    buttonPatient = patientId;
    $.ajax({
      url: '../patients/' + encodeURIComponent(patientId),
      dataType: 'json',
      cache: false,
      success: function (patient) {
        if (serial !== patientSerial || !patient) {
          return;
        }
        var studies = $.isArray(patient.Studies) ? patient.Studies : [];
        var pending = studies.length;
        var own = true;
        var finish = function () {
          var hashId = hashUuid('patient');
          if (serial === patientSerial && own && (hashId === null || hashId === patientId)) {
            addRequestButton(patient.MainDicomTags || {});
          }
        };
        if (pending === 0) {
          finish();
        }
        $.each(studies, function (i, study) {
          adminAjax({
            url: ADMIN_API + 'studies/' + encodeURIComponent(study),
            dataType: 'json',
            cache: false,
            complete: function (xhr) {
              own = own && xhr.status === 404;
              pending -= 1;
              if (pending === 0) {
                finish();
              }
            }
          });
        });
      }
    });
  }

  $('#lookup').live('pagebeforeshow', addAdminButton);
  $('#patient').live('pagebeforeshow', showRequestButton);
  $('#patient').live('pagebeforehide', removeRequestButton);
  $('#study').live('pagebeforeshow', showPanel);
  $('#study').live('pagebeforehide', removePanel);
  $('#study').live('pagehide', removePanel);
  // From one study straight to another (links, the back button): jQuery Mobile stays on the
  // same page and fires no "pagebeforeshow", only "pagechange" (Orthanc Explorer refreshes
  // its own content on "hashchange"). The panel must follow the study shown.
  $(document).bind('pagechange', function () {
    if (pageIsActive('study') && currentUuid('study') !== panelStudy) {
      showPanel();
    }
    if (pageIsActive('patient') && currentUuid('patient') !== buttonPatient) {
      showRequestButton();
    }
  });
}());
