// E-mail addresses and messages: parsing addresses, composing MIME mails no header can break.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace Inbound
{
  // A mailbox: an optional display name (UTF-8) and an ASCII addr-spec.
  struct MailAddress
  {
    std::string name;
    std::string address;

    // Accepts "address" and "Display Name <address>"; false for anything else, for
    // addresses with characters outside a conservative addr-spec, and for any control
    // character, so that nothing parsed here can break out of a header.
    static bool Parse(MailAddress& result, const std::string& text);

    static bool IsValidAddress(const std::string& address);

    // The domain part of the address ("hospital.example").
    std::string GetDomain() const;
  };

  // Everything of one e-mail; sender-controlled text may appear in "subject", "text" and
  // "html" only. Compose() encodes every header so that no value can add a header.
  struct MailContent
  {
    MailAddress from;
    std::vector<MailAddress> to;
    std::string replyTo;    // an address (checked again), or empty
    std::string subject;    // UTF-8, any characters: control characters become spaces
    std::string text;       // UTF-8 plain text body
    std::string html;       // UTF-8 HTML body
    std::string messageId;  // "local@domain", without angle brackets
    int64_t dateMs = 0;
    std::vector<std::pair<std::string, std::string>> extraHeaders;  // ASCII tokens only
  };

  namespace Mail
  {
    // Drops invalid UTF-8 sequences and replaces control characters, C1 ones included, by
    // spaces (except, when "keepLines", line feeds, CR LF pairs and tabs).
    std::string CleanText(const std::string& text, bool keepLines);

    // "Name: value" folded at 78 columns, with RFC 2047 encoded words ("=?UTF-8?B?...?=")
    // whenever the value is not short printable ASCII. Ends without CRLF.
    std::string EncodeUnstructuredHeader(const std::string& name, const std::string& value);

    // A mailbox for From/To: the display name as quoted string or encoded words.
    std::string EncodeMailbox(const MailAddress& mailbox);

    // RFC 5322 date-time in UTC: "Mon, 23 Nov 2026 12:34:56 +0000".
    std::string FormatDate(int64_t ms);

    // The whole message, CRLF line ends: headers, then a multipart/alternative body with a
    // text/plain and a text/html part, both UTF-8 in base64. "boundary" must be made of
    // characters that base64 never produces at a line start ("=_" followed by anything).
    std::string Compose(const MailContent& content, const std::string& boundary);
  }
}
