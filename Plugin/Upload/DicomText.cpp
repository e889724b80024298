// Character sets of DICOM decoded strictly with iconv; lossless fallback for anything else.
#include "DicomText.h"

#include "Http/ApiError.h"

#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcitem.h>

#include <boost/algorithm/string/trim.hpp>
#include <boost/locale/utf.hpp>

#include <cerrno>
#include <iconv.h>
#include <vector>

namespace Inbound
{
  namespace DicomText
  {
    namespace
    {
      struct CharacterSet
      {
        const char* definedTerm;  // PS3.3 C.12.1.1.2, single-byte form
        const char* iso2022Term;  // the same repertoire with code extensions, or nullptr
        int number;               // the ISO-IR number misspellings are matched on, or 0
        const char* iconvName;
      };

      const CharacterSet kCharacterSets[] = {
        {"ISO_IR 6", "ISO 2022 IR 6", 6, "ASCII"},
        {"ISO_IR 100", "ISO 2022 IR 100", 100, "ISO-8859-1"},
        {"ISO_IR 101", "ISO 2022 IR 101", 101, "ISO-8859-2"},
        {"ISO_IR 109", "ISO 2022 IR 109", 109, "ISO-8859-3"},
        {"ISO_IR 110", "ISO 2022 IR 110", 110, "ISO-8859-4"},
        {"ISO_IR 144", "ISO 2022 IR 144", 144, "ISO-8859-5"},
        {"ISO_IR 127", "ISO 2022 IR 127", 127, "ISO-8859-6"},
        {"ISO_IR 126", "ISO 2022 IR 126", 126, "ISO-8859-7"},
        {"ISO_IR 138", "ISO 2022 IR 138", 138, "ISO-8859-8"},
        {"ISO_IR 148", "ISO 2022 IR 148", 148, "ISO-8859-9"},
        {"ISO_IR 203", "ISO 2022 IR 203", 203, "ISO-8859-15"},
        {"ISO_IR 13", "ISO 2022 IR 13", 13, "SHIFT_JIS"},  // JIS X 0201 only, checked below
        {"ISO_IR 166", "ISO 2022 IR 166", 166, "TIS-620"},
        {"ISO_IR 192", nullptr, 192, "UTF-8"},
        {"GB18030", nullptr, 0, "GB18030"},
        {"GBK", nullptr, 0, "GBK"},
      };

      // Misspellings seen in the wild, by their letters and digits only.
      const struct
      {
        const char* name;
        const char* iconvName;
      } kAliases[] = {
        {"UTF8", "UTF-8"},          {"LATIN1", "ISO-8859-1"},  {"LATIN2", "ISO-8859-2"},
        {"LATIN3", "ISO-8859-3"},   {"LATIN4", "ISO-8859-4"},  {"LATIN5", "ISO-8859-9"},
        {"LATIN9", "ISO-8859-15"},  {"ISO88591", "ISO-8859-1"}, {"ISO88592", "ISO-8859-2"},
        {"ISO88593", "ISO-8859-3"}, {"ISO88594", "ISO-8859-4"}, {"ISO88595", "ISO-8859-5"},
        {"ISO88596", "ISO-8859-6"}, {"ISO88597", "ISO-8859-7"}, {"ISO88598", "ISO-8859-8"},
        {"ISO88599", "ISO-8859-9"}, {"ISO885915", "ISO-8859-15"}, {"TIS620", "TIS-620"},
      };

      // ASCII that reads the same in every set: no ESC, which switches ISO 2022 sets.
      bool IsAscii(const std::string& s)
      {
        for (unsigned char c : s)
        {
          if (c >= 0x80 || c == 0x1b)
          {
            return false;
          }
        }
        return true;
      }

      std::string Normalize(const std::string& term)
      {
        std::string result;
        for (char c : term)
        {
          if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
          {
            result.push_back(c);
          }
          else if (c >= 'a' && c <= 'z')
          {
            result.push_back(static_cast<char>(c - 'a' + 'A'));
          }
        }
        return result;
      }

