// A DicomSummary as one line, for comparing two parses of one file in tests.
#pragma once

#include "Upload/DicomInspector.h"

#include <string>

namespace InboundTests
{
  inline std::string DescribeSummary(const Inbound::DicomSummary& s)
  {
    return s.sopInstanceUid + "|" + s.sopClassUid + "|" + s.seriesInstanceUid + "|" +
           s.studyInstanceUid + "|" + s.patientId + "|" + s.patientIdBytes + "|" +
           (s.patientIdExact ? "exact" : "inexact") + "|" + s.patientName + "|" +
           s.patientBirthDate + "|" + s.modality + "|" + s.studyDate + "|" +
           s.studyDescription + "|" + s.transferSyntax;
  }
}
