// Unit tests of polyglot preambles (CVE-2019-11687): their description, and zero ones stored.
#include <OrthancFramework.h>  // first: it defines what the framework headers test
#include "LedgerBackends.h"

#include "TestSupport.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Upload/ArchiveSink.h"
#include "Upload/DicomInspector.h"
#include "Upload/Preamble.h"
#include "Upload/UploadService.h"

#include <OrthancException.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcostrmb.h>

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  const std::string kZeros(Preamble::kSize, '\0');

  // The PE header of a Windows executable as a polyglot holds it: "MZ", the DOS header's
  // e_lfanew (at 0x3c) pointing to "PE\0\0" within the preamble, and a COFF machine type.
  std::string MakePePreamble()
  {
    std::string preamble = kZeros;
    preamble[0] = 'M';
    preamble[1] = 'Z';
    preamble[0x3c] = 0x40;
    preamble.replace(0x40, 6, std::string("PE\0\0\x64\x86", 6));
    return preamble;
  }

  const uint8_t kPixels[16] = {0, 1, 2, 3, 0xfe, 0xff, 'M', 'Z', 4, 5, 6, 7, 8, 9, 10, 11};

  // A small Part 10 file with pixel data and the given preamble.
  std::string MakeFile(const std::string& preamble, const std::string& sopUid)
  {
    Orthanc::ParsedDicomFile dicom(InboundTests::MakeDicom("P-1", "1.2.3", "1.2.3.4", sopUid));
    DcmDataset& dataset = *dicom.GetDcmtkObject().getDataset();
    EXPECT_TRUE(dataset.putAndInsertUint16(DCM_Rows, 4).good());
    EXPECT_TRUE(dataset.putAndInsertUint16(DCM_Columns, 4).good());
    EXPECT_TRUE(dataset.putAndInsertUint16(DCM_BitsAllocated, 8).good());
    EXPECT_TRUE(dataset.putAndInsertUint8Array(DCM_PixelData, kPixels, sizeof(kPixels)).good());
    std::string file;
    dicom.SaveToMemoryBuffer(file);
    EXPECT_EQ(kZeros, file.substr(0, Preamble::kSize));
    EXPECT_EQ("DICM", file.substr(Preamble::kSize, 4));
    return preamble + file.substr(Preamble::kSize);
  }

  std::string PixelsOf(const std::string& file)
  {
    Orthanc::ParsedDicomFile parsed(file);
    const Uint8* pixels = nullptr;
    unsigned long count = 0;
    EXPECT_TRUE(parsed.GetDcmtkObject().getDataset()->findAndGetUint8Array(
      DCM_PixelData, pixels, &count).good());
    return pixels == nullptr ? "" : std::string(reinterpret_cast<const char*>(pixels), count);
  }

  // Where the Gateway keeps a file: the bytes as sent (the staging area, minus the disk).
  class BytesSink : public IUploadSink
  {
  public:
    std::vector<std::string> kept;

    void Keep(const UploadRecord&, ItemRecord&, Orthanc::ParsedDicomFile*, const void* body,
              size_t size) override
    {
      kept.emplace_back(static_cast<const char*>(body), size);
    }

    void Remove(const std::string&, const std::vector<ItemRecord>&) override
    {
    }

    bool StoresInOrthanc() const override
    {
      return false;
    }
  };

  class PreambleTest : public ::testing::Test
  {
  protected:
    Configuration configuration_;
    Ledger ledger_;
    InboundTests::FakeStore store_;
    InboundTests::FakeClock clock_;
    ArchiveSink archive_;
    BytesSink staging_;
    NoUploadPolicy policy_;
    UploadService standalone_;
    UploadService gateway_;

  public:
    PreambleTest() :
      configuration_(InboundTests::MakeConfiguration()),
      ledger_(InboundTests::TestLedgerLocation()),
      archive_(configuration_, ledger_, store_, clock_),
      standalone_(configuration_, ledger_, archive_, policy_, clock_),
      gateway_(configuration_, ledger_, staging_, policy_, clock_)
    {
    }

    // Opens an upload on "service" and sends "file" to it; returns the upload id.
    std::string Send(UploadService& service, const std::string& file)
    {
      const std::string body = R"({"sender": {"name": "Dr. A", "email": "a@example.org"},
        "recipient": "neuro", "consent": {"version": "2026-01", "accepted": true}})";
      ClientInfo client;
      client.ip = "203.0.113.9";
      const ApiAnswer upload = service.Open(body.data(), body.size(), client);
      const std::string id = upload.body["id"].asString();
      EXPECT_EQ(201, service.PutFile(id, upload.body["token"].asString(),
                                     Crypto::Sha256Hex(file), file.data(), file.size(), client)
                       .status);
      return id;
    }

    std::vector<AuditEvent> PreambleEvents(const std::string& uploadId)
    {
      std::vector<AuditEvent> events;
      for (const AuditEvent& e : ledger_.Audit().ListHistory(uploadId))
      {
        if (e.Is(AuditEventType_FilePreamble))
        {
          events.push_back(e);
        }
      }
      return events;
    }
  };
}

