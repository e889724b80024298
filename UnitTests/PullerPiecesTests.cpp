// Unit tests of the pull of big items in pieces: plain and sealed, and every piece a gateway may forge.
// Over 500 lines: the attacks on one feature, the pull in pieces, over the one fixture they share.
#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include "Peering/InternalKeys.h"
#include "PullerTestSupport.h"
#include "Staging/StagingSealer.h"

#include <DicomParsing/ParsedDicomFile.h>

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <fstream>

using namespace Inbound;
using namespace InboundTests;

namespace
{
  const uint64_t kMiB = 1024 * 1024;

  // A DICOM file of about "frames" MiB of 8-bit pixels (1024 x 1024 each), pixels depending
  // on "sop" so that two files differ.
  std::string MakeBigDicom(const std::string& sop, unsigned int frames)
  {
    Orthanc::ParsedDicomFile dicom(true);
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_PATIENT_ID, "777");
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_STUDY_INSTANCE_UID, "1.2");
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_SERIES_INSTANCE_UID, "1.2.3");
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_SOP_INSTANCE_UID, sop);
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_SOP_CLASS_UID, "1.2.840.10008.5.1.4.1.1.7");
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_MODALITY, "OT");
    DcmDataset& dataset = *dicom.GetDcmtkObject().getDataset();
    dataset.putAndInsertUint16(DCM_Rows, 1024);
    dataset.putAndInsertUint16(DCM_Columns, 1024);
    dataset.putAndInsertString(DCM_NumberOfFrames, std::to_string(frames).c_str());
    dataset.putAndInsertUint16(DCM_BitsAllocated, 8);
    dataset.putAndInsertUint16(DCM_BitsStored, 8);
    dataset.putAndInsertUint16(DCM_HighBit, 7);
    dataset.putAndInsertUint16(DCM_PixelRepresentation, 0);
    dataset.putAndInsertUint16(DCM_SamplesPerPixel, 1);
    dataset.putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
    std::string pixels(frames * kMiB, '\0');
    for (size_t i = 0; i < pixels.size(); i++)
    {
      pixels[i] = static_cast<char>((i * 7 + sop.size() * 13 + sop.back()) & 0xff);
    }
    dataset.putAndInsertUint8Array(DCM_PixelData, reinterpret_cast<const Uint8*>(pixels.data()),
                                   pixels.size());
    std::string bytes;
    dicom.SaveToMemoryBuffer(bytes);
    return bytes;
  }

  Json::Value BigLimits()
  {
    Json::Value upload;
    upload["MaxFileBytes"] = Json::UInt64(8 * kMiB);
    upload["MaxBytesPerUpload"] = Json::UInt64(32 * kMiB);
    return upload;
  }

  // The Internal's keys and the gateway's sealer for them; made before the fixture's gateway.
  struct Keys
  {
    boost::filesystem::path folder;
    SealingPrivateKey key;
    InternalKeys internalKeys;
    StagingSealer sealer;

    Keys() :
      folder(boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("keys-%%%%%%")),
      key(SealingPrivateKey::LoadOrCreate((folder / "k.pem").string())),
      internalKeys({key}, {"k.pem"}),
      sealer({key.GetPublicKey()})
    {
    }

    ~Keys()
    {
      boost::filesystem::remove_all(folder);
    }
  };

  // A gateway staging big items in pieces of 1 MiB (sealed or plain), an Internal pulling them.
  class PullerPiecesTest : protected Keys, public PullerTest
  {
  protected:
    bool sealed_;
    std::string id_;
    std::vector<std::string> hashes_;  // of the files sent, in order
    std::vector<std::string> files_;

    explicit PullerPiecesTest(bool sealed) :
      PullerTest(BigLimits(), sealed ? &sealer : nullptr, kMiB),
      sealed_(sealed)
    {
      puller_.SetKeys(&internalKeys);
    }

    // Sends the files (and completes the upload): on a sealing gateway each big one is staged
    // again from a file, as an assembled one is (StagingArea::KeepFile), hence sealed in pieces.
    std::string SendFiles(const std::vector<std::string>& files)
    {
      ClientInfo client;
      const ApiAnswer u = OpenAtGateway(client);
      const std::string id = u.body["id"].asString(), token = u.body["token"].asString();
      for (const std::string& file : files)
      {
        const std::string sha256 = Crypto::Sha256Hex(file);
        gateway_.PutFile(id, token, sha256, file.data(), file.size(), client);
        if (sealed_ && file.size() > kMiB)
        {
          const std::string path = (folder_ / "assembled").string();
          std::ofstream(path, std::ios::binary) << file;
          UploadRecord upload;
          ItemRecord item;
          EXPECT_TRUE(gatewayLedger_.Uploads().Lookup(upload, id));
          EXPECT_TRUE(gatewayLedger_.Uploads().LookupItem(item, id, sha256));
          staging_.KeepFile(upload, item, nullptr, path, file.size());
        }
        hashes_.push_back(sha256);
        files_.push_back(file);
      }
      gateway_.Complete(id, token, client);
      id_ = id;
      return id;
    }

    // One big file of 2 MiB and a few hundred bytes (3 pieces) and a small one.
    void SendBigAndSmall()
    {
      SendFiles({MakeBigDicom("1.2.3.1", 2), MakeDicom("777", "1.2", "1.2.3", "1.2.3.2")});
    }

    size_t CountPulledFiles() const
    {
      size_t count = 0;
      boost::system::error_code error;
      for (boost::filesystem::recursive_directory_iterator it(folder_ / "pulls", error), end;
           !error && it != end; it.increment(error))
      {
        count += boost::filesystem::is_regular_file(it->path()) ? 1 : 0;
      }
      return count;
    }

    // Held as bad data for a reason containing "reason": nothing stored inside, nothing
    // acknowledged, the gateway keeps the upload, no temporary file left.
    void ExpectHeld(const std::string& reason)
    {
      EXPECT_EQ(0, peer_.acks);
      EXPECT_EQ(UploadState_Complete, GatewayState(id_));
      EXPECT_TRUE(staging_.Exists(id_, hashes_[0]));
      ItemRecord item;
      EXPECT_FALSE(internalLedger_.Uploads().LookupItem(item, id_, hashes_[0]));
      for (const auto& instance : store_.instances)
      {
        EXPECT_NE(hashes_[0], store_.metadata[instance.first]["InboundSha256"]);
      }
      const Json::Value described = puller_.Describe();
      ASSERT_EQ(1u, described["heldUploads"].size());
      const std::string why = described["heldUploads"][0]["reason"].asString();
      EXPECT_NE(std::string::npos, why.find(reason)) << why;
      EXPECT_EQ(1u, CountEvents(internalLedger_, "alert-upload-held"));
      EXPECT_EQ(0u, CountPulledFiles());
    }

    void ExpectDelivered()
    {
      EXPECT_EQ(UploadState_Delivered, GatewayState(id_));
      EXPECT_EQ(1, peer_.acks);
      EXPECT_EQ(files_.size(), store_.instances.size());
      for (const std::string& sha256 : hashes_)
      {
        ItemRecord item;
        EXPECT_TRUE(internalLedger_.Uploads().LookupItem(item, id_, sha256));
      }
      EXPECT_EQ(0u, puller_.Describe()["heldUploads"].size());
      EXPECT_EQ(0u, CountPulledFiles());
    }

    // The number in ".../parts/{n}".
    static uint64_t GetPiece(const std::string& uri)
    {
      return std::stoull(uri.substr(uri.rfind('/') + 1));
    }
  };

  class PlainPiecesTest : public PullerPiecesTest
  {
  public:
    PlainPiecesTest() : PullerPiecesTest(false)
    {
    }
  };

  class SealedPiecesTest : public PullerPiecesTest
  {
  public:
    SealedPiecesTest() : PullerPiecesTest(true)
    {
    }
  };
}

