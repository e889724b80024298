// The copy of a released study that carries the hospital's patient identity: made, removed.
#pragma once

#include "Forward/IOrthancRest.h"
#include "Ledger/Ledger.h"
#include "Reconcile/Coercion.h"

#include <boost/noncopyable.hpp>

#include <string>

namespace Inbound
{
  // IHE Import Reconciliation: the instances that a forward's upload stored in its study are
  // copied with the hospital's identity (Reconcile/Coercion.h: PatientID, issuer, and name,
  // birth date, sex, accession number, new UIDs when asked for; the sender's values recorded
  // in OriginalAttributesSequence and OtherPatientIDsSequence) and stored by Orthanc as a
  // study of their own, which is sent, then removed once the PACS has it (unless
  // Forwarding.KeepReconciledCopy).
  // Runs on the forwarder's thread only.
  class ReconciledCopy : public boost::noncopyable
  {
  private:
    IOrthancRest& orthanc_;
    const Ledger& ledger_;
    const std::string hospitalIssuer_;  // Reconciliation.IssuerOfPatientID

  public:
    ReconciledCopy(IOrthancRest& orthanc, const Ledger& ledger, const std::string& hospitalIssuer);

    // The identity the copy of this forward gets.
    static CoercedIdentity GetIdentity(const ForwardRecord& forward);

    // Stores the copy and answers its Orthanc study; std::runtime_error when Orthanc did not
    // make it one study of its own (what it stored of it is deleted again).
    std::string Make(const ForwardRecord& forward);

    // Deletes the copy (forward.sentStudy), and only the copy.
    void Remove(const ForwardRecord& forward);
  };
}
