// Unit tests of where the ledger lives: "Inbound.Ledger", "Inbound.LeaseSeconds", the data
// directory, and Orthanc's "PostgreSQL" section turned into a libpq connection string.
#include "Configuration.h"
#include "ConfigurationReader.h"
#include "Toolbox/Json.h"

#include <OrthancException.h>

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <map>
#include <random>

using namespace Inbound;

namespace
{
  Json::Value Parsed(const std::string& text)
  {
    Json::Value v;
    std::string errors;
    EXPECT_TRUE(JsonText::ParseConfiguration(v, text, errors)) << errors;
    return v;
  }

  // Orthanc's whole configuration: "inbound" is its "Inbound" section, "rest" its other keys.
  Configuration ParseOrthanc(const std::string& inbound, const std::string& rest = "")
  {
    const Json::Value orthanc =
      Parsed("{\"Inbound\": " + inbound + (rest.empty() ? "" : ", " + rest) + "}");
    return Configuration::Parse(orthanc["Inbound"], orthanc);
  }

  std::string ErrorOf(const std::string& inbound, const std::string& rest = "")
  {
    try
    {
      ParseOrthanc(inbound, rest);
    }
    catch (const Orthanc::OrthancException& e)
    {
      EXPECT_EQ(Orthanc::ErrorCode_BadFileFormat, e.GetErrorCode());
      return e.GetDetails();
    }
    return "";
  }

  // What libpq itself reads from a connection string: the test of the quoting.
  std::map<std::string, std::string> Libpq(const std::string& conninfo)
  {
    std::map<std::string, std::string> values;
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
    if (options == nullptr)
    {
      ADD_FAILURE() << "libpq refuses " << conninfo << ": " << (error ? error : "");
      PQfreemem(error);
      return values;
    }
    for (PQconninfoOption* o = options; o->keyword != nullptr; o++)
    {
      if (o->val != nullptr)
      {
        values[o->keyword] = o->val;
      }
    }
    PQconninfoFree(options);
    return values;
  }

  const char* const kPostgresInbound = R"({"Role": "Internal", "Gateways": ["dmz"],
                                          "Ledger": "PostgreSQL"})";
}

TEST(ConfigurationLedger, SqliteInTheDataDirectoryByDefault)
{
  const Configuration c = ParseOrthanc(R"({"DataDirectory": "/var/lib/inbound"})");
  EXPECT_EQ(LedgerDialect_SQLite, c.ledger.dialect);
  EXPECT_EQ("/var/lib/inbound/ledger.sqlite", c.ledger.sqlitePath);
  EXPECT_EQ("", c.ledger.postgresUri);
  EXPECT_EQ(60u, c.leaseSeconds);
  EXPECT_EQ("SQLite /var/lib/inbound/ledger.sqlite", DescribeLedger(c.ledger));
}

TEST(ConfigurationLedger, DataDirectoryDefaultsBesideOrthancsIndex)
{
  EXPECT_EQ("/srv/index/inbound",
            ParseOrthanc("{}", R"("IndexDirectory": "/srv/index", "StorageDirectory": "/srv/s")")
              .dataDirectory);
  EXPECT_EQ("/srv/s/inbound", ParseOrthanc("{}", R"("StorageDirectory": "/srv/s")").dataDirectory);
  EXPECT_EQ("OrthancStorage/inbound", ParseOrthanc("{}").dataDirectory);  // Orthanc's default
  EXPECT_EQ("OrthancStorage/inbound/ledger.sqlite", ParseOrthanc("{}").ledger.sqlitePath);
  EXPECT_EQ("OrthancStorage/inbound/ledger.sqlite",
            Configuration::Parse(Json::nullValue).ledger.sqlitePath);  // never in memory
  EXPECT_EQ("/d/ledger.sqlite",
            ParseOrthanc(R"({"DataDirectory": "/d"})", R"("IndexDirectory": "/srv/index")")
              .ledger.sqlitePath);
}