TEST_F(PlainPiecesTest, ABigItemComesPieceByPieceEachAnswerCappedAtItsShare)
{
  SendBigAndSmall();
  const Json::Value manifest = outbox_.GetManifest(id_);
  EXPECT_EQ(kMiB, manifest["items"][0]["partBytes"].asUInt64());
  EXPECT_FALSE(manifest["items"][1].isMember("partBytes"));  // the small one whole

  EXPECT_TRUE(puller_.RunOnce(0));
  ExpectDelivered();
  const uint64_t size = files_[0].size();
  ASSERT_EQ(3u, peer_.uris.size());
  for (uint64_t n = 0; n < 3; n++)
  {
    EXPECT_EQ("/inbound/peer/outbox/" + id_ + "/items/" + hashes_[0] + "/parts/" +
                std::to_string(n), peer_.uris[n]);
  }
  EXPECT_EQ(size - 2 * kMiB, peer_.maxAnswerBytes["part"]);  // the last: the rest
  EXPECT_EQ(1, peer_.calls["item"]);                          // the small one
  // Stored exactly: the pixels of the big file are in the archive.
  bool found = false;
  for (const auto& instance : store_.instances)
  {
    found |= store_.metadata[instance.first]["InboundSha256"] == hashes_[0] &&
             instance.second.dicom.find(files_[0].substr(files_[0].size() - 4096)) != std::string::npos;
  }
  EXPECT_TRUE(found);
}

