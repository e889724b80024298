// Builds the C-FIND and /tools/find queries for a patient as sent; reads their answers as records.
#include "Reconcile/CandidateQueries.h"

#include "Upload/Isolation.h"

#include <algorithm>

namespace Inbound
{
  namespace CandidateQueries
  {
    namespace
    {
      const size_t kMaxOtherIds = 4;          // sent other IDs asked as PatientID
      const size_t kMaxAccessions = 8;        // sent accession numbers asked of a worklist
      const size_t kLongString = 64;          // LO (PatientID, OtherPatientIDs)
      const size_t kShortString = 16;         // SH (AccessionNumber)
      const char* const kUtf8 = "ISO_IR 192"; // answers and matching in UTF-8 (facts 1.4)

      bool IsAsciiAlphanumeric(char c)
      {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      }

      size_t CountLiterals(const std::string& pattern)
      {
        return static_cast<size_t>(
            std::count_if(pattern.begin(), pattern.end(), IsAsciiAlphanumeric));
      }

      std::string CollapseStars(const std::string& pattern)
      {
        std::string result;
        for (char c : pattern)
        {
          if (c != '*' || result.empty() || result.back() != '*')
          {
            result.push_back(c);
          }
        }
        return result;
      }

      // One word of a name as a pattern fragment: ASCII letters and digits upper-cased, every
      // other letter (any byte of a non-ASCII character) '*', inner signs '*', outer ones
      // dropped. Never '?' or '\', which a query would read as a wildcard or a list.
      std::string MapWord(const std::string& word)
      {
        std::string mapped;
        for (char c : word)
        {
          if (IsAsciiAlphanumeric(c))
            mapped.push_back(static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));
          else if (static_cast<unsigned char>(c) >= 0x80)
            mapped.push_back('*'); // a letter the query cannot match reliably (facts 1.3, 4.2)
          else
            mapped.push_back('\x01'); // a sign: inner ones become '*' below
        }
        const size_t first = mapped.find_first_not_of('\x01');
        if (first == std::string::npos)
        {
          return "";
        }
        mapped = mapped.substr(first, mapped.find_last_not_of('\x01') - first + 1);
        std::replace(mapped.begin(), mapped.end(), '\x01', '*');
        return CollapseStars(mapped);
      }

      std::string Text(const Json::Value& object, const char* name)
      {
        if (!object.isObject() || !object.isMember(name) || !object[name].isString())
        {
          return "";
        }
        return object[name].asString();
      }

      std::vector<std::string> SplitValues(const std::string& value)
      {
        std::vector<std::string> values;
        size_t start = 0;
        while (start <= value.size())
        {
          const size_t end = std::min(value.find('\\', start), value.size());
          if (end > start)
          {
            values.push_back(value.substr(start, end - start));
          }
          start = end + 1;
        }
        return values;
      }

      std::vector<std::string> OtherIdsOf(const Json::Value& answer)
      {
        for (const char* name : {"OtherPatientIDs", "RETIRED_OtherPatientIDs", "0010,1000"})
        {
          const std::string value = Text(answer, name);
          if (!value.empty())
          {
            return SplitValues(value);
          }
        }
        return {};
      }

      // The sent IDs asked as PatientID beside the PatientID as sent: the sender's other IDs
      // (a CD from this hospital often carries its PatientID there).
      std::vector<std::string> OtherIdsToAsk(const SentPatient& sent)
      {
        std::vector<std::string> ids;
        for (const std::string& id : sent.otherPatientIds)
        {
          if (ids.size() < kMaxOtherIds && id != sent.originalPatientId &&
              IsExactValue(id, kLongString) && std::find(ids.begin(), ids.end(), id) == ids.end())
          {
            ids.push_back(id);
          }
        }
        return ids;
      }

      void Add(std::vector<Query>& queries, const Json::Value& base, const char* key,
               const std::string& value, const char* by)
      {
        Query q;
        q.keys = base;
        q.keys[key] = value;
        q.by = by;
        queries.push_back(q);
      }

      // The identity queries shared by the three kinds, then the name patterns.
      void AddIdentityQueries(std::vector<Query>& queries, const Json::Value& base,
                              const SentPatient& sent, bool askOtherIds)
      {
        if (IsBirthDate(sent.birthDate))
        {
          Add(queries, base, "PatientBirthDate", sent.birthDate, "birth date");
        }
        const bool idUsable = IsExactValue(sent.originalPatientId, kLongString);
        if (idUsable)
        {
          Add(queries, base, "PatientID", sent.originalPatientId, "PatientID");
        }
        if (askOtherIds)
        {
          if (idUsable)
          {
            Add(queries, base, "0010,1000", sent.originalPatientId, "other patient IDs");
          }
          for (const std::string& id : OtherIdsToAsk(sent))
          {
            Add(queries, base, "PatientID", id, "PatientID (other ID as sent)");
          }
        }
      }

