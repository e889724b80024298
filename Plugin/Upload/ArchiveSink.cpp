// Isolates a file into its upload's patient namespace, stores it, writes the metadata.
#include "ArchiveSink.h"

#include "Http/ApiError.h"
#include "Toolbox/Json.h"
#include "Toolbox/Time.h"
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
                           IOrthancStore& store) :
    configuration_(configuration),
    ledger_(ledger),
    store_(store)
  {
  }

  Json::Value ArchiveSink::DescribeSender(const Configuration& configuration,
                                          const UploadRecord& upload, int64_t receivedAt)
  {
    Json::Value sender(Json::objectValue);
    sender["uploadId"] = upload.id;
    sender["sender"] = upload.sender.ToJson();
    const Recipient* recipient = configuration.LookupRecipient(upload.recipientId);
    if (recipient != nullptr)
    {
      sender["recipient"]["id"] = recipient->id;
      sender["recipient"]["name"] = recipient->name;
    }
    else
    {
      sender["recipient"] = Json::nullValue;
    }
    sender["message"] = upload.message;
    sender["consent"]["version"] = upload.consentVersion;
    sender["consent"]["accepted"] = true;
    sender["clientIp"] = upload.clientIp;
    sender["userAgent"] = upload.userAgent;
    sender["openedAt"] = FormatIso8601(upload.createdAt);
    sender["receivedAt"] = FormatIso8601(receivedAt);
    if (!upload.partnerId.empty())
    {
      // Sent automatically by a partner site (on an Internal: its gateway's label).
      sender["partner"] = upload.partnerId;
    }
    return sender;
  }

  void ArchiveSink::WriteStudyMetadata(const UploadRecord& upload, const ItemRecord& item)
  {
    const MetadataNames& names = configuration_.metadata;
    store_.SetMetadata(ResourceLevel_Study, item.orthancStudyId, names.upload, upload.id);
    store_.SetMetadata(ResourceLevel_Study, item.orthancStudyId, names.originalPatientId,
                       item.originalPatientId);
    store_.SetMetadata(ResourceLevel_Study, item.orthancStudyId, names.sender,
                       JsonText::Compact(DescribeSender(configuration_, upload, item.storedAt)));
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
    std::string previous;
    if (stored.alreadyStored &&
        store_.LookupMetadata(previous, ResourceLevel_Instance, stored.instanceId,
                              configuration_.metadata.sha256) &&
        previous != item.sha256)
    {
      // Two different files with one SOP Instance UID sent at the same time: the archive
      // keeps the first, so the second is refused rather than described wrongly.
      throw ApiError(409, "duplicate-instance",
                     "Another file of this upload has the same SOP Instance UID (" +
                       item.sopInstanceUid + "); only the first one is kept");
    }
    item.orthancInstanceId = stored.instanceId;
    item.orthancSeriesId = stored.seriesId;
    item.orthancStudyId = stored.studyId;
    item.orthancPatientId = stored.patientId;

    const MetadataNames& names = configuration_.metadata;
    store_.SetMetadata(ResourceLevel_Instance, stored.instanceId, names.upload, upload.id);
    store_.SetMetadata(ResourceLevel_Instance, stored.instanceId, names.originalPatientId,
                       item.originalPatientId);
    store_.SetMetadata(ResourceLevel_Instance, stored.instanceId, names.sha256, item.sha256);
    // Once per Orthanc study, not per StudyInstanceUID: one study sent under two PatientIDs is
    // two isolated patients, hence two Orthanc studies, each described.
    std::string owner;
    if (!ledger_.Uploads().LookupUploadOfStudy(owner, item.orthancStudyId))
    {
      WriteStudyMetadata(upload, item);
    }
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
