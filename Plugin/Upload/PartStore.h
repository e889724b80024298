// The parts of big files on disk until they are assembled, encrypted at rest on a sealing gateway.
#pragma once

#include "Toolbox/SealingOpenSsl.h"

#include <boost/noncopyable.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
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

    enum WriteOutcome
    {
      WriteOutcome_Written,
      WriteOutcome_Same,          // the same bytes were there already: nothing written
      WriteOutcome_TooManyFiles,  // a new file while "maxFiles" files have parts already
      WriteOutcome_Misplaced,     // a short part that is not the last: "problem" says why
      WriteOutcome_TooManyBytes   // the parts of the upload would hold more than "maxBytes"
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
    static constexpr size_t kCopyBufferBytes = 1024 * 1024;

  private:
    const std::string root_;
    const bool encrypted_;
    SealingOpenSsl::Secret<SealingOpenSsl::kAesKeySize> key_;  // set when encrypted_

    const uint64_t partBytes_;  // 0: parts of any size anywhere (unit tests of the assembly)

    // What is held of one file: its plain bytes, its highest part, its parts shorter than
    // partBytes_ (at most one once Write checks their places: the last).
    struct FileState
    {
      uint64_t bytes = 0;
      int64_t last = -1;
      std::set<uint32_t> shortParts;
    };

    struct UploadState
    {
      uint64_t bytes = 0;
      std::map<std::string, FileState> files;  // by SHA-256
    };

    mutable std::mutex mutex_;  // guards states_; held around renames and removals
    mutable std::map<std::string, UploadState> states_;  // read from the disk when first needed

    std::string GetUploadFolder(const std::string& uploadId) const;

    // Removes an assembled file (or its temporary one), overwritten first when encrypted_.
    void Discard(const std::string& path) const;

    std::string GetFileFolder(const std::string& uploadId, const std::string& sha256) const;

    // REQUIRES: mutex_ held. Fills states_[uploadId] from the disk when not known yet.
    UploadState& GetStateLocked(const std::string& uploadId) const;

    // REQUIRES: mutex_ held. Why part "n" of "size" bytes cannot be written now ("" if it can).
    WriteOutcome CheckLocked(std::string& problem, const std::string& uploadId,
                             const std::string& sha256, uint32_t n, uint64_t size,
                             size_t maxFiles, uint64_t maxBytes) const;

    // The parts on disk of each file of an upload: number -> plain size.
    std::map<std::string, std::map<uint32_t, uint64_t>> Scan(const std::string& uploadId) const;

    // The plain size of a part file of "stored" bytes on disk.
    uint64_t ToPlainSize(uint64_t stored) const;

    // Reads part "n" whole into "plain" (decrypted when encrypted_); false when absent or
    // when its authentication fails.
    bool ReadPart(std::string& plain, const std::string& uploadId, const std::string& sha256,
                  uint32_t n) const;

    std::string MakeAad(const std::string& uploadId, const std::string& sha256, uint32_t n) const;

  public:
    // "encrypted": parts are sealed with a new key of this process, and whatever "root" held
    // is deleted. "partBytes" (Upload.PartBytes): only the last part of a file may be
    // shorter; 0: no such check (unit tests of the assembly's own checks).
    PartStore(const std::string& root, bool encrypted, uint64_t partBytes = 0);

    bool IsEncrypted() const
    {
      return encrypted_;
    }

    // Whether part "n" is here with exactly these bytes (a part sent again).
    bool Holds(const std::string& uploadId, const std::string& sha256, uint32_t n,
               const void* data, size_t size) const;

    // Stores part "n" of file "sha256" of an upload, replacing one with other bytes, unless
    // the same bytes are there already (a part sent again), the file is new while "maxFiles"
    // files have parts already, or the part is short (below partBytes) where it cannot be:
    // with a part after it, or beside another short part, or the parts of the upload would
    // hold more than "maxBytes". Checked again at the rename, under the lock: parts sent at
    // once cannot both pass.
    WriteOutcome Write(const std::string& uploadId, const std::string& sha256, uint32_t n,
                       const void* data, size_t size, size_t maxFiles, uint64_t maxBytes,
                       std::string& problem);

    // Write() without a limit of files, for tests: false when the same bytes were there.
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

    // Removes an assembled file that was not kept (Discard): scrubbed first when encrypted.
    void RemoveAssembled(const Assembly& assembly) const
    {
      if (!assembly.path.empty())
      {
        Discard(assembly.path);
      }
    }

    // Removes the parts of a file (and its assembled file); what is gone already is no error.
    void RemoveFile(const std::string& uploadId, const std::string& sha256);

    void RemoveUpload(const std::string& uploadId);

    // Uploads that hold parts on disk (for the sweep).
    std::vector<std::string> ListUploads() const;
  };
}
