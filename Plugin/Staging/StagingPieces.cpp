// Big staged items: files moved in or sealed in pieces, and the pieces read back for the peer route.
#include "StagingArea.h"

#include "Staging/StagingFiles.h"
#include "Toolbox/FileRange.h"
#include "Toolbox/Sealing.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace Inbound
{
  using namespace StagingFiles;

  namespace
  {
    const char kPiecesMagic[] = "INBPART1";

    void AppendLittleEndian(std::string& target, uint64_t value)
    {
      for (int i = 0; i < 8; i++)
      {
        target.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
      }
    }

    uint64_t ReadLittleEndian(const char* p)
    {
      uint64_t value = 0;
      for (int i = 7; i >= 0; i--)
      {
        value = (value << 8) | static_cast<uint8_t>(p[i]);
      }
      return value;
    }

    enum LayoutKind
    {
      LayoutKind_Plain,     // the bytes sent
      LayoutKind_Envelope,  // one envelope of them (Keep on a sealing gateway)
      LayoutKind_Pieces     // sealed pieces (KeepFile of a big item on a sealing gateway)
    };

    struct Layout
    {
      LayoutKind kind = LayoutKind_Plain;
      uint64_t partBytes = 0;
      uint64_t count = 1;
    };

    // What the staged file open as "fd" holds, given the item's size (the ledger's): the
    // bytes sent are exactly that long, an envelope of them longer. Only a file that is not
    // the bytes sent is read as pieces, so that a sender cannot make its file look like
    // pieces by writing "INBPART1" into its preamble.
    Layout Inspect(int fd, const std::string& path, uint64_t size, uint64_t partBytes)
    {
      struct stat info;
      if (fstat(fd, &info) != 0)
      {
        Fail("Cannot read the size of", path);
      }
      const uint64_t fileSize = static_cast<uint64_t>(info.st_size);
      Layout layout;
      if (fileSize == size)
      {
        if (size > partBytes && partBytes > 0)
        {
          layout.partBytes = partBytes;
          layout.count = (size - 1) / partBytes + 1;
        }
        return layout;
      }
      char header[StagingArea::kPiecesHeaderSize];
      if (fileSize < sizeof(header))
      {
        layout.kind = LayoutKind_Envelope;
        return layout;
      }
      ReadFileRange(fd, header, 0, sizeof(header), path);
      if (memcmp(header, kPiecesMagic, 8) != 0)
      {
        layout.kind = LayoutKind_Envelope;
        return layout;
      }
      layout.kind = LayoutKind_Pieces;
      layout.partBytes = ReadLittleEndian(header + 8);
      layout.count = ReadLittleEndian(header + 16);
      const uint64_t overhead = Sealing::GetOverhead();
      // Bounds first, so that nothing below overflows (sizes are far below 2^56).
      if (size >= (uint64_t(1) << 56) || layout.partBytes == 0 || layout.count < 2 ||
          layout.count > size || layout.partBytes >= size ||
          layout.count != (size - 1) / layout.partBytes + 1 ||
          fileSize != sizeof(header) + size + layout.count * overhead)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_CorruptedFile,
                                        "The staged file " + path + " of sealed pieces does not "
                                        "match its header or the item's size");
      }
      return layout;
    }
  }

  void StagingArea::WritePieces(const std::string& uploadId, const std::string& sha256,
                                uint64_t size,
                                const std::function<const char*(char*, uint64_t, size_t)>& read) const
  {
    const std::string folder = GetFolder(uploadId);
    const std::string target = GetPath(uploadId, sha256);
    boost::filesystem::create_directories(folder);
    const uint64_t count = (size - 1) / partBytes_ + 1;
    TemporaryFile file(target);
    std::string header(kPiecesMagic, 8);
    AppendLittleEndian(header, partBytes_);
    AppendLittleEndian(header, count);
    file.Append(header.data(), header.size());
    std::vector<char> buffer(static_cast<size_t>(partBytes_));
    for (uint64_t k = 0; k < count; k++)
    {
      const uint64_t offset = k * partBytes_;
      const size_t length = static_cast<size_t>(std::min(partBytes_, size - offset));
      const std::string envelope =
        sealer_->SealPiece(uploadId, sha256, k, count, read(buffer.data(), offset, length), length);
      file.Append(envelope.data(), envelope.size());
    }
    file.Commit(target, folder);
  }

  void StagingArea::SealStagedFile(const std::string& uploadId, const std::string& sha256,
                                   const std::string& plainPath, uint64_t size)
  {
    if (sealer_ == nullptr)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadSequenceOfCalls,
                                      "The staging area has no sealer");
    }
    // Opened before anything is written: when "plainPath" is the staged file itself, the
    // rename over it leaves this descriptor on the plain bytes.
    const Descriptor plain(plainPath, O_RDONLY);
    struct stat info;
    if (plain.Get() < 0 || fstat(plain.Get(), &info) != 0)
    {
      Fail("Cannot open", plainPath);
    }
    if (static_cast<uint64_t>(info.st_size) != size)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_CorruptedFile,
                                      "The file " + plainPath + " has " +
                                        std::to_string(info.st_size) + " bytes, not " +
                                        std::to_string(size));
    }
    const int fd = plain.Get();
    if (size <= partBytes_)
    {
      // One envelope, as Keep seals it.
      std::string content(static_cast<size_t>(size), '\0');
      ReadFileRange(fd, &content[0], 0, content.size(), plainPath);
      const std::string sealed = sealer_->SealItem(uploadId, sha256, content.data(), content.size());
      Write(uploadId, sha256, sealed.data(), sealed.size());
      return;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    WritePieces(uploadId, sha256, size,
                [fd, &plainPath](char* buffer, uint64_t offset, size_t length) -> const char* {
      ReadFileRange(fd, buffer, offset, length, plainPath);
      return buffer;
    });
  }

  void StagingArea::KeepFile(const UploadRecord& upload, ItemRecord& item,
                             std::unique_ptr<Orthanc::ParsedDicomFile> dicom,
                             const std::string& path, uint64_t size)
  {
    // The parse may still read long values from "path" (DicomInspector::ParseFile); the
    // staging area keeps the bytes sent, not the parse.
    dicom.reset();
    if (sealer_ != nullptr)
    {
      SealStagedFile(upload.id, item.sha256, path, size);
      StagingSealer::BlankItem(item);
      // The plain bytes must not stay on disk: scrubbed, then removed.
      Scrub(path);
      if (unlink(path.c_str()) != 0 && errno != ENOENT)
      {
        Fail("Cannot remove", path);
      }
      return;
    }

    const std::string folder = GetFolder(upload.id);
    const std::string target = GetPath(upload.id, item.sha256);
    boost::filesystem::create_directories(folder);
    // On disk before it is named as staged: a crash leaves the whole file or none.
    SyncPath(path, O_RDONLY);
    if (rename(path.c_str(), target.c_str()) == 0)
    {
      SyncPath(folder, O_RDONLY | O_DIRECTORY);
      return;
    }
    if (errno != EXDEV)
    {
      Fail("Cannot move " + path + " to", target);
    }
    // Another file system: copied a megabyte at a time, then the original removed.
    const Descriptor source(path, O_RDONLY);
    if (source.Get() < 0)
    {
      Fail("Cannot open", path);
    }
    posix_fadvise(source.Get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    TemporaryFile file(target);
    std::vector<char> buffer(1024 * 1024);
    for (uint64_t offset = 0; offset < size; offset += buffer.size())
    {
      const size_t length = static_cast<size_t>(std::min<uint64_t>(buffer.size(), size - offset));
      ReadFileRange(source.Get(), buffer.data(), offset, length, path);
      file.Append(buffer.data(), length);
    }
    file.Commit(target, folder);
    unlink(path.c_str());
  }

  bool StagingArea::GetPieces(StagedPieces& pieces, const std::string& uploadId,
                              const std::string& sha256, uint64_t size) const
  {
    const std::string path = GetPath(uploadId, sha256);
    const Descriptor fd(path, O_RDONLY);
    if (fd.Get() < 0 || !boost::filesystem::is_regular_file(path))
    {
      return false;
    }
    const Layout layout = Inspect(fd.Get(), path, size, partBytes_);
    pieces.partBytes = layout.partBytes;
    pieces.count = layout.count;
    pieces.sealed = (layout.kind != LayoutKind_Plain);
    return true;
  }

  bool StagingArea::ReadPiece(std::string& target, const std::string& uploadId,
                              const std::string& sha256, uint64_t size, uint64_t n) const
  {
    const std::string path = GetPath(uploadId, sha256);
    const Descriptor fd(path, O_RDONLY);
    if (fd.Get() < 0 || !boost::filesystem::is_regular_file(path))
    {
      return false;
    }
    const Layout layout = Inspect(fd.Get(), path, size, partBytes_);
    if (n >= layout.count)
    {
      return false;
    }
    uint64_t offset = 0, length = 0;
    if (layout.partBytes == 0)
    {
      struct stat info;
      if (fstat(fd.Get(), &info) != 0)
      {
        Fail("Cannot read the size of", path);
      }
      length = static_cast<uint64_t>(info.st_size);  // the whole file: one piece
    }
    else if (layout.kind == LayoutKind_Plain)
    {
      offset = n * layout.partBytes;
      length = std::min(layout.partBytes, size - offset);
    }
    else
    {
      const uint64_t overhead = Sealing::GetOverhead();
      offset = kPiecesHeaderSize + n * (layout.partBytes + overhead);
      length = overhead + (n + 1 < layout.count ? layout.partBytes
                                                : size - (layout.count - 1) * layout.partBytes);
    }
    std::string piece(static_cast<size_t>(length), '\0');
    ReadFileRange(fd.Get(), length > 0 ? &piece[0] : nullptr, offset, piece.size(), path);
    target.swap(piece);
    return true;
  }
}
