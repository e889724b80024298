// The patient-match rule of request links with ICU: decomposition, marks, case, words.
#include "PatientMatch.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <utility>

namespace Inbound
{
  namespace PatientMatch
  {
    namespace
    {
      // White space as JavaScript's "\s" and String.prototype.trim know it (ECMA-262
      // WhiteSpace and LineTerminator), so that the page and the plugin split alike.
      bool IsSpace(UChar32 c)
      {
        switch (c)
        {
          case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x20: case 0xa0:
          case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000:
          case 0xfeff:
            return true;
          default:
            return c >= 0x2000 && c <= 0x200a;
        }
      }

      bool IsSeparator(UChar32 c)
      {
        return c == '^' || c == ',' || c == '-' || IsSpace(c);
      }

      // Letters with a stroke or ligatures that no decomposition splits, as the page folds
      // them (applied after lower case); and the final sigma, which lower case gives or not
      // depending on what follows ("^" does not end a word for it).
      bool AppendFolded(icu::UnicodeString& target, UChar32 c)
      {
        static const struct
        {
          UChar32 letter;
          const char* folded;
        } kLetters[] = {{0xdf, "ss"}, {0xe6, "ae"}, {0x153, "oe"}, {0xf8, "o"}, {0x142, "l"},
                        {0x111, "d"}, {0xf0, "d"},  {0xfe, "th"},  {0x131, "i"}, {0x127, "h"},
                        {0x167, "t"}, {0x3c2, "σ"}};
        for (const auto& l : kLetters)
        {
          if (c == l.letter)
          {
            target.append(icu::UnicodeString::fromUTF8(icu::StringPiece(l.folded)));
            return true;
          }
        }
        return false;
      }

      // Lower case (Unicode's default mapping, final sigma included, as
      // String.prototype.toLowerCase), NFD, every combining mark (general category M)
      // dropped, then the letters of AppendFolded.
      icu::UnicodeString Fold(const std::string& utf8)
      {
        UErrorCode status = U_ZERO_ERROR;
        const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
        if (U_FAILURE(status))
        {
          throw std::runtime_error(std::string("ICU has no NFD: ") + u_errorName(status));
        }
        // Invalid UTF-8 becomes U+FFFD: a name that cannot be read matches nothing else.
        icu::UnicodeString lower = icu::UnicodeString::fromUTF8(icu::StringPiece(utf8));
        lower.toLower(icu::Locale::getRoot());
        const icu::UnicodeString decomposed = nfd->normalize(lower, status);
        if (U_FAILURE(status))
        {
          throw std::runtime_error(std::string("ICU cannot decompose a name: ") +
                                   u_errorName(status));
        }
        icu::UnicodeString folded;
        for (int32_t i = 0; i < decomposed.length(); i = decomposed.moveIndex32(i, 1))
        {
          const UChar32 c = decomposed.char32At(i);
          if ((U_GET_GC_MASK(c) & U_GC_M_MASK) == 0 && !AppendFolded(folded, c))
          {
            folded.append(c);
          }
        }
        return folded;
      }

      std::string ToUtf8(const icu::UnicodeString& text)
      {
        std::string result;
        text.toUTF8String(result);
        return result;
      }

      std::string Trim(const std::string& utf8)
      {
        const icu::UnicodeString text = icu::UnicodeString::fromUTF8(icu::StringPiece(utf8));
        int32_t begin = 0;
        int32_t end = text.length();
        while (begin < end && IsSpace(text.char32At(begin)))
        {
          begin = text.moveIndex32(begin, 1);
        }
        while (end > begin && IsSpace(text.char32At(text.moveIndex32(end, -1))))
        {
          end = text.moveIndex32(end, -1);
        }
        return ToUtf8(text.tempSubStringBetween(begin, end));
      }
    }

    const char* EnumerationToString(BirthDate value)
    {
      switch (value)
      {
        case BirthDate_Same:
          return "same";
        case BirthDate_Different:
          return "different";
        case BirthDate_Unknown:
          return "unknown";
        case BirthDate_NotRequested:
          return "not-requested";
        default:
          throw std::invalid_argument("unknown birth date verdict");
      }
    }

