// Loads the gateway's public keys at start-up and seals staged files and typed fields with the first.
#include "StagingSealer.h"

#include "Toolbox/Json.h"
#include "Upload/TextRules.h"

#include <Logging.h>
#include <OrthancException.h>
#include <Toolbox.h>

#include <boost/algorithm/string/predicate.hpp>
#include <boost/filesystem.hpp>

#include <fstream>

namespace Inbound
{
  namespace
  {
    const size_t kMaxPemFile = 64 * 1024;
    const size_t kMaxUserAgent = 1000;  // as the ledger keeps it (UploadStore)

    [[noreturn]] void Bad(size_t index, const std::string& why)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                      "Configuration option \"Inbound.Sealing.PublicKeys[" +
                                        std::to_string(index) + "]\": " + why);
    }

    std::string ReadPemFile(size_t index, const std::string& entry,
                            const std::string& configDirectory)
    {
      boost::filesystem::path path(entry);
      if (!path.is_absolute() && !configDirectory.empty())
      {
        path = boost::filesystem::path(configDirectory) / path;
      }
      boost::system::error_code error;
      if (!boost::filesystem::is_regular_file(path, error) ||
          boost::filesystem::file_size(path, error) > kMaxPemFile)
      {
        Bad(index, "is not a readable PEM file of at most 64 KiB: " + path.string());
      }
      std::ifstream in(path.string(), std::ios::binary);
      std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof())
      {
        Bad(index, "cannot be read: " + path.string());
      }
      return pem;
    }
  }

  StagingSealer::StagingSealer(std::vector<SealingPublicKey> keys) :
    keys_(std::move(keys))
  {
    if (keys_.empty())
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                      "A sealer needs at least one public key");
    }
  }

  std::unique_ptr<StagingSealer> StagingSealer::Load(const std::vector<std::string>& entries,
                                                     const std::string& configDirectory)
  {
    if (entries.empty())
    {
      return nullptr;
    }
    std::vector<SealingPublicKey> keys;
    for (size_t i = 0; i < entries.size(); i++)
    {
      const std::string& entry = entries[i];
      const bool text = boost::starts_with(entry, "-----BEGIN");
      const std::string pem = text ? entry : ReadPemFile(i, entry, configDirectory);
      if (pem.find("PRIVATE KEY") != std::string::npos)
      {
        // The private key must never reach the DMZ: say so rather than "not a public key".
        Bad(i, std::string("is a private key") + (text ? "" : " (" + entry + ")") +
                 ": give the gateway the Internal's public key only (GET /inbound/admin/sealing "
                 "on the Internal), and remove the private key from this host");
      }
      try
      {
        keys.push_back(SealingPublicKey::FromPem(pem, text ? "the PEM text" : entry));
      }
      catch (const SealingKeyError& e)
      {
        Bad(i, std::string("is not an X25519 public key: ") + e.what());
      }
      for (size_t j = 0; j + 1 < keys.size(); j++)
      {
        if (keys[j].GetId() == keys.back().GetId())
        {
          Bad(i, "is the same key as entry " + std::to_string(j) + " (id " +
                   keys.back().GetId() + ")");
        }
      }
    }
    return std::unique_ptr<StagingSealer>(new StagingSealer(std::move(keys)));
  }

  void StagingSealer::LogState(const StagingSealer* sealer)
  {
    if (sealer == nullptr)
    {
      LOG(WARNING) << "Inbound: WARNING: Inbound.Sealing.PublicKeys is empty: this gateway "
                   << "keeps every file and every detail a sender types IN PLAIN TEXT until "
                   << "the Internal pulls it; give it the Internal's public key "
                   << "(GET /inbound/admin/sealing there; doc/Operations.md, \"Sealed staging\")";
      return;
    }
    std::string others;
    for (size_t i = 1; i < sealer->keys_.size(); i++)
    {
      others += (others.empty() ? "" : ", ") + sealer->keys_[i].GetId();
    }
    LOG(WARNING) << "Inbound: uploads are sealed for the Internal's key "
                 << sealer->GetSealingKey().GetId()
                 << (others.empty() ? std::string() : " (also recognised: " + others + ")");
  }

  bool StagingSealer::IsKnownKey(const std::string& keyId) const
  {
    for (const SealingPublicKey& key : keys_)
    {
      if (key.GetId() == keyId)
      {
        return true;
      }
    }
    return false;
  }

  std::string StagingSealer::GetItemContext(const std::string& uploadId, const std::string& sha256)
  {
    return "item:" + uploadId + ":" + sha256;
  }

  std::string StagingSealer::GetFieldsContext(const std::string& uploadId)
  {
    return "fields:" + uploadId;
  }

  std::string StagingSealer::GetPieceContext(const std::string& uploadId,
                                             const std::string& sha256, uint64_t n,
                                             uint64_t count)
  {
    return GetItemContext(uploadId, sha256) + ":" + std::to_string(n) + "/" +
           std::to_string(count);
  }

  std::string StagingSealer::SealPiece(const std::string& uploadId, const std::string& sha256,
                                       uint64_t n, uint64_t count, const void* data,
                                       size_t size) const
  {
    return Sealing::Seal(GetSealingKey(), data, size, GetPieceContext(uploadId, sha256, n, count));
  }

  std::string StagingSealer::SealItem(const std::string& uploadId, const std::string& sha256,
                                      const void* data, size_t size) const
  {
    return Sealing::Seal(GetSealingKey(), data, size, GetItemContext(uploadId, sha256));
  }

  void StagingSealer::SealFields(UploadRecord& record) const
  {
    Json::Value fields(Json::objectValue);
    fields["sender"] = record.sender.ToJson();
    fields["message"] = record.message;
    fields["userAgent"] = TextRules::MakeSafe(record.userAgent, kMaxUserAgent);
    if (!record.partnerId.empty())
    {
      // Sealed with the sender it names, so that whoever holds the gateway later cannot present
      // a sender's sealed upload as a partner's (the manifest's plain "partner" is refused
      // next to sealed fields: PulledManifest).
      fields["partner"] = record.partnerId;
    }
    std::string base64;
    Orthanc::Toolbox::EncodeBase64(
      base64, Sealing::Seal(GetSealingKey(), JsonText::Compact(fields),
                            GetFieldsContext(record.id)));
    record.sealedFields = base64;
    record.sender = Sender();
    record.message.clear();
    record.userAgent.clear();
  }

  void StagingSealer::BlankItem(ItemRecord& item)
  {
    item.studyDate.clear();
    item.studyDescription.clear();
    item.originalPatientId.clear();
    item.originalPatientIdBytes.clear();
    item.patientName.clear();
    item.patientBirthDate.clear();
  }
}
