// The ledger's PostgreSQL connection: the texts it rewrites (PostgresText, no server needed)
// and the connection itself against the unit tests' PostgreSQL server (PostgresConnection,
// run by ctest as "postgresql.PostgresConnection.*" with the "postgresql" fixture).
// Over 500 lines: the rewriter's cases and the connection's against one server, together.

#include "LedgerBackends.h"

#include "Ledger/AuditStore.h"
#include "Ledger/LedgerDatabase.h"
#include "Ledger/LedgerSchema.h"
#include "Ledger/PostgresLedgerConnection.h"

#include <OrthancException.h>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace Inbound;

namespace
{
  std::string Rewrite(const std::string& sql, int expectedCount)
  {
    int count = -1;
    const std::string result = PostgresText::RewritePlaceholders(sql, count);
    EXPECT_EQ(expectedCount, count) << sql;
    return result;
  }

  Orthanc::ErrorCode CodeOf(const std::function<void()>& action, std::string* message = nullptr)
  {
    try
    {
      action();
    }
    catch (const Orthanc::OrthancException& e)
    {
      if (message != nullptr)
      {
        *message = e.GetDetails();
      }
      return e.GetErrorCode();
    }
    return Orthanc::ErrorCode_Success;
  }

  std::unique_ptr<ILedgerConnection> Open(const LedgerLocation& location)
  {
    return OpenPostgresLedgerConnection(location);
  }

  std::string QueryString(ILedgerConnection& connection, const std::string& sql)
  {
    LedgerStatement s(connection, sql);
    EXPECT_TRUE(s.Step()) << sql;
    return s.ColumnString(0);
  }

  int64_t QueryInt(ILedgerConnection& connection, const std::string& sql)
  {
    LedgerStatement s(connection, sql);
    EXPECT_TRUE(s.Step()) << sql;
    return s.ColumnInt64(0);
  }
}

// ---------------------------------------------------------------------------- PostgresText

TEST(PostgresText, PlaceholdersAreNumberedInOrder)
{
  EXPECT_EQ("SELECT a FROM t WHERE b = $1 AND c = $2", Rewrite("SELECT a FROM t WHERE b = ? AND c = ?", 2));
  EXPECT_EQ("INSERT INTO t VALUES ($1,$2,$3)", Rewrite("INSERT INTO t VALUES (?,?,?)", 3));
  EXPECT_EQ("SELECT 1", Rewrite("SELECT 1", 0));
  EXPECT_EQ("", Rewrite("", 0));
  // Two adjacent question marks are two parameters (SQLite reads them so too).
  EXPECT_EQ("SELECT $1$2", Rewrite("SELECT ??", 2));
  EXPECT_EQ("$1", Rewrite("?", 1));
  std::string many, expected;
  for (int i = 1; i <= 12; i++)
  {
    many += (i > 1 ? ",?" : "?");
    expected += (i > 1 ? ",$" : "$") + std::to_string(i);
  }
  EXPECT_EQ(expected, Rewrite(many, 12));
}

TEST(PostgresText, QuestionMarksInLiteralsIdentifiersAndCommentsStay)
{
  EXPECT_EQ("SELECT '?' || $1", Rewrite("SELECT '?' || ?", 1));
  EXPECT_EQ("SELECT 'it''s ?' , $1", Rewrite("SELECT 'it''s ?' , ?", 1));
  EXPECT_EQ("SELECT '' , $1, ''''", Rewrite("SELECT '' , ?, ''''", 1));
  EXPECT_EQ("SELECT \"a?b\" FROM t WHERE x = $1", Rewrite("SELECT \"a?b\" FROM t WHERE x = ?", 1));
  EXPECT_EQ("SELECT $1 -- why?\n, $2", Rewrite("SELECT ? -- why?\n, ?", 2));
  EXPECT_EQ("SELECT $1 /* ? '?' */ , $2", Rewrite("SELECT ? /* ? '?' */ , ?", 2));
  EXPECT_EQ("SELECT $1 -- ?", Rewrite("SELECT ? -- ?", 1));
  // A quote inside a comment and a comment marker inside a literal do not count.
  EXPECT_EQ("SELECT '--' , $1", Rewrite("SELECT '--' , ?", 1));
  EXPECT_EQ("SELECT $1 /* it's */ , $2", Rewrite("SELECT ? /* it's */ , ?", 2));
  EXPECT_EQ("SELECT 'sender:%@%' LIKE $1", Rewrite("SELECT 'sender:%@%' LIKE ?", 1));
  // A single "-" or "/" is an operator.
  EXPECT_EQ("SELECT $1 - $2 / $3", Rewrite("SELECT ? - ? / ?", 3));
}

TEST(PostgresText, MalformedTextsAreRefused)
{
  int count = 0;
  EXPECT_THROW(PostgresText::RewritePlaceholders("SELECT 'open", count), Orthanc::OrthancException);
  EXPECT_THROW(PostgresText::RewritePlaceholders("SELECT \"open", count), Orthanc::OrthancException);
  EXPECT_THROW(PostgresText::RewritePlaceholders("SELECT 1 /* open", count), Orthanc::OrthancException);
  // Numbered parameters would not keep their numbers: refused.
  EXPECT_THROW(PostgresText::RewritePlaceholders("SELECT ?1", count), Orthanc::OrthancException);
}

