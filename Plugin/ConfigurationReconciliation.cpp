// Reads "Inbound.Reconciliation": the reconciliation assistant's sources, thresholds and limits.
#include "ConfigurationReader.h"

#include <OrthancException.h>

#include <algorithm>
#include <set>

namespace Inbound
{
  const char* EnumerationToString(ReconciliationQuery query)
  {
    switch (query)
    {
    case ReconciliationQuery_Patient:
      return "Patient";
    case ReconciliationQuery_Worklist:
      return "Worklist";
    default:
      throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange);
    }
  }

  namespace ConfigurationReader
  {
    namespace
    {
      // The sources of one round run in parallel and the process runs at most this many
      // source queries at once (doc/Reconciliation.md, "Sources that do not answer"): more
      // entries could never all be asked.
      const Json::ArrayIndex kMaxSources = 8;

      // IssuerOfPatientID is a DICOM LO: at most 64 characters, no backslash (the value
      // separator) and no control characters.
      bool IsLongString(const std::string& text)
      {
        size_t characters = 0;
        for (unsigned char c : text)
        {
          if (c < 0x20 || c == 0x7f || c == '\\')
          {
            return false;
          }
          if ((c & 0xc0) != 0x80)
          {
            characters++;
          }
        }
        return characters <= 64;
      }

      std::vector<ReconciliationSource> GetSources(const Json::Value& s)
      {
        const Json::Value& list = Member(s, "Reconciliation.Sources");
        if (!list.isArray())
        {
          Bad("Reconciliation.Sources", "must be a list of {\"Modality\", \"Query\"}");
        }
        if (list.size() > kMaxSources)
        {
          Bad("Reconciliation.Sources", "names more than " + std::to_string(kMaxSources) +
                                            " sources (at most 8 queries run at once)");
        }
        std::vector<ReconciliationSource> result;
        std::set<std::pair<std::string, int>> seen;
        for (Json::ArrayIndex i = 0; i < list.size(); i++)
        {
          const std::string where = "Reconciliation.Sources[" + std::to_string(i) + "]";
          const Json::Value& r = list[i];
          if (!r.isObject() || !r["Modality"].isString() || !r["Query"].isString() ||
              r["Modality"].asString().empty())
          {
            Bad(where, "needs the strings \"Modality\" and \"Query\"");
          }
          for (const std::string& key : r.getMemberNames())
          {
            if (key != "Modality" && key != "Query")
            {
              Bad(where, "unknown key \"" + key + "\"");
            }
          }
          ReconciliationSource source;
          source.modality = r["Modality"].asString();
          // The name goes into the path of Orthanc's REST API ("/modalities/{name}/query").
          if (source.modality.find_first_of("/?#%\\") != std::string::npos ||
              std::any_of(source.modality.begin(), source.modality.end(),
                          [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
          {
            Bad(where + ".Modality", "must be a DicomModalities name without '/', '?', '#', '%' "
                                     "or '\\'");
          }
          const std::string query = r["Query"].asString();
          if (query == "Patient")
            source.query = ReconciliationQuery_Patient;
          else if (query == "Worklist")
            source.query = ReconciliationQuery_Worklist;
          else
            Bad(where + ".Query", "must be \"Patient\" (a PACS) or \"Worklist\" (a RIS)");
          if (!seen.insert(std::make_pair(source.modality, static_cast<int>(source.query))).second)
          {
            Bad(where, "asks \"" + source.modality + "\" the same query twice");
          }
          result.push_back(source);
        }
        return result;
      }
    } // namespace

    ReconciliationSettings GetReconciliation(const Json::Value& s, Role role)
    {
      ReconciliationSettings r;
      r.sources = GetSources(s);
      if (role == Role_Gateway && !r.sources.empty())
      {
        // A gateway keeps no studies and releases nothing; it must not reach into the PACS.
        Bad("Reconciliation.Sources", "has no effect on a gateway, which releases nothing");
      }
      r.local = GetBool(s, "Reconciliation.Local");
      r.issuerOfPatientId = GetString(s, "Reconciliation.IssuerOfPatientID", true);
      if (!IsLongString(r.issuerOfPatientId))
      {
        Bad("Reconciliation.IssuerOfPatientID",
            "must be a DICOM LO: at most 64 characters, no backslash or control character");
      }
      r.threshold = static_cast<int>(GetUnsigned(s, "Reconciliation.Threshold", 1, 100));
      r.autoThreshold = static_cast<int>(GetUnsigned(s, "Reconciliation.AutoThreshold", 1, 100));
      if (r.autoThreshold < r.threshold)
      {
        Bad("Reconciliation.AutoThreshold", "must not be below Reconciliation.Threshold");
      }
      r.timeoutSeconds =
          static_cast<unsigned int>(GetUnsigned(s, "Reconciliation.TimeoutSeconds", 1, 60));
      r.maxAnswers =
          static_cast<unsigned int>(GetUnsigned(s, "Reconciliation.MaxAnswers", 1, 1000));
      r.maxCandidates =
          static_cast<unsigned int>(GetUnsigned(s, "Reconciliation.MaxCandidates", 1, 100));
      r.cacheSeconds =
          static_cast<unsigned int>(GetUnsigned(s, "Reconciliation.CacheSeconds", 0, 86400));
      return r;
    }
  } // namespace ConfigurationReader
} // namespace Inbound