TEST_F(SealedPiecesTest, ASealedBigItemIsOpenedPieceByPiece)
{
  SendBigAndSmall();
  std::string staged;
  ASSERT_TRUE(staging_.Read(staged, id_, hashes_[0]));
  EXPECT_EQ("INBPART1", staged.substr(0, 8));  // sealed in pieces on the gateway
  EXPECT_EQ(std::string::npos, staged.find(files_[0].substr(files_[0].size() - 4096)));

  EXPECT_TRUE(puller_.RunOnce(0));
  ExpectDelivered();
  EXPECT_EQ(3u, peer_.uris.size());
  EXPECT_EQ(files_[0].size() - 2 * kMiB + Sealing::GetOverhead(), peer_.maxAnswerBytes["part"]);
  UploadRecord inside;
  ASSERT_TRUE(internalLedger_.Uploads().Lookup(inside, id_));
  EXPECT_EQ("a@example.org", inside.sender.email);
  // The fields, three pieces and the small item.
  EXPECT_EQ(5u, internalKeys.Describe()["opened"].asUInt());
}

TEST_F(SealedPiecesTest, PiecesServedOutOfOrderDoNotOpen)
{
  SendBigAndSmall();
  peer_.forge = [&](const std::string& kind, PeerAnswer& answer) {
    if (kind == "part" && GetPiece(peer_.uris.back()) == 0)
    {
      answer.body = outbox_.ReadItemPiece(id_, hashes_[0], 1);  // piece 1 in place of 0
    }
  };
  puller_.RunOnce(0);
  ExpectHeld("piece 0");
  EXPECT_LE(peer_.uris.size(), 2u);  // nothing more than the piece fetched while 0 was opened
}

TEST_F(PlainPiecesTest, PlainPiecesOutOfOrderFailTheHashAndAreHeldAfterTheAttempts)
{
  SendBigAndSmall();
  peer_.forge = [&](const std::string& kind, PeerAnswer& answer) {
    const uint64_t n = kind == "part" ? GetPiece(peer_.uris.back()) : 9;
    if (n == 0 || n == 1)
    {
      answer.body = outbox_.ReadItemPiece(id_, hashes_[0], 1 - n);  // same sizes, swapped
    }
  };
  puller_.RunOnce(0);
  ExpectHeld("SHA-256 differed from the manifest 3 time(s)");
  EXPECT_EQ(9u, peer_.uris.size());  // three attempts of three pieces
}

