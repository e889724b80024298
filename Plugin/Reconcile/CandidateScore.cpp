// A candidate's points (doc/Reconciliation.md, "Scores"), its rank, the auto-forward identity.
// Over 500 lines: every rule of the one scores table, and the rank and automatic decision on it.
#include "CandidateScore.h"

#include "Requests/PatientMatch.h"

#include <unicode/unistr.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <vector>

namespace Inbound
{
  namespace CandidateScore
  {
    const char* const kNameSame = "name-same";
    const char* const kNameReordered = "name-reordered";
    const char* const kNamePartial = "name-partial";
    const char* const kNameSimilar = "name-similar";
    const char* const kNameDiffers = "name-differs";
    const char* const kBirthDateSame = "birth-date-same";
    const char* const kBirthDateNear = "birth-date-near";
    const char* const kBirthDateDiffers = "birth-date-differs";
    const char* const kSexSame = "sex-same";
    const char* const kSexDiffers = "sex-differs";
    const char* const kOriginalId = "original-id";
    const char* const kSamePatientId = "same-patient-id";
    const char* const kAccession = "accession";
    const char* const kScheduled = "scheduled";
    const char* const kRequestLink = "request-link";

    namespace
    {
      // Untrusted sender text: what a comparison reads at most (doc/Reconciliation.md).
      const size_t kMaxNameBytes = 200;
      const size_t kMaxNameWords = 16;
      const size_t kMaxEditDistanceLetters = 64;
      const int kScheduledDays = 30;
      const int kAmbiguousPoints = 5;

      typedef std::vector<UChar32> Letters;

      struct Name
      {
        std::vector<std::string> ordered; // folded words in the order written
        std::vector<std::string> sorted;  // the same, sorted (PatientMatch::GetNameWords)
      };

      std::string Trim(const std::string& s)
      {
        const size_t begin = s.find_first_not_of(" \t\r\n");
        if (begin == std::string::npos)
        {
          return "";
        }
        return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
      }

      bool IsAsciiSeparator(char c)
      {
        return c == '^' || c == ',' || c == '-' || c == ' ' || (c >= '\t' && c <= '\r');
      }

      // The first ('=') group, at most kMaxNameBytes (cut before a UTF-8 continuation byte),
      // split where PatientMatch splits on ASCII characters; each piece folded by
      // PatientMatch::GetNameWords (which splits further on Unicode spaces: the words of
      // such a piece keep their sorted order, the multiset is GetNameWords' of the whole).
      Name ReadName(const std::string& dicom)
      {
        std::string text = dicom.substr(0, dicom.find('='));
        if (text.size() > kMaxNameBytes)
        {
          size_t cut = kMaxNameBytes;
          while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80)
          {
            cut--;
          }
          text.resize(cut);
        }
        Name name;
        size_t begin = 0;
        while (begin <= text.size() && name.ordered.size() < kMaxNameWords)
        {
          size_t end = begin;
          while (end < text.size() && !IsAsciiSeparator(text[end]))
          {
            end++;
          }
          if (end > begin)
          {
            for (const std::string& word :
                 PatientMatch::GetNameWords(text.substr(begin, end - begin)))
            {
              if (name.ordered.size() < kMaxNameWords)
              {
                name.ordered.push_back(word);
              }
            }
          }
          begin = end + 1;
        }
        name.sorted = name.ordered;
        std::sort(name.sorted.begin(), name.sorted.end());
        return name;
      }

      Letters GetLetters(const std::string& utf8)
      {
        const icu::UnicodeString text = icu::UnicodeString::fromUTF8(icu::StringPiece(utf8));
        Letters letters;
        for (int32_t i = 0; i < text.length(); i = text.moveIndex32(i, 1))
        {
          letters.push_back(text.char32At(i));
        }
        return letters;
      }

