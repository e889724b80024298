// The patient namespace of an upload: the isolated PatientID rule and the rewrite of a dataset.
#pragma once

#include <cstdint>
#include <string>

class DcmDataset;

namespace Inbound
{
  // The namespace of an upload. Each PatientID as sent becomes, in the stored copy:
  //
  //   <prefix><upload id>-<k>            or   <prefix><upload id>-<k>-<readable>
  //
  // - prefix: Inbound.PatientIdPrefix, 1-16 of [A-Za-z0-9._-], fixed by the configuration;
  // - upload id: exactly 12 characters of "23456789ABCDEFGHJKLMNPQRSTUVWXYZ" (IsUploadId);
  // - k: the ordinal (1, 2, ... in decimal, no leading zero) of this PatientID, compared as
  //   the raw bytes of the element (absent and empty are the same), among the distinct
  //   PatientIDs of the upload, given by the ledger (PatientStore::GetOrdinal) in one
  //   transaction: the same bytes always get the same k, different bytes a different k;
  // - readable: the decoded PatientID with every character but [A-Za-z0-9._-] as '_', cut so
  //   that the whole ID has at most 64 characters (DICOM LO); left out, with its '-', when
  //   nothing of it fits or it is empty. Only for people: it plays no part in uniqueness.
  //
  // Why two different PatientIDs never share an isolated ID: the prefix is the same for
  // every ID of a configuration, so it is stripped off; the next 12 characters are the upload
  // id (fixed length); what follows is '-', then k up to the next '-' or the end (k has only
  // digits). So (upload id, k) is read back from any isolated ID, whatever the readable part
  // holds: two equal isolated IDs have the same upload and the same k. Within one upload, k
  // and the raw bytes map one to one (the ledger table's two unique keys: (upload, bytes) and
  // (upload, k)); so equal isolated IDs mean equal bytes in the same upload. Across uploads
  // the upload ids differ, and so do the IDs. Length: at most 16 + 12 + 1 + 19 digits = 48,
  // always within 64; the result is pure ASCII, so it is the same bytes in every character
  // set and is written without conversion.
  class Isolation
  {
  public:
    // Throws OrthancException(ParameterOutOfRange) on a malformed prefix or upload id or a k
    // below 1: a malformed input would break the argument above, so it fails closed.
    static std::string MakePatientId(const std::string& prefix, const std::string& uploadId,
                                     int64_t ordinal, const std::string& decodedOriginal);

    // True when "patientId" has the shape MakePatientId gives with this prefix: the prefix, a
    // well-formed upload id, '-', an ordinal (digits, no leading zero), then nothing or '-'
    // and anything. Any upload's, not only one still in the ledger: the reconciliation
    // assistant never offers an isolated patient as the hospital's (doc/Reconciliation.md).
    static bool IsIsolatedPatientId(const std::string& prefix, const std::string& patientId);

    static std::string MakeIssuer(const std::string& uploadId);

    // In the dataset, element by element, nothing else re-encoded: PatientID := the
    // isolated ID (ASCII bytes), IssuerOfPatientID := MakeIssuer(), the sender's
    // IssuerOfPatientIDQualifiersSequence removed (it described the sender's issuer), and one
    // item appended to OriginalAttributesSequence (0400,0561) per PS3.3 C.12.1.1.9 with the
    // sender's three attributes as sent (an absent PatientID or IssuerOfPatientID with zero
    // length, as the standard allows for values added), "modifiedAt" (DT), ModifyingSystem
    // "ORTHANC-INBOUND", SourceOfPreviousValues "source" (may be empty) and reason COERCE.
    static void Apply(DcmDataset& dataset, const std::string& isolatedPatientId,
                      const std::string& uploadId, const std::string& source,
                      const std::string& modifiedAt);

    // The current time as a DICOM DT with UTC offset ("20261204203512.123456+0000").
    static std::string Now();
  };
}