TEST(ConfigurationLedger, UnknownLedgerIsAStartUpErrorNamingIt)
{
  EXPECT_EQ("Configuration option \"Inbound.Ledger\": must be \"SQLite\" or \"PostgreSQL\", "
            "not \"MySQL\"", ErrorOf(R"({"Ledger": "MySQL"})"));
  // Spelt as Orthanc spells its section, nothing else.
  EXPECT_NE("", ErrorOf(R"({"Ledger": "postgresql"})", R"("PostgreSQL": {"Database": "o"})"));
  EXPECT_NE("", ErrorOf(R"({"Ledger": ""})"));
  EXPECT_EQ("Configuration option \"Inbound.Ledger\": must be a string",
            ErrorOf(R"({"Ledger": 1})"));
}

TEST(ConfigurationLedger, PostgresqlFromOrthancsOwnSection)
{
  const Configuration c = ParseOrthanc(kPostgresInbound, R"("PostgreSQL": {
      "EnableIndex": true, "EnableStorage": true, "Lock": false,
      "Host": "db.hospital.example", "Port": 5433, "Database": "orthanc",
      "Username": "orthanc", "Password": "secret", "EnableSsl": true})");
  EXPECT_EQ(LedgerDialect_PostgreSQL, c.ledger.dialect);
  EXPECT_EQ("inbound", c.ledger.postgresSchema);
  EXPECT_EQ("host='db.hospital.example' port='5433' dbname='orthanc' user='orthanc' "
            "password='secret' sslmode='require'", c.ledger.postgresUri);
  EXPECT_EQ("PostgreSQL host=db.hospital.example port=5433 dbname=orthanc user=orthanc "
            "sslmode=require schema=inbound", DescribeLedger(c.ledger));
}

TEST(ConfigurationLedger, PostgresqlDefaultsAreThoseOfOrthancsPlugin)
{
  // Debian's orthanc-postgresql: localhost, 5432, no SSL; no user or password given: libpq's
  // own defaults (the system user, ~/.pgpass).
  const Configuration c = ParseOrthanc(kPostgresInbound, R"("PostgreSQL": {"Database": "o"})");
  EXPECT_EQ("host='localhost' port='5432' dbname='o' sslmode='disable'", c.ledger.postgresUri);
  EXPECT_EQ(60u, c.leaseSeconds);
}

TEST(ConfigurationLedger, ValuesAreQuotedSoThatLibpqReadsThemWhole)
{
  const Configuration c = ParseOrthanc(kPostgresInbound, R"("PostgreSQL": {
      "Host": "/var/run/postgresql", "Database": "my db", "Username": "o'brien",
      "Password": "a b'c\\d\\'e f= g"})");
  const std::map<std::string, std::string> values = Libpq(c.ledger.postgresUri);
  EXPECT_EQ("/var/run/postgresql", values.at("host"));
  EXPECT_EQ("my db", values.at("dbname"));
  EXPECT_EQ("o'brien", values.at("user"));
  EXPECT_EQ("a b'c\\d\\'e f= g", values.at("password"));
  EXPECT_EQ("5432", values.at("port"));
  EXPECT_EQ("disable", values.at("sslmode"));
}

TEST(ConfigurationLedger, QuotingSurvivesAnyText)
{
  EXPECT_EQ("''", ConfigurationReader::QuoteConnectionValue(""));
  EXPECT_EQ("'it\\'s a \\\\ path'", ConfigurationReader::QuoteConnectionValue("it's a \\ path"));
  std::mt19937 random(21);
  for (int i = 0; i < 2000; i++)
  {
    std::string value;
    const size_t length = random() % 24;
    for (size_t j = 0; j < length; j++)
    {
      // Every byte but NUL (a C string's end: libpq cannot take one), biased to the special ones.
      static const char kSpecial[] = "'\\ =\t\n\"";
      value += (random() % 2) ? kSpecial[random() % (sizeof(kSpecial) - 1)]
                              : static_cast<char>(1 + random() % 255);
    }
    const std::string conninfo = "password=" + ConfigurationReader::QuoteConnectionValue(value) +
                                 " dbname='x'";
    const std::map<std::string, std::string> values = Libpq(conninfo);
    ASSERT_EQ(1u, values.count("password")) << conninfo;
    EXPECT_EQ(value, values.at("password")) << conninfo;
    EXPECT_EQ("x", values.at("dbname")) << conninfo;
  }
}

