#include "Http/ApiError.h"
#include "TestSupport.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Upload/ArchiveSink.h"
#include "Upload/UploadService.h"

#include <DicomFormat/DicomTag.h>

#include <gtest/gtest.h>

using namespace Inbound;
using InboundTests::MakeDicom;

namespace
{
  class UploadServiceTest : public ::testing::Test
  {
  protected:
    Configuration configuration_;
    Ledger ledger_;
    InboundTests::FakeStore store_;
    InboundTests::FakeClock clock_;
    ArchiveSink sink_;
    NoUploadPolicy policy_;
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
      ledger_(""),
      sink_(configuration_, ledger_, store_),
      service_(configuration_, ledger_, sink_, policy_, clock_)
    {
      client_.ip = "203.0.113.9";
      client_.userAgent = "test";
    }

    ApiAnswer Open()
    {
      const std::string body = R"({"sender": {"name": "Dr. A", "email": "a@example.org"},
        "recipient": "neuro", "message": "stroke work-up",
        "consent": {"version": "2026-01", "accepted": true}})";
      return service_.Open(body.data(), body.size(), client_);
    }

    ApiAnswer Put(const ApiAnswer& upload, const std::string& file)
    {
      return service_.PutFile(upload.body["id"].asString(), upload.body["token"].asString(),
                              Crypto::Sha256Hex(file), file.data(), file.size(), client_);
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
  ASSERT_TRUE(ledger_.LookupUpload(r, a.body["id"].asString()));
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
  EXPECT_EQ("INB-" + id + "-12345", first.body["patientId"].asString());
  EXPECT_EQ("1.2.3.4.5", first.body["sopInstanceUid"].asString());

  ASSERT_EQ(1u, store_.instances.size());
  const auto& stored = store_.instances.begin()->second;
  EXPECT_EQ("INB-" + id + "-12345", stored.patientId);
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
  EXPECT_EQ(2u, store_.deletedPatients.size());
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
  ASSERT_TRUE(ledger_.LookupUpload(r, id));
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
