// E-mail addresses and messages: parsing addresses, composing MIME mails no header can break.
#include "MailMessage.h"

#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include <Toolbox.h>

#include <boost/locale/encoding_utf.hpp>
#include <boost/regex.hpp>

#include <ctime>

namespace Inbound
{
  namespace
  {
    const size_t kMaxLine = 78;

    // Encoded words hold at most 45 bytes of text (60 base64 characters plus the 12 of
    // "=?UTF-8?B?" and "?="), cut between UTF-8 characters.
    const size_t kWordBytes = 45;

    bool IsPrintableAscii(const std::string& s)
    {
      for (unsigned char c : s)
      {
        if (c < 0x20 || c > 0x7e)
        {
          return false;
        }
      }
      return true;
    }

    std::string EncodedWord(const std::string& chunk)
    {
      std::string base64;
      Orthanc::Toolbox::EncodeBase64(base64, chunk);
      return "=?UTF-8?B?" + base64 + "?=";
    }

    // The encoded words of "text", each a whole number of UTF-8 characters.
    // "firstBytes": what fits on the first line, after the header's name.
    std::vector<std::string> EncodedWords(const std::string& text, size_t firstBytes = kWordBytes)
    {
      std::vector<std::string> words;
      size_t start = 0;
      while (start < text.size())
      {
        const size_t limit = words.empty() ? std::max<size_t>(firstBytes, 3) : kWordBytes;
        size_t end = std::min(start + limit, text.size());
        while (end < text.size() && end > start + 1 &&
               (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80)
        {
          end--;  // do not cut a character
        }
        words.push_back(EncodedWord(text.substr(start, end - start)));
        start = end;
      }
      return words;
    }

    std::string FoldBase64(const std::string& data)
    {
      std::string base64;
      Orthanc::Toolbox::EncodeBase64(base64, data);
      std::string result;
      result.reserve(base64.size() + base64.size() / 38 + 2);
      for (size_t i = 0; i < base64.size(); i += 76)
      {
        result += base64.substr(i, 76);
        result += "\r\n";
      }
      return result;
    }

    // Line ends of a text body made CRLF, as MIME wants for text.
    std::string CanonicalLines(const std::string& text)
    {
      std::string result;
      result.reserve(text.size() + text.size() / 40);
      for (char c : text)
      {
        if (c == '\r')
        {
          continue;
        }
        if (c == '\n')
        {
          result += "\r\n";
        }
        else
        {
          result += c;
        }
      }
      return result;
    }

    bool IsHeaderToken(const std::string& name)
    {
      static const boost::regex kToken("[A-Za-z0-9-]{1,64}");
      return boost::regex_match(name, kToken);
    }
  }

  bool MailAddress::IsValidAddress(const std::string& address)
  {
    // Dot-atom local part and domain of RFC 5322, ASCII only; deliberately stricter than
    // the standard (no quoted local parts, no address literals).
    static const boost::regex kAddress(
      "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
      "@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+");
    return address.size() <= 254 && boost::regex_match(address, kAddress);
  }

  bool MailAddress::Parse(MailAddress& result, const std::string& text)
  {
    for (unsigned char c : text)
    {
      if (c < 0x20 || c == 0x7f)
      {
        return false;
      }
    }
    const size_t open = text.rfind('<');
    if (open == std::string::npos)
    {
      const std::string address = Orthanc::Toolbox::StripSpaces(text);
      if (!IsValidAddress(address))
      {
        return false;
      }
      result.name.clear();
      result.address = address;
      return true;
    }
    if (text.empty() || text.back() != '>')
    {
      return false;
    }
    const std::string address = text.substr(open + 1, text.size() - open - 2);
    std::string name = Orthanc::Toolbox::StripSpaces(text.substr(0, open));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
    {
      name = name.substr(1, name.size() - 2);
    }
    if (!IsValidAddress(address) || name.find_first_of("<>\"") != std::string::npos)
    {
      return false;
    }
    result.name = name;
    result.address = address;
    return true;
  }

  std::string MailAddress::GetDomain() const
  {
    const size_t at = address.rfind('@');
    return at == std::string::npos ? "localhost" : address.substr(at + 1);
  }

  namespace Mail
  {
    std::string CleanText(const std::string& text, bool keepLines)
    {
      std::string valid = boost::locale::conv::utf_to_utf<char>(
        text.data(), text.data() + text.size(), boost::locale::conv::skip);
      std::string result;
      result.reserve(valid.size());
      for (size_t i = 0; i < valid.size(); i++)
      {
        const unsigned char u = static_cast<unsigned char>(valid[i]);
        if (u == 0xc2 && i + 1 < valid.size() &&
            static_cast<unsigned char>(valid[i + 1]) >= 0x80 &&
            static_cast<unsigned char>(valid[i + 1]) <= 0x9f)
        {
          result += ' ';  // a C1 control character (U+0080 to U+009F), e.g. NEL
          i++;
        }
        else if ((u < 0x20 || u == 0x7f) &&
                 !(keepLines && (u == '\n' || u == '\t' ||
                                 (u == '\r' && i + 1 < valid.size() && valid[i + 1] == '\n'))))
        {
          result += ' ';
        }
        else
        {
          result += valid[i];
        }
      }
      return result;
    }

