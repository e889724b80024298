// Where the ledger lives and what several Orthancs need: "Inbound.Ledger",
// "Inbound.DataDirectory", Orthanc's own "PostgreSQL" section and "Inbound.UploadIdPrefix"
// (doc/Ledger.md, "Two databases"; doc/Operations.md, "Scale-out"; doc/Configuration.md).
#include "ConfigurationReader.h"
#include "Toolbox/UploadId.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>

#include <libpq-fe.h>

#include <memory>

namespace Inbound
{
  namespace
  {
    const char* const kHowToAdd =
      "add Orthanc's \"PostgreSQL\" section as Debian's orthanc-postgresql reads it "
      "(/etc/orthanc/postgresql.json: \"Host\", \"Port\", \"Database\", \"Username\", "
      "\"Password\", or a \"ConnectionUri\"), the same that Orthanc's index uses";

    // The option is Orthanc's, not the plugin's: its name without "Inbound.". The value is
    // never part of the message (it may be the password, or a URI that holds it).
    [[noreturn]] void BadPostgres(const std::string& option, const std::string& why)
    {
      throw Orthanc::OrthancException(
        Orthanc::ErrorCode_BadFileFormat,
        "Configuration option \"PostgreSQL." + option + "\" (read for \"Inbound.Ledger\": "
        "\"PostgreSQL\"): " + why);
    }

    struct ConninfoDeleter
    {
      void operator()(PQconninfoOption* options) const
      {
        PQconninfoFree(options);
      }
    };

    typedef std::unique_ptr<PQconninfoOption, ConninfoDeleter> Conninfo;

    // libpq's own parse of a connection string or URI; null when it is not one. libpq's error
    // message is dropped: it may quote the string, password included.
    Conninfo ParseConninfo(const std::string& text)
    {
      char* error = nullptr;
      Conninfo options(PQconninfoParse(text.c_str(), &error));
      if (error != nullptr)
      {
        PQfreemem(error);
      }
      return options;
    }

    std::string OptionalString(const Json::Value& postgres, const std::string& key,
                               const std::string& fallback)
    {
      if (!postgres.isMember(key))
      {
        return fallback;
      }
      if (!postgres[key].isString())
      {
        BadPostgres(key, "must be a string");
      }
      return postgres[key].asString();
    }

    void Append(std::string& target, const char* key, const std::string& value)
    {
      if (!value.empty())
      {
        target += (target.empty() ? "" : " ") + std::string(key) + "=" +
                  ConfigurationReader::QuoteConnectionValue(value);
      }
    }

    // Debian's orthanc-postgresql 4.0 (PostgreSQLParameters): ConnectionUri, when present,
    // is used as it is and the other keys are not read; else Host (default "localhost"),
    // Port (5432), Database, Username, Password and EnableSsl (false: "sslmode=disable",
    // true: "sslmode=require"). Values are quoted here, which that plugin does not do: a
    // password with a space reaches libpq whole.
    std::string ReadPostgresSection(const Json::Value& orthancConfiguration)
    {
      if (!orthancConfiguration.isObject() || !orthancConfiguration.isMember("PostgreSQL"))
      {
        ConfigurationReader::Bad(
          "Ledger", "is \"PostgreSQL\" but Orthanc's configuration has no \"PostgreSQL\" "
          "section: " + std::string(kHowToAdd));
      }
      const Json::Value& postgres = orthancConfiguration["PostgreSQL"];
      if (!postgres.isObject())
      {
        ConfigurationReader::Bad("Ledger", "is \"PostgreSQL\" but Orthanc's \"PostgreSQL\" is "
                                 "not an object: " + std::string(kHowToAdd));
      }

      if (postgres.isMember("ConnectionUri"))
      {
        const std::string uri = OptionalString(postgres, "ConnectionUri", "");
        if (uri.empty())
        {
          BadPostgres("ConnectionUri", "must not be empty");
        }
        if (!ParseConninfo(uri))
        {
          BadPostgres("ConnectionUri", "is neither a libpq connection URI "
                      "(postgresql://user:password@host:port/database) nor a key=value string");
        }
        return uri;
      }

      const std::string database = OptionalString(postgres, "Database", "");
      if (database.empty())
      {
        ConfigurationReader::Bad(
          "Ledger", "is \"PostgreSQL\" but Orthanc's \"PostgreSQL\" section names no "
          "\"Database\" (nor a \"ConnectionUri\"): add the database of Orthanc's index");
      }
      unsigned int port = 5432;
      if (postgres.isMember("Port"))
      {
        const Json::Value& value = postgres["Port"];
        if (!value.isIntegral() || (value.isInt64() && value.asInt64() < 1) ||
            value.asUInt64() > 65535)
        {
          BadPostgres("Port", "must be an integer between 1 and 65535");
        }
        port = value.asUInt();
      }
      bool ssl = false;
      if (postgres.isMember("EnableSsl"))
      {
        if (!postgres["EnableSsl"].isBool())
        {
          BadPostgres("EnableSsl", "must be true or false");
        }
        ssl = postgres["EnableSsl"].asBool();
      }

      std::string result;
      Append(result, "host", OptionalString(postgres, "Host", "localhost"));
      Append(result, "port", std::to_string(port));
      Append(result, "dbname", database);
      Append(result, "user", OptionalString(postgres, "Username", ""));
      Append(result, "password", OptionalString(postgres, "Password", ""));
      Append(result, "sslmode", ssl ? "require" : "disable");
      return result;
    }
  }

