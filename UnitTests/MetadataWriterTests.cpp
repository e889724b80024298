// The Orthanc metadata of stored files, written after the file's answer (MetadataWriter).
#include "LedgerBackends.h"
#include "TestSupport.h"

#include "Http/ApiError.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Upload/ArchiveSink.h"
#include "Upload/UploadService.h"

#include <OrthancException.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

using namespace Inbound;

namespace
{
  // Orthanc's store, whose metadata writes can be made to fail as Orthanc's do.
  class FlakyStore : public InboundTests::FakeStore
  {
  public:
    enum Mode
    {
      Mode_Works,
      Mode_Away,  // the database is busy or away: 503 archive-unavailable
      Mode_Gone   // the instance was deleted meanwhile: UnknownResource
    };

    std::atomic<int> mode{Mode_Works};
    std::atomic<int> refused{0};

    void SetMetadata(ResourceLevel level, const std::string& id, const std::string& name,
                     const std::string& value) override
    {
      if (mode == Mode_Away)
      {
        refused++;
        throw ApiError(503, "archive-unavailable", "away");
      }
      if (mode == Mode_Gone)
      {
        refused++;
        throw Orthanc::OrthancException(Orthanc::ErrorCode_UnknownResource);
      }
      FakeStore::SetMetadata(level, id, name, value);
    }

    bool HasInstanceMetadata(const std::string& id)
    {
      std::lock_guard<std::recursive_mutex> lock(mutex);
      return metadata.count(id) != 0 && metadata[id].count("InboundSha256") != 0;
    }
  };

  class MetadataWriterTest : public ::testing::Test
  {
  protected:
    Configuration configuration_;
    Ledger ledger_;
    FlakyStore store_;
    InboundTests::FakeClock clock_;
    ArchiveSink sink_;
    NoUploadPolicy policy_;
    UploadService service_;
    ClientInfo client_;
    std::atomic<bool> stopping_;
    std::thread loop_;

  public:
    MetadataWriterTest() :
      configuration_(InboundTests::MakeConfiguration()),
      ledger_(InboundTests::TestLedgerLocation()),
      sink_(configuration_, ledger_, store_, clock_),
      service_(configuration_, ledger_, sink_, policy_, clock_),
      stopping_(false)
    {
      client_.ip = "203.0.113.9";
      client_.userAgent = "test";
    }

    ~MetadataWriterTest() override
    {
      StopLoop();
    }

    void StartLoop()
    {
      loop_ = std::thread([this] { sink_.GetMetadataWriter().Loop(stopping_); });
      // Enqueue() writes on the caller's thread until the loop runs.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (!sink_.GetMetadataWriter().IsRunning() &&
             std::chrono::steady_clock::now() < deadline)
      {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      ASSERT_TRUE(sink_.GetMetadataWriter().IsRunning());
    }

    void StopLoop()
    {
      if (loop_.joinable())
      {
        stopping_ = true;
        sink_.GetMetadataWriter().Wake();
        loop_.join();
      }
    }

    ApiAnswer Open()
    {
      return InboundTests::OpenTestUpload(service_, client_);
    }

    ApiAnswer Put(const ApiAnswer& upload, const std::string& file)
    {
      return InboundTests::PutTestFile(service_, upload, file, client_);
    }

    Json::Value Complete(const ApiAnswer& upload)
    {
      return service_.Complete(upload.body["id"].asString(), upload.body["token"].asString(),
                               client_);
    }

    // The one item of the upload, as the ledger has it.
    ItemRecord OnlyItem(const ApiAnswer& upload)
    {
      const std::vector<ItemRecord> items =
        ledger_.Uploads().ListItems(upload.body["id"].asString());
      EXPECT_EQ(1u, items.size());
      return items.empty() ? ItemRecord() : items.front();
    }

    // An upload whose one file was answered while Orthanc could not take its metadata.
    ApiAnswer OpenOwing(const std::string& file)
    {
      store_.mode = FlakyStore::Mode_Away;
      const ApiAnswer upload = Open();
      EXPECT_EQ(201, Put(upload, file).status);  // the answer does not wait for the metadata
      return upload;
    }

    size_t Owed(const ApiAnswer& upload)
    {
      return ledger_.Uploads().ListUnannotated(upload.body["id"].asString()).size();
    }

    bool WaitFor(const std::function<bool()>& condition)
    {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!condition())
      {
        if (std::chrono::steady_clock::now() > deadline)
        {
          return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      return true;
    }

    void ExpectMetadataOf(const ApiAnswer& upload, const std::string& file)
    {
      const ItemRecord item = OnlyItem(upload);
      std::lock_guard<std::recursive_mutex> lock(store_.mutex);
      const auto& instance = store_.metadata[item.orthancInstanceId];
      EXPECT_EQ(upload.body["id"].asString(), instance.at("InboundUpload"));
      EXPECT_EQ("12345", instance.at("InboundOriginalPatientID"));
      EXPECT_EQ(Crypto::Sha256Hex(file), instance.at("InboundSha256"));
      const auto& study = store_.metadata[item.orthancStudyId];
      EXPECT_EQ(upload.body["id"].asString(), study.at("InboundUpload"));
      EXPECT_EQ("12345", study.at("InboundOriginalPatientID"));
      Json::Value sender;
      ASSERT_TRUE(JsonText::ParseStrict(sender, study.at("InboundSender").data(),
                                        study.at("InboundSender").size()));
      EXPECT_EQ("a@example.org", sender["sender"]["email"].asString());
    }
  };

