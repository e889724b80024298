// Writes, reads and removes staged files (temporary file, fsync, rename) inside the staging folder.
#include "StagingArea.h"

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
    void Fail(const std::string& what, const std::string& path)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_CannotWriteFile,
                                      what + " " + path + ": " + strerror(errno));
    }

    void SyncPath(const std::string& path, int flags)
    {
      const int fd = open(path.c_str(), flags);
      if (fd < 0)
      {
        Fail("Cannot open", path);
      }
      const int result = fsync(fd);
      close(fd);
      if (result != 0)
      {
        Fail("Cannot sync", path);
      }
    }

    // Ids and hashes come from routes; the service checks them, and this refuses anything
    // that could leave the staging folder all the same.
    void CheckName(const std::string& name)
    {
      if (name.empty() || name.size() > 64 ||
          name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") !=
            std::string::npos)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                        "Bad staging name: " + name);
      }
    }
  }

  StagingArea::StagingArea(const std::string& root, const StagingSealer* sealer) :
    root_(root),
    sealer_(sealer)
  {
    boost::filesystem::create_directories(root_);
  }

  std::string StagingArea::GetFolder(const std::string& uploadId) const
  {
    CheckName(uploadId);
    return (boost::filesystem::path(root_) / uploadId).string();
  }

  std::string StagingArea::GetPath(const std::string& uploadId, const std::string& sha256) const
  {
    CheckName(sha256);
    return (boost::filesystem::path(GetFolder(uploadId)) / sha256).string();
  }

  void StagingArea::Scrub(const std::string& path)
  {
    const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
    {
      return;  // gone already: nothing to scrub
    }
    struct stat info;
    if (fstat(fd, &info) == 0 && S_ISREG(info.st_mode))
    {
      static const char kZeros[65536] = {};
      off_t left = info.st_size;
      while (left > 0)
      {
        const ssize_t n = write(fd, kZeros, static_cast<size_t>(std::min<off_t>(left, sizeof(kZeros))));
        if (n < 0 && errno == EINTR)
        {
          continue;
        }
        if (n <= 0)
        {
          break;
        }
        left -= n;
      }
      fsync(fd);
    }
    close(fd);
  }

  void StagingArea::Write(const std::string& uploadId, const std::string& sha256,
                          const void* data, size_t size)
  {
    const std::string folder = GetFolder(uploadId);
    const std::string target = GetPath(uploadId, sha256);
    boost::filesystem::create_directories(folder);

    const std::string temporary = target + ".tmp-" + Crypto::RandomCode(8);
    const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
    {
      Fail("Cannot create", temporary);
    }
    const char* p = static_cast<const char*>(data);
    size_t left = size;
    while (left > 0)
    {
      const ssize_t n = write(fd, p, left);
      if (n < 0 && errno == EINTR)
      {
        continue;
      }
      if (n <= 0)
      {
        const int saved = errno;
        close(fd);
        unlink(temporary.c_str());
        errno = saved;
        if (saved == ENOSPC)
        {
          throw Orthanc::OrthancException(Orthanc::ErrorCode_FullStorage);
        }
        Fail("Cannot write", temporary);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    if (fsync(fd) != 0 || close(fd) != 0)
    {
      unlink(temporary.c_str());
      Fail("Cannot sync", temporary);
    }
    if (rename(temporary.c_str(), target.c_str()) != 0)
    {
      unlink(temporary.c_str());
      Fail("Cannot rename", temporary);
    }
    SyncPath(folder, O_RDONLY | O_DIRECTORY);
  }

  bool StagingArea::Read(std::string& target, const std::string& uploadId,
                         const std::string& sha256) const
  {
    std::ifstream in(GetPath(uploadId, sha256), std::ios::binary);
    if (!in)
    {
      return false;
    }
    target.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
  }

  bool StagingArea::Exists(const std::string& uploadId, const std::string& sha256) const
  {
    return boost::filesystem::is_regular_file(GetPath(uploadId, sha256));
  }

  void StagingArea::RemoveUpload(const std::string& uploadId)
  {
    const std::string folder = GetFolder(uploadId);
    boost::system::error_code error;
    boost::filesystem::remove_all(folder, error);
    if (error)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_CannotWriteFile,
                                      "Cannot remove " + folder + ": " + error.message());
    }
    SyncPath(root_, O_RDONLY | O_DIRECTORY);  // the removal itself is durable
  }

  uint64_t StagingArea::ComputeSize() const
  {
    uint64_t total = 0;
    boost::system::error_code error;
    for (boost::filesystem::recursive_directory_iterator it(root_, error), end; !error && it != end;
         it.increment(error))
    {
      if (boost::filesystem::is_regular_file(it->path()))
      {
        total += boost::filesystem::file_size(it->path());
      }
    }
    return total;
  }

  void StagingArea::Keep(const UploadRecord& upload, ItemRecord& item,
                         Orthanc::ParsedDicomFile* dicom, const void* body, size_t size)
  {
    // The original bytes, not the parsed file: the hospital must receive exactly what was sent.
    if (sealer_ == nullptr)
    {
      Write(upload.id, item.sha256, body, size);
      return;
    }
    // Sealed before they touch the disk; the ledger keeps what the gateway itself needs of the
    // item (hash, size, UIDs for duplicate checks, modality for the sender's receipt).
    const std::string sealed = sealer_->SealItem(upload.id, item.sha256, body, size);
    Write(upload.id, item.sha256, sealed.data(), sealed.size());
    StagingSealer::BlankItem(item);
  }

  void StagingArea::SealFields(UploadRecord& record) const
  {
    if (sealer_ != nullptr)
    {
      sealer_->SealFields(record);
    }
  }
}