TEST_F(SealedPiecesTest, AnEnvelopeOfAnotherUploadDoesNotOpen)
{
  // The same file in an earlier upload: the same bytes, sealed for that upload.
  const std::string big = MakeBigDicom("1.2.3.1", 2);
  SendFiles({big});
  const std::string earlier = outbox_.ReadItemPiece(id_, hashes_[0], 0);
  ASSERT_TRUE(puller_.RunOnce(0));  // pulled and acknowledged
  EXPECT_EQ(UploadState_Delivered, GatewayState(id_));
  hashes_.clear();
  files_.clear();
  peer_.acks = 0;
  store_.instances.clear();
  store_.metadata.clear();

  SendFiles({big});
  peer_.forge = [&](const std::string& kind, PeerAnswer& answer) {
    if (kind == "part" && GetPiece(peer_.uris.back()) == 0)
    {
      answer.body = earlier;  // replayed
    }
  };
  puller_.RunOnce(0);
  EXPECT_EQ(1u, internalKeys.Describe()["refused"].asUInt());
  ExpectHeld("piece 0");
}

TEST_F(SealedPiecesTest, AnEnvelopeOfAnotherItemDoesNotOpen)
{
  SendFiles({MakeBigDicom("1.2.3.1", 2), MakeBigDicom("1.2.3.9", 2)});
  const std::string other = outbox_.ReadItemPiece(id_, hashes_[1], 1);
  peer_.forge = [&](const std::string& kind, PeerAnswer& answer) {
    if (kind == "part" && peer_.uris.back().find(hashes_[0]) != std::string::npos &&
        GetPiece(peer_.uris.back()) == 1)
    {
      answer.body = other;  // of the same size
    }
  };
  puller_.RunOnce(0);
  EXPECT_EQ(1u, internalKeys.Describe()["refused"].asUInt());
  ExpectHeld("piece 1");
}

TEST_F(SealedPiecesTest, AFileCutShortOrWithAnotherCountDoesNotOpen)
{
  SendBigAndSmall();
  // The gateway claims the file had two pieces: it seals the first two for a count of 2 (and
  // would stop there); the Internal, counting from the manifest's size, expects 3.
  peer_.forge = [&](const std::string& kind, PeerAnswer& answer) {
    if (kind == "part")
    {
      const uint64_t n = GetPiece(peer_.uris.back());
      const std::string plain = files_[0].substr(n * kMiB, kMiB);
      answer.body = Sealing::Seal(key.GetPublicKey(), plain,
                                  StagingSealer::GetPieceContext(id_, hashes_[0], n, 2));
    }
  };
  puller_.RunOnce(0);
  ExpectHeld("piece 0");
}

TEST_F(SealedPiecesTest, PiecesSealedInPlaceButOfAnotherFileAreHeld)
{
  // A gateway taken over seals a file of its own, of the same size, with the right contexts:
  // every piece opens, the whole has another SHA-256.
  SendBigAndSmall();
  const std::string forged = MakeBigDicom("1.2.3.8", 2);
  ASSERT_EQ(files_[0].size(), forged.size());
  peer_.forge = [&](const std::string& kind, PeerAnswer& answer) {
    if (kind == "part")
    {
      const uint64_t n = GetPiece(peer_.uris.back());
      answer.body = Sealing::Seal(key.GetPublicKey(), forged.substr(n * kMiB, kMiB),
                                  StagingSealer::GetPieceContext(id_, hashes_[0], n, 3));
    }
  };
  puller_.RunOnce(0);
  ExpectHeld("does not have the SHA-256 of the manifest");
  EXPECT_EQ(3u, peer_.uris.size());  // not fetched again: authenticated, not damaged
}

