// The parser of clamd's INSTREAM replies (see ClamdReply.h; the protocol: clamd(8)).
#include "ClamdReply.h"

#include <algorithm>
#include <cstring>

namespace Inbound
{
  namespace
  {
    const char kPrefix[] = "stream: ";
    const char kFound[] = " FOUND";
    const char kError[] = " ERROR";

    bool EndsWith(const std::string& text, const char* suffix)
    {
      const size_t n = strlen(suffix);
      return text.size() >= n && text.compare(text.size() - n, n, suffix) == 0;
    }

    bool IsPrintable(const std::string& text)
    {
      return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
    }

    // The reply up to its terminator, at most kMaxLength bytes; false when there is no end
    // within them.
    bool Cut(std::string& reply, const char* bytes, size_t size)
    {
      const size_t scanned = std::min(size, ClamdReply::kMaxLength + 1);
      const char* end = std::find_if(bytes, bytes + scanned,
                                     [](char c) { return c == '\0' || c == '\n'; });
      if (end == bytes + scanned && scanned > ClamdReply::kMaxLength)
      {
        return false;
      }
      reply.assign(bytes, end);
      return true;
    }

    std::string Printable(const std::string& text, size_t max)
    {
      std::string result;
      for (char c : text.substr(0, max))
      {
        result.push_back(c >= 0x20 && c < 0x7f ? c : '?');
      }
      return result;
    }
  }

  bool ClamdReply::IsComplete(const void* data, size_t size)
  {
    const char* bytes = static_cast<const char*>(data);
    return size > kMaxLength || std::find_if(bytes, bytes + size, [](char c) {
                                  return c == '\0' || c == '\n';
                                }) != bytes + size;
  }

  ClamdReply ClamdReply::Parse(const void* data, size_t size)
  {
    ClamdReply reply;
    std::string text;
    if (size == 0 || data == nullptr)
    {
      reply.text = "no answer";
      return reply;
    }
    if (!Cut(text, static_cast<const char*>(data), size))
    {
      reply.text = "an answer longer than " + std::to_string(kMaxLength) + " bytes";
      return reply;
    }
    if (!text.empty() && text.back() == '\r')
    {
      text.pop_back();
    }
    reply.text = Printable(text, 200);
    if (text.empty() || !IsPrintable(text))
    {
      return reply;  // Malformed
    }

    if (text == std::string(kPrefix) + "OK")
    {
      reply.kind = ClamdReplyKind_Clean;
    }
    else if (text.size() > strlen(kPrefix) + strlen(kFound) &&
             text.compare(0, strlen(kPrefix), kPrefix) == 0 && EndsWith(text, kFound))
    {
      const std::string name =
        text.substr(strlen(kPrefix), text.size() - strlen(kPrefix) - strlen(kFound));
      if (!name.empty() && name.size() <= kMaxSignature && name.find(' ') == std::string::npos)
      {
        reply.kind = ClamdReplyKind_Found;
        reply.signature = name;
      }
    }
    else if (EndsWith(text, kError) || text == "UNKNOWN COMMAND" ||
             text == "COMMAND READ TIMED OUT")
    {
      // clamd closes an INSTREAM whose chunks would exceed StreamMaxLength with this one
      // (clamd(8), INSTREAM); every other error is clamd's own trouble.
      reply.kind = text.find("size limit exceeded") != std::string::npos
                     ? ClamdReplyKind_SizeLimit : ClamdReplyKind_Error;
    }
    return reply;
  }
}
