// The public form of an upload id: fixed length, fixed alphabet, checked wherever one comes in.
#pragma once

#include <cstddef>
#include <string>

namespace Inbound
{
  // The public form of an upload id: exactly kUploadIdLength characters of kUploadIdAlphabet
  // (Crypto::RandomCode). One rule for every place that takes an id from outside (routes, a
  // gateway's manifest) and for Isolation, whose PatientIDs are unambiguous only because the
  // id has this fixed length and no '-'.
  const size_t kUploadIdLength = 12;
  extern const char* const kUploadIdAlphabet;

  bool IsUploadId(const std::string& id);

  // A new upload id: "prefix" (Inbound.UploadIdPrefix, at most 4 characters of the alphabet,
  // checked by the configuration) and random characters up to kUploadIdLength, so that the
  // nginx site in front of several Orthancs sends its requests to the one that minted it
  // (doc/Operations.md, "Scale-out"). Every upload id is made here.
  std::string NewUploadId(const std::string& prefix);
}
