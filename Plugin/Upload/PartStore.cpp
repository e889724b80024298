// Writes, lists, assembles and removes the parts of big files (encrypted on a sealing gateway).
// Over 500 lines: plain and encrypted parts share one write, listing, assembly and removal.
#include "PartStore.h"

#include "Staging/StagingArea.h"
#include "Toolbox/Crypto.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace Inbound
{
  namespace
  {
    const char* const kAssembledName = "assembled";

    [[noreturn]] void Fail(const std::string& what, const std::string& path)
    {
      if (errno == ENOSPC)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_FullStorage);
      }
      throw Orthanc::OrthancException(Orthanc::ErrorCode_CannotWriteFile,
                                      what + " " + path + ": " + strerror(errno));
    }

    // Ids and hashes come from routes; the service checks them, and this refuses anything
    // that could leave the parts folder all the same.
    void CheckName(const std::string& name)
    {
      if (name.empty() || name.size() > 64 ||
          name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") !=
            std::string::npos)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                        "Bad part folder name: " + name);
      }
    }

    // A part's file name is its number in decimal, nothing else.
    bool ParsePartName(uint32_t& n, const std::string& name)
    {
      if (name.empty() || name.size() > 10 ||
          name.find_first_not_of("0123456789") != std::string::npos)
      {
        return false;
      }
      const uint64_t value = std::stoull(name);
      if (value > UINT32_MAX)
      {
        return false;
      }
      n = static_cast<uint32_t>(value);
      return true;
    }

    void WriteAll(int fd, const void* data, size_t size, const std::string& path)
    {
      const char* p = static_cast<const char*>(data);
      while (size > 0)
      {
        const ssize_t n = write(fd, p, size);
        if (n < 0 && errno == EINTR)
        {
          continue;
        }
        if (n <= 0)
        {
          Fail("Cannot write", path);
        }
        p += n;
        size -= static_cast<size_t>(n);
      }
    }

    // The whole file, or false when it cannot be opened.
    bool ReadWhole(std::string& target, const std::string& path)
    {
      std::ifstream in(path, std::ios::binary);
      if (!in)
      {
        return false;
      }
      in.seekg(0, std::ios::end);
      const std::streamoff size = in.tellg();
      in.seekg(0, std::ios::beg);
      if (size < 0)
      {
        return false;
      }
      target.resize(static_cast<size_t>(size));
      return static_cast<bool>(in.read(&target[0], size)) || size == 0;
    }

    uint64_t GetFileSize(const std::string& path)
    {
      struct stat info;
      return stat(path.c_str(), &info) == 0 ? uint64_t(info.st_size) : 0;
    }

    void SyncFolder(const std::string& folder)
    {
      const int fd = open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd >= 0)
      {
        fsync(fd);
        close(fd);
      }
    }
  }

  PartStore::PartStore(const std::string& root, bool encrypted, uint64_t partBytes) :
    root_(root),
    encrypted_(encrypted),
    partBytes_(partBytes)
  {
    if (encrypted_)
    {
      // The key of an earlier process is gone: its parts are noise now (doc/Api.md). An
      // assembled file that a crash left is plain text: overwritten first.
      boost::system::error_code ignored;
      if (boost::filesystem::is_directory(root_, ignored))
      {
        for (boost::filesystem::recursive_directory_iterator file(root_, ignored), end;
             !ignored && file != end; file.increment(ignored))
        {
          if (file->path().filename().string().compare(0, strlen(kAssembledName),
                                                       kAssembledName) == 0)
          {
            StagingArea::Scrub(file->path().string());
          }
        }
      }
      boost::filesystem::remove_all(root_, ignored);
      const std::string random = Crypto::RandomBytes(sizeof(key_.bytes));
      memcpy(key_.bytes, random.data(), sizeof(key_.bytes));
    }
    else
    {
      memset(key_.bytes, 0, sizeof(key_.bytes));
    }
    boost::filesystem::create_directories(root_);
  }

  void PartStore::Discard(const std::string& path) const
  {
    if (encrypted_)
    {
      StagingArea::Scrub(path);  // plain text of a sealing gateway: not left in free blocks
    }
    boost::system::error_code ignored;
    boost::filesystem::remove(path, ignored);
  }

  std::string PartStore::GetUploadFolder(const std::string& uploadId) const
  {
    CheckName(uploadId);
    return (boost::filesystem::path(root_) / uploadId).string();
  }

  std::string PartStore::GetFileFolder(const std::string& uploadId,
                                       const std::string& sha256) const
  {
    CheckName(sha256);
    return (boost::filesystem::path(GetUploadFolder(uploadId)) / sha256).string();
  }

  std::string PartStore::MakeAad(const std::string& uploadId, const std::string& sha256,
                                 uint32_t n) const
  {
    return "part:" + uploadId + ":" + sha256 + ":" + std::to_string(n);
  }

  uint64_t PartStore::ToPlainSize(uint64_t stored) const
  {
    if (!encrypted_)
    {
      return stored;
    }
    const uint64_t overhead = SealingOpenSsl::kGcmNonceSize + SealingOpenSsl::kGcmTagSize;
    return stored > overhead ? stored - overhead : 0;
  }

  std::map<std::string, std::map<uint32_t, uint64_t>> PartStore::Scan(
    const std::string& uploadId) const
  {
    std::map<std::string, std::map<uint32_t, uint64_t>> result;
    const boost::filesystem::path folder(GetUploadFolder(uploadId));
    boost::system::error_code error;
    if (!boost::filesystem::is_directory(folder, error))
    {
      return result;
    }
    for (boost::filesystem::directory_iterator file(folder, error), end; !error && file != end;
         file.increment(error))
    {
      const std::string sha256 = file->path().filename().string();
      if (!Crypto::IsSha256Hex(sha256) || !boost::filesystem::is_directory(file->path()))
      {
        continue;
      }
      boost::system::error_code inner;
      for (boost::filesystem::directory_iterator part(file->path(), inner), last;
           !inner && part != last; part.increment(inner))
      {
        uint32_t n = 0;
        if (ParsePartName(n, part->path().filename().string()))
        {
          result[sha256][n] = ToPlainSize(GetFileSize(part->path().string()));
        }
      }
    }
    return result;
  }

  PartStore::UploadState& PartStore::GetStateLocked(const std::string& uploadId) const
  {
    auto found = states_.find(uploadId);
    if (found != states_.end())
    {
      return found->second;
    }
    UploadState state;
    for (const auto& file : Scan(uploadId))
    {
      FileState& parts = state.files[file.first];
      for (const auto& part : file.second)
      {
        parts.bytes += part.second;
        parts.last = std::max<int64_t>(parts.last, part.first);
        if (part.second < partBytes_)
        {
          parts.shortParts.insert(part.first);
        }
      }
      state.bytes += parts.bytes;
    }
    return states_[uploadId] = state;
  }

  PartStore::WriteOutcome PartStore::CheckLocked(std::string& problem, const std::string& uploadId,
                                                 const std::string& sha256, uint32_t n,
                                                 uint64_t size, size_t maxFiles,
                                                 uint64_t maxBytes) const
  {
    const UploadState& state = GetStateLocked(uploadId);
    const std::string target =
      (boost::filesystem::path(GetFileFolder(uploadId, sha256)) / std::to_string(n)).string();
    const uint64_t replaced = std::min(state.bytes, ToPlainSize(GetFileSize(target)));
    if (state.bytes - replaced + size > maxBytes)
    {
      return WriteOutcome_TooManyBytes;
    }
    auto file = state.files.find(sha256);
    if (file == state.files.end())
    {
      return state.files.size() >= maxFiles ? WriteOutcome_TooManyFiles : WriteOutcome_Written;
    }
    if (partBytes_ == 0)
    {
      return WriteOutcome_Written;
    }
    const FileState& parts = file->second;
    for (uint32_t other : parts.shortParts)
    {
      if (other != n && (size < partBytes_ || other < n))
      {
        problem = "part " + std::to_string(other) + " is shorter than " +
                  std::to_string(partBytes_) + " bytes: only the last part may be, and no "
                  "part comes after it";
        return WriteOutcome_Misplaced;
      }
    }
    if (size < partBytes_ && parts.last > int64_t(n))
    {
      problem = "part " + std::to_string(n) + " is shorter than " + std::to_string(partBytes_) +
                " bytes, but part " + std::to_string(parts.last) + " comes after it: only the "
                "last part may be shorter";
      return WriteOutcome_Misplaced;
    }
    return WriteOutcome_Written;
  }

  bool PartStore::ReadPart(std::string& plain, const std::string& uploadId,
                           const std::string& sha256, uint32_t n) const
  {
    const std::string path =
      (boost::filesystem::path(GetFileFolder(uploadId, sha256)) / std::to_string(n)).string();
    if (!encrypted_)
    {
      return ReadWhole(plain, path);
    }
    std::string sealed;
    const size_t overhead = SealingOpenSsl::kGcmNonceSize + SealingOpenSsl::kGcmTagSize;
    if (!ReadWhole(sealed, path) || sealed.size() < overhead)
    {
      return false;
    }
    const unsigned char* nonce = reinterpret_cast<const unsigned char*>(sealed.data());
    const size_t size = sealed.size() - overhead;
    const unsigned char* cipher = nonce + SealingOpenSsl::kGcmNonceSize;
    const unsigned char* tag = cipher + size;
    const std::string aad = MakeAad(uploadId, sha256, n);
    plain.assign(size, '\0');
    return SealingOpenSsl::DecryptAesGcm(
      reinterpret_cast<unsigned char*>(&plain[0]), tag, key_.bytes, nonce,
      {SealingOpenSsl::Bytes{aad.data(), aad.size()}}, cipher, size);
  }

  bool PartStore::Holds(const std::string& uploadId, const std::string& sha256, uint32_t n,
                        const void* data, size_t size) const
  {
    const std::string path =
      (boost::filesystem::path(GetFileFolder(uploadId, sha256)) / std::to_string(n)).string();
    if (ToPlainSize(GetFileSize(path)) != size)
    {
      return false;  // absent (0), or another size: not read at all
    }
    std::string existing;
    return ReadPart(existing, uploadId, sha256, n) && existing.size() == size &&
           (size == 0 || memcmp(existing.data(), data, size) == 0);
  }

  bool PartStore::Write(const std::string& uploadId, const std::string& sha256, uint32_t n,
                        const void* data, size_t size)
  {
    std::string problem;
    const WriteOutcome outcome =
      Write(uploadId, sha256, n, data, size, SIZE_MAX, UINT64_MAX, problem);
    if (outcome == WriteOutcome_Misplaced)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange, problem);
    }
    return outcome == WriteOutcome_Written;
  }

  PartStore::WriteOutcome PartStore::Write(const std::string& uploadId, const std::string& sha256,
                                           uint32_t n, const void* data, size_t size,
                                           size_t maxFiles, uint64_t maxBytes,
                                           std::string& problem)
  {
    const std::string folder = GetFileFolder(uploadId, sha256);
    const std::string target = (boost::filesystem::path(folder) / std::to_string(n)).string();
    if (Holds(uploadId, sha256, n, data, size))
    {
      return WriteOutcome_Same;  // a part sent again (a resumed file): not written twice
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const WriteOutcome outcome = CheckLocked(problem, uploadId, sha256, n, size, maxFiles, maxBytes);
      if (outcome != WriteOutcome_Written)
      {
        return outcome;  // before a byte is written
      }
    }
    boost::filesystem::create_directories(folder);

    std::string sealed;
    const void* bytes = data;
    size_t length = size;
    if (encrypted_)
    {
      const std::string nonce = Crypto::RandomBytes(SealingOpenSsl::kGcmNonceSize);
      const std::string aad = MakeAad(uploadId, sha256, n);
      sealed.assign(SealingOpenSsl::kGcmNonceSize + size + SealingOpenSsl::kGcmTagSize, '\0');
      unsigned char* out = reinterpret_cast<unsigned char*>(&sealed[0]);
      memcpy(out, nonce.data(), nonce.size());
      if (!SealingOpenSsl::EncryptAesGcm(out + nonce.size(), out + nonce.size() + size,
                                         key_.bytes, out, {SealingOpenSsl::Bytes{aad.data(), aad.size()}},
                                         static_cast<const unsigned char*>(data), size))
      {
        SealingOpenSsl::Fail("AES-256-GCM of a part");
      }
      bytes = sealed.data();
      length = sealed.size();
    }

    const std::string temporary = target + ".tmp-" + Crypto::RandomCode(8);
    const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
    {
      Fail("Cannot create", temporary);
    }
    try
    {
      WriteAll(fd, bytes, length, temporary);
      if (fsync(fd) != 0)
      {
        Fail("Cannot sync", temporary);
      }
    }
    catch (...)
    {
      close(fd);
      unlink(temporary.c_str());
      throw;
    }
    close(fd);

    std::lock_guard<std::mutex> lock(mutex_);
    const WriteOutcome outcome = CheckLocked(problem, uploadId, sha256, n, size, maxFiles, maxBytes);
    if (outcome != WriteOutcome_Written)
    {
      unlink(temporary.c_str());  // another part of the same time came first
      return outcome;
    }
    UploadState& state = GetStateLocked(uploadId);
    FileState& parts = state.files[sha256];
    const bool replaced = boost::filesystem::exists(target);
    const uint64_t previous = replaced ? ToPlainSize(GetFileSize(target)) : 0;
    if (rename(temporary.c_str(), target.c_str()) != 0)
    {
      unlink(temporary.c_str());
      Fail("Cannot rename", temporary);
    }
    SyncFolder(folder);
    parts.bytes = parts.bytes - std::min(parts.bytes, previous) + size;
    state.bytes = state.bytes - std::min(state.bytes, previous) + size;
    parts.last = std::max<int64_t>(parts.last, n);
    if (size < partBytes_)
    {
      parts.shortParts.insert(n);
    }
    else
    {
      parts.shortParts.erase(n);
    }
    return WriteOutcome_Written;
  }

  uint64_t PartStore::GetPendingBytes(const std::string& uploadId) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return GetStateLocked(uploadId).bytes;
  }

  std::vector<PartStore::FileParts> PartStore::List(const std::string& uploadId) const
  {
    std::vector<FileParts> result;  // by SHA-256: Scan's map is ordered
    for (const auto& file : Scan(uploadId))
    {
      FileParts parts;
      parts.sha256 = file.first;
      for (const auto& part : file.second)
      {
        parts.parts.push_back(part.first);  // in increasing order
        parts.bytes += part.second;
      }
      if (!parts.parts.empty())
      {
        result.push_back(parts);
      }
    }
    return result;
  }

  PartStore::Assembly PartStore::Assemble(const std::string& uploadId, const std::string& sha256,
                                          uint32_t count, uint64_t partBytes,
                                          uint64_t maxBytes) const
  {
    Assembly assembly;
    const boost::filesystem::path folder(GetFileFolder(uploadId, sha256));

    // The sizes first: nothing is copied for a file that cannot be whole.
    uint64_t total = 0;
    for (uint32_t n = 0; n < count; n++)
    {
      const std::string path = (folder / std::to_string(n)).string();
      struct stat info;
      if (stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode))
      {
        if (assembly.missing.size() < 100)
        {
          assembly.missing.push_back(n);
        }
        continue;
      }
      const uint64_t size = ToPlainSize(uint64_t(info.st_size));
      if (assembly.problem.empty() &&
          ((n + 1 < count && size != partBytes) || (n + 1 == count && (size == 0 || size > partBytes))))
      {
        assembly.problem = "part " + std::to_string(n) + " has " + std::to_string(size) +
                           " bytes; " + (n + 1 < count ? "every part but the last must have "
                                                       : "the last part must have 1 to ") +
                           std::to_string(partBytes);
      }
      total += size;
    }
    if (!assembly.missing.empty())
    {
      assembly.outcome = AssembleOutcome_Missing;
      return assembly;
    }
    if (!assembly.problem.empty())
    {
      assembly.outcome = AssembleOutcome_BadSize;
      return assembly;
    }
    if (total > maxBytes)
    {
      assembly.outcome = AssembleOutcome_TooLarge;
      assembly.size = total;
      return assembly;
    }

    assembly.path = (folder / kAssembledName).string();
    const std::string temporary = assembly.path + ".tmp-" + Crypto::RandomCode(8);
    const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
    {
      Fail("Cannot create", temporary);
    }
    Crypto::Sha256Stream hash;
    try
    {
      std::string buffer;
      for (uint32_t n = 0; n < count; n++)
      {
        if (encrypted_)
        {
          if (!ReadPart(buffer, uploadId, sha256, n))
          {
            close(fd);
            Discard(temporary);
            assembly.outcome = AssembleOutcome_Unreadable;
            assembly.problem = "part " + std::to_string(n) + " cannot be read";
            assembly.path.clear();
            return assembly;
          }
          hash.Update(buffer.data(), buffer.size());
          WriteAll(fd, buffer.data(), buffer.size(), temporary);
          assembly.size += buffer.size();
          continue;
        }
        std::ifstream in((folder / std::to_string(n)).string(), std::ios::binary);
        buffer.resize(kCopyBufferBytes);
        uint64_t copied = 0;
        while (in)
        {
          in.read(&buffer[0], buffer.size());
          const std::streamsize got = in.gcount();
          if (got <= 0)
          {
            break;
          }
          hash.Update(buffer.data(), size_t(got));
          WriteAll(fd, buffer.data(), size_t(got), temporary);
          copied += uint64_t(got);
        }
        if (copied == 0)
        {
          close(fd);
          unlink(temporary.c_str());
          assembly.outcome = AssembleOutcome_Unreadable;
          assembly.problem = "part " + std::to_string(n) + " cannot be read";
          assembly.path.clear();
          return assembly;
        }
        assembly.size += copied;
      }
    }
    catch (...)
    {
      close(fd);
      Discard(temporary);
      throw;
    }
    if (close(fd) != 0 || rename(temporary.c_str(), assembly.path.c_str()) != 0)
    {
      Discard(temporary);
      Fail("Cannot write", temporary);
    }
    assembly.sha256 = hash.FinishHex();
    assembly.outcome = AssembleOutcome_Assembled;
    return assembly;
  }

  void PartStore::RemoveFile(const std::string& uploadId, const std::string& sha256)
  {
    const boost::filesystem::path folder(GetFileFolder(uploadId, sha256));
    std::lock_guard<std::mutex> lock(mutex_);
    UploadState& state = GetStateLocked(uploadId);
    auto file = state.files.find(sha256);
    if (file == state.files.end())
    {
      return;  // no part of it (the usual case of a file sent whole): no disk access
    }
    state.bytes -= std::min(state.bytes, file->second.bytes);
    state.files.erase(file);
    boost::system::error_code error;
    if (encrypted_)
    {
      // The assembled file is plain text: not left in the disk's free blocks either.
      StagingArea::Scrub((folder / kAssembledName).string());
    }
    boost::filesystem::remove_all(folder, error);
    boost::filesystem::remove(folder.parent_path(), error);  // the upload's, when now empty
  }

  void PartStore::RemoveUpload(const std::string& uploadId)
  {
    const boost::filesystem::path folder(GetUploadFolder(uploadId));
    std::lock_guard<std::mutex> lock(mutex_);
    boost::system::error_code error;
    if (encrypted_ && boost::filesystem::is_directory(folder, error))
    {
      for (boost::filesystem::directory_iterator file(folder, error), end; !error && file != end;
           file.increment(error))
      {
        StagingArea::Scrub((file->path() / kAssembledName).string());
      }
    }
    boost::filesystem::remove_all(folder, error);
    states_.erase(uploadId);
  }

  std::vector<std::string> PartStore::ListUploads() const
  {
    std::vector<std::string> result;
    boost::system::error_code error;
    for (boost::filesystem::directory_iterator file(root_, error), end; !error && file != end;
         file.increment(error))
    {
      if (boost::filesystem::is_directory(file->path()))
      {
        result.push_back(file->path().filename().string());
      }
    }
    return result;
  }
}
