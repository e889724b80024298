// Writes, reads and removes staged files (temporary file, fsync, rename) inside the staging folder.
#include "StagingArea.h"

#include "Staging/StagingFiles.h"
#include "Toolbox/FileRange.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace Inbound
{
  using namespace StagingFiles;

  namespace
  {
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

  StagingArea::StagingArea(const std::string& root, const StagingSealer* sealer,
                           uint64_t partBytes) :
    root_(root),
    sealer_(sealer),
    partBytes_(partBytes)
  {
    if (partBytes_ == 0)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                      "The staging area's piece size cannot be 0");
    }
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

    TemporaryFile file(target);
    file.Append(data, size);
    file.Commit(target, folder);
  }

  bool StagingArea::Read(std::string& target, const std::string& uploadId,
                         const std::string& sha256) const
  {
    // One read of the file's size (not a stream copied byte by byte: pulls read every item).
    const std::string path = GetPath(uploadId, sha256);
    const Descriptor fd(path, O_RDONLY);
    struct stat info;
    if (fd.Get() < 0 || fstat(fd.Get(), &info) != 0 || !S_ISREG(info.st_mode))
    {
      return false;
    }
    try
    {
      std::string content(static_cast<size_t>(info.st_size), '\0');
      ReadFileRange(fd.Get(), content.empty() ? nullptr : &content[0], 0, content.size(), path);
      target.swap(content);
      return true;
    }
    catch (const Orthanc::OrthancException&)
    {
      return false;
    }
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
