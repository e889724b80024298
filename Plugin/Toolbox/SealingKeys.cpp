// Sealing keys: X25519 public keys from PEM, the Internal's private key file (load or create).
#include "Sealing.h"

#include "Crypto.h"
#include "SealingOpenSsl.h"

#include <boost/filesystem.hpp>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace Inbound
{
  using namespace SealingOpenSsl;

  namespace
  {
    // A PEM key is a few hundred bytes; anything much larger is not one.
    const size_t kMaxKeyFile = 64 * 1024;

    using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

    // A string that may hold a private key (PEM or DER), wiped when it goes out of scope.
    struct SecretString
    {
      std::string value;

      ~SecretString()
      {
        if (!value.empty())
        {
          OPENSSL_cleanse(&value[0], value.size());
        }
      }
    };

    // The pieces PEM_read_bio allocates; the DER may be a private key, so it is wiped.
    struct PemBlock
    {
      char* name = nullptr;
      char* header = nullptr;
      unsigned char* data = nullptr;
      long length = 0;

      ~PemBlock()
      {
        OPENSSL_free(name);
        OPENSSL_free(header);
        if (data != nullptr)
        {
          OPENSSL_clear_free(data, static_cast<size_t>(length));
        }
      }
    };

    std::shared_ptr<void> Share(Pkey key)
    {
      return std::shared_ptr<void>(key.release(),
                                   [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); });
    }

    bool IsBlank(const char* p, size_t size)
    {
      for (size_t i = 0; i < size; i++)
      {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
        {
          return false;
        }
      }
      return true;
    }

    // Exactly one PEM block of type "expected" and nothing but blanks around it: a key given
    // with something else (a second key, a certificate, stray text) is refused rather than
    // guessed at, so that what the admin sees in the file is what is used.
    void ReadPemBlock(PemBlock& block, const std::string& pem, const char* expected,
                      const std::string& origin)
    {
      const size_t start = pem.find_first_not_of(" \t\r\n");
      if (start == std::string::npos)
      {
        throw SealingKeyError(origin + " is empty");
      }
      if (pem.compare(start, 11, "-----BEGIN ") != 0)
      {
        throw SealingKeyError(origin + " is not a PEM key (it should start with -----BEGIN " +
                              expected + "-----)");
      }
      if (pem.size() > kMaxKeyFile)
      {
        throw SealingKeyError(origin + " is too large to be a PEM key");
      }
      Bio bio(BIO_new_mem_buf(pem.data() + start, static_cast<int>(pem.size() - start)));
      if (!bio)
      {
        Fail("out of memory");
      }
      if (PEM_read_bio(bio.get(), &block.name, &block.header, &block.data, &block.length) != 1)
      {
        throw SealingKeyError(origin + " is not a valid PEM block");
      }
      if (strcmp(block.name, expected) != 0)
      {
        throw SealingKeyError(origin + " holds a \"" + block.name + "\", not a \"" + expected +
                              "\" (an X25519 key in PEM is expected)");
      }
      if (block.header[0] != '\0')
      {
        throw SealingKeyError(origin + " has PEM headers (an encrypted key?); an unencrypted " +
                              expected + " is expected");
      }
      char* rest = nullptr;
      const long restSize = BIO_get_mem_data(bio.get(), &rest);
      if (restSize > 0 && !IsBlank(rest, static_cast<size_t>(restSize)))
      {
        throw SealingKeyError(origin + " has something after the key's END line");
      }
    }

    void CheckX25519(const EVP_PKEY* key, const std::string& origin)
    {
      if (!EVP_PKEY_is_a(key, "X25519"))
      {
        const char* type = EVP_PKEY_get0_type_name(key);
        throw SealingKeyError(origin + " is a key of type " + (type != nullptr ? type : "?") +
                              ", not X25519 (make one with: openssl genpkey -algorithm X25519)");
      }
    }

    Pkey NewPublicKey(const unsigned char* raw)
    {
      Pkey key(EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, raw, kX25519Size));
      if (!key)
      {
        Fail("cannot make an X25519 public key");
      }
      return key;
    }

    std::string WritePublicPem(EVP_PKEY* key)
    {
      Bio bio(BIO_new(BIO_s_mem()));
      char* data = nullptr;
      if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1)
      {
        Fail("cannot write a public key");
      }
      const long size = BIO_get_mem_data(bio.get(), &data);
      return std::string(data, static_cast<size_t>(size));
    }

    std::string ComputeKeyId(EVP_PKEY* key)
    {
      unsigned char* der = nullptr;
      const int size = i2d_PUBKEY(key, &der);
      if (size <= 0)
      {
        Fail("cannot encode a public key");
      }
      const std::string hex = Crypto::Sha256Hex(der, static_cast<size_t>(size));
      OPENSSL_free(der);
      return hex.substr(0, 2 * kKeyIdSize);
    }

    [[noreturn]] void FailFile(const std::string& what, const std::string& path)
    {
      throw SealingKeyError(what + " " + path + ": " + strerror(errno));
    }

    void WriteAll(int fd, const std::string& data, const std::string& path)
    {
      size_t done = 0;
      while (done < data.size())
      {
        const ssize_t n = write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR)
        {
          continue;
        }
        if (n <= 0)
        {
          FailFile("Cannot write the sealing key", path);
        }
        done += static_cast<size_t>(n);
      }
    }

    // Writes a new private key at "path" so that it never exists with other permissions or
    // half written: a 0600 temporary file (O_EXCL, whatever the umask), fsync, then link() to
    // the final name, which fails if another process created the key meanwhile (several
    // Orthancs starting at once then share the first one's key instead of overwriting it).
    void CreateKeyFile(const std::string& path)
    {
      const boost::filesystem::path parent = boost::filesystem::path(path).parent_path();
      const std::string folder = parent.empty() ? "." : parent.string();
      if (mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST)
      {
        FailFile("Cannot create the folder of the sealing key", folder);
      }

      Pkey key = NewX25519Key();
      Bio bio(BIO_new(BIO_s_mem()));
      if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                           nullptr) != 1)
      {
        Fail("cannot write a private key");
      }
      SecretString pem;
      char* data = nullptr;
      const long size = BIO_get_mem_data(bio.get(), &data);
      pem.value.assign(data, static_cast<size_t>(size));
      OPENSSL_cleanse(data, static_cast<size_t>(size));

      const std::string temporary = path + ".tmp-" + Crypto::RandomCode(8);
      const int fd =
          open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0)
      {
        FailFile("Cannot create the sealing key", temporary);
      }
      try
      {
        if (fchmod(fd, 0600) != 0)
        {
          FailFile("Cannot set the mode of the sealing key", temporary);
        }
        WriteAll(fd, pem.value, temporary);
        if (fsync(fd) != 0)
        {
          FailFile("Cannot sync the sealing key", temporary);
        }
      }
      catch (...)
      {
        close(fd);
        unlink(temporary.c_str());
        throw;
      }
      if (close(fd) != 0)
      {
        unlink(temporary.c_str());
        FailFile("Cannot write the sealing key", temporary);
      }
      const int linked = link(temporary.c_str(), path.c_str());
      const int saved = errno;
      unlink(temporary.c_str());
      if (linked != 0 && saved != EEXIST)
      {
        errno = saved;
        FailFile("Cannot create the sealing key", path);
      }
      const int dir = open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dir < 0 || fsync(dir) != 0)
      {
        if (dir >= 0)
        {
          close(dir);
        }
        FailFile("Cannot sync the folder of the sealing key", folder);
      }
      close(dir);
    }

    // Reads the key file, refusing one that others than its owner may read: a private key
    // that the group or the world can read may already be in other hands. The checks are on
    // the opened file (fstat), so the file checked is the file read. O_NONBLOCK: a named pipe
    // at the path is refused as no regular file instead of waiting for a writer forever.
    void ReadKeyFile(SecretString& content, const std::string& path)
    {
      const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      if (fd < 0)
      {
        FailFile("Cannot read the sealing key", path);
      }
      struct FdCloser
      {
        int fd;
        ~FdCloser()
        {
          close(fd);
        }
      } closer{fd};

      struct stat info;
      if (fstat(fd, &info) != 0)
      {
        FailFile("Cannot read the sealing key", path);
      }
      if (!S_ISREG(info.st_mode))
      {
        throw SealingKeyError("The sealing key " + path + " is not a regular file");
      }
      if ((info.st_mode & 077) != 0)
      {
        throw SealingKeyError("The sealing key " + path +
                              " may be read by others than its owner: chmod 600 " + path);
      }
      if (static_cast<uint64_t>(info.st_size) > kMaxKeyFile)
      {
        throw SealingKeyError("The sealing key " + path + " is too large to be a PEM key");
      }
      content.value.resize(kMaxKeyFile + 1);
      size_t done = 0;
      while (done < content.value.size())
      {
        const ssize_t n = read(fd, &content.value[done], content.value.size() - done);
        if (n < 0 && errno == EINTR)
        {
          continue;
        }
        if (n < 0)
        {
          FailFile("Cannot read the sealing key", path);
        }
        if (n == 0)
        {
          break;
        }
        done += static_cast<size_t>(n);
      }
      OPENSSL_cleanse(&content.value[done], content.value.size() - done);
      content.value.resize(done);
    }
  }

  SealingPublicKey SealingPublicKey::FromPem(const std::string& pem, const std::string& origin)
  {
    PemBlock block;
    ReadPemBlock(block, pem, "PUBLIC KEY", origin);
    const unsigned char* p = block.data;
    Pkey key(d2i_PUBKEY(nullptr, &p, block.length));
    if (!key || p != block.data + block.length)
    {
      throw SealingKeyError(origin + " is not a valid public key");
    }
    CheckX25519(key.get(), origin);

    // A low-order point would give every sender the same, all-zero shared secret: refuse it
    // here rather than at the first upload.
    Secret<kX25519Size> shared;
    Pkey probe = NewX25519Key();
    if (!Agree(shared, probe.get(), key.get()))
    {
      throw SealingKeyError(origin + " is not a usable X25519 public key");
    }

    SealingPublicKey result;
    result.id_ = ComputeKeyId(key.get());
    result.pem_ = WritePublicPem(key.get());
    result.key_ = Share(std::move(key));
    return result;
  }

  SealingPrivateKey SealingPrivateKey::Load(const std::string& path)
  {
    SecretString content;
    ReadKeyFile(content, path);
    const std::string origin = "The sealing key " + path;

    PemBlock block;
    ReadPemBlock(block, content.value, "PRIVATE KEY", origin);
    const unsigned char* p = block.data;
    Pkey key(d2i_AutoPrivateKey(nullptr, &p, block.length));
    if (!key || p != block.data + block.length)
    {
      throw SealingKeyError(origin + " is not a valid PKCS#8 private key");
    }
    CheckX25519(key.get(), origin);

    unsigned char raw[kX25519Size];
    GetRawPublicKey(raw, key.get());
    Pkey publicKey = NewPublicKey(raw);

    SealingPrivateKey result;
    result.publicKey_ = SealingPublicKey::FromPem(WritePublicPem(publicKey.get()), origin);
    result.key_ = Share(std::move(key));
    return result;
  }

  SealingPrivateKey SealingPrivateKey::LoadOrCreate(const std::string& path)
  {
    struct stat info;
    if (lstat(path.c_str(), &info) != 0)
    {
      if (errno != ENOENT)
      {
        FailFile("Cannot read the sealing key", path);
      }
      CreateKeyFile(path);
    }
    return Load(path);
  }
}