TEST(ConfigurationLedger, ConnectionUriWinsOverTheOtherKeys)
{
  const Configuration c = ParseOrthanc(kPostgresInbound, R"("PostgreSQL": {
      "ConnectionUri": "postgresql://orthanc:s%20cret@db:5432/orthanc?sslmode=verify-full",
      "Host": "elsewhere", "Database": "other", "Password": "ignored"})");
  EXPECT_EQ("postgresql://orthanc:s%20cret@db:5432/orthanc?sslmode=verify-full",
            c.ledger.postgresUri);
  EXPECT_EQ("PostgreSQL host=db port=5432 dbname=orthanc user=orthanc sslmode=verify-full "
            "schema=inbound", DescribeLedger(c.ledger));
  // With a URI, neither Database nor anything else is needed (libpq's defaults apply).
  EXPECT_EQ("host=db user=u password=p",
            ParseOrthanc(kPostgresInbound, R"("PostgreSQL": {
                           "ConnectionUri": "host=db user=u password=p"})").ledger.postgresUri);
}

TEST(ConfigurationLedger, MissingSectionOrDatabaseSaysWhatToAdd)
{
  const std::string noSection = ErrorOf(kPostgresInbound);
  EXPECT_NE(std::string::npos, noSection.find("\"Inbound.Ledger\": is \"PostgreSQL\" but "
                                              "Orthanc's configuration has no \"PostgreSQL\" "
                                              "section")) << noSection;
  EXPECT_NE(std::string::npos, noSection.find("/etc/orthanc/postgresql.json")) << noSection;
  EXPECT_NE(std::string::npos, noSection.find("\"ConnectionUri\"")) << noSection;

  EXPECT_NE("", ErrorOf(kPostgresInbound, R"("PostgreSQL": true)"));
  const std::string noDatabase = ErrorOf(kPostgresInbound, R"("PostgreSQL": {"Host": "db"})");
  EXPECT_NE(std::string::npos, noDatabase.find("names no \"Database\"")) << noDatabase;
  EXPECT_NE("", ErrorOf(kPostgresInbound, R"("PostgreSQL": {"Database": ""})"));
}

