// A gateway's sealing: the Internal's public keys, and what is sealed with the first of them.
#pragma once

#include "Ledger/Records.h"
#include "Toolbox/Sealing.h"

#include <boost/noncopyable.hpp>

#include <memory>
#include <string>
#include <vector>

namespace Inbound
{
  // What a sealing gateway keeps unreadable at rest (doc/Security.md, "Sealed staging"): the
  // bytes of every staged file and the fields a sender typed, sealed for the Internal's public
  // key as soon as they are checked. The first key of "Inbound.Sealing.PublicKeys" seals; the
  // others are the ones an ongoing rotation still recognises. The gateway holds no private
  // key: once sealed, nothing here can be read again on the gateway.
  class StagingSealer : public boost::noncopyable
  {
  private:
    std::vector<SealingPublicKey> keys_;  // not empty; the first seals

  public:
    explicit StagingSealer(std::vector<SealingPublicKey> keys);

    // Reads "Inbound.Sealing.PublicKeys": each entry PEM text ("-----BEGIN ...") or the path
    // of a PEM file, relative ones read from "configDirectory". Null when the list is empty
    // (the gateway stages in plain text). An entry that is not a readable X25519 public key
    // stops the start-up: throws Orthanc's BadFileFormat naming the entry
    // ("Inbound.Sealing.PublicKeys[1]") and, for a file, its path.
    static std::unique_ptr<StagingSealer> Load(const std::vector<std::string>& entries,
                                               const std::string& configDirectory);

    // At every start: which key seals, or a loud warning that "sealer" is null and the
    // gateway keeps what it receives in plain text.
    static void LogState(const StagingSealer* sealer);

    const std::vector<SealingPublicKey>& GetKeys() const
    {
      return keys_;
    }

    const SealingPublicKey& GetSealingKey() const
    {
      return keys_.front();
    }

    // Whether "keyId" is one of the keys (an envelope sealed for it needs no resealing).
    bool IsKnownKey(const std::string& keyId) const;

    // The authenticated contexts (doc/Api.md, "Peer routes"): an envelope opens only for the
    // upload and item it was sealed for.
    static std::string GetItemContext(const std::string& uploadId, const std::string& sha256);

    static std::string GetFieldsContext(const std::string& uploadId);

    // The context of piece "n" (from 0) of "count" of a big item sealed in pieces
    // (StagingArea::KeepFile): "item:<upload>:<sha256>:<n>/<count>".
    static std::string GetPieceContext(const std::string& uploadId, const std::string& sha256,
                                       uint64_t n, uint64_t count);

    std::string SealItem(const std::string& uploadId, const std::string& sha256,
                         const void* data, size_t size) const;

    std::string SealPiece(const std::string& uploadId, const std::string& sha256, uint64_t n,
                          uint64_t count, const void* data, size_t size) const;

    // Seals the sender's name, e-mail, institution and phone, the message and the user agent
    // of "record" into "record.sealedFields" (base64 of the envelope of
    // {"sender": {...}, "message": ..., "userAgent": ...}) and empties them.
    void SealFields(UploadRecord& record) const;

    // Empties what an item row would tell of the patient and the study (names, dates,
    // descriptions, the PatientID as sent); the UIDs, modality, size and hash stay.
    static void BlankItem(ItemRecord& item);
  };
}
