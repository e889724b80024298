// How notifications leave the plugin: mail to the SMTP relay and webhook POSTs, on libcurl.
#include "Transports.h"

#include <curl/curl.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace Inbound
{
  namespace
  {
    struct Easy
    {
      CURL* handle;
      curl_slist* list1 = nullptr;
      curl_slist* list2 = nullptr;
      char error[CURL_ERROR_SIZE] = {0};

      Easy() :
        handle(curl_easy_init())
      {
        if (handle == nullptr)
        {
          throw std::runtime_error("libcurl cannot start a transfer");
        }
        curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
        curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
      }

      ~Easy()
      {
        curl_slist_free_all(list1);
        curl_slist_free_all(list2);
        curl_easy_cleanup(handle);
      }

      void Perform(const std::atomic<bool>* abort)
      {
        if (abort != nullptr)
        {
          curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
          curl_easy_setopt(handle, CURLOPT_XFERINFODATA, abort);
          curl_easy_setopt(
            handle, CURLOPT_XFERINFOFUNCTION,
            +[](void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
              return static_cast<const std::atomic<bool>*>(p)->load() ? 1 : 0;
            });
        }
        const CURLcode code = curl_easy_perform(handle);
        if (code != CURLE_OK)
        {
          std::string message = curl_easy_strerror(code);
          if (error[0] != '\0')
          {
            message += ": ";
            message += error;
          }
          throw std::runtime_error(message);
        }
      }
    };

    struct Reader
    {
      const std::string& data;
      size_t position = 0;
    };

    size_t Read(char* buffer, size_t size, size_t count, void* userdata)
    {
      Reader& reader = *static_cast<Reader*>(userdata);
      const size_t n = std::min(size * count, reader.data.size() - reader.position);
      memcpy(buffer, reader.data.data() + reader.position, n);
      reader.position += n;
      return n;
    }

    // The answer's body is not used: the status says it all.
    size_t Discard(char*, size_t size, size_t count, void*)
    {
      return size * count;
    }

    void SetCertificates(CURL* handle, const std::string& caFile, bool verify)
    {
      if (!caFile.empty())
      {
        curl_easy_setopt(handle, CURLOPT_CAINFO, caFile.c_str());
      }
      curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
      curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    }
  }

  CurlMailTransport::CurlMailTransport(const SmtpSettings& settings,
                                       const std::atomic<bool>* abort) :
    settings_(settings),
    abort_(abort)
  {
  }

  void CurlMailTransport::Send(const std::string& from, const std::vector<std::string>& recipients,
                               const std::string& message)
  {
    Easy easy;
    CURL* h = easy.handle;
    // The URL's path is the name the relay is greeted with (EHLO): the sender's domain.
    const size_t at = from.rfind('@');
    const std::string helo = at == std::string::npos ? "localhost" : from.substr(at + 1);
    const std::string url = std::string(settings_.security == SmtpSecurity_Tls ? "smtps://" : "smtp://") +
                            settings_.host + ":" + std::to_string(settings_.port) + "/" + helo;
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_USE_SSL, settings_.security == SmtpSecurity_None
                                           ? static_cast<long>(CURLUSESSL_NONE)
                                           : static_cast<long>(CURLUSESSL_ALL));
    SetCertificates(h, settings_.caCertificates, settings_.verifyCertificate);
    if (!settings_.username.empty() || !settings_.password.empty())
    {
      curl_easy_setopt(h, CURLOPT_USERNAME, settings_.username.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, settings_.password.c_str());
    }
    const std::string mailFrom = "<" + from + ">";
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, mailFrom.c_str());
    for (const std::string& r : recipients)
    {
      easy.list1 = curl_slist_append(easy.list1, ("<" + r + ">").c_str());
    }
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, easy.list1);
    Reader reader{message};
    curl_easy_setopt(h, CURLOPT_READFUNCTION, Read);
    curl_easy_setopt(h, CURLOPT_READDATA, &reader);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(std::min(settings_.timeoutSeconds, 10u)));
    curl_easy_setopt(h, CURLOPT_TIMEOUT, static_cast<long>(settings_.timeoutSeconds));
    easy.Perform(abort_);
  }

  CurlWebhookTransport::CurlWebhookTransport(unsigned int timeoutSeconds,
                                             const std::atomic<bool>* abort) :
    timeoutSeconds_(timeoutSeconds),
    abort_(abort)
  {
  }

  long CurlWebhookTransport::Post(const WebhookSettings& hook,
                                  const std::vector<std::string>& headers,
                                  const std::string& body)
  {
    Easy easy;
    CURL* h = easy.handle;
    curl_easy_setopt(h, CURLOPT_URL, hook.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    SetCertificates(h, hook.caCertificates, true);
    for (const std::string& header : headers)
    {
      easy.list1 = curl_slist_append(easy.list1, header.c_str());
    }
    // No "Expect: 100-continue" round trip for these small bodies.
    easy.list1 = curl_slist_append(easy.list1, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, easy.list1);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Discard);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(std::min(timeoutSeconds_, 10u)));
    curl_easy_setopt(h, CURLOPT_TIMEOUT, static_cast<long>(timeoutSeconds_));
    easy.Perform(abort_);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
  }
}
