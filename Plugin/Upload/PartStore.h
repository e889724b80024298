// The parts of big files on disk until they are assembled, encrypted at rest on a sealing gateway.
#pragma once

#include "Toolbox/SealingOpenSsl.h"

#include <boost/noncopyable.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace Inbound
{
  // The parts that senders sent of files above Upload.PartBytes (doc/Api.md, "Files in
  // parts"), one file per part: "<root>/<upload>/<sha256>/<n>", written atomically (temporary
  // file, fsync, rename). Encrypted (a sealing gateway: no plain text of a sender on its disk),
  // each part is "nonce | AES-256-GCM ciphertext | tag" under a key that lives in this process's
  // memory only, with "part:<upload>:<sha256>:<n>" as associated data (a part cannot be
  // renamed into another place); parts of an earlier process cannot be read, so they are all
  // deleted at construction. Thread-safe.
  class PartStore : public boost::noncopyable
  {
  public:
    struct FileParts
    {
      std::string sha256;
      std::vector<uint32_t> parts;  // numbers, in increasing order
      uint64_t bytes = 0;           // of plain text
    };

    enum AssembleOutcome
    {
      AssembleOutcome_Assembled,  // "path" holds the concatenation; "sha256" is its hash
      AssembleOutcome_Missing,    // "missing" lists absent parts (at most 100)
      AssembleOutcome_BadSize,    // a part other than the last is not "partBytes" long, or
                                  // the last is empty or longer: "problem" says which
      AssembleOutcome_TooLarge,   // the parts hold more than "maxBytes"
      AssembleOutcome_Unreadable  // a part failed its authentication (encrypted) or vanished
    };

    struct Assembly
    {
      AssembleOutcome outcome = AssembleOutcome_Unreadable;
      std::string path;    // the assembled file, to be deleted by the caller (RemoveFile does)
      std::string sha256;  // of the assembled bytes
      uint64_t size = 0;
      std::vector<uint32_t> missing;
      std::string problem;
    };

    // The memory one assembly takes: a part when encrypted (its envelope and its plain text),
    // a buffer of kCopyBufferBytes otherwise.
    static const size_t kCopyBufferBytes = 1024 * 1024;

  private:
    const std::string root_;
    const bool encrypted_;
    SealingOpenSsl::Secret<SealingOpenSsl::kAesKeySize> key_;  // set when encrypted_

    mutable std::mutex mutex_;  // guards pending_; held around renames and removals
    mutable std::map<std::string, uint64_t> pending_;  // plain bytes of parts, per upload

    std::string GetUploadFolder(const std::string& uploadId) const;

    std::string GetFileFolder(const std::string& uploadId, const std::string& sha256) const;

    // REQUIRES: mutex_ held. Fills pending_[uploadId] from the disk when not known yet.
    uint64_t& GetPendingLocked(const std::string& uploadId) const;

    // The plain size of a part file of "stored" bytes on disk.
    uint64_t ToPlainSize(uint64_t stored) const;

    // Reads part "n" whole into "plain" (decrypted when encrypted_); false when absent or
    // when its authentication fails.
    bool ReadPart(std::string& plain, const std::string& uploadId, const std::string& sha256,
                  uint32_t n) const;

    std::string MakeAad(const std::string& uploadId, const std::string& sha256, uint32_t n) const;

  public:
    // "encrypted": parts are sealed with a new key of this process, and whatever "root" held
    // is deleted.
    PartStore(const std::string& root, bool encrypted);

    bool IsEncrypted() const
    {
      return encrypted_;
    }

    // Whether part "n" is here with exactly these bytes (a part sent again).
    bool Holds(const std::string& uploadId, const std::string& sha256, uint32_t n,
               const void* data, size_t size) const;

    // Stores part "n" of file "sha256" of an upload, replacing one with other bytes. Returns
    // false when the same bytes were there already (a part sent again: nothing written).
    bool Write(const std::string& uploadId, const std::string& sha256, uint32_t n,
               const void* data, size_t size);

    // The plain bytes of every part held for the upload.
    uint64_t GetPendingBytes(const std::string& uploadId) const;

    // The parts held for each file of the upload, by SHA-256.
    std::vector<FileParts> List(const std::string& uploadId) const;

    // Concatenates parts 0 .. count-1 of a file into "<folder of the file>/assembled" (one part
    // or kCopyBufferBytes in memory at a time), checking their sizes first: each but the last
    // has "partBytes" bytes, the last 1 .. partBytes, the total at most "maxBytes".
    Assembly Assemble(const std::string& uploadId, const std::string& sha256, uint32_t count,
                      uint64_t partBytes, uint64_t maxBytes) const;

    // Removes the parts of a file (and its assembled file); what is gone already is no error.
    void RemoveFile(const std::string& uploadId, const std::string& sha256);

    void RemoveUpload(const std::string& uploadId);

    // Uploads that hold parts on disk (for the sweep).
    std::vector<std::string> ListUploads() const;
  };
}
