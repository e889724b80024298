// UTF-8 checks without control characters, code point counts, e-mail syntax, safe truncation.
#include "TextRules.h"

#include <boost/locale/encoding_utf.hpp>
#include <boost/locale/utf.hpp>
#include <boost/regex.hpp>

#include <algorithm>
#include <iterator>

namespace Inbound
{
  namespace TextRules
  {
    namespace
    {
      bool Decode(std::u32string& target, const std::string& utf8)
      {
        try
        {
          target = boost::locale::conv::utf_to_utf<char32_t>(utf8, boost::locale::conv::stop);
          return true;
        }
        catch (const boost::locale::conv::conversion_error&)
        {
          return false;
        }
      }
    }

    bool IsCleanText(const std::string& utf8)
    {
      std::u32string decoded;
      if (!Decode(decoded, utf8))
      {
        return false;
      }
      for (char32_t c : decoded)
      {
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0x2028 || c == 0x2029 ||
            (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
        {
          return false;
        }
      }
      return true;
    }

    size_t CountCharacters(const std::string& utf8)
    {
      size_t count = 0;
      for (unsigned char c : utf8)
      {
        if ((c & 0xc0) != 0x80)
        {
          count++;
        }
      }
      return count;
    }

    bool IsEmailAddress(const std::string& address)
    {
      static const boost::regex kEmail(
        "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
        "@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+");
      const size_t at = address.rfind('@');
      return address.size() <= 254 && at != std::string::npos && at <= 64 &&
             boost::regex_match(address, kEmail);
    }

    std::string Truncate(const std::string& utf8, size_t maxCharacters)
    {
      size_t count = 0;
      for (size_t i = 0; i < utf8.size(); i++)
      {
        if ((static_cast<unsigned char>(utf8[i]) & 0xc0) != 0x80)
        {
          if (count == maxCharacters)
          {
            return utf8.substr(0, i);
          }
          count++;
        }
      }
      return utf8;
    }

    std::string MakeSafe(const std::string& bytes, size_t maxCharacters)
    {
      typedef boost::locale::utf::utf_traits<char> Utf8;
      std::string result;
      result.reserve(std::min(bytes.size(), maxCharacters * 4));
      size_t count = 0;
      std::string::const_iterator p = bytes.begin();
      while (p != bytes.end() && count < maxCharacters)
      {
        const std::string::const_iterator start = p;
        boost::locale::utf::code_point c = Utf8::decode(p, bytes.end());
        if (c == boost::locale::utf::illegal || c == boost::locale::utf::incomplete)
        {
          p = start + 1;  // one replacement per bad byte; the next byte starts afresh
          c = 0xfffd;
        }
        else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0x2028 ||
                 c == 0x2029 || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
        {
          c = 0xfffd;
        }
        Utf8::encode(c, std::back_inserter(result));
        count++;
      }
      return result;
    }
  }
}
