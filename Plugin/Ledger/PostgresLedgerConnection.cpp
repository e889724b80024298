// The ledger on PostgreSQL over libpq (see PostgresLedgerConnection.h, doc/Ledger.md "Two
// databases").
// Over 500 lines: one connection, its text rewriting and its failure handling read together.

#include "PostgresLedgerConnection.h"

#include <OrthancException.h>

#include <libpq-fe.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

namespace Inbound
{
  namespace PostgresText
  {
    std::string RewritePlaceholders(const std::string& sql, int& count)
    {
      std::string result;
      result.reserve(sql.size() + 16);
      count = 0;
      size_t i = 0;
      while (i < sql.size())
      {
        const char c = sql[i];
        if (c == '\'' || c == '"')
        {
          // A literal or a quoted identifier, copied as it is: a doubled quote inside it is
          // read as the end of one and the start of the next, which copies the same.
          const size_t end = sql.find(c, i + 1);
          if (end == std::string::npos)
          {
            throw Orthanc::OrthancException(Orthanc::ErrorCode_BadParameterType,
                                            "Unterminated quote in the SQL: " + sql, false);
          }
          result.append(sql, i, end + 1 - i);
          i = end + 1;
        }
        else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-')
        {
          size_t end = sql.find('\n', i);
          end = (end == std::string::npos ? sql.size() : end);
          result.append(sql, i, end - i);
          i = end;
        }
        else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*')
        {
          const size_t end = sql.find("*/", i + 2);
          if (end == std::string::npos)
          {
            throw Orthanc::OrthancException(Orthanc::ErrorCode_BadParameterType,
                                            "Unterminated comment in the SQL: " + sql, false);
          }
          result.append(sql, i, end + 2 - i);
          i = end + 2;
        }
        else if (c == '?')
        {
          if (i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9')
          {
            throw Orthanc::OrthancException(Orthanc::ErrorCode_BadParameterType,
                                            "Numbered parameters (?NNN) are not supported: " +
                                              sql, false);
          }
          count++;
          result += "$" + std::to_string(count);
          i++;
        }
        else
        {
          result += c;
          i++;
        }
      }
      return result;
    }

    std::string SanitizeUtf8(const std::string& text)
    {
      static const char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD
      std::string result;
      result.reserve(text.size());
      const size_t size = text.size();
      size_t i = 0;
      while (i < size)
      {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c >= 0x01 && c <= 0x7F)
        {
          result += static_cast<char>(c);
          i++;
          continue;
        }

        // The length of the sequence and the range of its second byte (Unicode 15, table
        // 3-7 "Well-Formed UTF-8 Byte Sequences"): no overlong forms, no surrogates, nothing
        // above U+10FFFF.
        size_t length = 0;
        unsigned char low = 0x80, high = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
        {
          length = 2;
        }
        else if (c >= 0xE0 && c <= 0xEF)
        {
          length = 3;
          low = (c == 0xE0 ? 0xA0 : 0x80);
          high = (c == 0xED ? 0x9F : 0xBF);
        }
        else if (c >= 0xF0 && c <= 0xF4)
        {
          length = 4;
          low = (c == 0xF0 ? 0x90 : 0x80);
          high = (c == 0xF4 ? 0x8F : 0xBF);
        }

        if (length == 0)  // NUL, a continuation byte alone, C0, C1, F5..FF
        {
          result += kReplacement;
          i++;
          continue;
        }

        // The longest valid prefix of the sequence; if it is not the whole sequence, that
        // prefix (the "maximal subpart") becomes one U+FFFD and reading resumes after it.
        size_t valid = 1;
        while (valid < length && i + valid < size)
        {
          const unsigned char next = static_cast<unsigned char>(text[i + valid]);
          const unsigned char min = (valid == 1 ? low : 0x80);
          const unsigned char max = (valid == 1 ? high : 0xBF);
          if (next < min || next > max)
          {
            break;
          }
          valid++;
        }
        if (valid == length)
        {
          result.append(text, i, length);
        }
        else
        {
          result += kReplacement;
        }
        i += valid;
      }
      return result;
    }

