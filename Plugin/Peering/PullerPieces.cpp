// The Internal's pull of a big item in pieces: each one capped, opened, hashed, written to disk.
#include "Puller.h"

#include "Http/ApiError.h"
#include "Staging/StagingSealer.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Errors.h"
#include "Toolbox/Sealing.h"

#include <boost/filesystem.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace Inbound
{
  namespace
  {
    const unsigned int kPieceTimeoutSeconds = 120;

    // The file a big item is gathered in while its pieces arrive: "<folder>/<upload>/<sha256>.tmp"
    // under the Internal's data directory, readable by its owner only, removed on every path
    // but the death of the process (the next start empties the folder: PluginContext).
    class PieceFile : public boost::noncopyable
    {
    private:
      std::string folder_;
      std::string path_;
      int fd_ = -1;

      static void Throw(const std::string& what, const std::string& path)
      {
        if (errno == ENOSPC || errno == EDQUOT)
        {
          // The disk is not the gateway's fault: a later round fetches the item again.
          throw ApiError(507, "storage-full", "No space left for a pulled file in " + path);
        }
        throw std::runtime_error(what + " " + path + ": " + strerror(errno));
      }

    public:
      PieceFile(const std::string& root, const std::string& uploadId, const std::string& sha256) :
        folder_((boost::filesystem::path(root) / uploadId).string()),
        path_((boost::filesystem::path(folder_) / (sha256 + ".tmp")).string())
      {
        boost::system::error_code ignored;
        boost::filesystem::create_directories(folder_, ignored);
        fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd_ < 0)
        {
          Throw("Cannot create", path_);
        }
      }

      ~PieceFile()
      {
        if (fd_ >= 0)
        {
          close(fd_);
        }
        unlink(path_.c_str());
        rmdir(folder_.c_str());  // fails, harmlessly, while other items of the upload are here
      }

      const std::string& GetPath() const
      {
        return path_;
      }

      void Append(const std::string& data)
      {
        const char* p = data.data();
        size_t left = data.size();
        while (left > 0)
        {
          const ssize_t n = write(fd_, p, left);
          if (n < 0 && errno == EINTR)
          {
            continue;
          }
          if (n <= 0)
          {
            Throw("Cannot write", path_);
          }
          p += n;
          left -= static_cast<size_t>(n);
        }
      }

      // Written whole: the upload service reads it from the path (no fsync: a crash loses
      // only this temporary file, which the item is fetched again into).
      void Close()
      {
        const int fd = fd_;
        fd_ = -1;
        if (close(fd) != 0)
        {
          Throw("Cannot write", path_);
        }
      }
    };
  }

  Puller::ItemOutcome Puller::PullPieces(const std::string& id, const PulledItem& item,
                                         bool sealed, std::string& problem)
  {
    try
    {
      return FetchPieces(id, item, sealed, problem);
    }
    catch (...)
    {
      // This server's disk (full, unwritable), not the gateway: a later round tries again.
      problem = "item " + item.sha256 + " of " + id + ": " + DescribeCurrentException();
      Fail(problem);
      return ItemOutcome_Unreachable;
    }
  }

  Puller::ItemOutcome Puller::FetchPieces(const std::string& id, const PulledItem& item,
                                          bool sealed, std::string& problem)
  {
    const std::string what = "item " + item.sha256 + " of " + id;
    if (pieceFolder_.empty())
    {
      throw std::logic_error("the puller has no folder for the pieces of big items");
    }
    const uint64_t count = item.GetPieceCount();
    const std::string uri = "/inbound/peer/outbox/" + id + "/items/" + item.sha256 + "/parts/";
    for (unsigned int attempt = 1; attempt <= maxAttempts_; attempt++)
    {
      PieceFile file(pieceFolder_, id, item.sha256);
      Crypto::Sha256Stream hash;
      std::string keyId;
      for (uint64_t n = 0; n < count; n++)
      {
        // Exactly the piece's share of the file (and its envelope's overhead when sealed): a
        // longer answer is cut off at that, never buffered; a shorter one is refused.
        const uint64_t expected = item.GetPieceSize(n) + (sealed ? Sealing::GetOverhead() : 0);
        PeerAnswer answer;
        switch (Call(answer, false, uri + std::to_string(n), "", kPieceTimeoutSeconds, expected,
                     problem))
        {
          case CallResult_Ok:
            break;
          case CallResult_BadData:
            problem = what + ", piece " + std::to_string(n) + ": " + problem;
            return ItemOutcome_BadData;
          default:
            return ItemOutcome_Unreachable;
        }
        if (answer.body.size() != expected)
        {
          problem = what + ": piece " + std::to_string(n) + " of " + std::to_string(count) +
                    " has " + std::to_string(answer.body.size()) + " bytes, not " +
                    std::to_string(expected);
          return ItemOutcome_BadData;
        }
        // The context names the piece and the count: a piece of another item or upload, one
        // served in the place of another, or a file cut short does not open.
        if (sealed && !OpenItem(answer.body, keyId, what + ", piece " + std::to_string(n),
                                StagingSealer::GetPieceContext(id, item.sha256, n, count), problem))
        {
          return ItemOutcome_BadData;
        }
        hash.Update(answer.body.data(), answer.body.size());
        file.Append(answer.body);
      }
      file.Close();

      const std::function<void()> store = [&]() {
        uploads_.ReceivePulledFileOnDisk(id, item.sha256, item.size, file.GetPath(),
                                         peer_.GetName());
      };
      const ItemOutcome outcome =
        hash.FinishHex() == item.sha256
          ? Receive(store, id, item.sha256, what, sealed, keyId, attempt, problem)
          : HashMismatch(what, sealed, keyId, attempt, problem);
      if (outcome != ItemOutcome_Retry)
      {
        return outcome;
      }
    }
    return ItemOutcome_BadData;
  }
}
