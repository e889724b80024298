// The gateway's staging area: the exact bytes sent, one file per item, written atomically.
#pragma once

#include "Staging/StagingSealer.h"
#include "Upload/IUploadSink.h"

#include <boost/noncopyable.hpp>

#include <functional>
#include <memory>
#include <string>

namespace Inbound
{
  // How a staged item is served in pieces (the peer route .../items/{sha256}/parts/{n}).
  struct StagedPieces
  {
    uint64_t partBytes = 0;  // 0: one piece, the whole staged file (Read() as before)
    uint64_t count = 1;
    bool sealed = false;     // each piece is an envelope (else: bytes of the file as sent)
  };

  // The gateway's staging area: the exact bytes each sender sent, one folder per upload, one
  // file per item named by its SHA-256. Written atomically (temporary file, fsync, rename,
  // fsync of the folder), so a crash leaves either the whole file or none of it. With a
  // sealer, each file is the envelope of those bytes (still named by the SHA-256 of the bytes
  // sent), and the ledger gets the sender's fields sealed and no patient data of the items.
  //
  // Big items (KeepFile, above Upload.PartBytes) are sealed in pieces, so that no envelope
  // and no read of one needs the whole file in memory: the staged file is a plain header
  // "INBPART1", the piece size P and the piece count (two 64-bit little-endian integers),
  // then the pieces' envelopes back to back, piece k of P bytes of plaintext (the last one
  // the rest) sealed with the context "item:<upload>:<sha256>:<k>/<count>" (k from 0): the
  // count in every envelope makes a truncated or reordered sequence fail to open
  // (doc/Ledger.md, "Sealed envelopes").
  class StagingArea : public IUploadSink, public boost::noncopyable
  {
  private:
    std::string root_;
    const StagingSealer* sealer_;  // null: plain text (no Inbound.Sealing.PublicKeys)
    uint64_t partBytes_;           // Upload.PartBytes: the pieces of big items

    std::string GetFolder(const std::string& uploadId) const;

    // Writes the item of "size" bytes, whose bytes "read(buffer, offset, count)" gives (in
    // "buffer" or elsewhere), as a staged file of sealed pieces of partBytes_ (atomically; one
    // piece and its envelope in memory at a time).
    void WritePieces(const std::string& uploadId, const std::string& sha256, uint64_t size,
                     const std::function<const char*(char*, uint64_t, size_t)>& read) const;

  public:
    // Upload.PartBytes's default.
    static constexpr uint64_t kDefaultPartBytes = 16 * 1024 * 1024;

    // The header of a staged file of sealed pieces.
    static constexpr size_t kPiecesHeaderSize = 24;

    explicit StagingArea(const std::string& root, const StagingSealer* sealer = nullptr,
                         uint64_t partBytes = kDefaultPartBytes);

    uint64_t GetPartBytes() const
    {
      return partBytes_;
    }

    const StagingSealer* GetSealer() const
    {
      return sealer_;
    }

    const std::string& GetRoot() const
    {
      return root_;
    }

    std::string GetPath(const std::string& uploadId, const std::string& sha256) const;

    void Write(const std::string& uploadId, const std::string& sha256, const void* data,
               size_t size);

    // False if the item is not staged; the content (an envelope when sealed) is not checked.
    bool Read(std::string& target, const std::string& uploadId, const std::string& sha256) const;

    bool Exists(const std::string& uploadId, const std::string& sha256) const;

    void RemoveUpload(const std::string& uploadId);

    // Overwrites a file's bytes with zeros in place (fsync), before it is replaced or removed,
    // so that plain text does not stay in the disk's free blocks where the file system writes
    // in place (not on copy-on-write file systems, nor below an SSD's wear levelling).
    static void Scrub(const std::string& path);

    // Bytes held on disk by the staging area.
    uint64_t ComputeSize() const;

    void Keep(const UploadRecord& upload, ItemRecord& item, Orthanc::ParsedDicomFile* dicom,
              const void* body, size_t size) override;

    // Keep, for a verified file on disk of "size" bytes (an assembled upload, on the same
    // file system or not). "dicom" is freed first (it may read the file). Plain: the file is
    // moved into the staging folder (fsync of the file and the folder; copied if it is on
    // another file system). Sealed: an item of at most PartBytes becomes one envelope as with
    // Keep; a bigger one is sealed in pieces (see above) read from the file a piece at a time;
    // the plain file is then scrubbed and removed. On return "path" is gone; after an
    // exception it may still be there, for the caller to remove (StagingArea::Scrub first on
    // a sealing gateway: it is plain text).
    void KeepFile(const UploadRecord& upload, ItemRecord& item,
                  std::unique_ptr<Orthanc::ParsedDicomFile> dicom, const std::string& path,
                  uint64_t size) override;

    // Seals a staged plain file of "size" bytes in place (SealedHoldings, at the first start
    // with a sealer): in pieces when it is bigger than PartBytes, else one envelope.
    void SealStagedFile(const std::string& uploadId, const std::string& sha256,
                        const std::string& plainPath, uint64_t size);

    // How the staged item of "size" bytes (the ledger's) is served in pieces: a file holding
    // the bytes sent is cut in pieces of PartBytes when bigger (plain), a file of sealed
    // pieces as it was written, any other file is one piece (one envelope, as before).
    // False if the item is not staged; throws Orthanc's CorruptedFile when a file of sealed
    // pieces contradicts its header.
    bool GetPieces(StagedPieces& pieces, const std::string& uploadId, const std::string& sha256,
                   uint64_t size) const;

    // Piece "n" of GetPieces: the bytes [n * P, min((n + 1) * P, size)) of a plain file,
    // envelope n of a file of sealed pieces (to open with GetPieceContext), the whole file for
    // a one-piece item. At most P + Sealing::GetOverhead() bytes in memory (when P > 0).
    // False if the item is not staged or "n" is not below the count.
    bool ReadPiece(std::string& target, const std::string& uploadId, const std::string& sha256,
                   uint64_t size, uint64_t n) const;

    void Remove(const std::string& uploadId, const std::vector<ItemRecord>& items) override
    {
      RemoveUpload(uploadId);
    }

    bool StoresInOrthanc() const override
    {
      return false;
    }

    void SealFields(UploadRecord& record) const override;
  };
}
