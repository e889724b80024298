// Unit tests of big staged items: files moved or sealed in pieces, pieces served, memory bounded.
#include "Ledger/Ledger.h"
#include "LedgerBackends.h"
#include "MemoryPeak.h"
#include "Staging/SealedHoldings.h"
#include "Staging/StagingArea.h"
#include "Staging/StagingSealer.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Sealing.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

using namespace Inbound;

namespace
{
  const uint64_t kPart = 1000;  // small pieces, so that the files stay small

  class StagingPiecesTest : public ::testing::Test
  {
  protected:
    boost::filesystem::path folder_;
    std::unique_ptr<SealingPrivateKey> key_;
    std::unique_ptr<StagingSealer> sealer_;
    UploadRecord upload_;

    void SetUp() override
    {
      folder_ = boost::filesystem::temp_directory_path() /
                boost::filesystem::unique_path("pieces-%%%%%%%%");
      boost::filesystem::create_directories(folder_ / "parts");
      key_.reset(new SealingPrivateKey(SealingPrivateKey::LoadOrCreate(Path("internal.pem"))));
      sealer_ = StagingSealer::Load({key_->GetPublicKey().GetPem()}, "");
      upload_.id = "UPLOADBIG";
    }

    void TearDown() override
    {
      boost::filesystem::remove_all(folder_);
    }

    std::string Path(const std::string& name) const
    {
      return (folder_ / name).string();
    }

    // An assembled file in the parts folder, as the upload service leaves it.
    std::string Assembled(const std::string& content, const std::string& name = "assembled") const
    {
      const std::string path = Path("parts/" + name);
      std::ofstream(path, std::ios::binary) << content;
      return path;
    }

    static std::string Content(size_t size)
    {
      std::string content(size, '\0');
      for (size_t i = 0; i < size; i++)
      {
        content[i] = static_cast<char>(i * 13 + i / 256);
      }
      return content;
    }

    static ItemRecord Item(const std::string& content)
    {
      ItemRecord item;
      item.sha256 = Crypto::Sha256Hex(content);
      item.size = static_cast<int64_t>(content.size());
      item.patientName = "Doe^Jane";
      item.originalPatientId = "PID-1";
      return item;
    }

