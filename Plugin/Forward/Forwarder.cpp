// The forwarder thread: plans forwards, delivers them, wakes early; the admin's entry points.
#include "Forwarder.h"

#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include "Forward/Retention.h"
#include "Toolbox/Errors.h"
#include "Toolbox/RepeatedFailureLog.h"

#include <Logging.h>

#include <chrono>

namespace Inbound
{
  Forwarder::Forwarder(const Configuration& configuration, Ledger& ledger, IOrthancRest& orthanc,
                       ICandidateFinder& finder, const IClock& clock) :
    configuration_(configuration),
    ledger_(ledger),
    clock_(clock),
    planner_(configuration, ledger, orthanc, finder, clock),
    delivery_(configuration, ledger, orthanc, clock),
    plannerLease_(ledger.GetDatabase(), "planner:forward", delivery_.GetNode(), 60 * 1000)
  {
  }

  void Forwarder::SetNode(const std::string& node, unsigned int leaseSeconds)
  {
    delivery_.SetNode(node, leaseSeconds);
    plannerLease_.Configure(node, int64_t(leaseSeconds) * 1000);
  }

  std::vector<std::string> Forwarder::ListModalities()
  {
    return planner_.ListModalities();
  }

  Json::Value Forwarder::Release(const std::string& uploadId, const ReleaseRequest& request,
                                 const std::string& by)
  {
    const std::vector<ForwardRecord> forwards = planner_.Release(uploadId, request, by);
    Wake();
    Json::Value answer(Json::objectValue);
    answer["forwards"] = Json::arrayValue;
    for (const ForwardRecord& f : forwards)
    {
      answer["forwards"].append(ForwardDelivery::ToJson(f));
    }
    return answer;
  }

  size_t Forwarder::CollectRules()
  {
    return planner_.CollectRules();
  }

  size_t Forwarder::Step(const std::atomic<bool>& stopping)
  {
    return delivery_.Step(stopping);
  }

  void Forwarder::Wake()
  {
    wake_.Wake();
  }

  void Forwarder::Loop(const std::atomic<bool>& stopping)
  {
    RepeatedFailureLog failures;  // the same failure again and again: logged once a minute
    while (!stopping)
    {
      try
      {
        if (plannerLease_.Hold(clock_.NowMs()))
        {
          CollectRules();
        }
        Step(stopping);
      }
      catch (...)
      {
        const std::string error = DescribeCurrentException();
        if (failures.ShouldLog(error))
        {
          LOG(ERROR) << "Inbound: forwarding: " << error;
        }
      }
      wake_.Wait(std::chrono::milliseconds(500), stopping);
    }
    try
    {
      delivery_.ReleaseClaims();
      plannerLease_.Release();
    }
    catch (...)
    {
      LOG(WARNING) << "Inbound: forwarding: " << DescribeCurrentException();
    }
  }

  Json::Value Forwarder::Describe(const std::string& uploadId, const std::string& state,
                                  unsigned int limit) const
  {
    return delivery_.Describe(uploadId, state, limit);
  }

  Json::Value Forwarder::Retry(int64_t id, const std::string& by)
  {
    Json::Value forward = delivery_.Retry(id, by);
    Wake();
    return forward;
  }

  std::vector<std::string> Forwarder::ListUploadsPastRetention() const
  {
    return Inbound::ListUploadsPastRetention(configuration_, ledger_, clock_.NowMs());
  }
}
