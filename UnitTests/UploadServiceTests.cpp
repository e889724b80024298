// Unit tests of the upload service: open, files, isolation, refusals, complete, cancel, expiry.
#include "Http/ApiError.h"
#include "LedgerBackends.h"
#include "TestSupport.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Upload/ArchiveSink.h"
#include "Upload/UploadService.h"

#include <DicomFormat/DicomTag.h>

#include <boost/filesystem.hpp>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <gtest/gtest.h>

#include <fstream>

using namespace Inbound;
using InboundTests::MakeDicom;

namespace
{
  // Records the memory that the service asks for before parsing a file, and what it still
  // holds; refuses it as LimitsGuard does when "busy".
  class RecordingPolicy : public NoUploadPolicy
  {
  public:
    std::vector<uint64_t> asked;
    uint64_t held = 0;
    bool busy = false;

    std::unique_ptr<MemoryHold> ReserveParsingGrowth(uint64_t extraBytes) override
    {
      asked.push_back(extraBytes);
      if (busy)
      {
        throw ApiError(503, "server-busy", "busy").WithHeader("Retry-After", "5");
      }
      held += extraBytes;
      return std::unique_ptr<MemoryHold>(
        new MemoryHold([this, extraBytes]() { held -= extraBytes; }));
    }
  };

  // A file in the Deflated transfer syntax whose dataset inflates to more than "padding"
  // bytes (a long image comment of one letter, which deflates to almost nothing).
  std::string MakeDeflatedDicom(const std::string& sopUid, size_t padding, bool withSeries = true)
  {
    Orthanc::ParsedDicomFile dicom(MakeDicom("1", "1.2", "1.2.3", sopUid));
    if (!withSeries)
    {
      dicom.Remove(Orthanc::DICOM_TAG_SERIES_INSTANCE_UID);
    }
    DcmFileFormat& file = dicom.GetDcmtkObject();
    EXPECT_TRUE(file.getDataset()->putAndInsertString(DCM_ImageComments,
                                                      std::string(padding, 'a').c_str()).good());
    const boost::filesystem::path path =
      boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("deflated-%%%%%%%%.dcm");
    EXPECT_TRUE(file.saveFile(path.string().c_str(), EXS_DeflatedLittleEndianExplicit).good());
    std::ifstream in(path.string(), std::ios::binary);
    const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    boost::filesystem::remove(path);
    return content;
  }

  // Notes what the policy holds while Orthanc stores a file (and parses it again).
  class WatchedStore : public InboundTests::FakeStore
  {
  public:
    const RecordingPolicy* policy = nullptr;
    std::vector<uint64_t> heldWhileStoring;

    Inbound::StoredInstance StoreInstance(const std::string& dicom) override
    {
      heldWhileStoring.push_back(policy->held);
      return FakeStore::StoreInstance(dicom);
    }
  };

  class UploadServiceTest : public ::testing::Test
  {
  protected:
    Configuration configuration_;
    Ledger ledger_;
    WatchedStore store_;
    InboundTests::FakeClock clock_;
    ArchiveSink sink_;
    RecordingPolicy policy_;
    UploadService service_;
    ClientInfo client_;

    static Configuration Load()
    {
      Json::Value section;
      std::string errors;
      JsonText::ParseConfiguration(section, InboundTests::MakeConfigurationJson(), errors);
      return Configuration::Parse(section);
    }

  public:
    UploadServiceTest() :
      configuration_(Load()),
      ledger_(InboundTests::TestLedgerLocation()),
      sink_(configuration_, ledger_, store_, clock_),
      service_(configuration_, ledger_, sink_, policy_, clock_)
    {
      store_.policy = &policy_;
      client_.ip = "203.0.113.9";
      client_.userAgent = "test";
    }

    ApiAnswer Open()
    {
      return InboundTests::OpenTestUpload(service_, client_);
    }

    ApiAnswer Put(const ApiAnswer& upload, const std::string& file)
    {
      return InboundTests::PutTestFile(service_, upload, file, client_);
    }

