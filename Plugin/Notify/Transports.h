// How notifications leave the plugin: mail to the SMTP relay and webhook POSTs, on libcurl.
#pragma once

#include "Configuration.h"

#include <atomic>
#include <string>
#include <vector>

namespace Inbound
{
  // Hands one finished e-mail to the relay. Throws std::runtime_error with a message for the
  // admin when the relay cannot be reached or refuses the mail.
  class IMailTransport
  {
  public:
    virtual ~IMailTransport() = default;

    virtual void Send(const std::string& from, const std::vector<std::string>& recipients,
                      const std::string& message) = 0;
  };

  // POSTs one webhook call. Returns the HTTP status; throws std::runtime_error when no
  // answer came (connection, TLS, timeout).
  class IWebhookTransport
  {
  public:
    virtual ~IWebhookTransport() = default;

    virtual long Post(const WebhookSettings& hook, const std::vector<std::string>& headers,
                      const std::string& body) = 0;
  };

  // Both on libcurl. "abort" (may be null) interrupts a transfer in progress when it turns
  // true, so that stopping Orthanc does not wait for a hanging relay.
  class CurlMailTransport : public IMailTransport
  {
  private:
    SmtpSettings settings_;
    const std::atomic<bool>* abort_;

  public:
    CurlMailTransport(const SmtpSettings& settings, const std::atomic<bool>* abort);

    void Send(const std::string& from, const std::vector<std::string>& recipients,
              const std::string& message) override;
  };

  class CurlWebhookTransport : public IWebhookTransport
  {
  private:
    unsigned int timeoutSeconds_;
    const std::atomic<bool>* abort_;

  public:
    CurlWebhookTransport(unsigned int timeoutSeconds, const std::atomic<bool>* abort);

    long Post(const WebhookSettings& hook, const std::vector<std::string>& headers,
              const std::string& body) override;
  };
}
