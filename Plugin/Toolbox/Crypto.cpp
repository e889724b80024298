// The cryptographic helpers on OpenSSL: digests, HMAC, CSPRNG codes and tokens.
#include "Crypto.h"

#include <OrthancException.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace Inbound
{
  namespace Crypto
  {
    std::string ToHex(const void* data, size_t size)
    {
      static const char kHex[] = "0123456789abcdef";
      const unsigned char* bytes = static_cast<const unsigned char*>(data);
      std::string result;
      result.reserve(2 * size);
      for (size_t i = 0; i < size; i++)
      {
        result.push_back(kHex[bytes[i] >> 4]);
        result.push_back(kHex[bytes[i] & 0x0f]);
      }
      return result;
    }

    std::string Sha256Hex(const void* data, size_t size)
    {
      unsigned char digest[EVP_MAX_MD_SIZE];
      unsigned int length = 0;
      if (EVP_Digest(data, size, digest, &length, EVP_sha256(), nullptr) != 1)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError, "SHA-256 failed");
      }
      return ToHex(digest, length);
    }

    Sha256Stream::Sha256Stream() :
      context_(EVP_MD_CTX_new())
    {
      if (context_ == nullptr ||
          EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(context_), EVP_sha256(), nullptr) != 1)
      {
        EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(context_));
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError, "SHA-256 failed");
      }
    }

    Sha256Stream::~Sha256Stream()
    {
      EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(context_));
    }

    void Sha256Stream::Update(const void* data, size_t size)
    {
      if (size > 0 && EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(context_), data, size) != 1)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError, "SHA-256 failed");
      }
    }

    std::string Sha256Stream::FinishHex()
    {
      unsigned char digest[EVP_MAX_MD_SIZE];
      unsigned int length = 0;
      EVP_MD_CTX* context = static_cast<EVP_MD_CTX*>(context_);
      if (EVP_DigestFinal_ex(context, digest, &length) != 1 ||
          EVP_DigestInit_ex(context, EVP_sha256(), nullptr) != 1)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError, "SHA-256 failed");
      }
      return ToHex(digest, length);
    }

    namespace
    {
      // Below this a helper costs more than it hides (a 64 KiB hash takes ~40 us).
      const size_t kMinHelperBytes = 128 * 1024;
    }

    // The helper threads of Sha256Task: one per core but one, started at the first large
    // body and stopped when the library is unloaded (no body is being hashed then).
    class Sha256Helpers
    {
    private:
      std::mutex mutex_;
      std::condition_variable work_;      // a task was queued, or stopping
      std::condition_variable finished_;  // a helper has finished a task
      std::deque<Sha256Task*> queue_;
      std::vector<std::thread> threads_;
      size_t idle_ = 0;
      bool stopping_ = false;

      void Loop()
      {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;)
        {
          work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
          if (queue_.empty())
          {
            return;  // stopping
          }
          Sha256Task* task = queue_.front();
          queue_.pop_front();
          task->state_ = Sha256Task::State_Running;
          idle_--;
          lock.unlock();
          task->Run();
          lock.lock();
          idle_++;
          task->state_ = Sha256Task::State_Done;
          finished_.notify_all();
        }
      }

      void Start()
      {
        // All cores busy with uploads (several clients): no helper is idle and the callers
        // hash, rather than adding a thread switch to each file.
        const unsigned int cores = std::max(2u, std::thread::hardware_concurrency());
        for (unsigned int i = 0; i + 1 < cores; i++)
        {
          try
          {
            threads_.emplace_back([this] { Loop(); });
            idle_++;
          }
          catch (const std::system_error&)
          {
            break;  // no thread to be had: the callers hash
          }
        }
      }

    public:
      static Sha256Helpers& Get()
      {
        static Sha256Helpers helpers;
        return helpers;
      }

      ~Sha256Helpers()
      {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          stopping_ = true;
        }
        work_.notify_all();
        for (std::thread& thread : threads_)
        {
          thread.join();
        }
      }

      // Queues the task if a helper is idle; false: the caller hashes it.
      bool Submit(Sha256Task& task)
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_)
        {
          return false;
        }
        if (threads_.empty())
        {
          Start();
        }
        if (idle_ <= queue_.size())
        {
          return false;
        }
        task.state_ = Sha256Task::State_Queued;
        queue_.push_back(&task);
        work_.notify_one();
        return true;
      }

      // Waits for the helper hashing the task (true), or takes the task back if no helper
      // has started it (false: the caller hashes it). Afterwards no helper refers to it.
      bool Finish(Sha256Task& task)
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (task.state_ == Sha256Task::State_Queued)
        {
          queue_.erase(std::find(queue_.begin(), queue_.end(), &task));
          task.state_ = Sha256Task::State_Caller;
          return false;
        }
        finished_.wait(lock, [&task] { return task.state_ == Sha256Task::State_Done; });
        return true;
      }
    };

    Sha256Task::Sha256Task(const void* data, size_t size) :
      data_(data),
      size_(size),
      state_(State_Caller),
      queued_(false),
      hashed_(false),
      failed_(false)
    {
      queued_ = (size_ >= kMinHelperBytes && Sha256Helpers::Get().Submit(*this));
    }

    Sha256Task::~Sha256Task()
    {
      if (queued_)
      {
        Sha256Helpers::Get().Finish(*this);  // a helper may be reading the caller's body
      }
    }

    void Sha256Task::Run()
    {
      try
      {
        hex_ = Sha256Hex(data_, size_);
      }
      catch (...)
      {
        failed_ = true;
      }
    }

    const std::string& Sha256Task::Get()
    {
      if (!hashed_)
      {
        const bool byHelper = queued_ && Sha256Helpers::Get().Finish(*this);
        queued_ = false;
        if (!byHelper)
        {
          Run();
        }
        hashed_ = true;
      }
      if (failed_)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError, "SHA-256 failed");
      }
      return hex_;
    }

    bool Sha256Task::Matches(const std::string& expected)
    {
      return ConstantTimeEquals(Get(), expected);
    }

    std::string HmacSha256Hex(const std::string& key, const std::string& data)
    {
      unsigned char digest[EVP_MAX_MD_SIZE];
      unsigned int length = 0;
      if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
               reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest,
               &length) == nullptr)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError, "HMAC-SHA256 failed");
      }
      return ToHex(digest, length);
    }

    std::string RandomBytes(size_t count)
    {
      std::string result(count, '\0');
      if (count > 0 &&
          RAND_bytes(reinterpret_cast<unsigned char*>(&result[0]), static_cast<int>(count)) != 1)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError,
                                        "The random number generator is not available");
      }
      return result;
    }

    std::string RandomCode(size_t length)
    {
      // 32 symbols: every byte maps without bias (256 is a multiple of 32).
      static const char kAlphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
      static_assert(sizeof(kAlphabet) - 1 == 32, "alphabet of 32 symbols");
      const std::string bytes = RandomBytes(length);
      std::string result;
      result.reserve(length);
      for (unsigned char c : bytes)
      {
        result.push_back(kAlphabet[c & 0x1f]);
      }
      return result;
    }

    std::string RandomToken()
    {
      const std::string bytes = RandomBytes(32);
      std::string encoded(4 * ((bytes.size() + 2) / 3) + 1, '\0');
      const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&encoded[0]),
                                    reinterpret_cast<const unsigned char*>(bytes.data()),
                                    static_cast<int>(bytes.size()));
      encoded.resize(n);
      std::string result;
      for (char c : encoded)
      {
        if (c == '+')
          result.push_back('-');
        else if (c == '/')
          result.push_back('_');
        else if (c != '=')
          result.push_back(c);
      }
      return result;
    }

    bool ConstantTimeEquals(const std::string& a, const std::string& b)
    {
      if (a.size() != b.size())
      {
        return false;
      }
      return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
    }

    bool IsSha256Hex(const std::string& s)
    {
      if (s.size() != 64)
      {
        return false;
      }
      for (char c : s)
      {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
        {
          return false;
        }
      }
      return true;
    }
  }
}