    std::string ErrorCode(const std::function<void()>& f, int expectedStatus)
    {
      try
      {
        f();
      }
      catch (const ApiError& e)
      {
        EXPECT_EQ(expectedStatus, e.GetStatus()) << e.GetCode();
        return e.GetCode();
      }
      return "none";
    }
  };
}

TEST_F(UploadServiceTest, OpenAnswersIdTokenAndLimits)
{
  const ApiAnswer a = Open();
  EXPECT_EQ(201, a.status);
  EXPECT_EQ(12u, a.body["id"].asString().size());
  EXPECT_EQ(43u, a.body["token"].asString().size());
  EXPECT_EQ("2026-02-02T02:41:00.000Z", a.body["expiresAt"].asString());
  EXPECT_EQ(5u, a.body["limits"]["maxFilesPerUpload"].asUInt());

  UploadRecord r;
  ASSERT_TRUE(ledger_.Uploads().Lookup(r, a.body["id"].asString()));
  EXPECT_NE(a.body["token"].asString(), r.tokenHash);  // only a hash of the token is kept
  EXPECT_EQ("203.0.113.9", r.clientIp);
}

TEST_F(UploadServiceTest, InfoNeverShowsEmailAddresses)
{
  const std::string text = JsonText::Compact(service_.GetInfo());
  EXPECT_EQ(std::string::npos, text.find("@"));
  EXPECT_NE(std::string::npos, text.find("Neuroradiology"));
}

TEST_F(UploadServiceTest, StoresIsolatedWithMetadataAndIsIdempotent)
{
  const ApiAnswer u = Open();
  const std::string id = u.body["id"].asString();
  const std::string file = MakeDicom("12345", "1.2.3", "1.2.3.4", "1.2.3.4.5");

  const ApiAnswer first = Put(u, file);
  EXPECT_EQ(201, first.status);
  EXPECT_EQ("INB-" + id + "-1-12345", first.body["patientId"].asString());
  EXPECT_EQ("1.2.3.4.5", first.body["sopInstanceUid"].asString());

  ASSERT_EQ(1u, store_.instances.size());
  const auto& stored = store_.instances.begin()->second;
  EXPECT_EQ("INB-" + id + "-1-12345", stored.patientId);
  Orthanc::ParsedDicomFile parsed(stored.dicom);
  std::string issuer, name;
  ASSERT_TRUE(parsed.GetTagValue(issuer, Orthanc::DicomTag(0x0010, 0x0021)));
  EXPECT_NE(std::string::npos, issuer.find(id));
  ASSERT_TRUE(parsed.GetTagValue(name, Orthanc::DICOM_TAG_PATIENT_NAME));
  EXPECT_EQ("Test^Patient", name);  // the rest is untouched

  const auto& instanceMetadata = store_.metadata[store_.instances.begin()->first];
  EXPECT_EQ(id, instanceMetadata.at("InboundUpload"));
  EXPECT_EQ("12345", instanceMetadata.at("InboundOriginalPatientID"));
  EXPECT_EQ(Crypto::Sha256Hex(file), instanceMetadata.at("InboundSha256"));
  const auto& studyMetadata = store_.metadata[stored.orthancStudy];
  Json::Value sender;
  ASSERT_TRUE(JsonText::ParseStrict(sender, studyMetadata.at("InboundSender").data(),
                                    studyMetadata.at("InboundSender").size()));
  EXPECT_EQ("a@example.org", sender["sender"]["email"].asString());
  EXPECT_EQ("neuro", sender["recipient"]["id"].asString());
  EXPECT_EQ("203.0.113.9", sender["clientIp"].asString());

  const ApiAnswer retry = Put(u, file);
  EXPECT_EQ(200, retry.status);
  EXPECT_EQ(JsonText::Compact(first.body), JsonText::Compact(retry.body));
  EXPECT_EQ(1u, store_.instances.size());
  EXPECT_EQ(1, store_.stores);  // a retry is answered from the ledger
}

