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
#include <future>

namespace Inbound
{
  namespace
  {
    const unsigned int kPieceTimeoutSeconds = 120;
    // The next piece is fetched while one is opened, hashed and written, when a piece is at
    // most this big (two pieces of each item in memory then); bigger ones one at a time.
    const uint64_t kMaxPrefetchedPieceBytes = 64 * 1024 * 1024;

    struct FetchedPiece
    {
      PeerAnswer answer;
      int result = 0;  // a Puller::CallResult
      std::string problem;
    };

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
    const uint64_t overhead = sealed ? Sealing::GetOverhead() : 0;
    // Exactly the piece's share of the file (and its envelope's overhead when sealed): a
    // longer answer is cut off at that, never buffered; a shorter one is refused.
    const auto fetch = [this, &uri, &item, overhead](uint64_t n) {
      FetchedPiece fetched;
      fetched.result = Call(fetched.answer, false, uri + std::to_string(n), "",
                            kPieceTimeoutSeconds, item.GetPieceSize(n) + overhead,
                            fetched.problem);
      return fetched;
    };
    const std::launch policy = item.partBytes <= kMaxPrefetchedPieceBytes
                                 ? std::launch::async : std::launch::deferred;
    for (unsigned int attempt = 1; attempt <= maxAttempts_; attempt++)
    {
      PieceFile file(pieceFolder_, id, item.sha256);
      Crypto::Sha256Stream hash;
      std::string keyId;
      // Waited for on every way out (the destructor of std::async's future).
      std::future<FetchedPiece> next = std::async(policy, fetch, 0);
      for (uint64_t n = 0; n < count; n++)
      {
        FetchedPiece current = next.get();
        PeerAnswer& answer = current.answer;
        switch (current.result)
        {
          case CallResult_Ok:
            break;
          case CallResult_BadData:
            problem = what + ", piece " + std::to_string(n) + ": " + current.problem;
            return ItemOutcome_BadData;
          default:
            problem = current.problem;
            return ItemOutcome_Unreachable;
        }
        if (n + 1 < count)
        {
          next = std::async(policy, fetch, n + 1);
        }
        const uint64_t expected = item.GetPieceSize(n) + overhead;
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