      Json::Value PatientKeys()
      {
        Json::Value keys(Json::objectValue);
        for (const char* name : {"PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                                 "IssuerOfPatientID", "0010,1000"})
        {
          keys[name] = "";
        }
        keys["SpecificCharacterSet"] = kUtf8;
        return keys;
      }

      Json::Value WorklistKeys()
      {
        Json::Value keys(Json::objectValue);
        for (const char* name :
             {"PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
              "AccessionNumber", "RequestedProcedureID", "RequestedProcedureDescription",
              "StudyInstanceUID"})
        {
          keys[name] = "";
        }
        Json::Value step(Json::objectValue);
        for (const char* name : {"Modality", "ScheduledProcedureStepStartDate",
                                 "ScheduledProcedureStepDescription", "ScheduledStationAETitle"})
        {
          step[name] = "";
        }
        keys["ScheduledProcedureStepSequence"].append(step);
        keys["SpecificCharacterSet"] = kUtf8;
        return keys;
      }

      std::string IdentityOf(const CandidateRecord& r)
      {
        return r.patientId + '\0' + r.issuer + '\0' + r.accessionNumber + '\0' +
               r.requestedProcedureId;
      }
    } // namespace

    // A PACS or a worklist may match names case-sensitively: both spellings of each word.
    static void AddPrefixNameQueries(std::vector<Query>& queries, const Json::Value& base,
                                     const SentPatient& sent)
    {
      for (const std::string& word : GetNameWords(sent.name))
      {
        for (const std::string& pattern : GetPrefixPatterns(word))
        {
          Add(queries, base, "PatientName", pattern, "name");
        }
      }
    }

    bool IsExactValue(const std::string& value, size_t maxCharacters)
    {
      size_t characters = 0;
      for (char c : value)
      {
        const unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || c == '*' || c == '?' || c == '\\')
        {
          return false;
        }
        if ((u & 0xc0) != 0x80)
        {
          characters++;
        }
      }
      return characters > 0 && characters <= maxCharacters;
    }