    int64_t AdvisoryLockKey(const std::string& schema)
    {
      uint64_t hash = 14695981039346656037ull;  // FNV-1a, 64 bits
      const std::string text = "orthanc-inbound-ledger:" + schema;
      for (char c : text)
      {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ull;
      }
      int64_t key;
      memcpy(&key, &hash, sizeof(key));  // the same bits, as PostgreSQL's signed bigint
      return key;
    }

    int64_t ParseInteger(const std::string& text)
    {
      size_t i = (!text.empty() && text[0] == '-') ? 1 : 0;
      if (i == text.size())
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                        "Not an integer from PostgreSQL: \"" + text + "\"", false);
      }
      for (size_t j = i; j < text.size(); j++)
      {
        if (text[j] < '0' || text[j] > '9')
        {
          throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                          "Not an integer from PostgreSQL: \"" + text + "\"",
                                          false);
        }
      }
      errno = 0;
      char* end = nullptr;
      const long long value = strtoll(text.c_str(), &end, 10);
      if (errno == ERANGE || end != text.c_str() + text.size())
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                        "Integer out of range from PostgreSQL: " + text, false);
      }
      return static_cast<int64_t>(value);
    }

    static int HexValue(char c)
    {
      if (c >= '0' && c <= '9')
      {
        return c - '0';
      }
      if (c >= 'a' && c <= 'f')
      {
        return c - 'a' + 10;
      }
      if (c >= 'A' && c <= 'F')
      {
        return c - 'A' + 10;
      }
      return -1;
    }

    std::string DecodeBytea(const std::string& text)
    {
      if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                        "A bytea value from PostgreSQL is not in hex format",
                                        false);
      }
      std::string bytes;
      bytes.reserve((text.size() - 2) / 2);
      for (size_t i = 2; i < text.size(); i += 2)
      {
        const int high = HexValue(text[i]);
        const int low = HexValue(text[i + 1]);
        if (high < 0 || low < 0)
        {
          throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                          "A bytea value from PostgreSQL is not in hex format",
                                          false);
        }
        bytes += static_cast<char>(high * 16 + low);
      }
      return bytes;
    }
  }

  namespace
  {
    // Type oids of PostgreSQL (src/include/catalog/pg_type.dat), stable since ever.
    const Oid kBoolOid = 16;
    const Oid kByteaOid = 17;

    const std::chrono::seconds kReconnectDelay(2);

    struct ResultDeleter
    {
      void operator()(PGresult* result) const
      {
        PQclear(result);
      }
    };

    typedef std::unique_ptr<PGresult, ResultDeleter> Result;

    // A statement's text as PostgreSQL reads it, and its name once prepared on the current
    // connection (a new connection prepares it again).
    struct CachedStatement
    {
      std::string text;
      int parameters = 0;
      std::string name;
      bool prepared = false;
    };

    void IgnoreNotice(void*, const char*)
    {
      // "schema already exists, skipping" and the like: nothing the operator must read.
    }

    class PostgresConnection : public ILedgerConnection
    {
    private:
      LedgerLocation location_;
      int64_t lockKey_;
      PGconn* connection_ = nullptr;
      std::string server_;  // "host:port, database d, user u" of the last connection
      std::map<std::string, CachedStatement> statements_;  // by the text the stores wrote
      unsigned int nextName_ = 0;
      bool inTransaction_ = false;
      int64_t lastChanges_ = 0;
      // The last failed attempt to connect: the next one waits kReconnectDelay, so that
      // requests queued on the ledger's mutex fail at once rather than each waiting for
      // connect_timeout while the server is away.
      std::chrono::steady_clock::time_point failedAt_;
      std::string failure_;

      static bool IsLostConnection(const char* state)
      {
        // Class 08: connection exception; 57P01..57P03: the server shuts down or starts.
        return state == nullptr || strncmp(state, "08", 2) == 0 ||
               strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
               strcmp(state, "57P03") == 0;
      }

      static bool IsTransient(const char* state)
      {
        // 57014: statement_timeout; class 40: serialization failure, deadlock; class 53:
        // insufficient resources (disk full, out of memory, too many connections); 55P03:
        // lock not available. Worth a retry later: 503.
        return state != nullptr &&
               (strcmp(state, "57014") == 0 || strncmp(state, "40", 2) == 0 ||
                strncmp(state, "53", 2) == 0 || strcmp(state, "55P03") == 0);
      }

      static std::string Trim(const char* message)
      {
        std::string s = (message == nullptr ? "" : message);
        while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        {
          s.pop_back();
        }
        return s;
      }

      void Drop()
      {
        if (connection_ != nullptr)
        {
          PQfinish(connection_);
          connection_ = nullptr;
        }
        for (auto& statement : statements_)
        {
          statement.second.prepared = false;
        }
        inTransaction_ = false;
      }

      [[noreturn]] void ThrowUnavailable(const std::string& what)
      {
        throw Orthanc::OrthancException(
          Orthanc::ErrorCode_DatabaseUnavailable,
          "The ledger's PostgreSQL server (" + server_ + ") " + what, false);
      }

      // Throws for a failed "result" of "sql" (nullptr: libpq gave none). A lost connection
      // is dropped (the next Begin() connects again).
      [[noreturn]] void Fail(const PGresult* result, const std::string& sql)
      {
        const char* state = (result == nullptr ? nullptr :
                             PQresultErrorField(result, PG_DIAG_SQLSTATE));
        std::string message = Trim(result == nullptr ? PQerrorMessage(connection_) :
                                   PQresultErrorMessage(result));
        if (message.empty() && connection_ != nullptr)
        {
          message = Trim(PQerrorMessage(connection_));
        }
        if (connection_ == nullptr || PQstatus(connection_) != CONNECTION_OK ||
            IsLostConnection(state))
        {
          Drop();
          ThrowUnavailable("was lost: " + message + "; the next transaction connects again");
        }
        if (IsTransient(state))
        {
          ThrowUnavailable("did not answer in time or lacks resources (" + std::string(state) +
                           "): " + message);
        }
        throw Orthanc::OrthancException(
          Orthanc::ErrorCode_Database,
          "PostgreSQL refused a statement of the ledger (" +
            std::string(state == nullptr ? "?" : state) + "): " + message + " in: " + sql, false);
      }

      Result Check(PGresult* raw, const std::string& sql)
      {
        Result result(raw);
        const ExecStatusType status = (raw == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(raw));
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        {
          Fail(raw, sql);
        }
        return result;
      }

      PGconn* GetConnection()
      {
        if (connection_ == nullptr)
        {
          ThrowUnavailable("was lost; the next transaction connects again");
        }
        return connection_;
      }

      Result Exec(const std::string& sql)
      {
        PGconn* connection = GetConnection();
        return Check(PQexec(connection, sql.c_str()), sql);
      }

      std::string QuotedSchema()
      {
        char* quoted = PQescapeIdentifier(connection_, location_.postgresSchema.c_str(),
                                          location_.postgresSchema.size());
        if (quoted == nullptr)
        {
          throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                          "Not a schema name: " + location_.postgresSchema,
                                          false);
        }
        std::string result(quoted);
        PQfreemem(quoted);
        return result;
      }

      void Connect()
      {
        Drop();
        const auto now = std::chrono::steady_clock::now();
        if (!failure_.empty() && now - failedAt_ < kReconnectDelay)
        {
          throw Orthanc::OrthancException(Orthanc::ErrorCode_DatabaseUnavailable,
                                          failure_ + " (not tried again for 2 s)", false);
        }
        try
        {
          TryConnect();
          failure_.clear();
        }
        catch (Orthanc::OrthancException& e)
        {
          if (e.GetErrorCode() == Orthanc::ErrorCode_DatabaseUnavailable && connection_ == nullptr)
          {
            failedAt_ = now;
            failure_ = e.GetDetails();
          }
          throw;
        }
      }

      void TryConnect()
      {
        // Our defaults first: what the connection string says overrides them (libpq reads
        // the keywords in order, and the last value of each wins).
        const char* keywords[] = {
          "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
          "keepalives_count", "application_name", "client_encoding", "dbname", nullptr
        };
        const char* values[] = {
          "5", "1", "30", "10", "3", "orthanc-inbound", "UTF8",
          location_.postgresUri.c_str(), nullptr
        };
        PGconn* connection = PQconnectdbParams(keywords, values, 1 /* expand dbname */);
        if (connection == nullptr)
        {
          server_ = "unknown";
          ThrowUnavailable("cannot be reached: out of memory");
        }

        // Names the server without the password (libpq's messages never contain it).
        const char* host = PQhost(connection);
        const char* port = PQport(connection);
        const char* database = PQdb(connection);
        const char* user = PQuser(connection);
        server_ = std::string(host == nullptr || host[0] == '\0' ? "local socket" : host) +
                  ":" + (port == nullptr || port[0] == '\0' ? "5432" : port) +
                  ", database " + (database == nullptr ? "?" : database) +
                  ", user " + (user == nullptr ? "?" : user);

        if (PQstatus(connection) != CONNECTION_OK)
        {
          const std::string message = Trim(PQerrorMessage(connection));
          PQfinish(connection);
          ThrowUnavailable("cannot be reached: " + message);
        }
        connection_ = connection;
        PQsetNoticeProcessor(connection_, IgnoreNotice, nullptr);
        try
        {
          Configure();
        }
        catch (...)
        {
          Drop();  // never a connection without its search_path
          throw;
        }
      }

      void Configure()
      {

        // A statement waiting longer than this on a lock or the disk fails (503, retried)
        // rather than holding the ledger's lock and every Orthanc behind it.
        Exec("SET statement_timeout = '30s'");
        // A node frozen or cut off inside a transaction would keep the ledger-wide lock (and
        // every other Orthanc waiting) until the server notices: the server ends a session
        // idle inside a transaction after 35 s, and probes a silent client after 10 s
        // (3 probes 5 s apart) rather than the system's 2 hours.
        Exec("SET idle_in_transaction_session_timeout = '35s'; SET tcp_keepalives_idle = 10;"
             " SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3");
        const std::string schema = QuotedSchema();

        // The schema, created when missing, under the ledger's lock (two Orthancs starting
        // at once); looked up first, so that a user without CREATE on the database can use
        // a schema its administrator made.
        {
          const std::string name = location_.postgresSchema;
          const char* parameters[] = { name.c_str() };
          Result found = Check(PQexecParams(connection_,
                                            "SELECT 1 FROM pg_namespace WHERE nspname = $1",
                                            1, nullptr, parameters, nullptr, nullptr, 0),
                               "SELECT 1 FROM pg_namespace");
          if (PQntuples(found.get()) == 0)
          {
            Exec("BEGIN");
            try
            {
              Exec("SELECT pg_advisory_xact_lock(" + std::to_string(lockKey_) + ")");
              Exec("CREATE SCHEMA IF NOT EXISTS " + schema);
              Exec("COMMIT");
            }
            catch (...)
            {
              if (connection_ != nullptr)
              {
                PQclear(PQexec(connection_, "ROLLBACK"));
              }
              throw;
            }
          }
        }
        Exec("SET search_path TO " + schema);
      }

      void BeginTransaction(bool relaxedDurability)
      {
        if (inTransaction_)
        {
          throw Orthanc::OrthancException(Orthanc::ErrorCode_BadSequenceOfCalls,
                                          "A transaction of the ledger is already open", false);
        }
        // One round trip: BEGIN, then the ledger's lock. Every transaction of every Orthanc
        // on this ledger runs after the other: what the stores read in a transaction stays
        // true until it commits (doc/Ledger.md).
        std::string begin = "BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(lockKey_) + ")";
        if (relaxedDurability)
        {
          begin += "; SET LOCAL synchronous_commit = off";
        }
        for (int attempt = 0; ; attempt++)
        {
          const bool reused = (connection_ != nullptr && PQstatus(connection_) == CONNECTION_OK);
          if (!reused)
          {
            Connect();
          }
          try
          {
            Exec(begin);
            break;
          }
          catch (Orthanc::OrthancException&)
          {
            if (connection_ != nullptr)
            {
              PQclear(PQexec(connection_, "ROLLBACK"));  // the lock was not had in time
              throw;
            }
            // An idle connection the server closed meanwhile (a restart): connect once more.
            if (attempt > 0 || !reused)
            {
              throw;
            }
          }
        }
        inTransaction_ = true;
      }

    public:
      explicit PostgresConnection(const LedgerLocation& location) :
        location_(location),
        lockKey_(PostgresText::AdvisoryLockKey(location.postgresSchema))
      {
        if (location_.postgresSchema.empty())
        {
          throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                          "The ledger's PostgreSQL schema has no name", false);
        }
        Connect();
      }

      ~PostgresConnection() override
      {
        Drop();
      }

      LedgerDialect GetDialect() const override
      {
        return LedgerDialect_PostgreSQL;
      }

      std::unique_ptr<ILedgerStatement> Prepare(const std::string& sql) override;

      // The statement "cached" with these parameters, prepared first if this connection has
      // not yet.
      Result ExecutePrepared(const std::string& sql, CachedStatement& cached,
                             const std::vector<const char*>& values,
                             const std::vector<int>& lengths, const std::vector<int>& formats)
      {
        PGconn* connection = GetConnection();
        if (!cached.prepared)
        {
          Check(PQprepare(connection, cached.name.c_str(), cached.text.c_str(), 0, nullptr), sql);
          cached.prepared = true;
        }
        Result result = Check(PQexecPrepared(connection, cached.name.c_str(), cached.parameters,
                                             values.data(), lengths.data(), formats.data(), 0),
                              sql);
        const char* status = PQcmdStatus(result.get());
        if (strncmp(status, "INSERT", 6) == 0 || strncmp(status, "UPDATE", 6) == 0 ||
            strncmp(status, "DELETE", 6) == 0 || strncmp(status, "MERGE", 5) == 0)
        {
          const char* tuples = PQcmdTuples(result.get());
          lastChanges_ = (tuples[0] == '\0' ? 0 : PostgresText::ParseInteger(tuples));
        }
        return result;
      }

      void Execute(const std::string& sql) override
      {
        Exec(sql);
      }

      int64_t GetLastChangeCount() const override
      {
        return lastChanges_;
      }

      int64_t GetLastInsertRowId() override
      {
        Result result = Exec("SELECT lastval()");
        if (PQntuples(result.get()) != 1 || PQgetisnull(result.get(), 0, 0))
        {
          throw Orthanc::OrthancException(Orthanc::ErrorCode_Database,
                                          "PostgreSQL gave no lastval()", false);
        }
        return PostgresText::ParseInteger(PQgetvalue(result.get(), 0, 0));
      }

      void Begin(bool relaxedDurability) override
      {
        BeginTransaction(relaxedDurability);
      }

      void Commit() override
      {
        if (!inTransaction_)
        {
          throw Orthanc::OrthancException(Orthanc::ErrorCode_BadSequenceOfCalls,
                                          "No transaction of the ledger to commit", false);
        }
        inTransaction_ = false;
        Result result = Exec("COMMIT");
        // PostgreSQL answers COMMIT of a failed transaction with ROLLBACK, not an error.
        if (strcmp(PQcmdStatus(result.get()), "COMMIT") != 0)
        {
          throw Orthanc::OrthancException(
            Orthanc::ErrorCode_Database,
            "PostgreSQL rolled back a transaction of the ledger (a statement of it failed)",
            false);
        }
      }

      void Rollback() override
      {
        inTransaction_ = false;
        if (connection_ != nullptr)
        {
          PQclear(PQexec(connection_, "ROLLBACK"));
          if (PQstatus(connection_) != CONNECTION_OK)
          {
            Drop();
          }
        }
      }
    };

    class PostgresStatement : public ILedgerStatement
    {
    private:
      PostgresConnection& connection_;
      const std::string& sql_;       // the key in the connection's map (never erased)
      CachedStatement& cached_;
      std::vector<std::string> values_;
      std::vector<bool> null_;
      std::vector<int> formats_;
      Result result_;
      int rows_ = 0;
      int row_ = -1;

      void CheckParameter(int index) const
      {
        if (index < 0 || index >= cached_.parameters)
        {
          throw Orthanc::OrthancException(
            Orthanc::ErrorCode_ParameterOutOfRange,
            "Parameter " + std::to_string(index) + " of a statement with " +
              std::to_string(cached_.parameters) + ": " + sql_, false);
        }
      }

      void Set(int index, const std::string& value, int format)
      {
        CheckParameter(index);
        values_[index] = value;
        null_[index] = false;
        formats_[index] = format;
      }

      void Execute()
      {
        std::vector<const char*> values(cached_.parameters, nullptr);
        std::vector<int> lengths(cached_.parameters, 0);
        for (int i = 0; i < cached_.parameters; i++)
        {
          // Unbound parameters are NULL, as in SQLite.
          if (!null_[i])
          {
            values[i] = values_[i].data();
            lengths[i] = static_cast<int>(values_[i].size());
          }
        }
        result_ = connection_.ExecutePrepared(sql_, cached_, values, lengths, formats_);
        rows_ = PQntuples(result_.get());
        row_ = -1;
      }

      const char* Value(int column, Oid& type) const
      {
        if (!result_ || row_ < 0 || row_ >= rows_)
        {
          throw Orthanc::OrthancException(Orthanc::ErrorCode_BadSequenceOfCalls,
                                          "No row to read in: " + sql_, false);
        }
        if (column < 0 || column >= PQnfields(result_.get()))
        {
          throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                          "Column " + std::to_string(column) + " of: " + sql_,
                                          false);
        }
        type = PQftype(result_.get(), column);
        return PQgetisnull(result_.get(), row_, column) ? nullptr :
               PQgetvalue(result_.get(), row_, column);
      }

    public:
      PostgresStatement(PostgresConnection& connection, const std::string& sql,
                        CachedStatement& cached) :
        connection_(connection),
        sql_(sql),
        cached_(cached),
        values_(cached.parameters),
        null_(cached.parameters, true),
        formats_(cached.parameters, 0)
      {
      }

      void BindNull(int index) override
      {
        CheckParameter(index);
        null_[index] = true;
      }

      void BindInt(int index, int value) override
      {
        Set(index, std::to_string(value), 0);
      }

      void BindInt64(int index, int64_t value) override
      {
        Set(index, std::to_string(value), 0);
      }

      void BindString(int index, const std::string& value) override
      {
        Set(index, PostgresText::SanitizeUtf8(value), 0);
      }

      void BindBlob(int index, const void* data, size_t size) override
      {
        Set(index, std::string(static_cast<const char*>(data), size), 1 /* binary */);
      }

      bool Step() override
      {
        if (!result_)
        {
          Execute();
        }
        if (row_ < rows_)
        {
          row_++;
        }
        return row_ < rows_;
      }

      bool Run() override
      {
        if (!result_)
        {
          Execute();
        }
        return rows_ == 0;
      }

      int ColumnCount() const override
      {
        return result_ ? PQnfields(result_.get()) : 0;
      }

      bool ColumnIsNull(int column) const override
      {
        Oid type;
        return Value(column, type) == nullptr;
      }

      int ColumnInt(int column) const override
      {
        const int64_t value = ColumnInt64(column);
        if (value < INT_MIN || value > INT_MAX)
        {
          throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                          "An integer from PostgreSQL beyond 32 bits: " +
                                            std::to_string(value), false);
        }
        return static_cast<int>(value);
      }

      int64_t ColumnInt64(int column) const override
      {
        Oid type;
        const char* value = Value(column, type);
        if (value == nullptr)
        {
          return 0;  // as SQLite
        }
        if (type == kBoolOid)
        {
          return value[0] == 't' ? 1 : 0;
        }
        return PostgresText::ParseInteger(value);
      }

      std::string ColumnString(int column) const override
      {
        Oid type;
        const char* value = Value(column, type);
        if (value == nullptr)
        {
          return "";
        }
        if (type == kByteaOid)
        {
          return PostgresText::DecodeBytea(value);
        }
        if (type == kBoolOid)
        {
          return value[0] == 't' ? "1" : "0";
        }
        return std::string(value, PQgetlength(result_.get(), row_, column));
      }

      std::string ColumnBlob(int column) const override
      {
        return ColumnString(column);
      }
    };

    std::unique_ptr<ILedgerStatement> PostgresConnection::Prepare(const std::string& sql)
    {
      auto found = statements_.find(sql);
      if (found == statements_.end())
      {
        CachedStatement cached;
        cached.text = PostgresText::RewritePlaceholders(sql, cached.parameters);
        cached.name = "s" + std::to_string(nextName_++);
        found = statements_.emplace(sql, std::move(cached)).first;
      }
      return std::unique_ptr<ILedgerStatement>(
        new PostgresStatement(*this, found->first, found->second));
    }
  }

  std::unique_ptr<ILedgerConnection> OpenPostgresLedgerConnection(const LedgerLocation& location)
  {
    return std::unique_ptr<ILedgerConnection>(new PostgresConnection(location));
  }
}
