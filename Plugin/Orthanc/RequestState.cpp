// The per-thread state of the request being handled: its client address and body reservation.
#include "RequestState.h"

#include "Limits/PartnerStreams.h"
#include "PluginContext.h"

namespace Inbound
{
  namespace
  {
    thread_local std::string currentClientAddress_;
    thread_local uint64_t reservation_ = 0;
    thread_local std::string currentPartnerId_;
    thread_local std::string streamPartnerId_;  // "" : no stream held by this thread

    PartnerStreams& GetPartnerStreams()
    {
      static PartnerStreams streams(
        PluginContext::Get().GetConfiguration().partnerLimits.maxStreamsTotal);
      return streams;
    }
  }

  bool AdmitPartnerStream(const std::string& partnerId, unsigned int maxStreams)
  {
    ReleasePartnerStream();
    if (!GetPartnerStreams().Acquire(partnerId, maxStreams))
    {
      return false;
    }
    streamPartnerId_ = partnerId;
    return true;
  }

  void ReleasePartnerStream()
  {
    if (!streamPartnerId_.empty())
    {
      GetPartnerStreams().Release(streamPartnerId_);
      streamPartnerId_.clear();
    }
  }

  const std::string& GetCurrentPartnerId()
  {
    return currentPartnerId_;
  }

  void SetCurrentPartnerId(const std::string& id)
  {
    currentPartnerId_ = id;
  }

  const std::string& GetCurrentClientAddress()
  {
    return currentClientAddress_;
  }

  void SetCurrentClientAddress(const std::string& address)
  {
    currentClientAddress_ = address;
  }

  uint64_t& GetCurrentReservation()
  {
    return reservation_;
  }

  void ReleaseReservation()
  {
    if (reservation_ != 0)
    {
      PluginContext::Get().GetLimits().ReleaseBody(reservation_);
      reservation_ = 0;
    }
  }

  void StartReservation()
  {
    if (reservation_ != 0)
    {
      PluginContext::Get().GetLimits().StartBody(reservation_);
    }
  }
}
