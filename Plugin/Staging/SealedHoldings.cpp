// Seals what a gateway staged before it sealed, and counts what it holds sealed for each key.
#include "SealedHoldings.h"

#include "Toolbox/Crypto.h"
#include "Toolbox/Sealing.h"

#include <Logging.h>
#include <Toolbox.h>

#include <boost/filesystem.hpp>

#include <unistd.h>

#include <fstream>
#include <vector>

namespace Inbound
{
  namespace SealedHoldings
  {
    namespace
    {
      // The key id of an envelope file, "" when it is none; reads its header only. A file of
      // sealed pieces (StagingArea::KeepFile) has the one of its first piece.
      std::string ReadFileKeyId(const boost::filesystem::path& path)
      {
        std::string header(Sealing::GetOverhead(), '\0');
        std::ifstream in(path.string(), std::ios::binary);
        in.read(&header[0], std::streamsize(header.size()));
        if (in.gcount() == std::streamsize(header.size()) && header.compare(0, 8, "INBPART1") == 0)
        {
          in.seekg(std::streamoff(StagingArea::kPiecesHeaderSize));
          in.read(&header[0], std::streamsize(header.size()));
        }
        std::string keyId;
        if (in.gcount() != std::streamsize(header.size()) ||
            !Sealing::ReadKeyId(keyId, header.data(), header.size()))
        {
          return "";
        }
        return keyId;
      }

      // SHA-256 of a file, read a megabyte at a time (staged files may be gigabytes).
      bool HashFile(std::string& sha256, const boost::filesystem::path& path)
      {
        std::ifstream in(path.string(), std::ios::binary);
        if (!in)
        {
          return false;
        }
        Crypto::Sha256Stream hash;
        std::vector<char> buffer(1024 * 1024);
        while (in)
        {
          in.read(buffer.data(), std::streamsize(buffer.size()));
          hash.Update(buffer.data(), static_cast<size_t>(in.gcount()));
        }
        if (in.bad())
        {
          return false;
        }
        sha256 = hash.FinishHex();
        return true;
      }

      std::string ReadFieldsKeyId(const std::string& base64)
      {
        std::string envelope, keyId;
        Orthanc::Toolbox::DecodeBase64(envelope, base64);
        return Sealing::ReadKeyId(keyId, envelope.data(), envelope.size()) ? keyId : "";
      }

      // Whether a staged file holds the bytes sent rather than their envelope. Not from its
      // header alone: the sender writes the preamble and can make a plain file start like an
      // envelope ("INBSEAL1" and a key id). The ledger knows the size sent, which an envelope
      // exceeds by its overhead; a file the ledger does not know (a crash between the write
      // and the record) is plain when its bytes have the SHA-256 it is named by.
      bool IsPlain(const Ledger& ledger, const StagingArea& staging, const std::string& upload,
                   const std::string& name, const boost::filesystem::path& path)
      {
        ItemRecord item;
        boost::system::error_code error;
        const uint64_t size = boost::filesystem::file_size(path, error);
        if (ledger.Uploads().LookupItem(item, upload, name))
        {
          return !error && size == uint64_t(item.size);
        }
        std::string sha256;
        return ReadFileKeyId(path).empty() || (HashFile(sha256, path) && sha256 == name);
      }

      // Calls "visit(upload id, file name, path)" for each file of the staging folder.
      template <typename Visit>
      void ForEachStagedFile(const StagingArea& staging, Visit visit)
      {
        boost::system::error_code error;
        for (boost::filesystem::directory_iterator upload(staging.GetRoot(), error), end;
             !error && upload != end; upload.increment(error))
        {
          if (!boost::filesystem::is_directory(upload->path()))
          {
            continue;
          }
          // Listed first, visited after: a visit may add and remove files of the folder.
          std::vector<boost::filesystem::path> files;
          for (boost::filesystem::directory_iterator file(upload->path(), error);
               !error && file != end; file.increment(error))
          {
            files.push_back(file->path());
          }
          for (const boost::filesystem::path& file : files)
          {
            visit(upload->path().filename().string(), file.filename().string(), file);
          }
        }
      }
    }

    void SealWhatIsPlain(const StagingSealer& sealer, Ledger& ledger, StagingArea& staging)
    {
      size_t files = 0, temporaries = 0;
      ForEachStagedFile(staging, [&](const std::string& upload, const std::string& name,
                                     const boost::filesystem::path& path) {
        if (!Crypto::IsSha256Hex(name))
        {
          // A write that a crash interrupted (StagingArea::Write): never renamed, garbage.
          StagingArea::Scrub(path.string());
          boost::filesystem::remove(path);
          temporaries++;
        }
        else if (IsPlain(ledger, staging, upload, name, path))
        {
          boost::system::error_code error;
          const uint64_t size = boost::filesystem::file_size(path, error);
          if (!error)
          {
            // The plain bytes are scrubbed, not only unlinked, once the envelope has replaced
            // them; a second name keeps them reachable until then (a crash in between leaves
            // "<sha256>.plain", scrubbed and removed as garbage at the next start).
            const std::string plainCopy = path.string() + ".plain";
            StagingArea::Scrub(plainCopy);  // one a crash left (listed after this file)
            boost::filesystem::remove(plainCopy);
            const bool linked = link(path.string().c_str(), plainCopy.c_str()) == 0;
            // One envelope, or sealed pieces above Upload.PartBytes: read a piece at a time,
            // as StagingArea::KeepFile seals a big file.
            staging.SealStagedFile(upload, name, path.string(), size);
            if (linked)
            {
              StagingArea::Scrub(plainCopy);
              boost::filesystem::remove(plainCopy);
            }
            files++;
          }
        }
      });
      const size_t records =
        ledger.Uploads().SealPlainRecords([&sealer](UploadRecord& r) { sealer.SealFields(r); });
      ledger.GetDatabase().Checkpoint();
      if (files + temporaries + records > 0)
      {
        LOG(WARNING) << "Inbound: sealed what this gateway held in plain text: " << files
                     << " staged file(s), " << records << " upload record(s); "
                     << temporaries << " unfinished temporary file(s) removed";
      }
    }

    std::map<std::string, uint64_t> CountByKey(const Ledger& ledger, const StagingArea& staging,
                                               uint64_t& plain)
    {
      std::map<std::string, uint64_t> counts;
      plain = 0;
      ForEachStagedFile(staging, [&](const std::string& upload, const std::string& name,
                                     const boost::filesystem::path& path) {
        if (Crypto::IsSha256Hex(name))
        {
          const std::string keyId = ReadFileKeyId(path);
          const bool isPlain =
            keyId.empty() || IsPlain(ledger, staging, upload, name, path);
          (isPlain ? plain : counts[keyId])++;
        }
      });
      std::vector<UploadRecord> waiting = ledger.Uploads().List("open", 0, 1000000);
      const std::vector<UploadRecord> complete = ledger.Uploads().ListOutbox(1000000);
      waiting.insert(waiting.end(), complete.begin(), complete.end());
      for (const UploadRecord& upload : waiting)
      {
        const std::string keyId =
          upload.sealedFields.empty() ? "" : ReadFieldsKeyId(upload.sealedFields);
        (keyId.empty() ? plain : counts[keyId])++;
      }
      return counts;
    }
  }
}
