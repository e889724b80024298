// One call to a gateway with libcurl: TLS as Orthanc's peers, timeouts, the cap on the answer.
#include "CurlPeerClient.h"

#include <Logging.h>

#include <curl/curl.h>

#include <algorithm>
#include <limits>
#include <new>
#include <stdexcept>

namespace Inbound
{
  namespace
  {
    // A connection to a gateway opens within seconds or not at all; waiting longer only holds
    // the puller's thread (Orthanc waits the whole timeout).
    const unsigned int kMaxConnectSeconds = 15;
    // A gateway sending less than 1 KiB/s for 30 s is given up: it cannot hold a thread for
    // the whole timeout by trickling bytes. 30 s is above the puller's long poll, during which
    // the gateway sends nothing on purpose.
    const long kLowSpeedBytesPerSecond = 1024;
    const long kLowSpeedSeconds = 30;

    // Idle handles kept per gateway: the puller's item workers and its long poll.
    const size_t kMaxIdle = 8;

    class Handle : public boost::noncopyable
    {
    private:
      CurlPeerClient& client_;
      CURL* curl_;
      curl_slist* headers_ = nullptr;

    public:
      char error[CURL_ERROR_SIZE] = {0};
      bool reusable = false;  // set once the call has ended well

      explicit Handle(CurlPeerClient& client) :
        client_(client),
        curl_(client.TakeHandle())
      {
        if (curl_ == nullptr)
        {
          throw std::runtime_error("libcurl cannot start a transfer");
        }
        curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error);
      }

      ~Handle()
      {
        curl_slist_free_all(headers_);
        client_.GiveBack(curl_, reusable);
      }

      CURL* Get() const
      {
        return curl_;
      }

      void AddHeader(const std::string& line)
      {
        curl_slist* added = curl_slist_append(headers_, line.c_str());
        if (added == nullptr)
        {
          throw std::bad_alloc();
        }
        headers_ = added;
      }

      curl_slist* GetHeaders() const
      {
        return headers_;
      }
    };

    struct Sink
    {
      CURL* curl;
      std::string& body;
      uint64_t maxBytes;
      bool truncated;
    };

    // Keeps at most "maxBytes"; a short count past it makes libcurl abort the transfer at once
    // (CURLE_WRITE_ERROR), so an oversize answer is neither buffered nor read to its end.
    size_t Write(char* data, size_t size, size_t count, void* userdata)
    {
      Sink& sink = *static_cast<Sink*>(userdata);
      const size_t n = size * count;
      curl_off_t announced = -1;
      if (sink.body.empty() &&
          curl_easy_getinfo(sink.curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) ==
            CURLE_OK &&
          announced > 0 && static_cast<uint64_t>(announced) <= sink.maxBytes)
      {
        // One allocation of the announced size instead of growing by doubling: a pulled file
        // (and a sealed one, opened next to it) is held once, not up to twice (doc/Security.md,
        // "Sealed staging").
        sink.body.reserve(static_cast<size_t>(announced));
      }
      const uint64_t room = sink.maxBytes - std::min<uint64_t>(sink.maxBytes, sink.body.size());
      if (n <= room)
      {
        sink.body.append(data, n);
        return n;
      }
      sink.body.append(data, static_cast<size_t>(room));
      sink.truncated = true;
      return static_cast<size_t>(room);
    }

    int Progress(void* abort, curl_off_t, curl_off_t, curl_off_t, curl_off_t)
    {
      return static_cast<const std::atomic<bool>*>(abort)->load() ? 1 : 0;
    }