      // Levenshtein distance of two short words (each at most kMaxEditDistanceLetters).
      size_t EditDistance(const Letters& a, const Letters& b)
      {
        std::vector<size_t> row(b.size() + 1);
        for (size_t j = 0; j <= b.size(); j++)
        {
          row[j] = j;
        }
        for (size_t i = 1; i <= a.size(); i++)
        {
          size_t diagonal = row[0];
          row[0] = i;
          for (size_t j = 1; j <= b.size(); j++)
          {
            const size_t above = row[j];
            row[j] = std::min(std::min(row[j] + 1, row[j - 1] + 1),
                              diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
            diagonal = above;
          }
        }
        return row[b.size()];
      }

      bool IsSimilarWord(const std::string& a, const std::string& b)
      {
        if (a == b)
        {
          return true;
        }
        const Letters x = GetLetters(a);
        const Letters y = GetLetters(b);
        if (x.size() > kMaxEditDistanceLetters || y.size() > kMaxEditDistanceLetters)
        {
          return false; // bounded work: long words must be equal
        }
        const size_t allowed = std::min(x.size(), y.size()) >= 8 ? 2 : 1;
        return EditDistance(x, y) <= allowed;
      }

      bool ArePairwiseSimilar(const std::vector<std::string>& a, const std::vector<std::string>& b)
      {
        for (size_t i = 0; i < a.size(); i++)
        {
          if (!IsSimilarWord(a[i], b[i]))
          {
            return false;
          }
        }
        return true;
      }

      // The shorter name's words (>= 2, or 1 of >= 4 letters) all in the longer one.
      bool IsPartOf(const std::vector<std::string>& shorter, const std::vector<std::string>& longer)
      {
        if (shorter.empty() || shorter.size() >= longer.size() ||
            (shorter.size() == 1 && GetLetters(shorter[0]).size() < 4))
        {
          return false;
        }
        return std::includes(longer.begin(), longer.end(), shorter.begin(), shorter.end());
      }

      // Name points and code; no code when either name has no word.
      int CompareNames(std::vector<std::string>& reasons, const std::string& a,
                       const std::string& b)
      {
        const Name x = ReadName(a);
        const Name y = ReadName(b);
        if (x.ordered.empty() || y.ordered.empty())
        {
          return 0;
        }
        if (x.ordered == y.ordered)
        {
          reasons.push_back(kNameSame);
          return 45;
        }
        if (x.sorted == y.sorted)
        {
          reasons.push_back(kNameReordered);
          return 40;
        }
        if (IsPartOf(x.sorted, y.sorted) || IsPartOf(y.sorted, x.sorted))
        {
          reasons.push_back(kNamePartial);
          return 25;
        }
        if (x.ordered.size() == y.ordered.size() &&
            (ArePairwiseSimilar(x.ordered, y.ordered) || ArePairwiseSimilar(x.sorted, y.sorted)))
        {
          reasons.push_back(kNameSimilar);
          return 25;
        }
        reasons.push_back(kNameDiffers);
        return 0;
      }

      // Days since 1970-01-01 of a valid YYYYMMDD (trimmed); false if not a calendar date.
      bool ParseDate(long& days, const std::string& value)
      {
        const std::string s = Trim(value);
        if (s.size() != 8 || s.find_first_not_of("0123456789") != std::string::npos)
        {
          return false;
        }
        const int y = std::atoi(s.substr(0, 4).c_str());
        const int m = std::atoi(s.substr(4, 2).c_str());
        const int d = std::atoi(s.substr(6, 2).c_str());
        static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        if (y == 0 || m < 1 || m > 12 || d < 1 || d > kDays[m - 1] + (m == 2 && leap ? 1 : 0))
        {
          return false;
        }
        // Days from the civil date (proleptic Gregorian), the era-based formula.
        const int yy = y - (m <= 2 ? 1 : 0);
        const int era = yy / 400;
        const int yoe = yy - era * 400;
        const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        days = static_cast<long>(era) * 146097 + doe - 719468;
        return true;
      }

      int CompareBirthDates(std::vector<std::string>& reasons, const std::string& a,
                            const std::string& b)
      {
        long x = 0;
        long y = 0;
        if (!ParseDate(x, a) || !ParseDate(y, b))
        {
          return 0;
        }
        const std::string s = Trim(a);
        const std::string t = Trim(b);
        if (s == t)
        {
          reasons.push_back(kBirthDateSame);
          return 35;
        }
        size_t differing = 0;
        for (size_t i = 0; i < s.size(); i++)
        {
          differing += s[i] == t[i] ? 0 : 1;
        }
        const bool swapped = s.compare(0, 4, t, 0, 4) == 0 && s.compare(4, 2, t, 6, 2) == 0 &&
                             s.compare(6, 2, t, 4, 2) == 0;
        if (differing == 1 || swapped)
        {
          reasons.push_back(kBirthDateNear);
          return 10;
        }
        reasons.push_back(kBirthDateDiffers);
        return -40;
      }

      bool IsKnownSex(const std::string& sex)
      {
        return sex == "M" || sex == "F" || sex == "O";
      }

      int CompareSexes(std::vector<std::string>& reasons, const std::string& a,
                       const std::string& b)
      {
        const std::string x = Trim(a);
        const std::string y = Trim(b);
        if (!IsKnownSex(x) || !IsKnownSex(y))
        {
          return 0;
        }
        reasons.push_back(x == y ? kSexSame : kSexDiffers);
        return x == y ? 10 : -20;
      }

      bool Contains(const std::vector<std::string>& values, const std::string& value)
      {
        for (const std::string& v : values)
        {
          if (!value.empty() && Trim(v) == value)
          {
            return true;
          }
        }
        return false;
      }

      // One identifier rule at most: the strongest that applies.
      int CompareIds(std::vector<std::string>& reasons, const SentPatient& sent,
                     const CandidateRecord& record)
      {
        const std::string sentId = Trim(sent.originalPatientId);
        const std::string id = Trim(record.patientId);
        const std::string issuer = Trim(sent.issuer);
        if ((!sentId.empty() &&
             (Contains(record.otherPatientIds, sentId) ||
              (sentId == id && !issuer.empty() && issuer == Trim(record.issuer)))) ||
            Contains(sent.otherPatientIds, id))
        {
          reasons.push_back(kOriginalId);
          return 25;
        }
        if (!sentId.empty() && sentId == id)
        {
          reasons.push_back(kSamePatientId);
          return 10;
        }
        return 0;
      }

      bool IsScheduledAround(const SentPatient& sent, const CandidateRecord& record)
      {
        if (Contains(sent.modalities, Trim(record.scheduledModality)))
        {
          return true;
        }
        long scheduled = 0;
        if (!ParseDate(scheduled, record.scheduledDate))
        {
          return false;
        }
        for (const std::string& date : sent.studyDates)
        {
          long study = 0;
          if (ParseDate(study, date) && std::labs(study - scheduled) <= kScheduledDays)
          {
            return true;
          }
        }
        return false;
      }

      int GetSourceOrder(const std::string& source)
      {
        return source == "local" ? 0 : source == "request" ? 1 : 2;
      }

      bool IsBefore(const Candidate& a, const Candidate& b)
      {
        if (a.score != b.score)
        {
          return a.score > b.score;
        }
        const int x = GetSourceOrder(a.record.source);
        const int y = GetSourceOrder(b.record.source);
        if (x != y)
        {
          return x < y;
        }
        if (a.record.source != b.record.source)
        {
          return a.record.source < b.record.source;
        }
        return a.record.patientId < b.record.patientId;
      }

      std::set<std::string> GetIdsAbove(const PatientCandidates& patient, int autoThreshold)
      {
        std::set<std::string> ids;
        for (const Candidate& c : patient.candidates)
        {
          if (c.score >= autoThreshold)
          {
            ids.insert(c.record.patientId); // "" counts too: never a usable identity
          }
        }
        return ids;
      }
    } // namespace