TEST_F(SealedPiecesTest, APieceTooBigIsCutOffAndRefused)
{
  SendBigAndSmall();
  peer_.forge = [&](const std::string& kind, PeerAnswer& answer) {
    if (kind == "part")
    {
      answer.body += "x";
    }
  };
  puller_.RunOnce(0);
  ExpectHeld("is larger than " + std::to_string(kMiB + Sealing::GetOverhead()) + " bytes");
  EXPECT_EQ(kMiB + Sealing::GetOverhead(), peer_.maxAnswerBytes["part"]);
}

TEST_F(PlainPiecesTest, AnEndlessAnswerIsCutAtThePieceAndRefused)
{
  SendBigAndSmall();
  peer_.forge = [&](const std::string& kind, PeerAnswer& answer) {
    if (kind == "part")
    {
      answer.body.append(64 * kMiB, 'x');  // the real client stops reading at the cap
    }
  };
  puller_.RunOnce(0);
  ExpectHeld("is larger than " + std::to_string(kMiB) + " bytes");
  EXPECT_EQ(1u, peer_.uris.size());
}

TEST_F(PlainPiecesTest, ATruncatedPieceIsRefused)
{
  SendBigAndSmall();
  peer_.forge = [&](const std::string& kind, PeerAnswer& answer) {
    if (kind == "part" && GetPiece(peer_.uris.back()) == 1)
    {
      answer.body.resize(answer.body.size() - 1);
    }
  };
  puller_.RunOnce(0);
  ExpectHeld("piece 1 of 3 has " + std::to_string(kMiB - 1) + " bytes, not " +
             std::to_string(kMiB));
}

TEST_F(PlainPiecesTest, AnErrorStatusForAPieceIsAnOutageResumedLater)
{
  SendBigAndSmall();
  peer_.forge = [&](const std::string& kind, PeerAnswer& answer) {
    if (kind == "part" && GetPiece(peer_.uris.back()) == 2)
    {
      answer.status = 500;
    }
  };
  EXPECT_FALSE(puller_.RunOnce(0));
  EXPECT_EQ(0u, puller_.Describe()["heldUploads"].size());
  EXPECT_EQ(0u, CountPulledFiles());
  ItemRecord item;
  EXPECT_FALSE(internalLedger_.Uploads().LookupItem(item, id_, hashes_[0]));

  peer_.forge = nullptr;
  EXPECT_TRUE(puller_.RunOnce(0));
  ExpectDelivered();
}

TEST_F(PlainPiecesTest, AFileRefusedForNowInsideIsFetchedAgainLater)
{
  SendBigAndSmall();
  insidePolicy_.refuseFiles.reset(new ApiError(503, "quota-exceeded", "over the quota"));
  EXPECT_FALSE(puller_.RunOnce(0));
  EXPECT_EQ(0u, puller_.Describe()["heldUploads"].size());
  EXPECT_EQ(0u, CountPulledFiles());
  EXPECT_EQ(0u, store_.instances.size());

  insidePolicy_.refuseFiles.reset();
  EXPECT_TRUE(puller_.RunOnce(0));
  ExpectDelivered();
}