    static std::string ReadFile(const std::string& path)
    {
      std::ifstream in(path, std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }

    // Every piece of a sealed item opened with its context, put together.
    std::string OpenPieces(const StagingArea& staging, const ItemRecord& item)
    {
      StagedPieces pieces;
      EXPECT_TRUE(staging.GetPieces(pieces, upload_.id, item.sha256, item.size));
      std::string whole;
      for (uint64_t n = 0; n < pieces.count; n++)
      {
        std::string envelope, plain, error;
        EXPECT_TRUE(staging.ReadPiece(envelope, upload_.id, item.sha256, item.size, n));
        EXPECT_LE(envelope.size(), pieces.partBytes + Sealing::GetOverhead());
        const std::string context =
          StagingSealer::GetPieceContext(upload_.id, item.sha256, n, pieces.count);
        EXPECT_TRUE(Sealing::Open(plain, error, *key_, envelope.data(), envelope.size(), context))
          << error;
        whole += plain;
      }
      return whole;
    }
  };
}

TEST_F(StagingPiecesTest, APlainFileIsMovedInAndServedByByteRanges)
{
  StagingArea staging(Path("staging"), nullptr, kPart);
  const std::string content = Content(2500);
  ItemRecord item = Item(content);
  const std::string assembled = Assembled(content);
  staging.KeepFile(upload_, item, nullptr, assembled, content.size());
  EXPECT_FALSE(boost::filesystem::exists(assembled));  // moved, not copied
  std::string staged;
  ASSERT_TRUE(staging.Read(staged, upload_.id, item.sha256));
  EXPECT_EQ(content, staged);
  EXPECT_EQ("Doe^Jane", item.patientName);  // plain staging keeps the item row as it is
  staging.KeepFile(upload_, item, nullptr, Assembled(content), content.size());  // idempotent
  EXPECT_EQ(1, std::distance(boost::filesystem::directory_iterator(folder_ / "staging" / upload_.id),
                             boost::filesystem::directory_iterator()));

  StagedPieces pieces;
  ASSERT_TRUE(staging.GetPieces(pieces, upload_.id, item.sha256, item.size));
  EXPECT_EQ(kPart, pieces.partBytes);
  EXPECT_EQ(3u, pieces.count);
  EXPECT_FALSE(pieces.sealed);
  std::string piece;
  ASSERT_TRUE(staging.ReadPiece(piece, upload_.id, item.sha256, item.size, 0));
  EXPECT_EQ(content.substr(0, 1000), piece);
  ASSERT_TRUE(staging.ReadPiece(piece, upload_.id, item.sha256, item.size, 2));
  EXPECT_EQ(content.substr(2000), piece);
  EXPECT_FALSE(staging.ReadPiece(piece, upload_.id, item.sha256, item.size, 3));
  EXPECT_FALSE(staging.GetPieces(pieces, upload_.id, Crypto::Sha256Hex("other"), 5));
  EXPECT_FALSE(staging.ReadPiece(piece, upload_.id, Crypto::Sha256Hex("other"), 5, 0));

  // An item of at most one piece is one piece: the whole file.
  const std::string small = Content(1000);
  ItemRecord one = Item(small);
  staging.KeepFile(upload_, one, nullptr, Assembled(small), small.size());
  ASSERT_TRUE(staging.GetPieces(pieces, upload_.id, one.sha256, one.size));
  EXPECT_EQ(0u, pieces.partBytes);
  EXPECT_EQ(1u, pieces.count);
  ASSERT_TRUE(staging.ReadPiece(piece, upload_.id, one.sha256, one.size, 0));
  EXPECT_EQ(small, piece);
  EXPECT_FALSE(staging.ReadPiece(piece, upload_.id, one.sha256, one.size, 1));
}

TEST_F(StagingPiecesTest, AFileOnAnotherFileSystemIsCopiedIn)
{
  // /dev/shm is a tmpfs: rename() fails with EXDEV, the file is copied, then removed.
  const std::string content = Content(3 * 1024 * 1024 + 17);
  const std::string assembled = "/dev/shm/" + boost::filesystem::unique_path("assembled-%%%%%%").string();
  std::ofstream(assembled, std::ios::binary) << content;
  StagingArea staging(Path("staging"), nullptr, kPart);
  ItemRecord item = Item(content);
  staging.KeepFile(upload_, item, nullptr, assembled, content.size());
  EXPECT_FALSE(boost::filesystem::exists(assembled));
  EXPECT_EQ(content, ReadFile(staging.GetPath(upload_.id, item.sha256)));
  EXPECT_EQ(1, std::distance(boost::filesystem::directory_iterator(folder_ / "staging" / upload_.id),
                             boost::filesystem::directory_iterator()));
}

TEST_F(StagingPiecesTest, ABigFileIsSealedInPiecesThatOpenOnlyInTheirPlace)
{
  StagingArea staging(Path("staging"), sealer_.get(), kPart);
  const std::string content = Content(2500);
  ItemRecord item = Item(content);
  const std::string assembled = Assembled(content);
  staging.KeepFile(upload_, item, nullptr, assembled, content.size());
  EXPECT_FALSE(boost::filesystem::exists(assembled));  // the plain bytes are gone
  EXPECT_EQ("", item.patientName);                    // and the item row tells nothing
  EXPECT_EQ("", item.originalPatientId);

  const std::string staged = ReadFile(staging.GetPath(upload_.id, item.sha256));
  EXPECT_EQ(StagingArea::kPiecesHeaderSize + 2500 + 3 * Sealing::GetOverhead(), staged.size());
  EXPECT_EQ("INBPART1", staged.substr(0, 8));
  EXPECT_EQ(std::string::npos, staged.find(content.substr(100, 32)));

  StagedPieces pieces;
  ASSERT_TRUE(staging.GetPieces(pieces, upload_.id, item.sha256, item.size));
  EXPECT_EQ(kPart, pieces.partBytes);
  EXPECT_EQ(3u, pieces.count);
  EXPECT_TRUE(pieces.sealed);
  EXPECT_EQ(content, OpenPieces(staging, item));

  // A piece opens only as the piece it is, of that many, of that item and upload: a gateway
  // cannot reorder, drop the last pieces (the count) or move pieces to another item.
  std::string first, plain, error;
  ASSERT_TRUE(staging.ReadPiece(first, upload_.id, item.sha256, item.size, 0));
  const std::string sha = item.sha256;
  for (const std::string& context :
       {StagingSealer::GetPieceContext(upload_.id, sha, 1, 3),
        StagingSealer::GetPieceContext(upload_.id, sha, 0, 2),
        StagingSealer::GetPieceContext(upload_.id, sha, 0, 1),
        StagingSealer::GetPieceContext("OTHERUPLOAD", sha, 0, 3),
        StagingSealer::GetPieceContext(upload_.id, Crypto::Sha256Hex("x"), 0, 3),
        StagingSealer::GetItemContext(upload_.id, sha)})
  {
    EXPECT_FALSE(Sealing::Open(plain, error, *key_, first.data(), first.size(), context)) << context;
  }
  EXPECT_EQ("item:UPLOADBIG:" + sha + ":2/3", StagingSealer::GetPieceContext(upload_.id, sha, 2, 3));
}

TEST_F(StagingPiecesTest, ASmallFileIsSealedAsOneEnvelopeAsBefore)
{
  StagingArea staging(Path("staging"), sealer_.get(), kPart);
  const std::string content = Content(1000);
  ItemRecord item = Item(content);
  staging.KeepFile(upload_, item, nullptr, Assembled(content), content.size());
  std::string staged, plain, error;
  ASSERT_TRUE(staging.Read(staged, upload_.id, item.sha256));
  EXPECT_EQ(content.size() + Sealing::GetOverhead(), staged.size());
  ASSERT_TRUE(Sealing::Open(plain, error, *key_, staged.data(), staged.size(),
                            StagingSealer::GetItemContext(upload_.id, item.sha256)));
  EXPECT_EQ(content, plain);
  StagedPieces pieces;
  ASSERT_TRUE(staging.GetPieces(pieces, upload_.id, item.sha256, item.size));
  EXPECT_EQ(0u, pieces.partBytes);
  EXPECT_EQ(1u, pieces.count);
  EXPECT_TRUE(pieces.sealed);
  std::string piece;
  ASSERT_TRUE(staging.ReadPiece(piece, upload_.id, item.sha256, item.size, 0));
  EXPECT_EQ(staged, piece);
}

TEST_F(StagingPiecesTest, ASenderCannotMakeItsPlainFileLookLikePieces)
{
  // The sender writes the preamble: a plain file that starts like a file of sealed pieces is
  // still served as the bytes sent (it has the item's size).
  StagingArea staging(Path("staging"), nullptr, kPart);
  std::string content = Content(2500);
  std::string header("INBPART1", 8);
  header += std::string("\x10\x00\x00\x00\x00\x00\x00\x00", 8) + std::string("\x02\0\0\0\0\0\0\0", 8);
  content.replace(0, header.size(), header);
  ItemRecord item = Item(content);
  staging.KeepFile(upload_, item, nullptr, Assembled(content), content.size());
  StagedPieces pieces;
  ASSERT_TRUE(staging.GetPieces(pieces, upload_.id, item.sha256, item.size));
  EXPECT_FALSE(pieces.sealed);
  EXPECT_EQ(kPart, pieces.partBytes);
  EXPECT_EQ(3u, pieces.count);
  std::string piece;
  ASSERT_TRUE(staging.ReadPiece(piece, upload_.id, item.sha256, item.size, 0));
  EXPECT_EQ(content.substr(0, 1000), piece);
}

TEST_F(StagingPiecesTest, AFileOfPiecesThatContradictsItsHeaderIsAnError)
{
  StagingArea staging(Path("staging"), sealer_.get(), kPart);
  const std::string content = Content(2500);
  ItemRecord item = Item(content);
  staging.KeepFile(upload_, item, nullptr, Assembled(content), content.size());
  const std::string path = staging.GetPath(upload_.id, item.sha256);
  const std::string good = ReadFile(path);
  StagedPieces pieces;
  std::string piece;
  // Another item size than the ledger's, a count or piece size changed, a truncated file.
  EXPECT_THROW(staging.GetPieces(pieces, upload_.id, item.sha256, 2501), Orthanc::OrthancException);
  EXPECT_THROW(staging.ReadPiece(piece, upload_.id, item.sha256, 2400, 0), Orthanc::OrthancException);
  for (const std::string& bad : {good.substr(0, 16) + std::string("\x04\0\0\0\0\0\0\0", 8) + good.substr(24),
                                 good.substr(0, 8) + std::string("\xe8\x02\0\0\0\0\0\0", 8) + good.substr(16),
                                 good.substr(0, 8) + std::string(8, '\0') + good.substr(16),
                                 good.substr(0, 8) + std::string(8, '\xff') + good.substr(16),
                                 good.substr(0, good.size() - 1)})
  {
    std::ofstream(path, std::ios::binary) << bad;
    EXPECT_THROW(staging.GetPieces(pieces, upload_.id, item.sha256, item.size),
                 Orthanc::OrthancException);
    EXPECT_THROW(staging.ReadPiece(piece, upload_.id, item.sha256, item.size, 0),
                 Orthanc::OrthancException);
  }
}

TEST_F(StagingPiecesTest, WhatWasStagedPlainIsSealedInPiecesAtTheFirstSealingStart)
{
  const std::string big = Content(2500), small = Content(700);
  ItemRecord bigItem = Item(big), smallItem = Item(small);
  {
    StagingArea plain(Path("staging"), nullptr, kPart);
    plain.KeepFile(upload_, bigItem, nullptr, Assembled(big, "a"), big.size());
    plain.KeepFile(upload_, smallItem, nullptr, Assembled(small, "b"), small.size());
  }
  // Not in the ledger (a crash before the record): plain because named by their SHA-256.
  Ledger ledger(InboundTests::TestLedgerLocation());
  StagingArea staging(Path("staging"), sealer_.get(), kPart);
  uint64_t plainCount = 0;
  SealedHoldings::CountByKey(ledger, staging, plainCount);
  EXPECT_EQ(2u, plainCount);
  SealedHoldings::SealWhatIsPlain(*sealer_, ledger, staging);

  EXPECT_EQ(big, OpenPieces(staging, bigItem));
  StagedPieces pieces;
  ASSERT_TRUE(staging.GetPieces(pieces, upload_.id, smallItem.sha256, smallItem.size));
  EXPECT_EQ(0u, pieces.partBytes);
  std::string staged, plain, error;
  ASSERT_TRUE(staging.Read(staged, upload_.id, smallItem.sha256));
  ASSERT_TRUE(Sealing::Open(plain, error, *key_, staged.data(), staged.size(),
                            StagingSealer::GetItemContext(upload_.id, smallItem.sha256)));
  EXPECT_EQ(small, plain);
  // Nothing plain is left beside them, and both count for the key.
  EXPECT_EQ(2, std::distance(boost::filesystem::directory_iterator(folder_ / "staging" / upload_.id),
                             boost::filesystem::directory_iterator()));
  const std::map<std::string, uint64_t> held = SealedHoldings::CountByKey(ledger, staging, plainCount);
  EXPECT_EQ(0u, plainCount);
  EXPECT_EQ(2u, held.at(key_->GetId()));
  SealedHoldings::SealWhatIsPlain(*sealer_, ledger, staging);  // again: nothing changes
  EXPECT_EQ(big, OpenPieces(staging, bigItem));
}

TEST_F(StagingPiecesTest, SealingABigFileHoldsOnePieceInMemoryAtATime)
{
  // 256 MiB sealed in pieces of 4 MiB: the peak grows by about two pieces (the plaintext and
  // its envelope), not by the file.
  const uint64_t size = 256ull << 20, part = 4ull << 20;
  const std::string assembled = Path("parts/big");
  {
    std::ofstream(assembled, std::ios::binary) << "start";
  }
  ASSERT_EQ(0, truncate(assembled.c_str(), off_t(size)));
  StagingArea staging(Path("staging"), sealer_.get(), part);
  ItemRecord item;
  item.sha256 = std::string(64, 'b');
  item.size = int64_t(size);
  ASSERT_TRUE(InboundTests::ResetPeakMemory());
  const uint64_t before = InboundTests::ReadStatusKb("VmRSS");
  staging.KeepFile(upload_, item, nullptr, assembled, size);
  const uint64_t peak = InboundTests::ReadStatusKb("VmHWM");
  EXPECT_LT(peak - before, 24u * 1024) << "peak grew by " << (peak - before) << " KB";
  RecordProperty("PeakGrowthKb", std::to_string(peak - before));
  StagedPieces pieces;
  ASSERT_TRUE(staging.GetPieces(pieces, upload_.id, item.sha256, size));
  EXPECT_EQ(64u, pieces.count);
  std::string last, plain, error;
  ASSERT_TRUE(staging.ReadPiece(last, upload_.id, item.sha256, size, 63));
  ASSERT_TRUE(Sealing::Open(plain, error, *key_, last.data(), last.size(),
                            StagingSealer::GetPieceContext(upload_.id, item.sha256, 63, 64)));
  EXPECT_EQ(std::string(part, '\0'), plain);
}