    Candidate Score(const SentPatient& sent, const CandidateRecord& record)
    {
      Candidate candidate;
      candidate.record = record;
      std::vector<std::string>& reasons = candidate.reasons;
      int points = CompareNames(reasons, sent.name, record.name);
      points += CompareBirthDates(reasons, sent.birthDate, record.birthDate);
      points += CompareSexes(reasons, sent.sex, record.sex);
      points += CompareIds(reasons, sent, record);
      if (Contains(sent.accessionNumbers, Trim(record.accessionNumber)))
      {
        reasons.push_back(kAccession);
        points += 20;
      }
      if (IsScheduledAround(sent, record))
      {
        reasons.push_back(kScheduled);
        points += 5;
      }
      if (record.source == "request")
      {
        reasons.push_back(kRequestLink);
      }
      candidate.score = std::max(0, std::min(100, points));
      return candidate;
    }

    void Rank(PatientCandidates& patient, int threshold, size_t maxCandidates)
    {
      std::vector<Candidate>& list = patient.candidates;
      list.erase(
          std::remove_if(list.begin(), list.end(), [](const Candidate& c) { return c.score <= 0; }),
          list.end());
      std::stable_sort(list.begin(), list.end(), IsBefore);
      patient.ambiguous = false;
      if (!list.empty() && list[0].score >= threshold)
      {
        const int floor = std::max(threshold, list[0].score - kAmbiguousPoints);
        for (size_t i = 1; i < list.size() && list[i].score >= floor; i++)
        {
          patient.ambiguous =
              patient.ambiguous || list[i].record.patientId != list[0].record.patientId;
        }
      }
      if (list.size() > maxCandidates)
      {
        // Beyond the cut, the best candidate of every other PatientID that fits stays: the
        // admin sees each fitting patient, and AutoIdentity never takes one PatientID above
        // AutoThreshold (>= threshold) for the only one because another was cut.
        std::vector<Candidate> kept(list.begin(), list.begin() + maxCandidates);
        std::set<std::string> ids;
        for (const Candidate& c : kept)
        {
          ids.insert(c.record.patientId);
        }
        for (size_t i = maxCandidates; i < list.size(); i++)
        {
          if (list[i].score >= threshold && ids.insert(list[i].record.patientId).second)
          {
            kept.push_back(list[i]);
          }
        }
        list.swap(kept);
      }
    }

