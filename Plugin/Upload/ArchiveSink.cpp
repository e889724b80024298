// Isolates a file into its upload's patient namespace and stores it; its metadata follow.
#include "ArchiveSink.h"

#include "Http/ApiError.h"
#include "Upload/DicomText.h"
#include "Upload/DicomWriter.h"
#include "Upload/Isolation.h"
#include "Upload/Preamble.h"

#include <OrthancException.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

namespace Inbound
{
  ArchiveSink::ArchiveSink(const Configuration& configuration, Ledger& ledger,
                           IOrthancStore& store, const IClock& clock) :
    configuration_(configuration),
    ledger_(ledger),
    store_(store),
    metadata_(configuration, ledger, store, clock)
  {
  }

  void ArchiveSink::Keep(const UploadRecord& upload, ItemRecord& item,
                         Orthanc::ParsedDicomFile* parsed, const void* body, size_t size)
  {
    if (parsed == nullptr)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError,
                                      "The archive sink needs the parsed file");
    }
    std::string rewritten;
    Isolate(rewritten, upload, item, *parsed, body, size);
    Store(upload, item, rewritten);
  }

  void ArchiveSink::KeepFile(const UploadRecord& upload, ItemRecord& item,
                             std::unique_ptr<Orthanc::ParsedDicomFile> parsed,
                             const std::string& path, uint64_t size)
  {
    if (parsed == nullptr)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError,
                                      "The archive sink needs the parsed file");
    }
    std::string rewritten;
    Isolate(rewritten, upload, item, *parsed, nullptr, 0);  // parsed whole (ParseFile)
    // Freed before Orthanc stores the file: its peak is the rewritten file and Orthanc's own
    // store, as for a file that Orthanc receives natively (doc/Configuration.md, "Memory per
    // file"). The parse read its large values from "path", which it no longer needs.
    parsed.reset();
    Store(upload, item, rewritten);
  }

  void ArchiveSink::Isolate(std::string& rewritten, const UploadRecord& upload, ItemRecord& item,
                            Orthanc::ParsedDicomFile& dicom, const void* body, size_t size)
  {
    // The PatientID as sent, by its bytes: its ordinal in this upload makes the isolated ID
    // unique (see Isolation.h); its decoded text only makes it readable.
    DcmDataset& dataset = *dicom.GetDcmtkObject().getDataset();
    DcmElement* element = nullptr;
    if (dataset.findAndGetElement(DCM_PatientID, element, OFFalse).good() && element != nullptr &&
        !element->isLeaf())
    {
      // Sent as a sequence (explicit VR "SQ"): it has no bytes to compare, and reading it as
      // empty would put every such file into the patient of the files without a PatientID.
      throw ApiError(400, "invalid-dicom", "The file's PatientID (0010,0020) is a sequence");
    }
    std::string raw;
    DicomText::ReadRaw(raw, dataset, DCM_PatientID);
    const int64_t ordinal = ledger_.Patients().GetOrdinal(upload.id, raw);
    item.isolatedPatientId = Isolation::MakePatientId(configuration_.patientIdPrefix, upload.id,
                                                      ordinal, item.originalPatientId);
    Isolation::Apply(dataset, item.isolatedPatientId, upload.id, upload.sender.institution,
                     Isolation::Now());
    // Orthanc's SaveToMemoryBuffer without its copy of the dataset: the parse is left empty.
    // A parse that stopped before the pixel data gets it copied from the body as sent.
    DicomWriter::SaveAndRelease(rewritten, dicom, body, size);
    // DCMTK keeps the preamble it read and writes it back when the file as read is saved;
    // the dataset is written into a new file (zero preamble), but a sender's executable
    // header must never be stored whatever the writer does (CVE-2019-11687;
    // doc/Security.md, "Polyglots").
    Preamble::Clear(rewritten);
  }

  void ArchiveSink::Store(const UploadRecord& upload, ItemRecord& item, std::string& rewritten)
  {
    const StoredInstance stored = store_.StoreInstance(rewritten);
    if (stored.alreadyStored)
    {
      // Two different files with one SOP Instance UID sent at the same time: the archive
      // keeps the first, so the second is refused rather than described wrongly. The first's
      // SHA-256 is in the ledger once recorded, in the instance's metadata once written.
      std::string previous;
      ItemRecord other;
      if ((store_.LookupMetadata(previous, ResourceLevel_Instance, stored.instanceId,
                                 configuration_.metadata.sha256) &&
           previous != item.sha256) ||
          (ledger_.Uploads().LookupItemBySop(other, upload.id, item.sopInstanceUid) &&
           other.sha256 != item.sha256))
      {
        throw ApiError(409, "duplicate-instance",
                       "Another file of this upload has the same SOP Instance UID (" +
                         item.sopInstanceUid + "); only the first one is kept");
      }
    }
    item.orthancInstanceId = stored.instanceId;
    item.orthancSeriesId = stored.seriesId;
    item.orthancStudyId = stored.studyId;
    item.orthancPatientId = stored.patientId;
    item.metadataOwed = true;  // written once the ledger has the item (Recorded)
  }

  void ArchiveSink::Recorded(const ItemRecord& item)
  {
    metadata_.Enqueue(item);
  }

  void ArchiveSink::Settle(const std::string& uploadId)
  {
    metadata_.Settle(uploadId);
  }

  void ArchiveSink::Remove(const std::string& uploadId, const std::vector<ItemRecord>& items)
  {
    // An instance already gone (deleted by an admin) is no error.
    for (const ItemRecord& item : items)
    {
      store_.DeleteResource(ResourceLevel_Instance, item.orthancInstanceId);
    }
  }
}