TEST_F(UploadServiceTest, TwoUploadsOfTheSameFileAreTwoPatients)
{
  const std::string file = MakeDicom("12345", "1.2.3", "1.2.3.4", "1.2.3.4.5");
  const ApiAnswer a = Put(Open(), file);
  const ApiAnswer b = Put(Open(), file);
  EXPECT_NE(a.body["patientId"].asString(), b.body["patientId"].asString());
  EXPECT_EQ(2u, store_.instances.size());
}

TEST_F(UploadServiceTest, PatientIdsOfOneUploadAreNumberedByTheirBytes)
{
  // Issue 14: IDs that the old rule cut or decoded into one patient stay apart; one study
  // sent under two PatientIDs is two isolated studies, each with the upload's metadata.
  const ApiAnswer u = Open();
  const std::string id = u.body["id"].asString();
  const std::string oid = "1.2.826.0.1.3680043.8.498.1234567890123456789012345";  // 52
  const ApiAnswer a = Put(u, MakeDicom(oid + "1", "1.2", "1.2.1", "1.2.1.1"));
  const ApiAnswer b = Put(u, MakeDicom(oid + "2", "1.2", "1.2.2", "1.2.2.1"));
  const ApiAnswer c = Put(u, MakeDicom(oid + "1", "1.2", "1.2.1", "1.2.1.2"));
  EXPECT_EQ(("INB-" + id + "-1-" + oid + "1").substr(0, 64), a.body["patientId"].asString());
  EXPECT_EQ(("INB-" + id + "-2-" + oid + "2").substr(0, 64), b.body["patientId"].asString());
  EXPECT_EQ(a.body["patientId"], c.body["patientId"]);
  ASSERT_EQ(3u, store_.instances.size());
  std::set<std::string> studies;
  for (const auto& instance : store_.instances)
  {
    studies.insert(instance.second.orthancStudy);
    EXPECT_EQ(id, store_.metadata[instance.second.orthancStudy].at("InboundUpload"));
  }
  EXPECT_EQ(2u, studies.size());
}

TEST_F(UploadServiceTest, RefusesBadFilesAndStoresNothing)
{
  const ApiAnswer u = Open();
  const std::string id = u.body["id"].asString(), token = u.body["token"].asString();
  const std::string file = MakeDicom("1", "1.2", "1.2.3", "1.2.3.4");
  const std::string notDicom = "just some text, certainly longer than one hundred and thirty two "
                               "bytes so that the DICM test at byte 128 is what refuses it......";

  EXPECT_EQ("not-dicom", ErrorCode([&] { Put(u, notDicom); }, 400));
  EXPECT_EQ("invalid-dicom", ErrorCode([&] { Put(u, file.substr(0, file.size() / 2)); }, 400));
  EXPECT_EQ("hash-mismatch", ErrorCode([&] {
              service_.PutFile(id, token, Crypto::Sha256Hex("other"), file.data(), file.size(),
                               client_);
            }, 409));
  EXPECT_EQ("bad-hash", ErrorCode([&] {
              service_.PutFile(id, token, "ABC", file.data(), file.size(), client_);
            }, 400));
  EXPECT_EQ("not-found", ErrorCode([&] {
              service_.PutFile(id, "wrong", Crypto::Sha256Hex(file), file.data(), file.size(),
                               client_);
            }, 404));
  EXPECT_EQ("not-found", ErrorCode([&] { service_.GetStatus("NOSUCHUPLOAD", token); }, 404));
  EXPECT_EQ("not-found", ErrorCode([&] { service_.GetStatus(id, ""); }, 404));

  const std::string big(150000, 'x');
  EXPECT_EQ("too-large", ErrorCode([&] { Put(u, big); }, 413));
  EXPECT_TRUE(store_.instances.empty());
  EXPECT_EQ(0u, service_.GetStatus(id, token)["files"].size());
}