TEST(Preamble, DescribesWhatThePreambleLooksLike)
{
  const std::string body = MakeFile(kZeros, "1.2.3.4.5").substr(Preamble::kSize);
  const auto describe = [&](const std::string& preamble) {
    const std::string file = preamble + body;
    return Preamble::Describe(file.data(), file.size());
  };
  EXPECT_EQ("", describe(kZeros));
  EXPECT_EQ("", describe(std::string("II*\0", 4) + std::string(124, '\x01')));  // TIFF
  EXPECT_EQ("", describe(std::string("MM\0*", 4) + std::string(124, '\x01')));
  EXPECT_EQ("starts with MZ (Windows executable)", describe(MakePePreamble()));
  EXPECT_EQ("starts with ELF (Unix executable)",
            describe(std::string("\x7f" "ELF\x02\x01\x01", 7) + std::string(121, '\0')));
  EXPECT_EQ("starts with a Mach-O header (macOS executable)",
            describe(std::string("\xcf\xfa\xed\xfe", 4) + std::string(124, '\0')));
  EXPECT_EQ("starts with PK (ZIP archive)",
            describe(std::string("PK\x03\x04", 4) + std::string(124, '\0')));
  EXPECT_EQ("starts with #! (script)", describe("#!/bin/sh\n" + std::string(118, ' ')));
  EXPECT_EQ("starts with %PDF (PDF document)", describe("%PDF-1.7" + std::string(120, '\0')));
  EXPECT_EQ("1 non-zero bytes", describe(std::string(127, '\0') + "\x01"));
  EXPECT_EQ("128 non-zero bytes", describe(std::string(128, '\xa5')));
  // "II*" without its NUL is no TIFF header.
  EXPECT_EQ("4 non-zero bytes", describe("II*\x01" + std::string(124, '\0')));

  // Never the bytes themselves, whatever they hold.
  const std::string secret = "<script>alert(1)</script>" + std::string(103, 'x');
  EXPECT_EQ(std::string::npos, describe(secret).find("script"));

  // No preamble to speak of: too short, or no DICM at 128 (refused before this matters).
  EXPECT_EQ("", Preamble::Describe("MZ", 2));
  const std::string noPrefix = MakePePreamble() + "XXXX" + body.substr(4);
  EXPECT_EQ("", Preamble::Describe(noPrefix.data(), noPrefix.size()));
}

TEST(Preamble, ClearZeroesOnlyThePreamble)
{
  const std::string sent = MakeFile(MakePePreamble(), "1.2.3.4.5");
  std::string copy = sent;
  Preamble::Clear(copy);
  EXPECT_EQ(kZeros, copy.substr(0, Preamble::kSize));
  EXPECT_EQ(sent.substr(Preamble::kSize), copy.substr(Preamble::kSize));

  std::string noPrefix = sent;
  noPrefix[Preamble::kSize] = 'X';
  EXPECT_THROW(Preamble::Clear(noPrefix), Orthanc::OrthancException);
  std::string tooShort(100, '\0');
  EXPECT_THROW(Preamble::Clear(tooShort), Orthanc::OrthancException);
}

TEST(Preamble, WhatThePlatformWritesWithoutClear)
{
  const std::string sent = MakeFile(MakePePreamble(), "1.2.3.4.5");
  DicomSummary summary;
  std::unique_ptr<Orthanc::ParsedDicomFile> dicom = DicomInspector::Parse(
    summary, DicomInspector::Check(sent.data(), sent.size(), DicomGuardLimits()));

  // DCMTK's file object keeps the preamble it read and writes it again (dcmetinf.cc,
  // "filePreamble"): a save of the file as read would store the sender's executable header.
  DcmFileFormat& asRead = dicom->GetDcmtkObject();
  const Uint32 length = asRead.calcElementLength(EXS_LittleEndianExplicit, EET_ExplicitLength);
  std::string rewritten(length + 1024, '\0');
  DcmOutputBufferStream out(&rewritten[0], rewritten.size());
  asRead.transferInit();
  ASSERT_TRUE(asRead.write(out, EXS_LittleEndianExplicit, EET_ExplicitLength, nullptr).good());
  asRead.transferEnd();
  EXPECT_EQ(MakePePreamble(), rewritten.substr(0, Preamble::kSize));

  // Orthanc 1.10.1's framework saves the dataset into a new file object, whose preamble is
  // zero: the stored copy would be clean today; Preamble::Clear keeps it so whatever the
  // framework does.
  std::string saved;
  dicom->SaveToMemoryBuffer(saved);
  EXPECT_EQ(kZeros, saved.substr(0, Preamble::kSize));
}