      // The iconv name of a character set term; "exact" when it is a defined term.
      const char* LookupCharacterSet(const std::string& term, bool& exact)
      {
        exact = false;
        for (const CharacterSet& set : kCharacterSets)
        {
          if (term == set.definedTerm || (set.iso2022Term != nullptr && term == set.iso2022Term))
          {
            exact = true;
            return set.iconvName;
          }
        }
        const std::string name = Normalize(term);
        for (const auto& alias : kAliases)
        {
          if (name == alias.name)
          {
            return alias.iconvName;
          }
        }
        for (const CharacterSet& set : kCharacterSets)
        {
          if (set.number != 0 && (name == "ISOIR" + std::to_string(set.number) ||
                                  name == "ISO2022IR" + std::to_string(set.number)))
          {
            return set.iconvName;
          }
        }
        if (name == "GB18030" || name == "GBK")
        {
          return name == "GBK" ? "GBK" : "GB18030";
        }
        return nullptr;
      }

      // RFC 3629 UTF-8: no overlong forms, surrogates or code points past U+10FFFF (glibc's
      // iconv lets 5-byte forms through).
      bool IsValidUtf8(const std::string& s)
      {
        typedef boost::locale::utf::utf_traits<char> Utf8;
        std::string::const_iterator p = s.begin();
        while (p != s.end())
        {
          const boost::locale::utf::code_point c = Utf8::decode(p, s.end());
          if (c == boost::locale::utf::illegal || c == boost::locale::utf::incomplete)
          {
            return false;
          }
        }
        return true;
      }

      // A round of glibc iconv, strict: false on anything it cannot convert.
      bool Iconv(std::string& target, const std::string& source, const char* from,
                 const char* to)
      {
        iconv_t cd = iconv_open(to, from);
        if (cd == reinterpret_cast<iconv_t>(-1))
        {
          return false;
        }
        std::vector<char> in(source.begin(), source.end());
        std::vector<char> out(source.size() * 4 + 16);
        char* inPtr = in.data();
        size_t inLeft = in.size();
        char* outPtr = out.data();
        size_t outLeft = out.size();
        bool ok = iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft) != static_cast<size_t>(-1) &&
                  inLeft == 0 &&
                  iconv(cd, nullptr, nullptr, &outPtr, &outLeft) != static_cast<size_t>(-1);
        iconv_close(cd);
        if (ok)
        {
          target.assign(out.data(), out.size() - outLeft);
        }
        return ok;
      }

      // Strict conversion to UTF-8: false on any byte the set does not define.
      bool Convert(std::string& target, const std::string& source, const char* from)
      {
        const std::string name(from);
        if (name == "UTF-8")
        {
          target = source;
          return IsValidUtf8(source);
        }
        if (name.compare(0, 9, "ISO-8859-") == 0 || name == "TIS-620")
        {
          // 0x80-0x9F are no characters of these repertoires in DICOM (G1 is 0xA0-0xFF);
          // iconv would make C1 controls of them.
          for (unsigned char c : source)
          {
            if (c >= 0x80 && c < 0xa0)
            {
              return false;
            }
          }
        }
        else if (name == "SHIFT_JIS")
        {
          // ISO_IR 13 is JIS X 0201: half-width katakana 0xA1-0xDF, no double-byte codes.
          for (unsigned char c : source)
          {
            if (c >= 0x80 && (c < 0xa1 || c > 0xdf))
            {
              return false;
            }
          }
        }
        return Iconv(target, source, from, "UTF-8");
      }

      std::string Latin1(const std::string& raw)
      {
        std::string result;
        for (unsigned char c : raw)
        {
          if (c < 0x80)
          {
            result.push_back(static_cast<char>(c));
          }
          else
          {
            result.push_back(static_cast<char>(0xc0 | (c >> 6)));
            result.push_back(static_cast<char>(0x80 | (c & 0x3f)));
          }
        }
        return result;
      }

