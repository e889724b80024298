// Unit tests of files in parts through the upload service: parts, resume, assembly, refusals.
#include "Http/ApiError.h"
#include "LedgerBackends.h"
#include "TestSupport.h"
#include "Toolbox/Crypto.h"
#include "Upload/ArchiveSink.h"
#include "Upload/UploadService.h"

#include <boost/filesystem.hpp>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  const uint64_t kPart = 1024 * 1024;

  // Counts the bytes charged as a file's bytes arrive, and the memory asked for assemblies.
  class CountingPolicy : public NoUploadPolicy
  {
  public:
    uint64_t charged = 0;
    std::vector<uint64_t> assemblies;
    int assemblyStatus = 0;  // 413 / 503: refuse as LimitsGuard does

    void CheckFile(const ClientInfo&, const UploadRecord&, uint64_t size) override
    {
      charged += size;
    }

    std::unique_ptr<MemoryHold> ReserveAssembly(uint64_t size) override
    {
      assemblies.push_back(size);
      if (assemblyStatus != 0)
      {
        throw ApiError(assemblyStatus, assemblyStatus == 413 ? "too-large" : "server-busy", "no");
      }
      return std::unique_ptr<MemoryHold>(new MemoryHold(nullptr));
    }
  };

  // A DICOM file of about "pixels" bytes (pixel data of one OB element).
  std::string MakeBigDicom(const std::string& sopUid, size_t pixels)
  {
    const std::string small = InboundTests::MakeDicom("P1", "1.2", "1.2.3", sopUid);
    Orthanc::ParsedDicomFile dicom(small.data(), small.size());
    std::vector<Uint8> data(pixels);
    for (size_t i = 0; i < pixels; i++)
    {
      data[i] = static_cast<Uint8>((i * 7 + (i >> 10)) & 0xff);
    }
    EXPECT_TRUE(dicom.GetDcmtkObject().getDataset()->putAndInsertUint8Array(
      DCM_PixelData, data.data(), static_cast<unsigned long>(pixels)).good());
    std::string result;
    dicom.SaveToMemoryBuffer(result);
    return result;
  }

  class UploadPartsTest : public ::testing::Test
  {
  protected:
    boost::filesystem::path folder_;
    Configuration configuration_;
    Ledger ledger_;
    InboundTests::FakeStore store_;
    InboundTests::FakeClock clock_;
    ArchiveSink sink_;
    CountingPolicy policy_;
    UploadService service_;
    ClientInfo client_;
    std::string id_;
    std::string token_;

    static Configuration Load()
    {
      Configuration c = InboundTests::MakeConfiguration();
      c.upload.partBytes = kPart;
      c.upload.maxFileBytes = 8 * kPart;
      c.upload.maxBytesPerUpload = 12 * kPart;
      return c;
    }

  public:
    UploadPartsTest() :
      folder_(boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("parts-%%%%%%")),
      configuration_(Load()),
      ledger_(InboundTests::TestLedgerLocation()),
      sink_(configuration_, ledger_, store_, clock_),
      service_(configuration_, ledger_, sink_, policy_, clock_)
    {
      service_.SetPartStore(
        std::unique_ptr<PartStore>(new PartStore(folder_.string(), false, kPart)));
      client_.ip = "203.0.113.9";
      const std::string body = R"({"sender": {"name": "Dr. A", "email": "a@example.org"},
        "consent": {"version": "2026-01", "accepted": true}})";
      const ApiAnswer opened = service_.Open(body.data(), body.size(), client_);
      id_ = opened.body["id"].asString();
      token_ = opened.body["token"].asString();
    }

    ~UploadPartsTest()
    {
      boost::filesystem::remove_all(folder_);
    }

    ApiAnswer PutPart(const std::string& file, uint64_t n, const std::string& sha = "")
    {
      const size_t start = static_cast<size_t>(n * kPart);
      const std::string part = file.substr(start, std::min<size_t>(kPart, file.size() - start));
      return service_.PutPart(id_, token_, sha.empty() ? Crypto::Sha256Hex(file) : sha,
                              std::to_string(n), Crypto::Sha256Hex(part), part.data(),
                              part.size(), client_);
    }

    ApiAnswer Assemble(const std::string& sha, const std::string& body)
    {
      return service_.Assemble(id_, token_, sha, body.data(), body.size(), client_);
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

    bool HasParts() const
    {
      return boost::filesystem::exists(folder_ / id_);
    }
  };
}