TEST_F(UploadServiceTest, MissingUidsAreInvalid)
{
  const ApiAnswer u = Open();
  Orthanc::ParsedDicomFile dicom(MakeDicom("1", "1.2", "1.2.3", "1.2.3.4"));
  dicom.Remove(Orthanc::DICOM_TAG_SERIES_INSTANCE_UID);
  std::string file;
  dicom.SaveToMemoryBuffer(file);
  EXPECT_EQ("invalid-dicom", ErrorCode([&] { Put(u, file); }, 400));
}

TEST_F(UploadServiceTest, PerUploadFileLimit)
{
  const ApiAnswer u = Open();
  for (int i = 0; i < 5; i++)
  {
    EXPECT_EQ(201, Put(u, MakeDicom("1", "1.2", "1.2.3", "1.2.3." + std::to_string(i))).status);
  }
  EXPECT_EQ("too-large", ErrorCode([&] { Put(u, MakeDicom("1", "1.2", "1.2.3", "1.2.3.9")); }, 413));
  EXPECT_EQ(5u, store_.instances.size());
}

TEST_F(UploadServiceTest, CompleteGivesReceiptAndClosesTheUpload)
{
  int completions = 0;
  service_.AddCompletionListener([&] { completions++; });
  const ApiAnswer u = Open();
  const std::string id = u.body["id"].asString(), token = u.body["token"].asString();
  EXPECT_EQ("empty-upload", ErrorCode([&] { service_.Complete(id, token, client_); }, 409));
  EXPECT_EQ(0, completions);

  Put(u, MakeDicom("1", "1.2", "1.2.3", "1.2.3.1", "CT"));
  Put(u, MakeDicom("1", "1.2", "1.2.4", "1.2.4.1", "SR"));
  Put(u, MakeDicom("2", "7.8", "7.8.9", "7.8.9.1", "MR"));

  const Json::Value receipt = service_.Complete(id, token, client_);
  EXPECT_EQ("complete", receipt["state"].asString());
  EXPECT_EQ(3, receipt["files"].asInt());
  ASSERT_EQ(2u, receipt["studies"].size());
  EXPECT_EQ("1.2", receipt["studies"][0]["studyInstanceUid"].asString());
  EXPECT_EQ(2, receipt["studies"][0]["instances"].asInt());
  EXPECT_EQ(2u, receipt["studies"][0]["modalities"].size());
  EXPECT_EQ("Neuroradiology", receipt["recipient"]["name"].asString());
  EXPECT_EQ(9u, receipt["receiptCode"].asString().size());

  EXPECT_EQ(1, completions);  // the background work is woken
  EXPECT_EQ(JsonText::Compact(receipt),
            JsonText::Compact(service_.Complete(id, token, client_)));  // same receipt again
  EXPECT_EQ(1, completions);
  EXPECT_EQ("upload-closed",
            ErrorCode([&] { Put(u, MakeDicom("1", "1.2", "1.2.3", "1.2.3.7")); }, 409));
  EXPECT_EQ("upload-closed", ErrorCode([&] { service_.Cancel(id, token, client_); }, 409));
  EXPECT_EQ(3u, store_.instances.size());
}

TEST_F(UploadServiceTest, CancelRemovesWhatWasStored)
{
  const ApiAnswer u = Open();
  const std::string id = u.body["id"].asString(), token = u.body["token"].asString();
  Put(u, MakeDicom("1", "1.2", "1.2.3", "1.2.3.1"));
  Put(u, MakeDicom("2", "1.3", "1.3.3", "1.3.3.1"));
  ASSERT_EQ(2u, store_.instances.size());

  EXPECT_EQ("cancelled", service_.Cancel(id, token, client_)["state"].asString());
  EXPECT_TRUE(store_.instances.empty());
  EXPECT_EQ(2u, store_.deletedInstances.size());  // the upload's instances, not patients
  EXPECT_TRUE(store_.deletedPatients.empty());
  EXPECT_EQ("cancelled", service_.GetStatus(id, token)["state"].asString());
  EXPECT_EQ("upload-closed", ErrorCode([&] { Put(u, MakeDicom("1", "1.2", "1.2.3", "1.2.3.1")); }, 409));
}