    std::vector<std::string> GetNameWords(const std::string& name)
    {
      // The alphabetic group only: ideographic and phonetic groups follow a '=' (PS3.5
      // 6.2.1.1), which no byte of a multi-byte UTF-8 character can be.
      const icu::UnicodeString folded = Fold(name.substr(0, name.find('=')));
      std::vector<std::string> words;
      icu::UnicodeString word;
      for (int32_t i = 0; i <= folded.length(); i = folded.moveIndex32(i, 1))
      {
        if (i == folded.length() || IsSeparator(folded.char32At(i)))
        {
          if (!word.isEmpty())
          {
            words.push_back(ToUtf8(word));
            word.remove();
          }
          if (i == folded.length())
          {
            break;
          }
        }
        else
        {
          word.append(folded.char32At(i));
        }
      }
      std::sort(words.begin(), words.end());
      return words;
    }

    bool IsSameName(const std::string& a, const std::string& b)
    {
      const std::vector<std::string> x = GetNameWords(a);
      return !x.empty() && x == GetNameWords(b);
    }

    BirthDate CompareBirthDates(const std::string& expected, const std::string& found)
    {
      const std::string want = Trim(expected);
      const std::string have = Trim(found);
      if (want.empty())
      {
        return BirthDate_NotRequested;
      }
      if (have.empty())
      {
        return BirthDate_Unknown;
      }
      return want == have ? BirthDate_Same : BirthDate_Different;
    }

    Verdict Compare(const std::string& expectedName, const std::string& expectedBirthDate,
                    const std::string& foundName, const std::string& foundBirthDate)
    {
      Verdict verdict;
      verdict.sameName = IsSameName(expectedName, foundName);
      verdict.birthDate = CompareBirthDates(expectedBirthDate, foundBirthDate);
      return verdict;
    }

    std::string UploadVerdict::Describe(const std::string& requestId) const
    {
      std::string what;
      if (nameDiffers)
      {
        what = "name";
      }
      if (birthDateDiffers)
      {
        what += std::string(what.empty() ? "" : " and ") + "birth date";
      }
      return "request " + requestId + ": " + std::to_string(differing) + " of " +
             std::to_string(patients) + (patients == 1 ? " patient" : " patients") +
             " not the expected one" + (what.empty() ? "" : " (" + what + ")");
    }

    UploadVerdict CompareUpload(const RequestPatient& expected,
                                const std::vector<ItemRecord>& items)
    {
      UploadVerdict result;
      std::set<std::pair<std::string, std::string>> sent;  // name and birth date as sent
      for (const ItemRecord& item : items)
      {
        sent.insert(std::make_pair(item.patientName, item.patientBirthDate));
      }
      if (GetNameWords(expected.name).empty() || sent.empty())
      {
        return result;  // nothing to compare with, or nothing to compare
      }
      // One patient per name and birth date as the rule reads them: "DOE^JANE" in one file
      // and "Doe^Jane" in the next are one patient.
      std::map<std::string, Verdict> patients;
      for (const auto& patient : sent)
      {
        std::string key;
        for (const std::string& word : GetNameWords(patient.first))
        {
          key += word + " ";
        }
        key += "\n" + Trim(patient.second);
        if (patients.count(key) == 0)
        {
          patients[key] =
            Compare(expected.name, expected.birthDate, patient.first, patient.second);
        }
      }
      result.decided = true;
      result.patients = patients.size();
      for (const auto& patient : patients)
      {
        const Verdict& v = patient.second;
        if (!v.IsMatch())
        {
          result.differing++;
          result.nameDiffers = result.nameDiffers || !v.sameName;
          result.birthDateDiffers = result.birthDateDiffers ||
                                    v.birthDate == BirthDate_Different ||
                                    v.birthDate == BirthDate_Unknown;
        }
      }
      result.matched = result.differing == 0;
      return result;
    }
  }
}
