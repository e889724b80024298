// libFuzzer target: composing an e-mail from sender-controlled text (display name, subject
// words, message, reply-to address). The threat is header injection: whatever a sender
// types, the message must keep exactly the headers the plugin writes.
//
// Input: up to four fields separated by NUL bytes: sender name, subject, message, reply-to.
#include <OrthancFramework.h> // first: it defines what the framework headers test

#include "Notify/MailMessage.h"

#include <Toolbox.h>

#include <boost/algorithm/string/find_iterator.hpp>
#include <boost/algorithm/string/finder.hpp>
#include <boost/algorithm/string/split.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace
{
  void Check(bool condition)
  {
    if (!condition)
    {
      __builtin_trap();
    }
  }

  std::vector<std::string> SplitCrLf(const std::string& text)
  {
    std::vector<std::string> lines;
    boost::algorithm::iter_split(lines, text, boost::algorithm::first_finder("\r\n"));
    return lines;
  }

  // Every CR is followed by LF and every LF preceded by CR.
  void CheckLineBreaks(const std::string& text)
  {
    for (size_t i = 0; i < text.size(); i++)
    {
      if (text[i] == '\n')
      {
        Check(i > 0 && text[i - 1] == '\r');
      }
      if (text[i] == '\r')
      {
        Check(i + 1 < text.size() && text[i + 1] == '\n');
      }
    }
  }

  bool StartsWith(const std::string& s, const char* prefix)
  {
    return s.compare(0, strlen(prefix), prefix) == 0;
  }

  // A continuation line: folding white space, then something (an all-blank line would be
  // the obsolete syntax that some parsers take for the end of the headers).
  bool IsContinuation(const std::string& line)
  {
    return !line.empty() && line[0] == ' ' && line.find_first_not_of(' ') != std::string::npos;
  }

  std::string DecodeBase64(const std::string& text)
  {
    std::string result;
    Orthanc::Toolbox::DecodeBase64(result, text);
    return result;
  }

  // The text of an unstructured header as a mail client shows it.
  std::string DecodeUnstructured(const std::string& header)
  {
    const std::string value = header.substr(header.find(':') + 2);
    if (!StartsWith(value, "=?UTF-8?B?"))
    {
      return value;
    }
    std::string result;
    size_t start = 0;
    while ((start = value.find("=?UTF-8?B?", start)) != std::string::npos)
    {
      const size_t end = value.find("?=", start + 10);
      Check(end != std::string::npos);
      const std::string word = DecodeBase64(value.substr(start + 10, end - start - 10));
      Check(Inbound::Mail::CleanText(word, false) == word); // whole characters per word
      result += word;
      start = end + 2;
    }
    return result;
  }

  std::string DecodePart(const std::string& message, const std::string& type,
                         const std::string& boundary)
  {
    const std::string marker =
        "Content-Type: " + type + "; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    const size_t start = message.find(marker);
    Check(start != std::string::npos);
    const size_t end = message.find("\r\n--" + boundary, start + marker.size() - 2);
    Check(end != std::string::npos);
    std::string base64;
    for (size_t i = start + marker.size(); i < end; i++)
    {
      if (message[i] != '\r' && message[i] != '\n')
      {
        base64 += message[i];
      }
    }
    return DecodeBase64(base64);
  }

  std::string Canonical(const std::string& text)
  {
    std::string result;
    for (char c : Inbound::Mail::CleanText(text, true))
    {
      if (c != '\r')  // CR LF pairs are kept by CleanText and become one line end
      {
        result += c == '\n' ? std::string("\r\n") : std::string(1, c);
      }
    }
    return result;
  }

  void CheckMailbox(const std::string& name)
  {
    Inbound::MailAddress parsed;
    if (!Inbound::MailAddress::Parse(parsed, name))
    {
      return;
    }
    Check(Inbound::MailAddress::IsValidAddress(parsed.address));
    const std::string encoded = Inbound::Mail::EncodeMailbox(parsed);
    CheckLineBreaks(encoded);
    const std::vector<std::string> lines = SplitCrLf(encoded);
    for (size_t i = 1; i < lines.size(); i++)
    {
      Check(IsContinuation(lines[i]));
    }
    const std::string tail = "<" + parsed.address + ">";
    Check(encoded.size() >= tail.size() &&
          encoded.compare(encoded.size() - tail.size(), tail.size(), tail) == 0);
  }
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> fields;
  size_t start = 0;
  while (fields.size() < 3)
  {
    const size_t end = input.find('\0', start);
    if (end == std::string::npos)
    {
      break;
    }
    fields.push_back(input.substr(start, end - start));
    start = end + 1;
  }
  fields.push_back(start <= input.size() ? input.substr(start) : "");
  fields.resize(4);
  const std::string& name = fields[0];
  const std::string& subject = fields[1];
  const std::string& message = fields[2];
  const std::string& replyTo = fields[3];

  CheckMailbox(name);

  Inbound::MailContent mail;
  mail.from = Inbound::MailAddress{"Orthanc Inbound", "inbound@hospital.example"};
  mail.to.push_back(Inbound::MailAddress{name, "sender@clinic.example"}); // like a receipt
  Inbound::MailAddress parsed;
  if (Inbound::MailAddress::Parse(parsed, name))
  {
    mail.to.push_back(parsed);
  }
  mail.replyTo = replyTo;
  mail.subject = subject;
  mail.text = message;
  mail.html = message;
  mail.messageId = "inbound.0123456789abcdef@hospital.example";
  mail.dateMs = 1795437296000;
  mail.extraHeaders.push_back({"Auto-Submitted", "auto-generated"});
  mail.extraHeaders.push_back({"X-Inbound-Upload", replyTo});
  mail.extraHeaders.push_back({"X-Inbound-Event", subject});
  const std::string boundary = "=_inbound_0123456789abcdef01234567";
  const std::string m = Inbound::Mail::Compose(mail, boundary);

  CheckLineBreaks(m);
  const size_t end = m.find("\r\n\r\n");
  Check(end != std::string::npos);

  static const char* const kKnown[] = {"Date: ",
                                       "From: ",
                                       "To: ",
                                       "Reply-To: ",
                                       "Subject: ",
                                       "Message-ID: ",
                                       "Auto-Submitted: ",
                                       "X-Inbound-Upload: ",
                                       "X-Inbound-Event: ",
                                       "MIME-Version: ",
                                       "Content-Type: ",
                                       nullptr};
  // The headers, each with its continuation lines (unfolded: CRLF removed).
  std::vector<std::string> headers;
  for (const std::string& line : SplitCrLf(m.substr(0, end)))
  {
    Check(line.size() <= 998);
    if (IsContinuation(line))
    {
      Check(!headers.empty());
      headers.back() += line;
    }
    else
    {
      bool known = false;
      for (const char* const* k = kKnown; *k != nullptr; ++k)
      {
        known = known || StartsWith(line, *k);
      }
      Check(known);
      headers.push_back(line);
    }
  }
  size_t to = 0, from = 0, subjects = 0, date = 0, id = 0, version = 0, reply = 0;
  std::string subjectHeader;
  for (const std::string& header : headers)
  {
    to += StartsWith(header, "To: ") ? 1 : 0;
    from += StartsWith(header, "From: ") ? 1 : 0;
    date += StartsWith(header, "Date: ") ? 1 : 0;
    id += StartsWith(header, "Message-ID: ") ? 1 : 0;
    version += StartsWith(header, "MIME-Version: ") ? 1 : 0;
    reply += StartsWith(header, "Reply-To: ") ? 1 : 0;
    if (StartsWith(header, "Subject: "))
    {
      subjects++;
      subjectHeader = header;
    }
  }
  Check(to == 1 && from == 1 && subjects == 1 && date == 1 && id == 1 && version == 1);
  Check(reply == (!replyTo.empty() && Inbound::MailAddress::IsValidAddress(replyTo) ? 1u : 0u));
  Check(DecodeUnstructured(subjectHeader) == Inbound::Mail::CleanText(subject, false));

  Check(DecodePart(m, "text/plain", boundary) == Canonical(message));
  Check(DecodePart(m, "text/html", boundary) == Canonical(message));
  return 0;
}
