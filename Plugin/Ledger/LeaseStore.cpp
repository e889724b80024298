// Leases of work among the Orthancs of one ledger (see LeaseStore.h, doc/Ledger.md "Leases").

#include "LeaseStore.h"

#include "Ledger/LedgerSql.h"
#include "Toolbox/Crypto.h"

#include <Logging.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace Inbound
{
  LeaseStore::LeaseStore(LedgerDatabase& database) :
    database_(database)
  {
  }

  bool LeaseStore::TryAcquire(const LedgerDatabase::Session& session, const std::string& name,
                              const std::string& node, int64_t now, int64_t ttlMs)
  {
    // One statement: taken when free, expired or already this node's; left alone otherwise.
    LedgerStatement s(session.GetConnection(),
                      "INSERT INTO leases (name, owner, until) VALUES (?, ?, ?)"
                      " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                      " until = excluded.until"
                      " WHERE leases.owner = excluded.owner OR leases.until <= ?");
    s.BindString(0, name);
    s.BindString(1, node);
    s.BindInt64(2, now + ttlMs);
    s.BindInt64(3, now);
    s.Run();
    return session.GetConnection().GetLastChangeCount() > 0;
  }

  bool LeaseStore::TryAcquire(const std::string& name, const std::string& node, int64_t now,
                              int64_t ttlMs, std::string* previousOwner)
  {
    LedgerDatabase::Transaction t(database_);
    if (previousOwner != nullptr)
    {
      previousOwner->clear();
      LedgerStatement s(t.GetConnection(), "SELECT owner FROM leases WHERE name = ?");
      s.BindString(0, name);
      if (s.Step())
      {
        *previousOwner = s.ColumnString(0);
      }
    }
    const bool acquired = TryAcquire(t, name, node, now, ttlMs);
    t.Commit();
    return acquired;
  }

  bool LeaseStore::Renew(const std::string& name, const std::string& node, int64_t now,
                         int64_t ttlMs)
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement s(t.GetConnection(),
                      "UPDATE leases SET until = ? WHERE name = ? AND owner = ?");
    s.BindInt64(0, now + ttlMs);
    s.BindString(1, name);
    s.BindString(2, node);
    s.Run();
    const bool held = t.GetConnection().GetLastChangeCount() > 0;
    t.Commit();
    return held;
  }

  void LeaseStore::Release(const std::string& name, const std::string& node)
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement s(t.GetConnection(), "DELETE FROM leases WHERE name = ? AND owner = ?");
    s.BindString(0, name);
    s.BindString(1, node);
    s.Run();
    t.Commit();
  }

  void LeaseStore::ReleaseAll(const std::string& node)
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement s(t.GetConnection(), "DELETE FROM leases WHERE owner = ?");
    s.BindString(0, node);
    s.Run();
    t.Commit();
  }

  void LeaseStore::Clear()
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement s(t.GetConnection(), "DELETE FROM leases");
    s.Run();
    t.Commit();
  }

  bool LeaseStore::Lookup(std::string& owner, int64_t& until, const std::string& name) const
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement s(t.GetConnection(), "SELECT owner, until FROM leases WHERE name = ?");
    s.BindString(0, name);
    if (!s.Step())
    {
      return false;
    }
    owner = s.ColumnString(0);
    until = s.ColumnInt64(1);
    return true;
  }

  std::string MakeNodeId(const std::string& name)
  {
    std::string base = name;
    if (base.empty())
    {
      char host[256] = {0};
      if (gethostname(host, sizeof(host) - 1) == 0)
      {
        base = host;
      }
    }
    if (base.empty())
    {
      base = "orthanc";
    }
    return base.substr(0, 100) + "/" + Crypto::ToHex(Crypto::RandomBytes(4));
  }

  LeaseHolder::LeaseHolder(LedgerDatabase& database, const std::string& name,
                           const std::string& node, int64_t ttlMs) :
    store_(database),
    name_(name),
    node_(node),
    ttlMs_(ttlMs)
  {
  }

  void LeaseHolder::Configure(const std::string& node, int64_t ttlMs)
  {
    node_ = node;
    ttlMs_ = ttlMs;
    renewedAt_ = until_ = 0;
  }

  bool LeaseHolder::Hold(int64_t now)
  {
    // Held and renewed less than a third of a lease ago: no need to ask the ledger.
    if (renewedAt_ != 0 && now >= renewedAt_ && now - renewedAt_ < ttlMs_ / 3 && now < until_)
    {
      return true;
    }
    if (store_.TryAcquire(name_, node_, now, ttlMs_))
    {
      if (renewedAt_ == 0)
      {
        LOG(INFO) << "Inbound: this Orthanc (" << node_ << ") now does \"" << name_ << "\"";
      }
      renewedAt_ = now;
      until_ = now + ttlMs_;
      return true;
    }
    renewedAt_ = until_ = 0;
    return false;
  }

  void LeaseHolder::Release()
  {
    if (renewedAt_ != 0)
    {
      store_.Release(name_, node_);
      renewedAt_ = until_ = 0;
    }
  }

  LeaseRenewer::LeaseRenewer(const std::function<bool()>& renew, int64_t intervalMs) :
    renew_(renew),
    intervalMs_(std::max<int64_t>(10, intervalMs)),
    lost_(false)
  {
    thread_ = std::thread(&LeaseRenewer::Run, this);
  }

  LeaseRenewer::~LeaseRenewer()
  {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    done_.notify_all();
    thread_.join();
  }

  void LeaseRenewer::Run()
  {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_ && !lost_)
    {
      done_.wait_for(lock, std::chrono::milliseconds(intervalMs_), [this] { return stopping_; });
      if (stopping_)
      {
        break;
      }
      lock.unlock();
      try
      {
        if (!renew_())
        {
          lost_ = true;  // the caller tells what it means
        }
      }
      catch (...)
      {
        // The ledger is unreachable: tried again at the next interval.
      }
      lock.lock();
    }
  }
}