  namespace ConfigurationReader
  {
    std::string QuoteConnectionValue(const std::string& value)
    {
      std::string quoted = "'";
      for (char c : value)
      {
        if (c == '\'' || c == '\\')
        {
          quoted += '\\';
        }
        quoted += c;
      }
      return quoted + "'";
    }

    std::string GetUploadIdPrefix(const Json::Value& section, Role role)
    {
      const std::string prefix = GetString(section, "UploadIdPrefix", true);
      // Up to 4 of the 12 characters: 40 random bits stay, and the token guards an upload
      // anyway; ids keep their length and alphabet (Isolation relies on both).
      if (prefix.size() > 4 ||
          prefix.find_first_not_of(kUploadIdAlphabet) != std::string::npos)
      {
        Bad("UploadIdPrefix", "must be at most 4 characters of " +
            std::string(kUploadIdAlphabet));
      }
      if (role == Role_Internal && !prefix.empty())
      {
        Bad("UploadIdPrefix", "has no effect on an Internal, which opens no uploads");
      }
      return prefix;
    }

    std::string ResolveDataDirectory(const std::string& configured,
                                     const Json::Value& orthancConfiguration)
    {
      if (!configured.empty())
      {
        return configured;
      }
      std::string index;
      if (orthancConfiguration.isObject())
      {
        index = orthancConfiguration.get("IndexDirectory", "").asString();
        if (index.empty())
        {
          index = orthancConfiguration.get("StorageDirectory", "").asString();
        }
      }
      if (index.empty())
      {
        index = "OrthancStorage";  // Orthanc's own default
      }
      return (boost::filesystem::path(index) / "inbound").string();
    }

    LedgerLocation GetLedger(const Json::Value& section, const Json::Value& orthancConfiguration,
                             const std::string& dataDirectory, Role role)
    {
      LedgerLocation location;
      const std::string ledger = GetString(section, "Ledger", true);
      if (ledger == "SQLite")
      {
        location.dialect = LedgerDialect_SQLite;
        location.sqlitePath = (boost::filesystem::path(dataDirectory) / "ledger.sqlite").string();
      }
      else if (ledger == "PostgreSQL")
      {
        // A gateway's ledger lists what its own staging holds: gateways sharing a ledger
        // would hand out uploads another one staged, and a DMZ host reaching the inside's
        // database would open the firewall inwards (doc/Operations.md, "Scale-out").
        if (role == Role_Gateway)
        {
          Bad("Ledger", "must be \"SQLite\" on a Gateway: each gateway keeps its own ledger "
              "beside its staging, and the DMZ never reaches the inside's PostgreSQL");
        }
        location.dialect = LedgerDialect_PostgreSQL;
        location.postgresUri = ReadPostgresSection(orthancConfiguration);
      }
      else
      {
        Bad("Ledger", "must be \"SQLite\" or \"PostgreSQL\", not \"" + ledger + "\"");
      }
      return location;
    }
  }

  std::string DescribeLedger(const LedgerLocation& location)
  {
    if (location.dialect == LedgerDialect_SQLite)
    {
      return location.sqlitePath.empty() ? "SQLite in memory" : "SQLite " + location.sqlitePath;
    }
    std::string described = "PostgreSQL";
    const Conninfo options = ParseConninfo(location.postgresUri);
    // Only these keys: whatever else libpq knows (password, passfile, sslpassword...) stays out.
    for (const std::string keyword : {"host", "hostaddr", "port", "dbname", "user", "sslmode"})
    {
      for (const PQconninfoOption* o = options.get(); o != nullptr && o->keyword != nullptr; o++)
      {
        if (keyword == o->keyword && o->val != nullptr && *o->val != '\0')
        {
          described += " " + keyword + "=" + o->val;
        }
      }
    }
    return described + " schema=" + location.postgresSchema;
  }
}