TEST_F(PreambleTest, StoredCopiesHaveAZeroPreambleAndPolyglotsAreAudited)
{
  struct Case
  {
    std::string name;
    std::string preamble;
    std::string described;  // empty: no audit event
  };
  std::string random(Preamble::kSize, '\0');
  for (size_t i = 0; i < random.size(); i++)
  {
    random[i] = char((i * 151 + 7) % 251 + 1);  // never zero, no known signature
  }
  const std::vector<Case> cases = {
    {"pe", MakePePreamble(), "starts with MZ (Windows executable)"},
    {"elf", std::string("\x7f" "ELF\x02\x01\x01", 7) + std::string(121, '\0'),
     "starts with ELF (Unix executable)"},
    {"zip", std::string("PK\x03\x04\x14", 5) + std::string(123, '\0'),
     "starts with PK (ZIP archive)"},
    {"random", random, "128 non-zero bytes"},
    {"tiff", std::string("II*\0\x08", 5) + std::string(123, '\0'), ""},
    {"zeros", kZeros, ""},
  };
  int k = 0;
  for (const Case& c : cases)
  {
    SCOPED_TRACE(c.name);
    const std::string file = MakeFile(c.preamble, "1.2.3.4." + std::to_string(++k));
    const size_t before = store_.instances.size();
    const std::string id = Send(standalone_, file);
    ASSERT_EQ(before + 1, store_.instances.size());
    std::string stored;
    for (const auto& instance : store_.instances)
    {
      if (store_.metadata[instance.first]["InboundUpload"] == id)
      {
        stored = instance.second.dicom;
      }
    }
    EXPECT_EQ(kZeros, stored.substr(0, Preamble::kSize));
    EXPECT_EQ("DICM", stored.substr(Preamble::kSize, 4));
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(kPixels), sizeof(kPixels)),
              PixelsOf(stored));

    const std::vector<AuditEvent> events = PreambleEvents(id);
    if (c.described.empty())
    {
      EXPECT_TRUE(events.empty());
    }
    else
    {
      ASSERT_EQ(1u, events.size());
      EXPECT_EQ("preamble " + c.described + "; file SHA-256 " + Crypto::Sha256Hex(file),
                events[0].detail);
      EXPECT_EQ("203.0.113.9", events[0].ip);
    }
  }
}

TEST_F(PreambleTest, TheGatewayAuditsTooAndKeepsTheBytesAsSent)
{
  const std::string file = MakeFile(MakePePreamble(), "1.2.3.4.5");
  const std::string id = Send(gateway_, file);
  ASSERT_EQ(1u, staging_.kept.size());
  EXPECT_EQ(file, staging_.kept[0]);  // sealed for the inside: its exact bytes
  const std::vector<AuditEvent> events = PreambleEvents(id);
  ASSERT_EQ(1u, events.size());
  EXPECT_NE(std::string::npos, events[0].detail.find("MZ (Windows executable)"));
  EXPECT_TRUE(store_.instances.empty());
}

TEST_F(PreambleTest, PulledFilesAreAuditedAgainAndStoredWithAZeroPreamble)
{
  // The gateway is not trusted: the Internal describes the preamble itself.
  const UploadRecord pulled = InboundTests::MakePulledUpload("gw");
  standalone_.BeginPulledUpload(pulled);
  const std::string file = MakeFile(std::string("\x7f" "ELF", 4) + std::string(124, '\x02'),
                                    "1.2.3.4.5");
  for (int attempt = 0; attempt < 2; attempt++)  // the second is a retry: nothing new
  {
    standalone_.ReceivePulledFile(pulled.id, Crypto::Sha256Hex(file), file.size(), file.data(),
                                  file.size(), "gw");
  }
  ASSERT_EQ(1u, store_.instances.size());
  const std::string& stored = store_.instances.begin()->second.dicom;
  EXPECT_EQ(kZeros, stored.substr(0, Preamble::kSize));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(kPixels), sizeof(kPixels)),
            PixelsOf(stored));
  const std::vector<AuditEvent> events = PreambleEvents(pulled.id);
  ASSERT_EQ(1u, events.size());
  EXPECT_EQ("preamble starts with ELF (Unix executable); file SHA-256 " +
              Crypto::Sha256Hex(file), events[0].detail);
  EXPECT_EQ("gw", events[0].ip);
}