TEST_F(UploadPartsTest, AFileInPartsIsStoredAsTheSameFileSentWhole)
{
  const std::string file = MakeBigDicom("1.2.3.4", 2 * kPart + 5000);
  const std::string sha = Crypto::Sha256Hex(file);
  EXPECT_EQ(201, PutPart(file, 2).status);
  EXPECT_EQ(201, PutPart(file, 0).status);

  // The status lists what is here, for the page to resume.
  Json::Value status = service_.GetStatus(id_, token_);
  ASSERT_EQ(1u, status["partialFiles"].size());
  EXPECT_EQ(sha, status["partialFiles"][0]["sha256"].asString());
  EXPECT_EQ(2u, status["partialFiles"][0]["parts"].size());

  EXPECT_EQ(201, PutPart(file, 1).status);
  const ApiAnswer again = PutPart(file, 1);  // resumed: sent again
  EXPECT_EQ(200, again.status);
  EXPECT_FALSE(again.body["stored"].asBool());
  EXPECT_EQ(file.size(), policy_.charged);  // each byte counted once

  const ApiAnswer stored = Assemble(sha, R"({"parts": 3})");
  EXPECT_EQ(201, stored.status);
  EXPECT_EQ(sha, stored.body["sha256"].asString());
  EXPECT_EQ("1.2.3.4", stored.body["sopInstanceUid"].asString());
  EXPECT_EQ((std::vector<uint64_t>{file.size()}), policy_.assemblies);
  EXPECT_FALSE(HasParts());
  EXPECT_EQ(0u, service_.GetStatus(id_, token_)["partialFiles"].size());

  // In the archive: isolated, with the sender's pixel data untouched.
  ASSERT_EQ(1u, store_.instances.size());
  const std::string& archived = store_.instances.begin()->second.dicom;
  Orthanc::ParsedDicomFile parsed(archived.data(), archived.size());
  const Uint8* pixels = nullptr;
  unsigned long count = 0;
  ASSERT_TRUE(parsed.GetDcmtkObject().getDataset()->findAndGetUint8Array(DCM_PixelData, pixels,
                                                                         &count).good());
  ASSERT_EQ(2 * kPart + 5000, count);
  std::string original;
  {
    Orthanc::ParsedDicomFile sent(file.data(), file.size());
    const Uint8* p = nullptr;
    unsigned long n = 0;
    ASSERT_TRUE(sent.GetDcmtkObject().getDataset()->findAndGetUint8Array(DCM_PixelData, p, &n).good());
    original.assign(reinterpret_cast<const char*>(p), n);
  }
  EXPECT_EQ(original, std::string(reinterpret_cast<const char*>(pixels), count));
  EXPECT_EQ(0u, stored.body["patientId"].asString().find("INB-"));

  // Asked again (an answer lost on the way): 200, nothing stored twice; a part then says so.
  EXPECT_EQ(200, Assemble(sha, R"({"parts": 3})").status);
  const ApiAnswer late = PutPart(file, 0);
  EXPECT_EQ(200, late.status);
  EXPECT_TRUE(late.body["stored"].asBool());
  EXPECT_EQ(1, store_.stores);
  EXPECT_EQ(file.size(), policy_.charged);
  EXPECT_FALSE(HasParts());

  // Whole-file PUT of the same bytes in the same upload: already there.
  EXPECT_EQ(200, service_.PutFile(id_, token_, sha, file.data(), file.size(), client_).status);
}