  // Made in the test (DCMTK's dictionary is loaded by the test program's main).
  std::string MakeFile()
  {
    return InboundTests::MakeDicom("12345", "1.2.3", "1.2.3.4", "1.2.3.4.5");
  }
}

TEST_F(MetadataWriterTest, TheLoopWritesTheMetadataOfAnAnsweredFileAndMarksIt)
{
  const std::string kFile = MakeFile();
  StartLoop();
  const ApiAnswer u = Open();
  ASSERT_EQ(201, Put(u, kFile).status);
  const std::string instance = OnlyItem(u).orthancInstanceId;
  ASSERT_TRUE(WaitFor([&] { return store_.HasInstanceMetadata(instance); }));
  ASSERT_TRUE(WaitFor([&] { return Owed(u) == 0; }));
  ExpectMetadataOf(u, kFile);
}

TEST_F(MetadataWriterTest, CompleteWritesWhatTheUploadStillOwesBeforeItAnswers)
{
  const std::string kFile = MakeFile();
  StartLoop();
  const ApiAnswer u = OpenOwing(kFile);
  ASSERT_TRUE(WaitFor([&] { return store_.refused > 0; }));  // the loop tried, and failed
  EXPECT_EQ(1u, Owed(u));
  EXPECT_EQ(1, ledger_.Uploads().CountUnannotated());  // the gauge inbound_metadata_owed
  EXPECT_FALSE(store_.HasInstanceMetadata(OnlyItem(u).orthancInstanceId));

  // Orthanc still away: complete fails closed (503), the upload stays open and owes them.
  try
  {
    Complete(u);
    FAIL() << "complete answered while the metadata could not be written";
  }
  catch (ApiError& e)
  {
    EXPECT_EQ(503, e.GetStatus());
  }
  UploadRecord record;
  ASSERT_TRUE(ledger_.Uploads().Lookup(record, u.body["id"].asString()));
  EXPECT_EQ(UploadState_Open, record.state);
  EXPECT_EQ(1u, Owed(u));

  // Back: complete writes them before it answers (the loop, on a fake clock, never retries).
  store_.mode = FlakyStore::Mode_Works;
  EXPECT_EQ("complete", Complete(u)["state"].asString());
  ExpectMetadataOf(u, kFile);
  EXPECT_EQ(0u, Owed(u));
  EXPECT_EQ(0, ledger_.Uploads().CountUnannotated());
}

TEST_F(MetadataWriterTest, WhatAStoppedOrthancOwedIsWrittenWhenTheLoopStartsAgain)
{
  const std::string kFile = MakeFile();
  // Stored and recorded, its metadata never written: a stop between the answer and the loop.
  const ApiAnswer u = OpenOwing(kFile);  // no loop: written at once, which failed
  EXPECT_EQ(1u, Owed(u));

  store_.mode = FlakyStore::Mode_Works;
  clock_.now += MetadataWriter::kLeftOverMs + 1000;
  StartLoop();
  ASSERT_TRUE(WaitFor([&] { return Owed(u) == 0; }));
  ExpectMetadataOf(u, kFile);
}

TEST_F(MetadataWriterTest, AnItemBeingStoredIsNotTakenForALeftOver)
{
  const std::string kFile = MakeFile();
  const ApiAnswer u = OpenOwing(kFile);
  store_.mode = FlakyStore::Mode_Works;
  clock_.now += MetadataWriter::kLeftOverMs - 1000;  // young: maybe another Orthanc's, in flight
  StartLoop();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(1u, Owed(u));
  EXPECT_FALSE(store_.HasInstanceMetadata(OnlyItem(u).orthancInstanceId));
}

TEST_F(MetadataWriterTest, AnInstanceDeletedBeforeItsMetadataIsNoError)
{
  const std::string kFile = MakeFile();
  const ApiAnswer u = OpenOwing(kFile);
  store_.mode = FlakyStore::Mode_Gone;
  EXPECT_EQ("complete", Complete(u)["state"].asString());
  EXPECT_EQ(0u, Owed(u));  // nothing left to write, nothing retried for ever
}

TEST_F(MetadataWriterTest, AStudyIsDescribedOnceAndNeverOverwritten)
{
  const std::string kFile = MakeFile();
  StartLoop();
  const ApiAnswer u = Open();
  ASSERT_EQ(201, Put(u, kFile).status);
  const std::string second = InboundTests::MakeDicom("12345", "1.2.3", "1.2.3.4", "1.2.3.4.6");
  ASSERT_TRUE(WaitFor([&] { return Owed(u) == 0; }));
  const std::string study = OnlyItem(u).orthancStudyId;
  {
    std::lock_guard<std::recursive_mutex> lock(store_.mutex);
    store_.metadata[study]["InboundSender"] = "{\"kept\": true}";
  }
  ASSERT_EQ(201, Put(u, second).status);
  EXPECT_EQ("complete", Complete(u)["state"].asString());
  std::lock_guard<std::recursive_mutex> lock(store_.mutex);
  EXPECT_EQ("{\"kept\": true}", store_.metadata[study]["InboundSender"]);
  EXPECT_EQ(2u, ledger_.Uploads().ListItems(u.body["id"].asString()).size());
}
