// Partner STOW-RS requests running right now: per partner and in all (Inbound.PartnerLimits).
#pragma once

#include <boost/noncopyable.hpp>

#include <map>
#include <mutex>
#include <string>

namespace Inbound
{
  // Each stream holds one of Orthanc's HTTP threads for as long as the partner sends, so the
  // access filter admits at most "MaxStreams" per partner and "MaxStreamsTotal" in all
  // (doc/Configuration.md, "Partner sites"); the route's finalize callback releases it.
  class PartnerStreams : public boost::noncopyable
  {
  private:
    unsigned int maxTotal_;
    std::mutex mutex_;
    std::map<std::string, unsigned int> perPartner_;
    unsigned int total_ = 0;

  public:
    explicit PartnerStreams(unsigned int maxTotal) :
      maxTotal_(maxTotal)
    {
    }

    // False (nothing taken) when the partner has "maxForPartner" streams, or all partners
    // together the total.
    bool Acquire(const std::string& partnerId, unsigned int maxForPartner);

    // Releasing a stream the partner does not hold does nothing.
    void Release(const std::string& partnerId);

    unsigned int GetCount(const std::string& partnerId);

    unsigned int GetTotal();
  };
}