TEST_F(UploadPartsTest, MalformedPartsAreRefusedBeforeAnythingIsKept)
{
  const std::string file = MakeBigDicom("1.2.3.5", kPart + 10);
  const std::string sha = Crypto::Sha256Hex(file);
  const std::string part = file.substr(0, kPart);
  const std::string partSha = Crypto::Sha256Hex(part);
  for (const char* n : {"", "x", "01", "-1", "1.0", "99999999999"})
  {
    EXPECT_EQ("bad-part", ErrorCode([&] {
      service_.PutPart(id_, token_, sha, n, partSha, part.data(), part.size(), client_);
    }, 400)) << n;
  }
  EXPECT_EQ("bad-part", ErrorCode([&] {
    service_.PutPart(id_, token_, sha, "0", "", part.data(), part.size(), client_);
  }, 400));
  EXPECT_EQ("bad-part", ErrorCode([&] {
    service_.PutPart(id_, token_, sha, "0", std::string(64, 'A'), part.data(), part.size(), client_);
  }, 400));
  EXPECT_EQ("bad-hash", ErrorCode([&] {
    service_.PutPart(id_, token_, "abc", "0", partSha, part.data(), part.size(), client_);
  }, 400));
  EXPECT_EQ("not-found", ErrorCode([&] {
    service_.PutPart(id_, "wrong", sha, "0", partSha, part.data(), part.size(), client_);
  }, 404));
  // Damaged on the way: the body is not the part's hash.
  EXPECT_EQ("hash-mismatch", ErrorCode([&] {
    service_.PutPart(id_, token_, sha, "0", Crypto::Sha256Hex("other"), part.data(),
                     part.size(), client_);
  }, 409));
  // Over the part size; a part that starts beyond the largest file.
  const std::string big(kPart + 1, 'x');
  EXPECT_EQ("too-large", ErrorCode([&] {
    service_.PutPart(id_, token_, sha, "0", Crypto::Sha256Hex(big), big.data(), big.size(), client_);
  }, 413));
  EXPECT_EQ("too-large", ErrorCode([&] {
    service_.PutPart(id_, token_, sha, "8", partSha, part.data(), part.size(), client_);
  }, 413));
  EXPECT_EQ("bad-part", ErrorCode([&] {
    service_.PutPart(id_, token_, sha, "0", Crypto::Sha256Hex(""), "", 0, client_);
  }, 400));
  EXPECT_FALSE(HasParts());
  EXPECT_EQ(0u, policy_.charged);

  // Parts held count in the upload's bytes: 12 parts of files never assembled fill it.
  for (unsigned int n = 0; n < 6; n++)
  {
    EXPECT_EQ(201, service_.PutPart(id_, token_, std::string(64, 'a'), std::to_string(n), partSha,
                                    part.data(), part.size(), client_).status);
    EXPECT_EQ(201, service_.PutPart(id_, token_, std::string(64, 'b'), std::to_string(n), partSha,
                                    part.data(), part.size(), client_).status);
  }
  EXPECT_EQ("too-large", ErrorCode([&] {
    service_.PutPart(id_, token_, std::string(64, 'c'), "0", partSha, part.data(), part.size(), client_);
  }, 413));
}

