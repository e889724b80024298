// Shared by the notifier's unit tests: the configuration, the mail parser, the checks.
#include <OrthancFramework.h> // first: it defines what the framework headers test

#include "NotifierTestSupport.h"

#include "Toolbox/Json.h"

#include <Toolbox.h>

#include <boost/regex.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace NotifierTesting
{
  namespace
  {
    std::string DecodeBase64(const std::string& text)
    {
      std::string result;
      Orthanc::Toolbox::DecodeBase64(result, text);
      return result;
    }

    std::string DecodeUnstructured(const std::string& value)
    {
      if (value.find("=?UTF-8?B?") == std::string::npos)
      {
        return value;
      }
      std::string result;
      size_t start = 0;
      while ((start = value.find("=?UTF-8?B?", start)) != std::string::npos)
      {
        const size_t end = value.find("?=", start + 10);
        result += DecodeBase64(value.substr(start + 10, end - start - 10));
        start = end + 2;
      }
      return result;
    }

    std::string DecodePart(const std::string& raw, const std::string& type,
                           const std::string& boundary)
    {
      const std::string marker =
          "Content-Type: " + type + "; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
      const size_t start = raw.find(marker);
      if (start == std::string::npos)
      {
        return "";
      }
      const size_t end = raw.find("--" + boundary, start);
      std::string base64;
      for (size_t i = start + marker.size(); i < end; i++)
      {
        if (raw[i] != '\r' && raw[i] != '\n')
        {
          base64 += raw[i];
        }
      }
      return DecodeBase64(base64);
    }
  }

  // The test configuration with "overrides" merged over it (objects one level deep).
  Configuration MakeConfiguration(const std::string& overrides)
  {
    Json::Value section, extra;
    std::string errors;
    EXPECT_TRUE(
        JsonText::ParseConfiguration(section, InboundTests::MakeConfigurationJson(), errors));
    EXPECT_TRUE(JsonText::ParseConfiguration(section["__"], R"({
      "Recipients": [
        {"Id": "neuro", "Name": "Neuroradiology", "Email": "neuro@hospital.example"},
        {"Id": "kardio", "Name": "Kardiologie", "Email": "kardio@hospital.example",
         "Language": "de"}],
      "Smtp": {"Host": "smtp.hospital.example",
               "From": "Orthanc Inbound <inbound@hospital.example>"},
      "Notifications": {"OrthancUrl": "https://orthanc.hospital.example",
                        "AdminEmails": ["admin@hospital.example",
                                        "Ops Team <ops@hospital.example>"]},
      "Webhooks": [{"Url": "https://hooks.hospital.example/inbound",
                    "Secret": "0123456789abcdef-webhook-secret"}]
    })",
                                             errors))
        << errors;
    const Json::Value base = section["__"];
    section.removeMember("__");
    EXPECT_TRUE(JsonText::ParseConfiguration(extra, overrides, errors)) << errors;
    for (const Json::Value* layer : {&base, static_cast<const Json::Value*>(&extra)})
    {
      for (const std::string& key : layer->getMemberNames())
      {
        if (section[key].isObject() && (*layer)[key].isObject())
        {
          for (const std::string& sub : (*layer)[key].getMemberNames())
          {
            section[key][sub] = (*layer)[key][sub];
          }
        }
        else
        {
          section[key] = (*layer)[key];
        }
      }
    }
    return Configuration::Parse(section);
  }

  ParsedMail ParseMail(const std::string& raw)
  {
    ParsedMail mail;
    const size_t end = raw.find("\r\n\r\n");
    std::vector<std::string> headers;
    size_t start = 0;
    while (start < end)
    {
      size_t eol = raw.find("\r\n", start);
      eol = std::min(eol, end);
      const std::string line = raw.substr(start, eol - start);
      if (!line.empty() && line[0] == ' ' && !headers.empty())
      {
        headers.back() += line;
      }
      else
      {
        headers.push_back(line);
      }
      start = eol + 2;
    }
    for (const std::string& h : headers)
    {
      const size_t colon = h.find(':');
      const std::string name = h.substr(0, colon);
      std::string value = h.substr(colon + 1);
      if (!value.empty() && value[0] == ' ')
      {
        value = value.substr(1);
      }
      mail.headers[name] = value;
      mail.headers["#" + name] += "x";
    }
    mail.subject = DecodeUnstructured(mail.headers["Subject"]);
    boost::smatch match;
    const std::string contentType = mail.headers["Content-Type"];
    if (boost::regex_search(contentType, match, boost::regex("boundary=\"([^\"]+)\"")))
    {
      mail.text = DecodePart(raw, "text/plain", match[1]);
      mail.html = DecodePart(raw, "text/html", match[1]);
    }
    return mail;
  }

  std::string Hmac(const std::string& key, const std::string& data)
  {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
    std::string hex;
    char buffer[3];
    for (unsigned int i = 0; i < length; i++)
    {
      snprintf(buffer, sizeof(buffer), "%02x", digest[i]);
      hex += buffer;
    }
    return hex;
  }

  Json::Value ParseJson(const std::string& text)
  {
    Json::Value json;
    EXPECT_TRUE(JsonText::ParseStrict(json, text.data(), text.size())) << text;
    return json;
  }

  std::string AllOf(const FakeMailTransport::Sent& sent)
  {
    const ParsedMail m = ParseMail(sent.message);
    return sent.message + "\n" + m.subject + "\n" + m.text + "\n" + m.html;
  }

  void ExpectNoPatientData(const std::string& text)
  {
    for (const char* secret : {kPatientName, "Mustermann", "Erika", kPatientBirthDate, kPatientId,
                               kStudyDescription, kStudyDate})
    {
      EXPECT_EQ(std::string::npos, text.find(secret)) << secret << " in:\n" << text;
    }
  }
}