    std::string EncodeUnstructuredHeader(const std::string& name, const std::string& value)
    {
      const std::string clean = CleanText(value, false);
      const std::string plain = name + ": " + clean;
      if (IsPrintableAscii(clean) && plain.size() <= kMaxLine &&
          clean.find("=?") == std::string::npos)
      {
        return plain;
      }
      // Encoded words, one per line after the first: every line stays under 78 columns and
      // a decoder joins adjacent words without the folding white space.
      std::string result = name + ":";
      // The first line holds "Name: " and "=?UTF-8?B?" "?=" besides the base64 text.
      const size_t room = kMaxLine > name.size() + 2 + 12 ? kMaxLine - name.size() - 2 - 12 : 4;
      const std::vector<std::string> words = EncodedWords(clean, std::min(kWordBytes, room / 4 * 3));
      for (size_t i = 0; i < words.size(); i++)
      {
        result += (i == 0 ? " " : "\r\n ") + words[i];
      }
      return result;
    }

    std::string EncodeMailbox(const MailAddress& mailbox)
    {
      if (!MailAddress::IsValidAddress(mailbox.address))
      {
        throw std::invalid_argument("not an e-mail address");
      }
      const std::string name = CleanText(mailbox.name, false);
      if (name.empty())
      {
        return "<" + mailbox.address + ">";
      }
      if (IsPrintableAscii(name) && name.size() <= 40 && name.find("=?") == std::string::npos)
      {
        std::string quoted = "\"";
        for (char c : name)
        {
          if (c == '"' || c == '\\')
          {
            quoted += '\\';
          }
          quoted += c;
        }
        return quoted + "\" <" + mailbox.address + ">";
      }
      std::string words;
      for (const std::string& word : EncodedWords(name))
      {
        words += (words.empty() ? "" : "\r\n ") + word;
      }
      return words + "\r\n <" + mailbox.address + ">";
    }

    std::string FormatDate(int64_t ms)
    {
      const time_t seconds = static_cast<time_t>(ms / 1000);
      struct tm utc;
      gmtime_r(&seconds, &utc);
      static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
      static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
      char buffer[64];
      snprintf(buffer, sizeof(buffer), "%s, %02d %s %04d %02d:%02d:%02d +0000",
               kDays[utc.tm_wday], utc.tm_mday, kMonths[utc.tm_mon], utc.tm_year + 1900,
               utc.tm_hour, utc.tm_min, utc.tm_sec);
      return buffer;
    }

    std::string Compose(const MailContent& content, const std::string& boundary)
    {
      if (content.to.empty())
      {
        throw std::invalid_argument("a mail needs a recipient");
      }
      static const boost::regex kBoundary("=_[A-Za-z0-9_.-]{1,60}");
      static const boost::regex kMessageId("[A-Za-z0-9._-]{1,64}@[A-Za-z0-9.-]{1,253}");
      if (!boost::regex_match(boundary, kBoundary) ||
          !boost::regex_match(content.messageId, kMessageId))
      {
        throw std::invalid_argument("bad MIME boundary or Message-ID");
      }

      std::string m;
      m += "Date: " + FormatDate(content.dateMs) + "\r\n";
      m += "From: " + EncodeMailbox(content.from) + "\r\n";
      std::string to;
      for (const MailAddress& a : content.to)
      {
        to += (to.empty() ? "" : ",\r\n ") + EncodeMailbox(a);
      }
      m += "To: " + to + "\r\n";
      if (!content.replyTo.empty() && MailAddress::IsValidAddress(content.replyTo))
      {
        m += "Reply-To: <" + content.replyTo + ">\r\n";
      }
      m += EncodeUnstructuredHeader("Subject", content.subject) + "\r\n";
      m += "Message-ID: <" + content.messageId + ">\r\n";
      for (const auto& header : content.extraHeaders)
      {
        if (IsHeaderToken(header.first) && IsPrintableAscii(header.second) &&
            header.second.size() <= 200)
        {
          m += header.first + ": " + header.second + "\r\n";
        }
      }
      m += "MIME-Version: 1.0\r\n";
      m += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n";
      m += "\r\n";
      m += "This is a message in MIME format.\r\n";
      m += "--" + boundary + "\r\n";
      m += "Content-Type: text/plain; charset=UTF-8\r\n";
      m += "Content-Transfer-Encoding: base64\r\n\r\n";
      m += FoldBase64(CanonicalLines(CleanText(content.text, true)));
      m += "--" + boundary + "\r\n";
      m += "Content-Type: text/html; charset=UTF-8\r\n";
      m += "Content-Transfer-Encoding: base64\r\n\r\n";
      m += FoldBase64(CanonicalLines(CleanText(content.html, true)));
      m += "--" + boundary + "--\r\n";
      return m;
    }
  }
}