TEST_F(UploadPartsTest, AssemblyRefusalsKeepOrDropThePartsAsTheContractSays)
{
  const std::string file = MakeBigDicom("1.2.3.6", 2 * kPart + 100);
  const std::string sha = Crypto::Sha256Hex(file);
  EXPECT_EQ("bad-json", ErrorCode([&] { Assemble(sha, "parts"); }, 400));
  EXPECT_EQ("bad-part", ErrorCode([&] { Assemble(sha, R"({"parts": 0})"); }, 400));
  EXPECT_EQ("bad-part", ErrorCode([&] { Assemble(sha, R"({"parts": 9})"); }, 400));
  EXPECT_EQ("invalid-field", ErrorCode([&] { Assemble(sha, R"({"parts": 2, "x": 1})"); }, 400));

  // Missing parts: listed, nothing else changes.
  EXPECT_EQ(201, PutPart(file, 1).status);
  try
  {
    Assemble(sha, R"({"parts": 3})");
    ADD_FAILURE() << "assembled without its parts";
  }
  catch (const ApiError& e)
  {
    EXPECT_EQ(409, e.GetStatus());
    EXPECT_EQ("parts-missing", e.GetCode());
  }
  EXPECT_TRUE(HasParts());

  // Memory that is short now: the parts stay; that can never fit: they go.
  EXPECT_EQ(201, PutPart(file, 0).status);
  EXPECT_EQ(201, PutPart(file, 2).status);
  policy_.assemblyStatus = 503;
  EXPECT_EQ("server-busy", ErrorCode([&] { Assemble(sha, R"({"parts": 3})"); }, 503));
  EXPECT_EQ(3u, service_.GetStatus(id_, token_)["partialFiles"][0]["parts"].size());
  EXPECT_FALSE(boost::filesystem::exists(folder_ / id_ / sha / "assembled"));
  policy_.assemblyStatus = 413;
  EXPECT_EQ("too-large", ErrorCode([&] { Assemble(sha, R"({"parts": 3})"); }, 413));
  EXPECT_FALSE(HasParts());
  policy_.assemblyStatus = 0;

  // The parts are not the file named: dropped, the sender starts again.
  const std::string other = MakeBigDicom("1.2.3.7", 2 * kPart + 100);
  EXPECT_EQ(201, PutPart(other, 0, sha).status);
  EXPECT_EQ(201, PutPart(other, 1, sha).status);
  EXPECT_EQ(201, PutPart(other, 2, sha).status);
  EXPECT_EQ("hash-mismatch", ErrorCode([&] { Assemble(sha, R"({"parts": 3})"); }, 409));
  EXPECT_FALSE(HasParts());

  // Only the last part may be short: a second short part, a part after the short one, a short
  // part before others are refused; what is here stays.
  EXPECT_EQ(201, PutPart(file, 2).status);  // the last, short
  const std::string shortPart = file.substr(0, 1000);
  const std::string shortSha = Crypto::Sha256Hex(shortPart);
  EXPECT_EQ("bad-part", ErrorCode([&] {
    service_.PutPart(id_, token_, sha, "0", shortSha, shortPart.data(), shortPart.size(), client_);
  }, 400));
  EXPECT_EQ("bad-part", ErrorCode([&] {
    service_.PutPart(id_, token_, sha, "3", shortSha, shortPart.data(), shortPart.size(), client_);
  }, 400));
  const std::string fullPart = file.substr(0, kPart);
  EXPECT_EQ("bad-part", ErrorCode([&] {
    service_.PutPart(id_, token_, sha, "3", Crypto::Sha256Hex(fullPart), fullPart.data(),
                     fullPart.size(), client_);
  }, 400));
  EXPECT_EQ(1u, service_.GetStatus(id_, token_)["partialFiles"][0]["parts"].size());
  EXPECT_EQ(201, PutPart(file, 0).status);
  EXPECT_EQ(201, PutPart(file, 1).status);
  EXPECT_EQ(201, Assemble(sha, R"({"parts": 3})").status);
  EXPECT_FALSE(HasParts());
  // A short part first: no part may come after it (a full one replaces it).
  const std::string next = MakeBigDicom("1.2.3.10", kPart + 100);
  const std::string nextSha = Crypto::Sha256Hex(next);
  EXPECT_EQ(201, service_.PutPart(id_, token_, nextSha, "0", shortSha, shortPart.data(),
                                  shortPart.size(), client_).status);
  EXPECT_EQ("bad-part", ErrorCode([&] { PutPart(next, 1); }, 400));
  EXPECT_EQ(201, PutPart(next, 0).status);
  EXPECT_EQ(201, PutPart(next, 1).status);
  EXPECT_EQ(201, Assemble(nextSha, R"({"parts": 2})").status);

  // Not DICOM: refused as a whole file would be, parts dropped.
  std::string garbage(kPart + 5, 'g');
  const std::string garbageSha = Crypto::Sha256Hex(garbage);
  EXPECT_EQ(201, PutPart(garbage, 0).status);
  EXPECT_EQ(201, PutPart(garbage, 1).status);
  EXPECT_EQ("not-dicom", ErrorCode([&] { Assemble(garbageSha, R"({"parts": 2})"); }, 400));
  EXPECT_FALSE(HasParts());
  EXPECT_EQ(2u, store_.instances.size());
}

