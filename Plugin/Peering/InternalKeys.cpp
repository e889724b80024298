// Loads the Internal's sealing keys (errors name the option), opens envelopes, counts per key.
#include "InternalKeys.h"

#include "Toolbox/Errors.h"
#include "Toolbox/Time.h"

#include <Logging.h>
#include <OrthancException.h>

#include <boost/filesystem.hpp>
#include <boost/regex.hpp>

#include <set>

namespace Inbound
{
  namespace
  {
    const char* const kDefaultKeyFile = "sealing-key.pem";

    std::string Resolve(const std::string& path, const std::string& directory)
    {
      const boost::filesystem::path p(path);
      if (p.is_absolute() || directory.empty())
      {
        return p.string();
      }
      return (boost::filesystem::path(directory) / p).string();
    }

    [[noreturn]] void Refuse(const std::string& option, const std::string& path,
                             const std::string& why)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                      "Configuration option \"Inbound." + option + "\" (" + path +
                                        "): " + why);
    }

    // Load() or LoadOrCreate(), any error turned into a start-up error naming the option.
    SealingPrivateKey Read(const std::string& option, const std::string& path, bool create)
    {
      try
      {
        return create ? SealingPrivateKey::LoadOrCreate(path) : SealingPrivateKey::Load(path);
      }
      catch (...)
      {
        Refuse(option, path, DescribeCurrentException());
      }
    }

    Json::Value Time(int64_t ms)
    {
      return ms > 0 ? Json::Value(FormatIso8601(ms)) : Json::Value();
    }
  }

  InternalKeys::InternalKeys(std::vector<SealingPrivateKey> keys, std::vector<std::string> files) :
    ring_(std::move(keys)),
    files_(std::move(files))
  {
    files_.resize(ring_.GetKeys().size());
  }

  std::unique_ptr<InternalKeys> InternalKeys::Load(const SealingSettings& settings,
                                                   const std::string& dataDirectory,
                                                   const std::string& configDirectory)
  {
    std::vector<SealingPrivateKey> keys;
    std::vector<std::string> files;
    files.push_back(settings.privateKey.empty()
                      ? (boost::filesystem::path(dataDirectory) / kDefaultKeyFile).string()
                      : Resolve(settings.privateKey, configDirectory));
    boost::system::error_code ec;
    const bool existed = boost::filesystem::exists(files[0], ec);
    keys.push_back(Read("Sealing.PrivateKey", files[0], true));
    if (!existed)
    {
      // Losing this file loses every upload a gateway holds sealed for it.
      LOG(WARNING) << "Inbound: created the sealing key " << keys[0].GetId() << " in "
                   << files[0] << " (mode 600): back it up, and give its public key (GET "
                   << "/inbound/admin/sealing) to the gateways as Inbound.Sealing.PublicKeys";
    }
    std::set<std::string> ids = {keys[0].GetId()};
    for (size_t i = 0; i < settings.previousPrivateKeys.size(); i++)
    {
      const std::string option = "Sealing.PreviousPrivateKeys[" + std::to_string(i) + "]";
      files.push_back(Resolve(settings.previousPrivateKeys[i], configDirectory));
      keys.push_back(Read(option, files.back(), false));
      if (!ids.insert(keys.back().GetId()).second)
      {
        // Most likely a rotation half done: the old key named as the current one still.
        Refuse(option, files.back(), "the key " + keys.back().GetId() +
                                       " is already named in Inbound.Sealing.PrivateKey or an "
                                       "earlier entry");
      }
    }
    LOG(WARNING) << "Inbound: sealing key " << keys[0].GetId() << " (" << files[0] << ")"
                 << (keys.size() > 1 ? ", and " + std::to_string(keys.size() - 1) +
                                         " previous key(s)" : std::string());
    return std::unique_ptr<InternalKeys>(new InternalKeys(std::move(keys), std::move(files)));
  }

  bool InternalKeys::IsKeyId(const std::string& text)
  {
    return text.size() == 16 && text.find_first_not_of("0123456789abcdef") == std::string::npos;
  }

  void InternalKeys::Record(const std::string& keyId, bool opened, int64_t now)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Use& use = use_[keyId];
    (opened ? use.opened : use.refused)++;
    (opened ? use.lastOpened : use.lastRefused) = now;
  }

  bool InternalKeys::Open(std::string& plaintext, std::string& error, std::string& keyId,
                          const void* data, size_t size, const std::string& context, int64_t now)
  {
    plaintext.clear();
    keyId.clear();
    std::string named;
    if (!Sealing::ReadKeyId(named, data, size))
    {
      error = "not a sealed envelope";
      return false;
    }
    keyId = IsKeyId(named) ? named : "unreadable";
    std::string why;
    if (!ring_.Open(plaintext, why, data, size, context))
    {
      error = "the envelope sealed for key " + keyId + " does not open: " + why;
      Record(keyId, false, now);
      return false;
    }
    Record(keyId, true, now);
    return true;
  }

  Json::Value InternalKeys::Describe() const
  {
    std::map<std::string, Use> use;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      use = use_;
    }
    auto describe = [&use](Json::Value& json, const std::string& keyId) {
      const Use& u = use[keyId];
      json["opened"] = Json::UInt64(u.opened);
      json["lastOpened"] = Time(u.lastOpened);
      json["refused"] = Json::UInt64(u.refused);
      json["lastRefused"] = Time(u.lastRefused);
      use.erase(keyId);
    };
    const std::vector<SealingPrivateKey>& keys = ring_.GetKeys();
    Json::Value result(Json::objectValue);
    result["role"] = "Internal";
    result["sealing"] = true;
    result["publicKey"] = keys[0].GetPublicKey().GetPem();
    result["keyId"] = keys[0].GetId();
    result["file"] = files_[0];
    describe(result, keys[0].GetId());
    result["previousKeys"] = Json::arrayValue;
    for (size_t i = 1; i < keys.size(); i++)
    {
      Json::Value key(Json::objectValue);
      key["keyId"] = keys[i].GetId();
      key["publicKey"] = keys[i].GetPublicKey().GetPem();
      key["file"] = files_[i];
      describe(key, keys[i].GetId());
      result["previousKeys"].append(key);
    }
    // Envelopes naming a key this server lacks: a gateway seals for a lost or foreign key.
    result["unknownKeys"] = Json::arrayValue;
    while (!use.empty())
    {
      Json::Value key(Json::objectValue);
      key["keyId"] = use.begin()->first;
      describe(key, use.begin()->first);
      result["unknownKeys"].append(key);
    }
    return result;
  }

  Json::Value InternalKeys::ListSealingHolds(const Json::Value& gateways)
  {
    // The reasons the pullers write (Puller::OpenItem, PulledManifest): "... sealed for key
    // <id> ..." or "... is sealed, but ...".
    static const boost::regex kKeyId("sealed for key ([0-9a-f]{16})");
    Json::Value result(Json::arrayValue);
    for (const Json::Value& gateway : gateways["gateways"])
    {
      for (const Json::Value& held : gateway["heldUploads"])
      {
        const std::string reason = held["reason"].asString();
        boost::smatch match;
        const bool named = boost::regex_search(reason, match, kKeyId);
        if (named || reason.find("sealed") != std::string::npos)
        {
          Json::Value entry(Json::objectValue);
          entry["gateway"] = gateway["name"];
          entry["id"] = held["id"];
          entry["keyId"] = named ? Json::Value(match[1].str()) : Json::Value();
          entry["reason"] = reason;
          result.append(entry);
        }
      }
    }
    return result;
  }
}