TEST(PostgresText, ValidUtf8IsKept)
{
  const std::string texts[] = {
    "", "plain ASCII", "caf\xC3\xA9", "\xE2\x82\xAC 12", "\xF0\x9F\x98\x80",
    "\xEF\xBF\xBD", "\xED\x9F\xBF", "\xEE\x80\x80", "\xF4\x8F\xBF\xBF", "\x7F\x01"
  };
  for (const std::string& text : texts)
  {
    EXPECT_EQ(text, PostgresText::SanitizeUtf8(text));
  }
}

TEST(PostgresText, InvalidUtf8AndNulBecomeReplacementCharacters)
{
  const std::string R = "\xEF\xBF\xBD";
  EXPECT_EQ("a" + R + "b", PostgresText::SanitizeUtf8(std::string("a\0b", 3)));
  EXPECT_EQ(R, PostgresText::SanitizeUtf8("\xFF"));
  EXPECT_EQ(R + R, PostgresText::SanitizeUtf8("\x80\xBF"));           // lone continuations
  EXPECT_EQ(R + "A", PostgresText::SanitizeUtf8("\xC3" "A"));          // truncated
  EXPECT_EQ(R, PostgresText::SanitizeUtf8("\xE2\x82"));               // truncated at the end
  EXPECT_EQ(R + R, PostgresText::SanitizeUtf8("\xC0\xAF"));           // overlong "/"
  EXPECT_EQ(R + R + R, PostgresText::SanitizeUtf8("\xE0\x80\xAF"));   // overlong, 3 bytes
  EXPECT_EQ(R + R + R, PostgresText::SanitizeUtf8("\xED\xA0\x80"));   // a surrogate
  EXPECT_EQ(R + R + R + R, PostgresText::SanitizeUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_EQ(R + R + R + R, PostgresText::SanitizeUtf8("\xF5\x80\x80\x80"));
  // A maximal subpart is one replacement: "\xF0\x9F\x98" then "A".
  EXPECT_EQ(R + "A", PostgresText::SanitizeUtf8("\xF0\x9F\x98" "A"));
  EXPECT_EQ("caf" + R + "\xC3\xA9", PostgresText::SanitizeUtf8("caf\xE9\xC3\xA9"));  // Latin-1 é
}

TEST(PostgresText, SanitizedTextIsAlwaysValid)
{
  // Every string of up to three bytes from a set that covers each class of lead and
  // continuation byte: the result is valid UTF-8 (sanitising it changes nothing) without NUL.
  const unsigned char bytes[] = { 0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                                  0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF };
  const size_t n = sizeof(bytes);
  for (size_t a = 0; a < n; a++)
  {
    for (size_t b = 0; b <= n; b++)
    {
      for (size_t c = 0; c <= n; c++)
      {
        std::string text(1, static_cast<char>(bytes[a]));
        if (b < n)
        {
          text += static_cast<char>(bytes[b]);
        }
        if (c < n)
        {
          text += static_cast<char>(bytes[c]);
        }
        const std::string sanitized = PostgresText::SanitizeUtf8(text);
        ASSERT_EQ(sanitized, PostgresText::SanitizeUtf8(sanitized));
        ASSERT_EQ(std::string::npos, sanitized.find('\0'));
      }
    }
  }
}

TEST(PostgresText, IntegersAreParsedStrictly)
{
  EXPECT_EQ(0, PostgresText::ParseInteger("0"));
  EXPECT_EQ(-42, PostgresText::ParseInteger("-42"));
  EXPECT_EQ(INT64_MAX, PostgresText::ParseInteger("9223372036854775807"));
  EXPECT_EQ(INT64_MIN, PostgresText::ParseInteger("-9223372036854775808"));
  for (const char* bad : { "", "-", " 1", "1 ", "+1", "1.5", "0x10", "12a", "t",
                           "9223372036854775808", "-9223372036854775809" })
  {
    EXPECT_THROW(PostgresText::ParseInteger(bad), Orthanc::OrthancException) << bad;
  }
}

TEST(PostgresText, ByteaHexIsDecoded)
{
  EXPECT_EQ("", PostgresText::DecodeBytea("\\x"));
  EXPECT_EQ(std::string("\x00\xff\x10", 3), PostgresText::DecodeBytea("\\x00ff10"));
  EXPECT_EQ("\xAB", PostgresText::DecodeBytea("\\xAb"));
  for (const char* bad : { "", "00", "\\x0", "\\xzz", "\\000" })
  {
    EXPECT_THROW(PostgresText::DecodeBytea(bad), Orthanc::OrthancException) << bad;
  }
}

TEST(PostgresText, LockKeyIsStableAndPerSchema)
{
  // The key must not change between versions: Orthancs of two versions during a rolling
  // upgrade take the same lock.
  EXPECT_EQ(PostgresText::AdvisoryLockKey("inbound"), PostgresText::AdvisoryLockKey("inbound"));
  EXPECT_NE(PostgresText::AdvisoryLockKey("inbound"), PostgresText::AdvisoryLockKey("inbound2"));
  EXPECT_EQ(INT64_C(4101556713433393849), PostgresText::AdvisoryLockKey("inbound"));
}

// ---------------------------------------------------------------------------- PostgresConnection

TEST(PostgresConnection, ValuesComeBackAsTheyWereBound)
{
  std::unique_ptr<ILedgerConnection> c = Open(InboundTests::NewPostgresLocation());
  EXPECT_EQ(LedgerDialect_PostgreSQL, c->GetDialect());
  c->Execute("CREATE TABLE t (i BIGINT, s TEXT, b BYTEA)");

  std::string blob;
  for (int i = 0; i < 256; i++)
  {
    blob += static_cast<char>(i);
  }
  c->Begin();
  {
    LedgerStatement s(*c, "INSERT INTO t (i, s, b) VALUES (?, ?, ?)");
    s.BindInt64(0, INT64_MIN);
    s.BindString(1, "caf\xC3\xA9 'quoted' ? \\ %");
    s.BindBlob(2, blob.data(), blob.size());
    EXPECT_TRUE(s.Run());
  }
  EXPECT_EQ(1, c->GetLastChangeCount());
  {
    LedgerStatement s(*c, "INSERT INTO t (i, s, b) VALUES (?, ?, ?)");  // the cached statement
    s.BindInt(0, 7);
    s.BindNull(1);
    // parameter 2 left unbound: NULL, as in SQLite
    EXPECT_TRUE(s.Run());
  }
  c->Commit();

  LedgerStatement s(*c, "SELECT i, s, b, i = ? FROM t ORDER BY i");
  s.BindInt64(0, 7);
  ASSERT_TRUE(s.Step());
  EXPECT_EQ(4, s.ColumnCount());
  EXPECT_EQ(INT64_MIN, s.ColumnInt64(0));
  EXPECT_EQ("caf\xC3\xA9 'quoted' ? \\ %", s.ColumnString(1));
  EXPECT_EQ(blob, s.ColumnBlob(2));
  EXPECT_EQ(0, s.ColumnInt(3));  // a boolean reads as 0/1, as in SQLite
  EXPECT_THROW(s.ColumnInt(0), Orthanc::OrthancException);  // beyond 32 bits
  ASSERT_TRUE(s.Step());
  EXPECT_EQ(7, s.ColumnInt(0));
  EXPECT_TRUE(s.ColumnIsNull(1));
  EXPECT_EQ("", s.ColumnString(1));
  EXPECT_TRUE(s.ColumnIsNull(2));
  EXPECT_EQ("", s.ColumnBlob(2));
  EXPECT_EQ(1, s.ColumnInt(3));
  EXPECT_FALSE(s.Step());
  EXPECT_FALSE(s.Step());
  EXPECT_THROW(s.ColumnInt(0), Orthanc::OrthancException);  // no row
}

TEST(PostgresConnection, BindingChecksIndexesAndTextIsMadeValid)
{
  std::unique_ptr<ILedgerConnection> c = Open(InboundTests::NewPostgresLocation());
  {
    LedgerStatement s(*c, "SELECT CAST(? AS TEXT) || '?'");
    EXPECT_THROW(s.BindString(1, "x"), Orthanc::OrthancException);
    EXPECT_THROW(s.BindInt(-1, 1), Orthanc::OrthancException);
    s.BindString(0, std::string("a\0b\xFF", 4));
    ASSERT_TRUE(s.Step());
    EXPECT_EQ("a\xEF\xBF\xBD" "b\xEF\xBF\xBD?", s.ColumnString(0));
    EXPECT_THROW(s.ColumnString(1), Orthanc::OrthancException);
  }
  {
    LedgerStatement s(*c, "SELECT SUM(x), COUNT(*) FROM (VALUES (CAST(? AS BIGINT)), (5)) v(x)");
    s.BindInt64(0, 4000000000);
    ASSERT_TRUE(s.Step());
    EXPECT_EQ(4000000005, s.ColumnInt64(0));  // numeric, read as an integer
    EXPECT_EQ(2, s.ColumnInt(1));
  }
  {
    LedgerStatement s(*c, "SELECT 1.5");
    ASSERT_TRUE(s.Step());
    EXPECT_THROW(s.ColumnInt64(0), Orthanc::OrthancException);  // never rounded silently
  }
}

TEST(PostgresConnection, ChangesAndInsertedIds)
{
  std::unique_ptr<ILedgerConnection> c = Open(InboundTests::NewPostgresLocation());
  c->Execute("CREATE TABLE q (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
             " k TEXT UNIQUE, n BIGINT NOT NULL)");
  c->Begin();
  for (const char* k : { "a", "b", "c" })
  {
    LedgerStatement s(*c, "INSERT INTO q (k, n) VALUES (?, 1)");
    s.BindString(0, k);
    s.Run();
    EXPECT_EQ(1, c->GetLastChangeCount());
  }
  EXPECT_EQ(3, c->GetLastInsertRowId());
  {
    LedgerStatement s(*c, "INSERT INTO q (k, n) VALUES (?, 1) ON CONFLICT (k) DO NOTHING");
    s.BindString(0, "a");
    s.Run();
    EXPECT_EQ(0, c->GetLastChangeCount());
  }
  {
    LedgerStatement s(*c, "UPDATE q SET n = n + 1 WHERE k <> ?");
    s.BindString(0, "a");
    s.Run();
    EXPECT_EQ(2, c->GetLastChangeCount());
  }
  {
    LedgerStatement s(*c, "SELECT n FROM q WHERE k = ?");  // a SELECT leaves the count
    s.BindString(0, "b");
    ASSERT_TRUE(s.Step());
    EXPECT_EQ(2, s.ColumnInt(0));
    EXPECT_EQ(2, c->GetLastChangeCount());
  }
  {
    LedgerStatement s(*c, "DELETE FROM q");
    EXPECT_TRUE(s.Run());
    EXPECT_EQ(3, c->GetLastChangeCount());
  }
  c->Commit();
}

TEST(PostgresConnection, RollbackForgetsAndAFailedTransactionDoesNotCommit)
{
  std::unique_ptr<ILedgerConnection> c = Open(InboundTests::NewPostgresLocation());
  c->Execute("CREATE TABLE r (k TEXT PRIMARY KEY)");
  c->Begin();
  c->Execute("INSERT INTO r VALUES ('kept')");
  c->Commit();

  c->Begin();
  c->Execute("INSERT INTO r VALUES ('forgotten')");
  c->Rollback();
  EXPECT_EQ(1, QueryInt(*c, "SELECT COUNT(*) FROM r"));

  // A statement that fails inside a transaction: PostgreSQL answers the COMMIT with a
  // ROLLBACK; the connection reports it rather than pretending.
  c->Begin();
  c->Execute("INSERT INTO r VALUES ('second')");
  EXPECT_EQ(Orthanc::ErrorCode_Database,
            CodeOf([&] { c->Execute("INSERT INTO r VALUES ('kept')"); }));
  EXPECT_EQ(Orthanc::ErrorCode_Database, CodeOf([&] { c->Commit(); }));
  EXPECT_EQ(1, QueryInt(*c, "SELECT COUNT(*) FROM r"));

  EXPECT_EQ(Orthanc::ErrorCode_BadSequenceOfCalls, CodeOf([&] { c->Commit(); }));
  c->Rollback();  // harmless without a transaction
  c->Begin();
  EXPECT_EQ(Orthanc::ErrorCode_BadSequenceOfCalls, CodeOf([&] { c->Begin(); }));
  c->Rollback();
}

TEST(PostgresConnection, SettingsOfTheConnectionAndTheTransaction)
{
  const LedgerLocation location = InboundTests::NewPostgresLocation();
  std::unique_ptr<ILedgerConnection> c = Open(location);
  EXPECT_EQ("30s", QueryString(*c, "SHOW statement_timeout"));
  // A frozen or partitioned node loses its session, and the ledger's lock, within a minute.
  EXPECT_EQ("35s", QueryString(*c, "SHOW idle_in_transaction_session_timeout"));
  EXPECT_EQ("10", QueryString(*c, "SHOW tcp_keepalives_idle"));
  EXPECT_EQ("5", QueryString(*c, "SHOW tcp_keepalives_interval"));
  EXPECT_EQ("3", QueryString(*c, "SHOW tcp_keepalives_count"));
  EXPECT_EQ(location.postgresSchema, QueryString(*c, "SHOW search_path"));  // nothing else
  EXPECT_EQ(location.postgresSchema, QueryString(*c, "SELECT current_schema()"));

  c->Begin(true);
  EXPECT_EQ("off", QueryString(*c, "SHOW synchronous_commit"));
  c->Commit();
  c->Begin();
  EXPECT_EQ("on", QueryString(*c, "SHOW synchronous_commit"));
  // The ledger's advisory lock is held by the transaction.
  EXPECT_EQ(1, QueryInt(*c, "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'"
                            " AND pid = pg_backend_pid() AND granted"));
  c->Commit();
  EXPECT_EQ(0, QueryInt(*c, "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'"
                            " AND pid = pg_backend_pid()"));
}

TEST(PostgresConnection, TransactionsOfTwoConnectionsRunOneAfterTheOther)
{
  const LedgerLocation location = InboundTests::NewPostgresLocation();
  std::unique_ptr<ILedgerConnection> first = Open(location);
  std::unique_ptr<ILedgerConnection> second = Open(location);
  LedgerLocation elsewhere = location;
  elsewhere.postgresSchema = InboundTests::NewPostgresSchema();
  std::unique_ptr<ILedgerConnection> other = Open(elsewhere);

  first->Begin();
  std::atomic<bool> began(false);
  std::thread waiter([&] {
    second->Begin();
    began = true;
    second->Commit();
  });
  // Another ledger (schema) is not held up.
  other->Begin();
  other->Commit();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(began);  // waits for the ledger's lock
  first->Commit();
  waiter.join();
  EXPECT_TRUE(began);
}

TEST(PostgresConnection, ALostConnectionIsUnavailableThenConnectsAgain)
{
  const LedgerLocation location = InboundTests::NewPostgresLocation();
  std::unique_ptr<ILedgerConnection> c = Open(location);
  std::unique_ptr<ILedgerConnection> admin = Open(location);
  c->Execute("CREATE TABLE l (k TEXT)");
  const int64_t pid = QueryInt(*c, "SELECT pg_backend_pid()");

  // Killed in the middle of a transaction: the statement fails as "unavailable", the
  // transaction is gone, the next Begin() connects again.
  c->Begin();
  {
    LedgerStatement s(*c, "INSERT INTO l VALUES (?)");
    s.BindString(0, "before");
    s.Run();
  }
  admin->Execute("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
  std::string message;
  EXPECT_EQ(Orthanc::ErrorCode_DatabaseUnavailable, CodeOf([&] {
    LedgerStatement s(*c, "INSERT INTO l VALUES (?)");
    s.BindString(0, "after");
    s.Run();
  }, &message));
  EXPECT_NE(std::string::npos, message.find("127.0.0.1")) << message;
  EXPECT_NE(std::string::npos, message.find("next transaction connects again")) << message;
  // Nothing runs outside a transaction of the new connection.
  EXPECT_EQ(Orthanc::ErrorCode_DatabaseUnavailable,
            CodeOf([&] { LedgerStatement s(*c, "SELECT 1"); s.Step(); }));
  c->Rollback();

  c->Begin();
  const int64_t pid2 = QueryInt(*c, "SELECT pg_backend_pid()");
  EXPECT_NE(pid, pid2);
  {
    LedgerStatement s(*c, "INSERT INTO l VALUES (?)");  // prepared again on the new one
    s.BindString(0, "again");
    s.Run();
  }
  c->Commit();
  EXPECT_EQ("again", QueryString(*c, "SELECT string_agg(k, ',') FROM l"));

  // Killed while idle (a server restart between two transactions): the next Begin()
  // notices and connects again without an error.
  admin->Execute("SELECT pg_terminate_backend(" + std::to_string(pid2) + ")");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  c->Begin();
  EXPECT_NE(pid2, QueryInt(*c, "SELECT pg_backend_pid()"));
  c->Commit();
}

TEST(PostgresConnection, AnUnreachableServerIsUnavailableWithoutThePassword)
{
  const std::string uri = InboundTests::PostgresUri();
  // The test server's URI with its port replaced by one nobody listens on, and with a
  // wrong password: neither message may show the password.
  const size_t at = uri.find('@');
  const size_t colon = uri.find(':', at);
  const size_t slash = uri.find('/', colon);
  ASSERT_TRUE(at != std::string::npos && colon != std::string::npos && slash != std::string::npos);
  const size_t passwordStart = uri.find(':', uri.find("//") + 2) + 1;
  const std::string password = uri.substr(passwordStart, at - passwordStart);
  ASSERT_FALSE(password.empty());

  LedgerLocation closed;
  closed.dialect = LedgerDialect_PostgreSQL;
  closed.postgresUri = uri.substr(0, colon) + ":1" + uri.substr(slash);
  std::string message;
  EXPECT_EQ(Orthanc::ErrorCode_DatabaseUnavailable, CodeOf([&] { Open(closed); }, &message));
  EXPECT_EQ(std::string::npos, message.find(password)) << message;
  EXPECT_NE(std::string::npos, message.find("127.0.0.1:1")) << message;

  LedgerLocation wrong;
  wrong.dialect = LedgerDialect_PostgreSQL;
  wrong.postgresUri = uri.substr(0, passwordStart) + "not-" + password + uri.substr(at);
  EXPECT_EQ(Orthanc::ErrorCode_DatabaseUnavailable, CodeOf([&] { Open(wrong); }, &message));
  EXPECT_EQ(std::string::npos, message.find(password)) << message;
  EXPECT_NE(std::string::npos, message.find("password authentication failed")) << message;
}

namespace
{
  // table -> its columns in order, of a ledger just created.
  typedef std::map<std::string, std::vector<std::string>> Columns;

  Columns SqliteColumns()
  {
    LedgerLocation location;
    std::unique_ptr<ILedgerConnection> c = OpenLedgerConnection(location);
    CreateOrUpgradeSqliteSchema(*c, "in memory");
    Columns columns;
    LedgerStatement tables(*c, "SELECT name FROM sqlite_master WHERE type = 'table'"
                               " AND name NOT LIKE 'sqlite_%'");
    while (tables.Step())
    {
      const std::string table = tables.ColumnString(0);
      LedgerStatement s(*c, "SELECT name FROM pragma_table_info('" + table + "') ORDER BY cid");
      while (s.Step())
      {
        columns[table].push_back(s.ColumnString(0));
      }
    }
    return columns;
  }

  std::set<std::string> SqliteIndexes()
  {
    LedgerLocation location;
    std::unique_ptr<ILedgerConnection> c = OpenLedgerConnection(location);
    CreateOrUpgradeSqliteSchema(*c, "in memory");
    std::set<std::string> indexes;
    LedgerStatement s(*c, "SELECT name FROM sqlite_master WHERE type = 'index'"
                          " AND name NOT LIKE 'sqlite_autoindex%'");
    while (s.Step())
    {
      indexes.insert(s.ColumnString(0));
    }
    return indexes;
  }
}

TEST(PostgresConnection, TheSchemaIsTheSqliteOneOnPostgres)
{
  const LedgerLocation location = InboundTests::NewPostgresLocation();
  std::unique_ptr<ILedgerConnection> c = Open(location);
  CreateOrUpgradePostgresSchema(*c, "schema \"" + location.postgresSchema + "\"");
  EXPECT_EQ(std::to_string(LedgerDatabase::kSchemaVersion),
            QueryString(*c, "SELECT value FROM ledger_meta WHERE key = 'schema-version'"));

  Columns columns;
  {
    LedgerStatement s(*c, "SELECT table_name, column_name FROM information_schema.columns"
                          " WHERE table_schema = ? AND table_name <> 'ledger_meta'"
                          " ORDER BY table_name, ordinal_position");
    s.BindString(0, location.postgresSchema);
    while (s.Step())
    {
      columns[s.ColumnString(0)].push_back(s.ColumnString(1));
    }
  }
  // items.rowid stands for SQLite's implicit one (the stores order items by it), after the
  // columns of schema 9; what later schemas add follows it, on a new ledger as on an upgraded.
  std::vector<std::string>& items = columns["items"];
  const auto rowid = std::find(items.begin(), items.end(), "rowid");
  ASSERT_TRUE(rowid != items.end());
  EXPECT_EQ("original_patient_id_bytes", *(rowid - 1));
  items.erase(rowid);
  EXPECT_EQ(SqliteColumns(), columns);

  // Every integer is 64 bits; blobs are bytea.
  EXPECT_EQ(0, QueryInt(*c, "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema"
                            " = current_schema() AND data_type IN ('integer', 'smallint')"));
  EXPECT_EQ("bytea", QueryString(*c, "SELECT data_type FROM information_schema.columns WHERE"
                                     " table_schema = current_schema() AND table_name = 'patients'"
                                     " AND column_name = 'original'"));

  std::set<std::string> indexes;
  {
    // The indexes made by CREATE INDEX (not those of primary keys and UNIQUE constraints).
    LedgerStatement s(*c, "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                          " AND indexname NOT IN (SELECT conname FROM pg_constraint)");
    while (s.Step())
    {
      indexes.insert(s.ColumnString(0));
    }
  }
  EXPECT_EQ(SqliteIndexes(), indexes);

  // Identity ids count from 1 and an explicit id is accepted (BY DEFAULT).
  c->Begin();
  c->Execute("INSERT INTO audit (time, event, upload_id, ip, detail) VALUES (1, 'e', '', '', '')");
  EXPECT_EQ(1, c->GetLastInsertRowId());
  c->Execute("INSERT INTO audit (seq, time, event, upload_id, ip, detail)"
             " VALUES (100, 1, 'e', '', '', '')");
  c->Rollback();

  // Opening it again changes nothing and keeps what it holds.
  c->Begin();
  c->Execute("INSERT INTO bans (entry, created_at, until, reason, automatic)"
             " VALUES ('ip:192.0.2.1', 1, 2, 'r', 0)");
  c->Commit();
  CreateOrUpgradePostgresSchema(*c, "again");
  EXPECT_EQ(1, QueryInt(*c, "SELECT COUNT(*) FROM bans"));
}

TEST(PostgresConnection, ALedgerOfSchema9GetsTheMetadataOwedColumn)
{
  const LedgerLocation location = InboundTests::NewPostgresLocation();
  std::unique_ptr<ILedgerConnection> c = Open(location);
  CreateOrUpgradePostgresSchema(*c, "first");
  c->Begin();
  c->Execute("INSERT INTO uploads (id, token_hash, state, created_at, updated_at, completed_at,"
             " sender_name, sender_email, sender_institution, sender_phone, recipient, message,"
             " consent_version, client_ip, user_agent, expected_files, expected_bytes,"
             " receipt_code, files, bytes, purged) VALUES ('U1', 'h', 'open', 1, 1, 0, '', '',"
             " '', '', '', '', '', '', '', 0, 0, '', 1, 1, 0);"
             "INSERT INTO items (upload_id, sha256, size, sop_uid, series_uid, study_uid,"
             " modality, study_date, study_description, original_patient_id,"
             " isolated_patient_id, orthanc_instance, orthanc_series, orthanc_study,"
             " orthanc_patient, stored_at) VALUES ('U1', 'aa', 1, '1', '2', '3', 'CT', '', '',"
             " 'P', 'I', 'i', 's', 'st', 'p', 1);");
  // As schema 9 left it.
  c->Execute("DROP INDEX items_unannotated; ALTER TABLE items DROP COLUMN annotated;"
             "UPDATE ledger_meta SET value = '9' WHERE key = 'schema-version'");
  c->Commit();
  CreateOrUpgradePostgresSchema(*c, "upgraded");
  EXPECT_EQ("10", QueryString(*c, "SELECT value FROM ledger_meta WHERE key = 'schema-version'"));
  // The item stored before owes nothing: its metadata were written before its answer.
  EXPECT_EQ(1, QueryInt(*c, "SELECT annotated FROM items WHERE sha256 = 'aa'"));
  EXPECT_EQ(1, QueryInt(*c, "SELECT COUNT(*) FROM pg_indexes WHERE schemaname ="
                            " current_schema() AND indexname = 'items_unannotated'"));
}

TEST(PostgresConnection, ALedgerOfANewerVersionIsRefusedAndLeftAsItIs)
{
  const LedgerLocation location = InboundTests::NewPostgresLocation();
  std::unique_ptr<ILedgerConnection> c = Open(location);
  CreateOrUpgradePostgresSchema(*c, "first");
  const int newer = LedgerDatabase::kSchemaVersion + 1;
  c->Execute("UPDATE ledger_meta SET value = '" + std::to_string(newer) +
             "' WHERE key = 'schema-version'");
  std::string message;
  EXPECT_EQ(Orthanc::ErrorCode_IncompatibleDatabaseVersion, CodeOf([&] {
    CreateOrUpgradePostgresSchema(*c, "schema \"" + location.postgresSchema + "\"");
  }, &message));
  EXPECT_NE(std::string::npos, message.find("schema \"" + location.postgresSchema + "\"")) << message;
  EXPECT_NE(std::string::npos, message.find("newer version of Orthanc Inbound (schema " +
                                            std::to_string(newer))) << message;
  EXPECT_EQ(std::to_string(newer),
            QueryString(*c, "SELECT value FROM ledger_meta WHERE key = 'schema-version'"));
  // The connection is usable afterwards (the failed transaction was rolled back).
  c->Begin();
  c->Commit();
}

TEST(PostgresConnection, TwoOrthancsCreatingTheLedgerAtOnce)
{
  const LedgerLocation location = InboundTests::NewPostgresLocation();  // not created yet
  std::vector<std::thread> threads;
  std::atomic<int> failures(0);
  for (int i = 0; i < 4; i++)
  {
    threads.emplace_back([&] {
      try
      {
        std::unique_ptr<ILedgerConnection> c = Open(location);
        CreateOrUpgradePostgresSchema(*c, "concurrent");
      }
      catch (...)
      {
        failures++;
      }
    });
  }
  for (std::thread& t : threads)
  {
    t.join();
  }
  EXPECT_EQ(0, failures);
  std::unique_ptr<ILedgerConnection> c = Open(location);
  EXPECT_EQ(1, QueryInt(*c, "SELECT COUNT(*) FROM ledger_meta"));
}

TEST(PostgresConnection, ALockHeldTooLongIsUnavailableAndTheConnectionStays)
{
  const LedgerLocation location = InboundTests::NewPostgresLocation();
  std::unique_ptr<ILedgerConnection> holder = Open(location);
  std::unique_ptr<ILedgerConnection> waiter = Open(location);
  waiter->Execute("SET statement_timeout = '300ms'");  // 30 s in production
  const int64_t pid = QueryInt(*waiter, "SELECT pg_backend_pid()");

  holder->Begin();
  std::string message;
  EXPECT_EQ(Orthanc::ErrorCode_DatabaseUnavailable, CodeOf([&] { waiter->Begin(); }, &message));
  EXPECT_NE(std::string::npos, message.find("57014")) << message;
  holder->Commit();

  waiter->Begin(true);  // the same connection, not in a transaction any more
  EXPECT_EQ(pid, QueryInt(*waiter, "SELECT pg_backend_pid()"));
  waiter->Commit();
}

namespace
{
  // A TCP relay from a port of 127.0.0.1 to the test server: Stop() is the server going away
  // for the connection (its sockets closed, the port refusing), Start() it coming back on
  // the same port.
  class Relay
  {
  private:
    int serverPort_;
    int port_ = 0;
    int listener_ = -1;
    std::atomic<bool> running_{false};
    std::thread thread_;

    static void Pump(int client, int server, const std::atomic<bool>& running)
    {
      char buffer[16384];
      pollfd fds[2] = { { client, POLLIN, 0 }, { server, POLLIN, 0 } };
      while (running)
      {
        if (poll(fds, 2, 50) <= 0)
        {
          continue;
        }
        for (int i = 0; i < 2; i++)
        {
          if (fds[i].revents != 0)
          {
            const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
            if (n <= 0 || write(fds[1 - i].fd, buffer, n) != n)
            {
              return;
            }
          }
        }
      }
    }

    void Run()
    {
      std::vector<std::thread> pumps;
      std::vector<int> sockets;
      while (running_)
      {
        pollfd fd = { listener_, POLLIN, 0 };
        if (poll(&fd, 1, 50) <= 0)
        {
          continue;
        }
        const int client = accept(listener_, nullptr, nullptr);
        if (client < 0)
        {
          continue;
        }
        const int server = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address = {};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<uint16_t>(serverPort_));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(server, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
        {
          close(client);
          close(server);
          continue;
        }
        sockets.push_back(client);
        sockets.push_back(server);
        pumps.emplace_back(Pump, client, server, std::cref(running_));
      }
      for (std::thread& pump : pumps)
      {
        pump.join();
      }
      for (int socket : sockets)
      {
        close(socket);
      }
    }

  public:
    explicit Relay(int serverPort) :
      serverPort_(serverPort)
    {
    }

    ~Relay()
    {
      Stop();
    }

    int GetPort() const
    {
      return port_;
    }

    void Start()
    {
      listener_ = socket(AF_INET, SOCK_STREAM, 0);
      const int yes = 1;
      setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      sockaddr_in address = {};
      address.sin_family = AF_INET;
      address.sin_port = htons(static_cast<uint16_t>(port_));
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ASSERT_EQ(0, bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)));
      ASSERT_EQ(0, listen(listener_, 8));
      socklen_t length = sizeof(address);
      getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
      port_ = ntohs(address.sin_port);
      running_ = true;
      thread_ = std::thread([this] { Run(); });
    }

    void Stop()
    {
      if (running_)
      {
        running_ = false;
        thread_.join();
        close(listener_);
        listener_ = -1;
      }
    }
  };

  // "uri" (postgresql://user:password@127.0.0.1:port/db) with another port.
  std::string WithPort(const std::string& uri, int port, int* oldPort = nullptr)
  {
    const size_t at = uri.find('@');
    const size_t colon = uri.find(':', at);
    const size_t slash = uri.find('/', colon);
    if (oldPort != nullptr)
    {
      *oldPort = std::stoi(uri.substr(colon + 1, slash - colon - 1));
    }
    return uri.substr(0, colon + 1) + std::to_string(port) + uri.substr(slash);
  }
}

TEST(PostgresConnection, TheServerGoneAndBack)
{
  LedgerLocation location = InboundTests::NewPostgresLocation();
  int serverPort = 0;
  WithPort(location.postgresUri, 0, &serverPort);
  Relay relay(serverPort);
  relay.Start();
  location.postgresUri = WithPort(location.postgresUri, relay.GetPort());
  std::unique_ptr<ILedgerConnection> c = Open(location);
  CreateOrUpgradePostgresSchema(*c, "relayed");
  c->Begin();
  c->Execute("INSERT INTO cursors (name, seq) VALUES ('before', 1)");
  c->Commit();

  // Gone in the middle of a transaction: that statement, then every Begin(), is
  // "unavailable"; while it stays away, Begin() tries to connect at most every 2 s.
  c->Begin();
  relay.Stop();
  std::string message;
  EXPECT_EQ(Orthanc::ErrorCode_DatabaseUnavailable, CodeOf([&] {
    c->Execute("INSERT INTO cursors (name, seq) VALUES ('lost', 1)");
  }, &message));
  c->Rollback();
  EXPECT_EQ(Orthanc::ErrorCode_DatabaseUnavailable, CodeOf([&] { c->Begin(); }, &message));
  EXPECT_NE(std::string::npos, message.find("cannot be reached")) << message;
  EXPECT_EQ(std::string::npos, message.find("not tried again")) << message;
  EXPECT_EQ(Orthanc::ErrorCode_DatabaseUnavailable, CodeOf([&] { c->Begin(); }, &message));
  EXPECT_NE(std::string::npos, message.find("not tried again for 2 s")) << message;

  // Back: the first Begin() after the delay connects again, prepares its statements again.
  relay.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  c->Begin();
  {
    LedgerStatement s(*c, "INSERT INTO cursors (name, seq) VALUES (?, ?)");
    s.BindString(0, "after");
    s.BindInt64(1, 2);
    s.Run();
  }
  c->Commit();
  EXPECT_EQ("after,before", QueryString(*c, "SELECT string_agg(name, ',' ORDER BY name) FROM cursors"));
}

TEST(PostgresConnection, ARequestWaitsForTheLedgerThirtySecondsAtMost)
{
  // Another node holds the ledger-wide lock (hung inside a transaction): every session of
  // this one, those queued behind the first on the in-process mutex too, gives up within the
  // 30 s of statement_timeout with "unavailable" (503), not one 30 s after the other.
  const LedgerLocation location = InboundTests::NewPostgresLocation();
  LedgerDatabase database(location);
  AuditStore audit(database);
  std::unique_ptr<ILedgerConnection> other = Open(location);
  other->Begin();

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  std::atomic<int> unavailable(0);
  for (int i = 0; i < 3; i++)
  {
    threads.emplace_back([&] {
      if (CodeOf([&] { audit.Add(1, AuditEventType_Ban, "", "192.0.2.1", ""); }) ==
          Orthanc::ErrorCode_DatabaseUnavailable)
      {
        unavailable++;
      }
    });
  }
  for (std::thread& t : threads)
  {
    t.join();
  }
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
    std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(3, unavailable);
  EXPECT_LE(seconds, 33);
  other->Rollback();

  // The lock free again: the next request goes through at once.
  audit.Add(2, AuditEventType_Ban, "", "192.0.2.1", "");
  EXPECT_EQ(1u, audit.List(0, 10).size());
}