    std::string SingleAbove(const PatientCandidates& patient, int autoThreshold)
    {
      const std::set<std::string> ids = GetIdsAbove(patient, autoThreshold);
      return ids.size() == 1 ? *ids.begin() : "";
    }

    bool AutoIdentity(Candidate& chosen, std::string& reason, const Reconciliation& result,
                      const std::string& requestPatientId)
    {
      reason.clear();
      if (requestPatientId.empty())
      {
        reason = "no-request-patient";
      }
      else if (!result.IsComplete())
      {
        reason = "sources-incomplete";
      }
      else if (std::any_of(result.sources.begin(), result.sources.end(),
                           [](const SourceOutcome& s) { return s.truncated; }))
      {
        reason = "sources-truncated"; // answers beyond MaxAnswers were not read: unknown
      }
      else if (result.patients.empty())
      {
        reason = "no-patients";
      }
      for (size_t i = 0; reason.empty() && i < result.patients.size(); i++)
      {
        const PatientCandidates& patient = result.patients[i];
        const std::set<std::string> ids = GetIdsAbove(patient, result.autoThreshold);
        reason = ids.empty()                        ? "no-candidate-above"
                 : ids.size() > 1                   ? "several-candidates-above"
                 : patient.ambiguous                ? "patient-ambiguous"
                 : *ids.begin() != requestPatientId ? "request-patient-differs"
                                                    : "";
      }
      if (!reason.empty())
      {
        return false;
      }
      const Candidate* best = nullptr;
      for (const PatientCandidates& patient : result.patients)
      {
        for (const Candidate& c : patient.candidates)
        {
          if (c.record.patientId != requestPatientId || c.score < result.autoThreshold)
          {
            continue;
          }
          const bool hospital = c.record.source != "request";
          const bool bestIsHospital = best != nullptr && best->record.source != "request";
          if (best == nullptr || (hospital && !bestIsHospital) ||
              (hospital == bestIsHospital && IsBefore(c, *best)))
          {
            best = &c;
          }
        }
      }
      chosen = *best; // every patient has one such candidate (checked above)
      return true;
    }
  } // namespace CandidateScore
} // namespace Inbound