TEST(ConfigurationLedger, BadPostgresqlValuesAreNamedWithoutTheirValue)
{
  const std::string with = R"("Password": "TopSecret99", )";
  const std::map<std::string, std::string> cases = {
    {R"("Database": "o", "Port": 0)", "\"PostgreSQL.Port\""},
    {R"("Database": "o", "Port": 65536)", "\"PostgreSQL.Port\""},
    {R"("Database": "o", "Port": "5432")", "\"PostgreSQL.Port\""},
    {R"("Database": "o", "Port": -1)", "\"PostgreSQL.Port\""},
    {R"("Database": "o", "EnableSsl": "yes")", "\"PostgreSQL.EnableSsl\""},
    {R"("Database": "o", "Host": 5)", "\"PostgreSQL.Host\""},
    {R"("Database": 5)", "\"PostgreSQL.Database\""},
    {R"("Database": "o", "Username": ["u"])", "\"PostgreSQL.Username\""},
    {R"("ConnectionUri": "")", "\"PostgreSQL.ConnectionUri\""},
    {R"("ConnectionUri": "postgresql://u:TopSecret99@db:notaport/o?x=")",
     "\"PostgreSQL.ConnectionUri\""},
    {R"("ConnectionUri": "host=db password='TopSecret99")", "\"PostgreSQL.ConnectionUri\""},
  };
  for (const auto& c : cases)
  {
    const std::string error = ErrorOf(kPostgresInbound, "\"PostgreSQL\": {" + with + c.first + "}");
    EXPECT_NE(std::string::npos, error.find(c.second)) << c.first << ": " << error;
    EXPECT_EQ(std::string::npos, error.find("TopSecret99")) << c.first << ": " << error;
  }
}

TEST(ConfigurationLedger, DescribeLedgerNeverShowsThePassword)
{
  for (const char* section :
       {R"({"Database": "o", "Username": "u", "Password": "TopSecret99"})",
        R"({"ConnectionUri": "postgresql://u:TopSecret99@db/o"})",
        R"({"ConnectionUri": "host=db password=TopSecret99 dbname=o"})"})
  {
    const Configuration c =
      ParseOrthanc(kPostgresInbound, "\"PostgreSQL\": " + std::string(section));
    const std::string described = DescribeLedger(c.ledger);
    EXPECT_EQ(std::string::npos, described.find("TopSecret99")) << described;
    EXPECT_NE(std::string::npos, described.find("dbname=o")) << described;
  }
}

TEST(ConfigurationLedger, AGatewayKeepsItsLedgerBesideItsStaging)
{
  const std::string error = ErrorOf(R"({"Role": "Gateway", "Ledger": "PostgreSQL"})",
                                    R"("PostgreSQL": {"Database": "o"})");
  EXPECT_NE(std::string::npos, error.find("\"Inbound.Ledger\": must be \"SQLite\" on a Gateway"))
    << error;
  // A Standalone may share one (its parts stay on its own disk: route by upload id).
  EXPECT_EQ(LedgerDialect_PostgreSQL,
            ParseOrthanc(R"({"Ledger": "PostgreSQL"})", R"("PostgreSQL": {"Database": "o"})")
              .ledger.dialect);
}

TEST(ConfigurationLedger, LeaseSecondsFromTenSecondsToAnHour)
{
  EXPECT_EQ(10u, ParseOrthanc(R"({"LeaseSeconds": 10})").leaseSeconds);
  EXPECT_EQ(3600u, ParseOrthanc(R"({"LeaseSeconds": 3600})").leaseSeconds);
  EXPECT_EQ("Configuration option \"Inbound.LeaseSeconds\": must be between 10 and 3600",
            ErrorOf(R"({"LeaseSeconds": 9})"));
  EXPECT_NE("", ErrorOf(R"({"LeaseSeconds": 3601})"));
  EXPECT_NE("", ErrorOf(R"({"LeaseSeconds": "60"})"));
}

TEST(ConfigurationLedger, UploadIdPrefixOfTheIdAlphabet)
{
  EXPECT_EQ("", ParseOrthanc("{}").upload.idPrefix);
  EXPECT_EQ("A", ParseOrthanc(R"({"Role": "Gateway", "UploadIdPrefix": "A"})").upload.idPrefix);
  EXPECT_EQ("Z29X", ParseOrthanc(R"({"UploadIdPrefix": "Z29X"})").upload.idPrefix);
  const std::string expected = "Configuration option \"Inbound.UploadIdPrefix\": must be at most "
                               "4 characters of 23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
  EXPECT_EQ(expected, ErrorOf(R"({"UploadIdPrefix": "ABCDE"})"));
  EXPECT_EQ(expected, ErrorOf(R"({"UploadIdPrefix": "a"})"));   // lower case: not an id
  EXPECT_EQ(expected, ErrorOf(R"({"UploadIdPrefix": "1"})"));   // 0, 1, I, O: not in ids
  EXPECT_EQ(expected, ErrorOf(R"({"UploadIdPrefix": "A-"})"));
  EXPECT_NE("", ErrorOf(R"({"Role": "Internal", "Gateways": ["g"], "UploadIdPrefix": "A"})"));
}