    void SetTls(CURL* curl, const PeerSettings& settings)
    {
      if (settings.httpsVerifyPeers)
      {
        if (!settings.httpsCaCertificates.empty())
        {
          curl_easy_setopt(curl, CURLOPT_CAINFO, settings.httpsCaCertificates.c_str());
        }
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
      }
      else
      {
        // Only with Inbound.Security.AllowHttpsNoVerify (the start-up self-check).
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
      }
      if (!settings.certificateFile.empty())
      {
        // As Orthanc: PEM; without a key file, the key is in the certificate's file.
        curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(curl, CURLOPT_SSLCERT, settings.certificateFile.c_str());
        curl_easy_setopt(curl, CURLOPT_KEYPASSWD, settings.certificateKeyPassword.c_str());
        if (!settings.certificateKeyFile.empty())
        {
          curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
          curl_easy_setopt(curl, CURLOPT_SSLKEY, settings.certificateKeyFile.c_str());
        }
      }
    }
  }

  CurlPeerClient::CurlPeerClient(const PeerSettings& settings, const std::atomic<bool>* abort) :
    settings_(settings),
    abort_(abort)
  {
  }

  CurlPeerClient::~CurlPeerClient()
  {
    for (void* handle : idle_)
    {
      curl_easy_cleanup(handle);
    }
  }

  void* CurlPeerClient::TakeHandle()
  {
    {
      std::lock_guard<std::mutex> lock(idleMutex_);
      if (!idle_.empty())
      {
        void* handle = idle_.back();
        idle_.pop_back();
        return handle;
      }
    }
    return curl_easy_init();
  }

  void CurlPeerClient::GiveBack(void* handle, bool reusable)
  {
    if (reusable)
    {
      // Every option back to its default (this call's URL, credentials, callbacks, headers
      // pointer); the open connection, the TLS session and the DNS cache stay.
      curl_easy_reset(handle);
      std::lock_guard<std::mutex> lock(idleMutex_);
      if (idle_.size() < kMaxIdle)
      {
        idle_.push_back(handle);
        return;
      }
    }
    curl_easy_cleanup(handle);
  }

  bool CurlPeerClient::Call(PeerAnswer& answer, bool post, const std::string& uri,
                            const std::string& body, unsigned int timeoutSeconds,
                            uint64_t maxAnswerBytes)
  {
    answer = PeerAnswer();
    Handle handle(*this);
    CURL* curl = handle.Get();
    const std::string url = settings_.MakeUrl(uri);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    // A gateway's redirect is an answer (its 3xx fails the call), never a new request: it must
    // not point the inside at an address of its choosing. No scheme but http and https.
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 0L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_DEFAULT_PROTOCOL, "http");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    // No Accept-Encoding and no decoding: a small compressed answer cannot inflate past the cap.
    curl_easy_setopt(curl, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    // No cookie engine is enabled: a gateway cannot set state in this client.
    curl_easy_setopt(curl, CURLOPT_VERBOSE, settings_.verbose ? 1L : 0L);

    const unsigned int total = settings_.GetTimeoutSeconds(timeoutSeconds);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(total));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
                     static_cast<long>(std::min(total, kMaxConnectSeconds)));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, kLowSpeedBytesPerSecond);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, kLowSpeedSeconds);

    if (!settings_.httpProxy.empty())
    {
      curl_easy_setopt(curl, CURLOPT_PROXY, settings_.httpProxy.c_str());
    }
    SetTls(curl, settings_);
    if (settings_.HasCredentials())
    {
      curl_easy_setopt(curl, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
      curl_easy_setopt(curl, CURLOPT_USERNAME, settings_.username.c_str());
      curl_easy_setopt(curl, CURLOPT_PASSWORD, settings_.password.c_str());
    }

    for (const auto& header : settings_.httpHeaders)
    {
      handle.AddHeader(header.first + ": " + header.second);
    }
    if (post)
    {
      handle.AddHeader("Content-Type: application/json");
      handle.AddHeader("Expect:");  // no 100-continue round trip, as Orthanc
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    else
    {
      curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, handle.GetHeaders());

    // An announced length past the cap is refused before any byte of the body is read.
    if (maxAnswerBytes < static_cast<uint64_t>(std::numeric_limits<curl_off_t>::max()))
    {
      curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(maxAnswerBytes));
    }
    Sink sink{curl, answer.body, maxAnswerBytes, false};
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    if (abort_ != nullptr)
    {
      curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(curl, CURLOPT_XFERINFODATA, abort_);
      curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, Progress);
    }

    const CURLcode code = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    answer.status = static_cast<uint16_t>(status);
    if (code == CURLE_OK)
    {
      handle.reusable = true;
      return true;
    }
    if ((code == CURLE_WRITE_ERROR && sink.truncated) || code == CURLE_FILESIZE_EXCEEDED)
    {
      answer.truncated = true;
      return true;
    }
    // The path only: the configured base URL may hold credentials.
    LOG(WARNING) << "Inbound: gateway " << settings_.name << ": " << uri << ": "
                 << curl_easy_strerror(code) << (handle.error[0] != '\0' ? ": " : "")
                 << handle.error;
    answer.status = 0;
    return false;
  }
}
