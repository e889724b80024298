// What each partner site sent and when it last called (tables "partner_stats", "partner_contacts").
#pragma once

#include "Ledger/LedgerDatabase.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace Inbound
{
  // The figures of one STOW-RS request of a partner, recorded when it ends.
  struct PartnerRequestTally
  {
    uint64_t instances = 0;       // parts stored, or already stored with the same bytes
    uint64_t bytes = 0;           // their bytes
    uint64_t failures = 0;        // parts refused, plus 1 when the request failed as a whole
    uint64_t studies = 0;         // partner uploads this request opened
    std::string lastFailureCode;  // Inbound's code of the last refusal; empty: none
  };

  struct PartnerDayStats
  {
    std::string day;  // UTC, YYYY-MM-DD
    uint64_t requests = 0;
    uint64_t instances = 0;
    uint64_t bytes = 0;
    uint64_t failures = 0;
    uint64_t studies = 0;
  };

  struct PartnerActivity
  {
    std::string partnerId;
    int64_t lastContactAt = 0;  // ms; 0: never
    int64_t lastStudyAt = 0;    // its last request that stored an instance
    int64_t lastFailureAt = 0;
    std::string lastFailureCode;
    bool silenceAlerted = false;  // the alert of the current silence was raised
    bool resumed = false;  // it called after an alerted silence; "partner-resumed" not written yet
    std::vector<PartnerDayStats> days;  // the days of the window that have figures, newest first
  };

  // One upload of a partner, for the admin's view of that partner.
  struct PartnerUpload
  {
    std::string id;
    std::string state;     // UploadState's text form
    std::string study;     // the Study Instance UID the upload is keyed by
    std::string gateway;   // (Internal) the gateway it was pulled from; "" received here
    int64_t createdAt = 0;
    int64_t updatedAt = 0;
    int64_t completedAt = 0;
    uint64_t files = 0;
    uint64_t bytes = 0;
  };

  // (Internal) What came through a gateway under one partner label since a time: the label is
  // the gateway's word only (doc/Security.md, "Partner sites").
  struct PulledPartnerUploads
  {
    std::string partnerId;
    std::string gateway;
    uint64_t uploads = 0;
    uint64_t files = 0;
    uint64_t bytes = 0;
    int64_t lastUploadAt = 0;
  };

  // Partner figures for the admin's views and the silence alert (doc/Ledger.md, schema 7).
  // Partners are ids of Inbound.Partners; rows of partners removed from the configuration stay
  // until the data directory goes (a few rows per day and partner).
  class PartnerStore : public boost::noncopyable
  {
  private:
    LedgerDatabase& database_;

  public:
    explicit PartnerStore(LedgerDatabase& database);

    // One transaction: adds the request to the day of "now" and sets the last contact (and
    // last study / failure); a contact ends a silence: silence_alerted 1 (alerted) becomes 2
    // ("resumed": PartnerWatch writes "partner-resumed", then MarkResumeAudited), else 0.
    void RecordRequest(const std::string& partnerId, int64_t now, const PartnerRequestTally& tally);

    // Every partner with a row, by id, with the figures of the "days" UTC days up to "now".
    std::vector<PartnerActivity> List(int64_t now, unsigned int days) const;

    // The same by partner id.
    std::map<std::string, PartnerActivity> ListByPartner(int64_t now, unsigned int days) const;

    // False when the partner never called.
    bool Lookup(PartnerActivity& activity, const std::string& partnerId, int64_t now,
                unsigned int days) const;

    // Records that the silence alert was raised (true) for the partner's current silence.
    // Returns false when it already was (or the partner never called): the alert is raised
    // once per silence. A partner that never called gets a row with last_contact_at 0.
    bool MarkSilenceAlerted(const std::string& partnerId);

    // Ends a "resumed" state (see RecordRequest); false when it was not (any more) in it, so
    // that "partner-resumed" is written once.
    bool MarkResumeAudited(const std::string& partnerId);

    // The partner's uploads, newest first, at most "limit".
    std::vector<PartnerUpload> ListUploads(const std::string& partnerId, unsigned int limit) const;

    // Uploads pulled from gateways with a partner label, created since "sinceMs", per label
    // and gateway (ordered by both).
    std::vector<PulledPartnerUploads> ListPulled(int64_t sinceMs) const;

    // The open uploads per partner id (partners without any are absent).
    std::map<std::string, uint64_t> CountOpenUploads() const;
  };
}