    bool IsBirthDate(const std::string& value)
    {
      if (value.size() != 8 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
      {
        return false;
      }
      const int month = std::stoi(value.substr(4, 2));
      const int day = std::stoi(value.substr(6, 2));
      return month >= 1 && month <= 12 && day >= 1 && day <= 31;
    }

    std::vector<std::string> GetNameWords(const std::string& personName)
    {
      const std::string alphabetic = personName.substr(0, personName.find('='));
      std::vector<std::string> words;
      std::string current;
      for (size_t i = 0; i <= alphabetic.size(); i++)
      {
        const char c = (i < alphabetic.size() ? alphabetic[i] : '^');
        if (c == '^' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '-')
        {
          const std::string word = MapWord(current);
          if (CountLiterals(word) >= 2 &&
              std::find(words.begin(), words.end(), word) == words.end())
          {
            words.push_back(word);
          }
          current.clear();
        }
        else
        {
          current.push_back(c);
        }
      }
      std::stable_sort(words.begin(), words.end(),
                       [](const std::string& a, const std::string& b)
                       { return CountLiterals(a) > CountLiterals(b); });
      if (words.size() > 2)
      {
        words.resize(2);
      }
      return words;
    }

    std::vector<std::string> GetPrefixPatterns(const std::string& word)
    {
      std::string capitalised = word;
      for (size_t i = 1; i < capitalised.size(); i++)
      {
        if (capitalised[i] >= 'A' && capitalised[i] <= 'Z')
        {
          capitalised[i] = static_cast<char>(capitalised[i] - 'A' + 'a');
        }
      }
      std::vector<std::string> patterns = {CollapseStars(word + "*")};
      const std::string second = CollapseStars(capitalised + "*");
      if (second != patterns[0])
      {
        patterns.push_back(second);
      }
      return patterns;
    }

    std::string GetContainsPattern(const std::string& word)
    {
      return CollapseStars("*" + word + "*");
    }

    std::vector<Query> ForPatientLevel(const SentPatient& sent)
    {
      std::vector<Query> queries;
      const Json::Value base = PatientKeys();
      AddIdentityQueries(queries, base, sent, true);
      AddPrefixNameQueries(queries, base, sent);
      return queries;
    }

    std::vector<Query> ForWorklist(const SentPatient& sent)
    {
      std::vector<Query> queries;
      const Json::Value base = WorklistKeys();
      std::vector<std::string> asked;
      for (const std::string& accession : sent.accessionNumbers)
      {
        if (asked.size() < kMaxAccessions && IsExactValue(accession, kShortString) &&
            std::find(asked.begin(), asked.end(), accession) == asked.end())
        {
          asked.push_back(accession);
          Add(queries, base, "AccessionNumber", accession, "accession number");
        }
      }
      AddIdentityQueries(queries, base, sent, false);
      AddPrefixNameQueries(queries, base, sent);
      return queries;
    }

    std::vector<Query> ForLocal(const SentPatient& sent)
    {
      std::vector<Query> queries;
      const Json::Value base(Json::objectValue); // /tools/find: the constraint only
      AddIdentityQueries(queries, base, sent, true);
      for (const std::string& word : GetNameWords(sent.name))
      {
        Add(queries, base, "PatientName", GetContainsPattern(word), "name");
      }
      return queries;
    }

    Json::Value MakePatientBody(const Query& query, unsigned int timeoutSeconds)
    {
      Json::Value body(Json::objectValue);
      body["Level"] = "Patient";
      body["Query"] = query.keys;
      body["Normalize"] = true;
      body["Timeout"] = std::max(1u, timeoutSeconds);
      return body;
    }

    Json::Value MakeWorklistBody(const Query& query, unsigned int timeoutSeconds)
    {
      Json::Value body(Json::objectValue);
      body["Query"] = query.keys;
      body["Simplify"] = true;
      body["Timeout"] = std::max(1u, timeoutSeconds);
      return body;
    }

    Json::Value MakeLocalBody(const Query& query, unsigned int maxAnswers)
    {
      Json::Value body(Json::objectValue);
      body["Level"] = "Patient";
      body["Query"] = query.keys;
      body["Expand"] = true;
      body["CaseSensitive"] = false;
      body["Limit"] = maxAnswers + 1; // one more tells that there were more
      return body;
    }

    bool ParsePatientAnswer(CandidateRecord& record, const Json::Value& answer,
                            const std::string& source)
    {
      record = CandidateRecord();
      record.source = source;
      record.patientId = Text(answer, "PatientID");
      record.issuer = Text(answer, "IssuerOfPatientID");
      record.name = Text(answer, "PatientName");
      record.birthDate = Text(answer, "PatientBirthDate");
      record.sex = Text(answer, "PatientSex");
      record.otherPatientIds = OtherIdsOf(answer);
      return !record.patientId.empty();
    }

    bool ParseWorklistAnswer(CandidateRecord& record, const Json::Value& answer,
                             const std::string& source)
    {
      if (!ParsePatientAnswer(record, answer, source))
      {
        return false;
      }
      record.accessionNumber = Text(answer, "AccessionNumber");
      record.requestedProcedureId = Text(answer, "RequestedProcedureID");
      record.procedureDescription = Text(answer, "RequestedProcedureDescription");
      const Json::Value& steps = answer["ScheduledProcedureStepSequence"];
      if (steps.isArray() && !steps.empty())
      {
        const Json::Value& step = steps[0];
        record.scheduledDate = Text(step, "ScheduledProcedureStepStartDate");
        record.scheduledModality = Text(step, "Modality");
        if (record.procedureDescription.empty())
        {
          record.procedureDescription = Text(step, "ScheduledProcedureStepDescription");
        }
      }
      return true;
    }

    bool ParseLocalAnswer(CandidateRecord& record, const Json::Value& answer,
                          const std::string& prefix)
    {
      const Json::Value& tags =
          answer.isObject() ? answer["MainDicomTags"] : Json::Value::nullSingleton();
      if (!ParsePatientAnswer(record, tags, "local"))
      {
        return false;
      }
      // An upload's isolated patient is the sender's, never the hospital's.
      return !Isolation::IsIsolatedPatientId(prefix, record.patientId);
    }

    bool AddUnique(std::vector<CandidateRecord>& records, const CandidateRecord& record)
    {
      const std::string identity = IdentityOf(record);
      for (const CandidateRecord& r : records)
      {
        if (IdentityOf(r) == identity)
        {
          return false;
        }
      }
      records.push_back(record);
      return true;
    }
  } // namespace CandidateQueries
} // namespace Inbound