TEST_F(UploadServiceTest, IdleUploadsExpireAndTheirDataGoes)
{
  const ApiAnswer idle = Open();
  Put(idle, MakeDicom("1", "1.2", "1.2.3", "1.2.3.1"));
  clock_.now += 30000;
  const ApiAnswer active = Open();
  Put(active, MakeDicom("1", "1.2", "1.2.3", "1.2.3.1"));
  clock_.now += 40000;  // the first has been idle for 70 s, the second for 40 s (limit 60 s)
  service_.Sweep();

  EXPECT_EQ("expired", service_.GetStatus(idle.body["id"].asString(),
                                           idle.body["token"].asString())["state"].asString());
  EXPECT_EQ("open", service_.GetStatus(active.body["id"].asString(),
                                       active.body["token"].asString())["state"].asString());
  EXPECT_EQ(1u, store_.instances.size());
}

TEST_F(UploadServiceTest, AdminDeleteRemovesACompleteUpload)
{
  const ApiAnswer u = Open();
  const std::string id = u.body["id"].asString(), token = u.body["token"].asString();
  Put(u, MakeDicom("1", "1.2", "1.2.3", "1.2.3.1"));
  service_.Complete(id, token, client_);
  EXPECT_TRUE(service_.Delete(id, client_));
  EXPECT_TRUE(store_.instances.empty());
  EXPECT_FALSE(service_.Delete("NOSUCHUPLOAD", client_));
  UploadRecord r;
  ASSERT_TRUE(ledger_.Uploads().Lookup(r, id));
  EXPECT_EQ(UploadState_Deleted, r.state);
  EXPECT_TRUE(r.purged);
}

TEST_F(UploadServiceTest, TwoDifferentFilesWithOneSopInstanceUidAreRefused)
{
  const ApiAnswer u = Open();
  const std::string first = MakeDicom("1", "1.2", "1.2.3", "1.2.3.4", "CT");
  const std::string second = MakeDicom("1", "1.2", "1.2.3", "1.2.3.4", "MR");  // other bytes
  ASSERT_NE(first, second);
  EXPECT_EQ(201, Put(u, first).status);
  EXPECT_EQ("duplicate-instance", ErrorCode([&] { Put(u, second); }, 409));
  EXPECT_EQ(200, Put(u, first).status);  // the first one's retry is still fine
  ASSERT_EQ(1u, store_.instances.size());
  EXPECT_EQ(Crypto::Sha256Hex(first),
            store_.metadata[store_.instances.begin()->first].at("InboundSha256"));
}

TEST_F(UploadServiceTest, LongPatientIdsAreCutTo64Characters)
{
  const ApiAnswer u = Open();
  const ApiAnswer a = Put(u, MakeDicom(std::string(64, '7'), "1.2", "1.2.3", "1.2.3.1"));
  EXPECT_EQ(64u, a.body["patientId"].asString().size());
}

