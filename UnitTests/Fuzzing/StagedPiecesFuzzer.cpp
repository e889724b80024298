// libFuzzer target: a staged file of any bytes read as pieces: bounded reads, pieces that add up, no crash.
#include "Staging/StagingArea.h"
#include "Staging/StagingSealer.h"
#include "Toolbox/Sealing.h"

#include <Logging.h>
#include <OrthancException.h>
#include <OrthancFramework.h>

#include <boost/filesystem.hpp>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>

namespace
{
  const uint64_t kPart = 64;
  const std::string kUpload = "UPLOADFUZZ";
  const std::string kSha = std::string(64, 'a');

  std::unique_ptr<Inbound::SealingPrivateKey> key;
  std::unique_ptr<Inbound::StagingSealer> sealer;
  std::string root;
}

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
{
  Orthanc::InitializeFramework("", true);
  Orthanc::Logging::EnableInfoLevel(false);
  const boost::filesystem::path folder =
    boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("pieces-fuzz-%%%%%%");
  boost::filesystem::create_directories(folder);
  key.reset(new Inbound::SealingPrivateKey(
    Inbound::SealingPrivateKey::LoadOrCreate((folder / "key.pem").string())));
  sealer = Inbound::StagingSealer::Load({key->GetPublicKey().GetPem()}, "");
  root = (folder / "staging").string();
  return 0;
}

// Input: two bytes of the item's size as the ledger knows it (little endian), one byte that
// picks a plain or a sealing staging area, then the staged file's bytes.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  if (size < 3)
  {
    return 0;
  }
  const uint64_t itemSize = data[0] | (uint64_t(data[1]) << 8);
  Inbound::StagingArea staging(root, (data[2] & 1) ? sealer.get() : nullptr, kPart);
  const std::string path = staging.GetPath(kUpload, kSha);
  boost::filesystem::create_directories(boost::filesystem::path(path).parent_path());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 3), std::streamsize(size - 3));
  }
  const uint64_t fileSize = size - 3;
  try
  {
    Inbound::StagedPieces pieces;
    if (!staging.GetPieces(pieces, kUpload, kSha, itemSize))
    {
      abort();  // the file is there
    }
    if (pieces.count == 0 || (pieces.partBytes == 0) != (pieces.count == 1) ||
        pieces.count > fileSize + 1)
    {
      abort();
    }
    uint64_t total = 0;
    for (uint64_t n = 0; n <= pieces.count; n++)
    {
      std::string piece;
      const bool read = staging.ReadPiece(piece, kUpload, kSha, itemSize, n);
      if (read != (n < pieces.count))
      {
        abort();
      }
      if (read && pieces.partBytes > 0 &&
          piece.size() > pieces.partBytes + (pieces.sealed ? Inbound::Sealing::GetOverhead() : 0))
      {
        abort();  // a piece is never bigger than announced: the Internal caps its reads so
      }
      total += piece.size();
      if (read && pieces.sealed && pieces.partBytes > 0)
      {
        // Not sealed by the key: must not open (and must not crash trying).
        std::string plain, error;
        if (Inbound::Sealing::Open(plain, error, *key, piece.data(), piece.size(),
                                   Inbound::StagingSealer::GetPieceContext(kUpload, kSha, n,
                                                                           pieces.count)))
        {
          abort();
        }
      }
    }
    const uint64_t expected =
      (pieces.sealed && pieces.partBytes > 0) ? fileSize - Inbound::StagingArea::kPiecesHeaderSize
                                              : fileSize;
    if (total != expected)
    {
      abort();  // the pieces are the whole file, each byte once
    }
  }
  catch (const Orthanc::OrthancException&)
  {
    // a file of sealed pieces that contradicts its header or the item's size
  }
  return 0;
}
