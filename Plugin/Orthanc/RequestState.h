// What an HTTP thread keeps of its current request between the access filter and the route's handler.
#pragma once

#include <cstdint>
#include <string>

namespace Inbound
{
  // The client address that the access filter resolved for the request being handled on
  // this HTTP thread (REST callbacks are not told the address: doc/Architecture.md, fact 2).
  const std::string& GetCurrentClientAddress();

  void SetCurrentClientAddress(const std::string& address);

  // The partner whose token the access filter accepted for this request ("" for none); the
  // STOW-RS handler still checks the Authorization header itself (a Bearer token that another
  // plugin made skips the filter).
  const std::string& GetCurrentPartnerId();

  void SetCurrentPartnerId(const std::string& id);

  // A stream of that partner on this thread, within PartnerLimits.MaxStreams ("maxStreams")
  // and MaxStreamsTotal; false: refused. Released by the route's finalize callback (same
  // thread, doc/Api.md "Partner routes"), or else by the next request on the thread.
  bool AdmitPartnerStream(const std::string& partnerId, unsigned int maxStreams);

  void ReleasePartnerStream();

  // The body reservation of the request on this HTTP thread (see InFlight): 0 for none. The
  // filter makes it; it is released when the handler ends, or, if Orthanc never called the
  // handler (the client went away while sending), by the next request on the same thread.
  uint64_t& GetCurrentReservation();

  void ReleaseReservation();

  // The handler runs: the body's memory is held until it ends, however long that takes,
  // so its reservation must not lapse after Limits.BodyTimeout.
  void StartReservation();
}
