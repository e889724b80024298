// What the intake answers for one part of a partner's STOW-RS request, and the session interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace Inbound
{
  // PS3.18 Annex I FailureReason (0008,1197) values Inbound answers (doc/Api.md "Partner STOW-RS").
  enum StowFailureReason : uint16_t
  {
    StowFailureReason_None = 0x0000,
    StowFailureReason_ProcessingFailure = 0x0110,    // internal error
    StowFailureReason_DuplicateInstance = 0x0111,    // same SOP instance, other bytes, same upload
    StowFailureReason_SopClassNotSupported = 0x0122, // DICOMDIR
    StowFailureReason_TooLarge = 0xA700,
    StowFailureReason_QuotaExceeded = 0xA701,
    StowFailureReason_StorageFull = 0xA702,
    StowFailureReason_ServerBusy = 0xA703,
    StowFailureReason_ScannerUnavailable = 0xA704,
    StowFailureReason_CannotUnderstand = 0xC000, // not DICOM, invalid DICOM, not application/dicom
    StowFailureReason_Malware = 0xC010,
    StowFailureReason_StudyMismatch = 0xC409 // the route's {study} differs from the part's
  };

  // The outcome of one part. ok: stored, or already stored with the same bytes (a re-sent
  // instance is referenced, not failed). Otherwise failureReason and code say why.
  struct StowItemResult
  {
    bool ok = false;
    std::string sopClass;    // (0008,0016), empty when the part could not be read
    std::string sopInstance; // (0008,0018), idem
    std::string study;       // (0020,000D)
    std::string series;      // (0020,000E)
    uint16_t failureReason = StowFailureReason_None;
    std::string code;            // Inbound's error code ("not-dicom", "too-large", ...)
    bool transient = false;      // worth sending again later (A7xx)
    unsigned int retryAfter = 0; // seconds, when transient
  };

  // One partner request's intake (implemented by the upload service). Add() is called once per
  // part, from up to two threads at once and not necessarily in the parts' order (StowReader's
  // pipeline); Close() once at the end, whatever happened, after every Add() has returned.
  class IPartnerSession
  {
  public:
    virtual ~IPartnerSession()
    {
    }

    // expectedStudy: the route's {study}, or empty for /inbound/dicom-web/studies.
    virtual StowItemResult Add(const void* body, size_t size, const std::string& expectedStudy) = 0;

    // Memory for a part of "partBytes" being read or stored on the reading thread, beyond what
    // the request reserved when it was admitted (and its body, when "bodyHeld"): replaces what
    // was asked before (0 gives it back). False when the server's in-flight budget cannot hold
    // it. Called on the reading thread only.
    virtual bool ReserveBuffering(uint64_t partBytes, bool bodyHeld)
    {
      (void) partBytes;
      (void) bodyHeld;
      return true;
    }

    // The request as a whole was refused ("no-instances", "truncated", "too-large", ...): called
    // once, before Close(), so that the partner's figures count it as a failure.
    virtual void RequestFailed(const std::string& code)
    {
      (void) code;
    }

    virtual void Close() = 0;
  };
} // namespace Inbound
