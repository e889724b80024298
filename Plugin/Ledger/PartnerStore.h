// What each partner site sent and when it last called (tables "partner_stats", "partner_contacts").
#pragma once

#include "Ledger/LedgerDatabase.h"

#include <cstdint>
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
    std::vector<PartnerDayStats> days;  // the days of the window that have figures, newest first
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
    // last study / failure); a contact ends a silence (silence_alerted back to 0).
    void RecordRequest(const std::string& partnerId, int64_t now, const PartnerRequestTally& tally);

    // Every partner with a row, by id, with the figures of the "days" UTC days up to "now".
    std::vector<PartnerActivity> List(int64_t now, unsigned int days) const;

    // False when the partner never called.
    bool Lookup(PartnerActivity& activity, const std::string& partnerId, int64_t now,
                unsigned int days) const;

    // Records that the silence alert was raised (true) for the partner's current silence.
    // Returns false when it already was (or the partner never called): the alert is raised
    // once per silence. A partner that never called gets a row with last_contact_at 0.
    bool MarkSilenceAlerted(const std::string& partnerId);
  };
}
