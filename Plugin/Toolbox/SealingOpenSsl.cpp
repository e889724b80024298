// X25519 helpers shared by the sealing code: key generation, raw public keys, key agreement.
#include "SealingOpenSsl.h"

#include <OrthancException.h>

namespace Inbound
{
  namespace SealingOpenSsl
  {
    void Fail(const std::string& what)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError, "Sealing: " + what);
    }

    Pkey NewX25519Key()
    {
      Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
      if (!key)
      {
        Fail("cannot generate an X25519 key");
      }
      return key;
    }

    void GetRawPublicKey(unsigned char* raw, const EVP_PKEY* key)
    {
      size_t length = kX25519Size;
      if (EVP_PKEY_get_raw_public_key(key, raw, &length) != 1 || length != kX25519Size)
      {
        Fail("cannot read an X25519 public key");
      }
    }

    bool Agree(Secret<kX25519Size>& shared, EVP_PKEY* own, EVP_PKEY* peer)
    {
      PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
      size_t length = sizeof(shared.bytes);
      return ctx && EVP_PKEY_derive_init(ctx.get()) == 1 &&
             EVP_PKEY_derive_set_peer(ctx.get(), peer) == 1 &&
             EVP_PKEY_derive(ctx.get(), shared.bytes, &length) == 1 &&
             length == sizeof(shared.bytes);
    }
  }
}