TEST_F(PlainPiecesTest, ManifestPieceSizesOutsideTheRulesAreHeldBeforeAnyFetch)
{
  SendBigAndSmall();
  const uint64_t size = files_[0].size();
  const std::vector<Json::Value> forged = {
    Json::UInt64(kMiB - 1), Json::UInt64(513 * kMiB), Json::UInt64(1025 * kMiB),
    Json::UInt64(size), Json::UInt64(size + 1),
    Json::Value(-1), Json::Value(1048576.5), Json::Value("1048576")};
  for (const Json::Value& partBytes : forged)
  {
    peer_.forge = [&](const std::string& kind, PeerAnswer& answer) {
      if (kind == "manifest")
      {
        Json::Value manifest;
        ASSERT_TRUE(JsonText::ParseStrict(manifest, answer.body.data(), answer.body.size()));
        manifest["items"][0]["partBytes"] = partBytes;
        answer.body = JsonText::Compact(manifest);
      }
    };
    puller_.RunOnce(0);
    const Json::Value held = puller_.Describe()["heldUploads"];
    ASSERT_EQ(1u, held.size()) << JsonText::Compact(partBytes);
    EXPECT_NE(std::string::npos, held[0]["reason"].asString().find("items[0].partBytes"))
      << held[0]["reason"].asString();
    EXPECT_TRUE(puller_.Release(id_, "admin"));
  }
  EXPECT_EQ(0u, peer_.uris.size());
  EXPECT_EQ(0, peer_.calls["item"]);
  UploadRecord inside;
  EXPECT_FALSE(internalLedger_.Uploads().Lookup(inside, id_));

  // A manifest that drops the pieces has the item fetched whole, capped at its size.
  peer_.forge = [&](const std::string& kind, PeerAnswer& answer) {
    if (kind == "manifest")
    {
      Json::Value manifest;
      ASSERT_TRUE(JsonText::ParseStrict(manifest, answer.body.data(), answer.body.size()));
      manifest["items"][0].removeMember("partBytes");
      answer.body = JsonText::Compact(manifest);
    }
  };
  EXPECT_TRUE(puller_.RunOnce(0));
  ExpectDelivered();
  EXPECT_EQ(0u, peer_.uris.size());
}

TEST_F(PlainPiecesTest, ThePeerRouteServesOnlyPiecesThatExist)
{
  SendBigAndSmall();
  EXPECT_EQ(files_[0].substr(kMiB, kMiB), outbox_.ReadItemPiece(id_, hashes_[0], 1));
  EXPECT_EQ(files_[0].substr(2 * kMiB), outbox_.ReadItemPiece(id_, hashes_[0], 2));
  for (const auto& wrong : std::vector<std::pair<std::string, uint64_t>>{
         {hashes_[0], 3}, {hashes_[1], 0}, {std::string(64, 'a'), 0}, {"../x", 0}})
  {
    try
    {
      outbox_.ReadItemPiece(id_, wrong.first, wrong.second);
      ADD_FAILURE() << wrong.first << " " << wrong.second;
    }
    catch (const ApiError& e)
    {
      EXPECT_EQ(404, e.GetStatus());
    }
  }
  EXPECT_THROW(outbox_.ReadItemPiece("ABCDEFGHJKLM", hashes_[0], 0), ApiError);
}

TEST_F(PlainPiecesTest, AnItemServedWholeIsAtMost512MiB)
{
  SendBigAndSmall();
  Json::Value upload;
  upload["MaxFileBytes"] = Json::UInt64(1024 * kMiB);
  upload["MaxBytesPerUpload"] = Json::UInt64(2048 * kMiB);
  const Configuration inside = Load("Internal", upload);
  Json::Value manifest = outbox_.GetManifest(id_);
  Json::Value listing = outbox_.List(0, 20, peer_.stopping)["uploads"][0];
  const uint64_t small = manifest["items"][1]["size"].asUInt64();
  for (const uint64_t size : {kMaxWholeBodyBytes, kMaxWholeBodyBytes + 1})
  {
    manifest["items"][0].removeMember("partBytes");
    manifest["items"][0]["size"] = Json::UInt64(size);
    listing["bytes"] = Json::UInt64(size + small);
    if (size == kMaxWholeBodyBytes)
    {
      EXPECT_EQ(0u, PulledManifest::Parse(manifest, listing, inside, clock_.NowMs()).items[0].partBytes);
      continue;
    }
    try
    {
      PulledManifest::Parse(manifest, listing, inside, clock_.NowMs());
      ADD_FAILURE() << "an item of 512 MiB + 1 byte served whole";
    }
    catch (const GatewayDataError& e)
    {
      EXPECT_NE(std::string::npos, std::string(e.what()).find("must come in pieces")) << e.what();
    }
    manifest["items"][0]["partBytes"] = Json::UInt64(16 * kMiB);  // in pieces: fine
    EXPECT_EQ(16 * kMiB, PulledManifest::Parse(manifest, listing, inside, clock_.NowMs()).items[0].partBytes);
  }
}
