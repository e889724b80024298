// Loads or creates the quota secret, and computes the keyed hash of a sender's e-mail address.
#include "SenderKey.h"

#include "Toolbox/Crypto.h"

#include <Logging.h>
#include <OrthancException.h>

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/algorithm/string/predicate.hpp>
#include <boost/filesystem.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace Inbound
{
  namespace SenderKey
  {
    namespace
    {
      [[noreturn]] void Fail(const std::string& path, const std::string& why)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                        "The quota secret " + path + " " + why);
      }

      void Create(const std::string& path)
      {
        const std::string secret = Crypto::RandomBytes(kSecretSize);
        const std::string temporary = path + ".tmp-" + Crypto::RandomCode(8);
        const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
        {
          Fail(path, std::string("cannot be created: ") + strerror(errno));
        }
        const bool ok = write(fd, secret.data(), secret.size()) == ssize_t(secret.size()) &&
                        fsync(fd) == 0;
        if (close(fd) != 0 || !ok || rename(temporary.c_str(), path.c_str()) != 0)
        {
          const std::string why = strerror(errno);
          unlink(temporary.c_str());
          Fail(path, "cannot be written: " + why);
        }
        const std::string folder = boost::filesystem::path(path).parent_path().string();
        const int dir = open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY);
        if (dir >= 0)
        {
          fsync(dir);
          close(dir);
        }
      }
    }

    std::string LoadOrCreateSecret(const std::string& path)
    {
      struct stat info;
      if (stat(path.c_str(), &info) != 0)
      {
        if (errno != ENOENT)
        {
          Fail(path, std::string("cannot be read: ") + strerror(errno));
        }
        Create(path);
        if (stat(path.c_str(), &info) != 0)
        {
          Fail(path, std::string("cannot be read: ") + strerror(errno));
        }
      }
      // Whoever reads the secret can test guessed addresses against the ledger's scopes.
      if ((info.st_mode & 077) != 0)
      {
        Fail(path, "may be read by others than its owner: chmod 600 it");
      }
      // Checked before it is opened: a named pipe would block the start-up, a large file
      // would be read whole.
      std::string secret;
      if (S_ISREG(info.st_mode) && uint64_t(info.st_size) == kSecretSize)
      {
        std::ifstream in(path, std::ios::binary);
        secret.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      }
      if (secret.size() != kSecretSize)
      {
        Fail(path, "must be a file of exactly " + std::to_string(kSecretSize) + " bytes; remove "
                   "it to have a new one made (the per-sender quotas of today start again)");
      }
      return secret;
    }

    namespace
    {
      const char* const kLedgerKey = "quota-key";  // its row in ledger_meta

      int HexDigit(char c)
      {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      }

      // "" unless "hex" is exactly the lower-case hex of a secret.
      std::string FromHex(const std::string& hex)
      {
        std::string bytes;
        if (hex.size() != 2 * kSecretSize)
        {
          return bytes;
        }
        for (size_t i = 0; i < hex.size(); i += 2)
        {
          const int high = HexDigit(hex[i]);
          const int low = HexDigit(hex[i + 1]);
          if (high < 0 || low < 0)
          {
            return "";
          }
          bytes += static_cast<char>(high * 16 + low);
        }
        return bytes;
      }
    }

    std::string LoadOrCreateSecret(Ledger& ledger, const std::string& path)
    {
      if (ledger.GetDatabase().GetDialect() != LedgerDialect_PostgreSQL)
      {
        return LoadOrCreateSecret(path);
      }
      LedgerDatabase::Transaction t(ledger.GetDatabase());
      {
        LedgerStatement s(t.GetConnection(),
                          "INSERT INTO ledger_meta (key, value) VALUES (?, ?)"
                          " ON CONFLICT (key) DO NOTHING");  // another Orthanc made it first
        s.BindString(0, kLedgerKey);
        s.BindString(1, Crypto::ToHex(Crypto::RandomBytes(kSecretSize)));
        s.Run();
      }
      LedgerStatement s(t.GetConnection(), "SELECT value FROM ledger_meta WHERE key = ?");
      s.BindString(0, kLedgerKey);
      const std::string secret = s.Step() ? FromHex(s.ColumnString(0)) : std::string();
      if (secret.size() != kSecretSize)
      {
        throw Orthanc::OrthancException(
          Orthanc::ErrorCode_BadFileFormat,
          std::string("The quota secret in the ledger (ledger_meta, key \"") + kLedgerKey +
            "\") must be " + std::to_string(2 * kSecretSize) + " lower-case hex digits");
      }
      t.Commit();
      return secret;
    }

    std::string Compute(const std::string& secret, const std::string& email)
    {
      if (email.empty())
      {
        return "";
      }
      return Crypto::HmacSha256Hex(secret, boost::algorithm::to_lower_copy(email));
    }

    bool IsPlainScope(const std::string& scope)
    {
      return boost::starts_with(scope, "sender:") && scope.find('@') != std::string::npos;
    }

    void UpgradeLedger(Ledger& ledger, const std::string& secret)
    {
      const auto key = [&secret](const std::string& email) { return Compute(secret, email); };
      const size_t rows = ledger.Quotas().RekeySenders(key);
      const size_t uploads = ledger.Uploads().FillSenderKeys(key);
      if (rows + uploads > 0)
      {
        ledger.GetDatabase().Checkpoint();
        LOG(WARNING) << "Inbound: the per-sender quotas now count by a keyed hash of the "
                     << "address: " << rows << " quota row(s) and " << uploads
                     << " upload(s) rewritten";
      }
    }
  }
}