TEST_F(UploadPartsTest, AFewFilesAtOnceHoldParts)
{
  // Upload.MaxFilesPerUpload is 5 here: no more files in parts than the upload may still take.
  const std::string part(kPart, 'p');
  const std::string partSha = Crypto::Sha256Hex(part);
  const auto put = [&](char file, unsigned int n) {
    return service_.PutPart(id_, token_, std::string(64, file), std::to_string(n), partSha,
                            part.data(), part.size(), client_);
  };
  for (char file = 'a'; file < 'f'; file++)
  {
    EXPECT_EQ(201, put(file, 0).status);
  }
  EXPECT_EQ("too-many-partial-files", ErrorCode([&] { put('f', 0); }, 409));
  EXPECT_EQ(201, put('a', 1).status);  // files with parts go on
  const std::string small = InboundTests::MakeDicom("P1", "1.2", "1.2.3", "1.2.3.11");
  EXPECT_EQ(201, service_.PutFile(id_, token_, Crypto::Sha256Hex(small), small.data(),
                                  small.size(), client_).status);
  EXPECT_EQ("too-many-partial-files", ErrorCode([&] { put('f', 0); }, 409));
  EXPECT_EQ(5u, service_.GetStatus(id_, token_)["partialFiles"].size());
  // One dropped (its parts are no file): room for another.
  EXPECT_EQ("hash-mismatch", ErrorCode([&] {
    Assemble(std::string(64, 'b'), R"({"parts": 1})");
  }, 409));
  EXPECT_EQ("too-many-partial-files", ErrorCode([&] { put('f', 0); }, 409));  // 4 held, 4 left
  EXPECT_EQ("hash-mismatch", ErrorCode([&] {
    Assemble(std::string(64, 'c'), R"({"parts": 1})");
  }, 409));
  EXPECT_EQ(201, put('f', 0).status);
}

TEST_F(UploadPartsTest, PartsGoWithTheirUploadAndNoneComeAfterIt)
{
  const std::string file = MakeBigDicom("1.2.3.8", kPart + 100);
  const std::string sha = Crypto::Sha256Hex(file);
  const std::string small = InboundTests::MakeDicom("P1", "1.2", "1.2.3", "1.2.3.9");
  EXPECT_EQ(201, service_.PutFile(id_, token_, Crypto::Sha256Hex(small), small.data(),
                                  small.size(), client_).status);
  EXPECT_EQ(201, PutPart(file, 0).status);
  EXPECT_TRUE(HasParts());
  service_.Complete(id_, token_, client_);
  EXPECT_FALSE(HasParts());  // a file never assembled is not part of the upload
  EXPECT_EQ("upload-closed", ErrorCode([&] { PutPart(file, 1); }, 409));
  EXPECT_EQ("upload-closed", ErrorCode([&] { Assemble(sha, R"({"parts": 2})"); }, 409));
  EXPECT_FALSE(HasParts());

  // Cancelled: the parts go with everything else.
  const std::string body = R"({"sender": {"name": "Dr. A", "email": "a@example.org"},
    "consent": {"version": "2026-01", "accepted": true}})";
  const ApiAnswer opened = service_.Open(body.data(), body.size(), client_);
  id_ = opened.body["id"].asString();
  token_ = opened.body["token"].asString();
  EXPECT_EQ(201, PutPart(file, 1).status);
  EXPECT_TRUE(HasParts());
  service_.Cancel(id_, token_, client_);
  EXPECT_FALSE(HasParts());

  // Expired after its idle time, counted from its last part.
  const ApiAnswer third = service_.Open(body.data(), body.size(), client_);
  id_ = third.body["id"].asString();
  token_ = third.body["token"].asString();
  clock_.now += 50 * 1000;
  EXPECT_EQ(201, PutPart(file, 1).status);
  clock_.now += 30 * 1000;  // 80 s after the open, 30 s after the part: still open
  service_.Sweep();
  EXPECT_TRUE(HasParts());
  clock_.now += 31 * 1000;
  service_.Sweep();
  EXPECT_FALSE(HasParts());
  EXPECT_EQ("upload-closed", ErrorCode([&] { PutPart(file, 0); }, 409));

  // Parts left by a crash of an upload no longer open: the sweep removes them.
  boost::filesystem::create_directories(folder_ / id_ / sha);
  service_.Sweep();
  EXPECT_FALSE(HasParts());
}