TEST_F(UploadServiceTest, ADeflatedFileHoldsItsInflatedSizeWhileItIsStored)
{
  const ApiAnswer u = Open();
  const std::string plain = MakeDicom("1", "1.2", "1.2.3", "1.2.3.4.1");
  EXPECT_EQ(201, Put(u, plain).status);
  ASSERT_EQ(1u, policy_.asked.size());
  EXPECT_EQ(0u, policy_.asked[0]);  // parsed as big as it is: nothing more

  // 60 KB of dataset in about 1 KB: the difference is reserved before DCMTK inflates it, and
  // released once the file is stored.
  const std::string deflated = MakeDeflatedDicom("1.2.3.4.2", 60000);
  ASSERT_LT(deflated.size(), 2000u);
  EXPECT_EQ(201, Put(u, deflated).status);
  ASSERT_EQ(2u, policy_.asked.size());
  EXPECT_GT(policy_.asked[1], 60000u - deflated.size());
  EXPECT_LT(policy_.asked[1], 60000u + 1000u);
  ASSERT_EQ(2u, store_.heldWhileStoring.size());
  EXPECT_EQ(0u, store_.heldWhileStoring[0]);
  EXPECT_EQ(policy_.asked[1], store_.heldWhileStoring[1]);  // held until Orthanc has it
  EXPECT_EQ(0u, policy_.held);
  EXPECT_EQ(2u, store_.instances.size());

  // Busy: 503 server-busy with Retry-After, nothing stored; the same file later is stored.
  const std::string other = MakeDeflatedDicom("1.2.3.4.3", 60000);
  policy_.busy = true;
  try
  {
    Put(u, other);
    ADD_FAILURE() << "stored while the server was busy";
  }
  catch (const ApiError& e)
  {
    EXPECT_EQ(503, e.GetStatus());
    EXPECT_EQ("server-busy", e.GetCode());
    EXPECT_EQ(1u, e.GetHeaders().count("Retry-After"));
  }
  EXPECT_EQ(2u, store_.instances.size());
  EXPECT_EQ(2u, service_.GetStatus(u.body["id"].asString(), u.body["token"].asString())["files"].size());
  policy_.busy = false;
  EXPECT_EQ(201, Put(u, other).status);
  EXPECT_EQ(0u, policy_.held);
}

TEST_F(UploadServiceTest, TheHoldIsReleasedWhenParsingOrStoringFails)
{
  const ApiAnswer u = Open();
  // Walked, reserved, then refused by the parse (no Series Instance UID).
  const std::string invalid = MakeDeflatedDicom("1.2.3.4.1", 60000, false);
  EXPECT_EQ("invalid-dicom", ErrorCode([&] { Put(u, invalid); }, 400));
  ASSERT_EQ(1u, policy_.asked.size());
  EXPECT_GT(policy_.asked[0], 50000u);
  EXPECT_EQ(0u, policy_.held);

  // Inflating beyond Upload.MaxFileBytes (100000): refused by the walk, nothing reserved.
  EXPECT_EQ("too-large", ErrorCode([&] { Put(u, MakeDeflatedDicom("1.2.3.4.2", 120000)); }, 413));
  EXPECT_EQ(1u, policy_.asked.size());

  // A second file with the same SOP Instance UID is refused after the parse: released too.
  EXPECT_EQ(201, Put(u, MakeDeflatedDicom("1.2.3.4.3", 1000)).status);
  EXPECT_EQ("duplicate-instance",
            ErrorCode([&] { Put(u, MakeDeflatedDicom("1.2.3.4.3", 2000)); }, 409));
  EXPECT_EQ(0u, policy_.held);
  EXPECT_EQ(1u, store_.instances.size());
}

TEST_F(UploadServiceTest, PulledDeflatedFilesAreReservedToo)
{
  // The Internal stores files pulled from a gateway through the same path: a compromised
  // gateway serving deflate bombs meets the same reservation and refusal.
  UploadRecord pulled;
  pulled.id = "ABCDEFGHJKLM";
  pulled.sender.email = "a@example.org";
  pulled.clientIp = "203.0.113.9";
  pulled.gateway = "gw";  // the upload's own gateway: another one is refused (PullerTests)
  service_.BeginPulledUpload(pulled);
  const std::string id = pulled.id;
  const std::string deflated = MakeDeflatedDicom("1.2.3.4.1", 60000);
  policy_.busy = true;
  EXPECT_EQ("server-busy", ErrorCode([&] {
              service_.ReceivePulledFile(id, Crypto::Sha256Hex(deflated), deflated.size(),
                                         deflated.data(), deflated.size(), "gw");
            }, 503));
  EXPECT_TRUE(store_.instances.empty());
  policy_.busy = false;
  service_.ReceivePulledFile(id, Crypto::Sha256Hex(deflated), deflated.size(), deflated.data(),
                             deflated.size(), "gw");
  ASSERT_EQ(2u, policy_.asked.size());
  EXPECT_GT(policy_.asked[1], 50000u);
  EXPECT_EQ(0u, policy_.held);
  EXPECT_EQ(1u, store_.instances.size());
}