      std::vector<std::string> SplitTerms(const std::string& specificCharacterSet)
      {
        std::vector<std::string> terms;
        size_t start = 0;
        for (;;)
        {
          const size_t end = specificCharacterSet.find('\\', start);
          std::string term = specificCharacterSet.substr(
            start, end == std::string::npos ? std::string::npos : end - start);
          boost::algorithm::trim_if(term, [](char c) { return c == ' ' || c == '\0'; });
          terms.push_back(term);
          if (end == std::string::npos)
          {
            return terms;
          }
          start = end + 1;
        }
      }

      // Decoding with the declared set; false if it is unknown or does not decode "raw".
      bool DecodeDeclared(Decoded& result, const std::string& raw,
                          const std::string& specificCharacterSet)
      {
        const std::vector<std::string> terms = SplitTerms(specificCharacterSet);
        bool extended = false;
        for (size_t i = 1; i < terms.size(); i++)
        {
          extended = extended || !terms[i].empty();
        }
        if (extended && raw.find('\x1b') != std::string::npos)
        {
          // Code extensions with escape sequences: only the Japanese ones that glibc knows.
          for (const std::string& term : terms)
          {
            if (term == "ISO 2022 IR 87" || term == "ISO 2022 IR 159")
            {
              // Escape sequences are no characters, and one text has several encodings
              // (a redundant escape, say): "exact" only when encoding the text again gives
              // the very bytes, else they are kept beside it. A value of escapes only, with
              // no character, is not taken for an empty one.
              std::string again;
              if (!Convert(result.text, raw, "ISO-2022-JP-2") || result.text.empty())
              {
                return false;
              }
              result.exact = Iconv(again, result.text, "UTF-8", "ISO-2022-JP-2") && again == raw;
              return true;
            }
          }
          return false;
        }
        if (terms[0].empty())
        {
          return false;  // the default repertoire (ASCII) does not hold this text
        }
        bool exact = false;
        const char* name = LookupCharacterSet(terms[0], exact);
        if (name == nullptr || !Convert(result.text, raw, name))
        {
          return false;
        }
        result.exact = exact && !extended;
        return true;
      }
    }

    bool ReadRaw(std::string& value, DcmItem& item, const DcmTagKey& tag)
    {
      value.clear();
      DcmElement* element = nullptr;
      if (!item.findAndGetElement(tag, element, OFFalse /* top level only */).good() ||
          element == nullptr)
      {
        return false;
      }
      // The bytes as they are in the element: getString() would not do, it turns the value
      // into a "machine string" in place, which drops all its trailing spaces from the copy
      // that is written back (and from the record of the sender's values).
      // Fails closed: a value that cannot be read as bytes (a sequence where text belongs)
      // must not read as empty, or it would join the patient of the files without one.
      const Uint32 length = element->getLength();
      if (!element->isLeaf())
      {
        throw ApiError(400, "invalid-dicom", "The file's element " +
                                               std::string(tag.toString().c_str()) +
                                               " is a sequence where a value belongs");
      }
      if (length > 0)
      {
        value.resize(length);
        if (element->getPartialValue(&value[0], 0, length).bad())
        {
          throw ApiError(400, "invalid-dicom", "The file's element " +
                                                 std::string(tag.toString().c_str()) +
                                                 " cannot be read");
        }
      }
      const size_t end = value.find_last_not_of(std::string(" \0", 2));
      value.erase(end == std::string::npos ? 0 : end + 1);
      return true;
    }

    Decoded Decode(const std::string& raw, const std::string& specificCharacterSet)
    {
      Decoded result;
      if (IsAscii(raw))
      {
        result.text = raw;
        result.exact = true;
        return result;
      }
      if (DecodeDeclared(result, raw, specificCharacterSet))
      {
        return result;
      }
      result.exact = false;
      if (!Convert(result.text, raw, "UTF-8"))
      {
        result.text = Latin1(raw);
      }
      return result;
    }
  }
}
