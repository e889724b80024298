// The reconciliation round: sources in parallel threads under a deadline, scores, cache.
#include "Reconcile/CandidateFinder.h"

#include "Forward/OrthancRestError.h"
#include "Http/ApiError.h"
#include "Reconcile/CandidateQueries.h"
#include "Reconcile/CandidateScore.h"
#include "Reconcile/ReconcileSetup.h"
#include "Reconcile/SentPatients.h"
#include "Toolbox/Errors.h"
#include "Upload/Isolation.h"

#include <Logging.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>

namespace Inbound
{
  using Clock = std::chrono::steady_clock;

  // What a source's thread reads (set before it starts, then read-only) and writes (under
  // `mutex`). Shared by the round and the thread, so that a round that stopped waiting leaves
  // nothing on its stack for the thread to touch.
  struct CandidateFinder::Task
  {
    std::string source; // "local" or a DicomModalities name
    std::string query;  // "Local", "Patient", "Worklist"
    std::vector<SentPatient> patients;
    unsigned int maxAnswers = 0;
    unsigned int timeoutSeconds = 0;
    std::string prefix; // Inbound.PatientIdPrefix: isolated patients are dropped
    Clock::time_point start;
    Clock::time_point deadline; // start + TimeoutSeconds: no query begins after it

    std::mutex mutex;
    std::condition_variable finishedSignal;
    bool finished = false;
    SourceOutcome outcome;
    std::vector<std::vector<CandidateRecord>> records; // per patient
  };

  namespace
  {
    const int kNetworkProtocol = 9;         // OrthancPluginErrorCode_NetworkProtocol
    const int kInexistentItem = 7;          // OrthancPluginErrorCode_InexistentItem
    const int kDicomFindUnavailable = 2016; // OrthancPluginErrorCode_DicomFindUnavailable

    int64_t MillisecondsSince(Clock::time_point start)
    {
      return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    }

    // The answers of one query, as a JSON array, according to the source's kind; throws what
    // IOrthancRest throws.
    Json::Value Ask(IOrthancRest& orthanc, const CandidateFinder::Task& task,
                    const CandidateQueries::Query& query, unsigned int timeout)
    {
      if (task.query == "Local")
      {
        return orthanc.Post("/tools/find", CandidateQueries::MakeLocalBody(query, task.maxAnswers));
      }
      const std::string modality = "/modalities/" + task.source;
      if (task.query == "Worklist")
      {
        return orthanc.Post(modality + "/find-worklist",
                            CandidateQueries::MakeWorklistBody(query, timeout));
      }
      // Orthanc runs the C-FIND inside the call and keeps the answers in a query object,
      // which is read at once and freed (at most QueryRetrieveSize are kept; facts 1.1).
      const Json::Value created =
          orthanc.Post(modality + "/query", CandidateQueries::MakePatientBody(query, timeout));
      const std::string id =
          created.isObject() && created["ID"].isString() ? created["ID"].asString() : "";
      if (id.empty())
      {
        throw std::runtime_error("Orthanc answered no query id");
      }
      Json::Value answers;
      const bool read = orthanc.Get(answers, "/queries/" + id + "/answers?expand&simplify");
      try
      {
        orthanc.Delete("/queries/" + id);
      }
      catch (...)
      {
      }
      if (!read)
      {
        throw std::runtime_error("the answers of the C-FIND cannot be read");
      }
      return answers;
    }

    // Why a query failed, for the admin: never a patient's data (the URI names the modality).
    void Classify(SourceOutcome& outcome, int code, const std::string& what, int64_t elapsedMs,
                  unsigned int timeout)
    {
      if (code == kDicomFindUnavailable)
      {
        outcome.status = SourceStatus_Unavailable;
        outcome.message = "\"" + outcome.source + "\" does not offer this query (" + outcome.query +
                          " C-FIND SOP class)";
      }
      else if (code == kInexistentItem)
      {
        outcome.status = SourceStatus_Failed;
        outcome.message = "\"" + outcome.source + "\" is not in DicomModalities";
      }
      else if (code == kNetworkProtocol && elapsedMs + 250 >= static_cast<int64_t>(timeout) * 1000)
      {
        // Orthanc says the same for a refused connection and a silent peer: the time tells.
        outcome.status = SourceStatus_Timeout;
        outcome.message = "no answer within " + std::to_string(timeout) + " s";
      }
      else if (code == kNetworkProtocol)
      {
        outcome.status = SourceStatus_Failed;
        outcome.message = "refused or unreachable, or a DICOM error (Orthanc: " + what + ")";
      }
      else
      {
        outcome.status = SourceStatus_Failed;
        outcome.message = "the query failed (Orthanc: " + what + ")";
      }
    }

    bool Parse(CandidateRecord& record, const CandidateFinder::Task& task,
               const Json::Value& answer)
    {
      if (task.query == "Local")
        return CandidateQueries::ParseLocalAnswer(record, answer, task.prefix);
      const bool parsed = task.query == "Worklist"
                              ? CandidateQueries::ParseWorklistAnswer(record, answer, task.source)
                              : CandidateQueries::ParsePatientAnswer(record, answer, task.source);
      // An upload sent on with its namespaced PatientID is in the PACS under it, with the name
      // and birth date its sender chose: never the hospital's patient (red team).
      return parsed && !Isolation::IsIsolatedPatientId(task.prefix, record.patientId);
    }

    std::vector<CandidateQueries::Query> QueriesFor(const CandidateFinder::Task& task,
                                                    const SentPatient& sent)
    {
      if (task.query == "Local")
        return CandidateQueries::ForLocal(sent);
      if (task.query == "Worklist")
        return CandidateQueries::ForWorklist(sent);
      return CandidateQueries::ForPatientLevel(sent);
    }

    std::string Trim(const std::string& text)
    {
      const size_t first = text.find_first_not_of(" \t\r\n\"");
      return first == std::string::npos
                 ? ""
                 : text.substr(first, text.find_last_not_of(" \t\r\n\"") - first + 1);
    }
  } // namespace

  CandidateFinder::CandidateFinder(const Configuration& configuration, Ledger& ledger,
                                   IOrthancRest& orthanc, const IClock& clock, size_t maxThreads,
                                   size_t maxCachedUploads) :
    configuration_(configuration),
    settings_(configuration.reconciliation), ledger_(ledger), orthanc_(orthanc), clock_(clock),
    maxThreads_(maxThreads), maxCachedUploads_(maxCachedUploads), stopping_(false),
    health_(configuration.reconciliation)
  {
  }

  CandidateFinder::~CandidateFinder()
  {
    Stop();
  }

  void CandidateFinder::Stop()
  {
    std::list<Worker> workers;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true; // no further query begins, no thread starts (Start)
      workers.swap(workers_);
    }
    for (Worker& worker : workers)
    {
      worker.thread.join();
    }
  }

  size_t CandidateFinder::CountRunning()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return running_;
  }

  bool CandidateFinder::Start(const std::shared_ptr<Task>& task)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || running_ >= maxThreads_)
    {
      return false;
    }
    running_++;
    Worker worker;
    worker.task = task;
    worker.thread = std::thread([this, task] { Run(*task); });
    workers_.push_back(std::move(worker));
    return true;
  }

  void CandidateFinder::ReapFinished()
  {
    std::list<Worker> finished;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = workers_.begin(); it != workers_.end();)
      {
        std::lock_guard<std::mutex> taskLock(it->task->mutex);
        if (it->task->finished)
        {
          finished.splice(finished.end(), workers_, it++);
        }
        else
        {
          ++it;
        }
      }
    }
    for (Worker& worker : finished)
    {
      worker.thread.join(); // it has finished its work: at most its last instructions remain
    }
  }

  // On the source's thread: the task's queries, patient by patient, until the deadline.
  void CandidateFinder::Run(Task& task)
  {
    SourceOutcome outcome;
    {
      std::lock_guard<std::mutex> lock(task.mutex);
      outcome = task.outcome;
    }
    try
    {
      for (size_t i = 0; i < task.patients.size() && outcome.status == SourceStatus_Answered; i++)
      {
        for (const CandidateQueries::Query& query : QueriesFor(task, task.patients[i]))
        {
          const Clock::time_point now = Clock::now();
          if (stopping_ || now >= task.deadline)
          {
            outcome.status = SourceStatus_Timeout;
            outcome.message =
                stopping_ ? "Orthanc is stopping"
                          : "no answer within " + std::to_string(task.timeoutSeconds) + " s";
            break;
          }
          // Orthanc's Timeout is per network read, not per call (facts 1.6): each query gets
          // what is left of the source's time, at least 1 s.
          const int64_t leftMs =
              std::chrono::duration_cast<std::chrono::milliseconds>(task.deadline - now).count();
          const unsigned int timeout =
              static_cast<unsigned int>(std::max<int64_t>(1, (leftMs + 999) / 1000));
          try
          {
            const Json::Value answers = Ask(orthanc_, task, query, timeout);
            const Json::ArrayIndex count = answers.isArray() ? answers.size() : 0;
            const Json::ArrayIndex used = std::min<Json::ArrayIndex>(count, task.maxAnswers);
            outcome.truncated = outcome.truncated || count > task.maxAnswers;
            std::lock_guard<std::mutex> lock(task.mutex);
            for (Json::ArrayIndex a = 0; a < used; a++)
            {
              CandidateRecord record;
              if (Parse(record, task, answers[a]) &&
                  CandidateQueries::AddUnique(task.records[i], record))
              {
                outcome.records++;
              }
            }
            task.outcome.records = outcome.records; // seen by a round that stops waiting
            task.outcome.truncated = outcome.truncated;
            LOG(INFO) << "Inbound: reconciliation " << task.query << " query to \"" << task.source
                      << "\" by " << query.by << ": " << count << " answers in "
                      << MillisecondsSince(now) << " ms";
          }
          catch (const OrthancRestError& e)
          {
            Classify(outcome, e.GetCode(), e.what(), MillisecondsSince(now), timeout);
            LOG(WARNING) << "Inbound: reconciliation " << task.query << " query to \""
                         << task.source << "\": " << outcome.message;
            break;
          }
        }
      }
    }
    catch (...)
    {
      outcome.status = SourceStatus_Failed;
      outcome.message = "the query failed: " + DescribeCurrentException();
    }
    {
      std::lock_guard<std::mutex> lock(task.mutex);
      outcome.elapsedMs = MillisecondsSince(task.start);
      task.outcome = outcome;
      task.finished = true;
      task.finishedSignal.notify_all();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    running_--;
  }

  void CandidateFinder::Remember(const Reconciliation& result)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    CacheEntry& entry = cache_[result.uploadId];
    entry.result = result;
    entry.storedAt = clock_.NowMs();
    recent_.remove(result.uploadId);
    recent_.push_front(result.uploadId);
    while (recent_.size() > maxCachedUploads_)
    {
      cache_.erase(recent_.back());
      recent_.pop_back();
    }
  }

  bool CandidateFinder::GetCached(Reconciliation& result, const std::string& uploadId)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = cache_.find(uploadId);
    if (found == cache_.end())
    {
      return false;
    }
    result = found->second.result;
    return true;
  }

  Reconciliation CandidateFinder::Find(const std::string& uploadId, bool fresh)
  {
    UploadRecord upload;
    if (!ledger_.Uploads().Lookup(upload, uploadId))
    {
      throw ApiError(404, "not-found", "No such upload");
    }
    if (configuration_.role == Role_Gateway || upload.state != UploadState_Complete)
    {
      throw ApiError(
          409, "upload-not-stored",
          "Only a complete upload stored in this Orthanc can be reconciled (this one is " +
              std::string(EnumerationToString(upload.state)) + ")");
    }
    ReapFinished();
    if (!fresh && settings_.cacheSeconds > 0)
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = cache_.find(uploadId);
      if (found != cache_.end() &&
          clock_.NowMs() - found->second.storedAt < int64_t(settings_.cacheSeconds) * 1000 &&
          std::none_of(found->second.result.sources.begin(), found->second.result.sources.end(),
                       [](const SourceOutcome& s) { return s.status == SourceStatus_Busy; }))
      {
        recent_.remove(uploadId);
        recent_.push_front(uploadId);
        return found->second.result; // a "busy" source was not asked: asked again instead
      }
    }

    Reconciliation result;
    result.uploadId = uploadId;
    result.threshold = settings_.threshold;
    result.autoThreshold = settings_.autoThreshold;
    const std::vector<SentPatient> sent =
        SentPatients::Read(ledger_.Uploads().ListItems(uploadId), orthanc_);

    // "request": the patient of the request link the upload came through (pre-matched).
    std::vector<CandidateRecord> requestRecords;
    RequestRecord request;
    if (!upload.requestId.empty() && ledger_.Requests().Lookup(request, upload.requestId))
    {
      result.requestId = request.id;
      result.requestPatientId = request.patient.id;
      if (!request.patient.id.empty() &&
          !Isolation::IsIsolatedPatientId(configuration_.patientIdPrefix, request.patient.id))
      {
        CandidateRecord record;
        record.source = "request";
        record.patientId = request.patient.id;
        record.name = request.patient.name;
        record.birthDate = request.patient.birthDate;
        requestRecords.push_back(record);
      }
    }

    // The sources, each on its own thread: "local", then Inbound.Reconciliation.Sources.
    const Clock::time_point start = Clock::now();
    std::vector<std::shared_ptr<Task>> tasks;
    auto makeTask = [&](const std::string& source, const std::string& query)
    {
      auto task = std::make_shared<Task>();
      task->source = source;
      task->query = query;
      task->patients = sent;
      task->maxAnswers = settings_.maxAnswers;
      task->timeoutSeconds = settings_.timeoutSeconds;
      task->prefix = configuration_.patientIdPrefix;
      task->start = start;
      task->deadline = start + std::chrono::seconds(settings_.timeoutSeconds);
      task->outcome.source = source;
      task->outcome.query = query;
      task->records.resize(sent.size());
      tasks.push_back(task);
      return task;
    };
    if (settings_.local)
    {
      makeTask("local", "Local");
    }
    // Answers come converted into Orthanc's DefaultEncoding, which can be changed at run time
    // (PUT /tools/default-encoding): anything but UTF-8 loses letters (facts 1.5).
    std::string encoding;
    const bool utf8 = !settings_.sources.empty() &&
                      orthanc_.GetBytes(encoding, "/tools/default-encoding") &&
                      ReconcileSetup::IsUtf8(Trim(encoding));
    for (const ReconciliationSource& source : settings_.sources)
    {
      const std::shared_ptr<Task> task =
          makeTask(source.modality, EnumerationToString(source.query));
      if (!utf8)
      {
        task->outcome.status = SourceStatus_Failed;
        task->outcome.message = "Orthanc's DefaultEncoding is not Utf8";
        task->finished = true;
      }
    }
    for (const std::shared_ptr<Task>& task : tasks)
    {
      if (!task->finished && (sent.empty() || !Start(task)))
      {
        task->finished = true;
        if (!sent.empty())
        {
          task->outcome.status = SourceStatus_Busy;
          task->outcome.message =
              stopping_ ? "Orthanc is stopping: not asked"
                        : "too many queries running in this Orthanc: not asked, ask again";
        }
      }
    }

    // Each source's outcome by the round's deadline; a source still running is "timeout".
    const Clock::time_point roundDeadline =
        start + std::chrono::seconds(settings_.timeoutSeconds) + std::chrono::seconds(1);
    std::vector<std::vector<CandidateRecord>> records(sent.size());
    for (const std::shared_ptr<Task>& task : tasks)
    {
      std::unique_lock<std::mutex> lock(task->mutex);
      task->finishedSignal.wait_until(lock, roundDeadline, [&task] { return task->finished; });
      SourceOutcome outcome = task->outcome;
      if (!task->finished)
      {
        outcome.status = SourceStatus_Timeout;
        outcome.message = "no answer within " + std::to_string(settings_.timeoutSeconds) + " s";
        outcome.elapsedMs = MillisecondsSince(start);
      }
      result.sources.push_back(outcome);
      for (size_t i = 0; i < sent.size(); i++)
      {
        records[i].insert(records[i].end(), task->records[i].begin(), task->records[i].end());
      }
    }
    if (!sent.empty())
      health_.Record(result.sources, clock_.NowMs()); // the metrics (a cached answer asks none)
    if (!requestRecords.empty())
    {
      // The request link's patient, listed right after this Orthanc's own.
      SourceOutcome request;
      request.source = "request";
      request.query = "Request";
      request.records = sent.size();
      result.sources.insert(result.sources.begin() + (settings_.local ? 1 : 0), request);
    }

    for (size_t i = 0; i < sent.size(); i++)
    {
      PatientCandidates patient;
      patient.sent = sent[i];
      records[i].insert(records[i].end(), requestRecords.begin(), requestRecords.end());
      for (const CandidateRecord& record : records[i])
      {
        patient.candidates.push_back(CandidateScore::Score(sent[i], record));
      }
      CandidateScore::Rank(patient, settings_.threshold, settings_.maxCandidates);
      result.patients.push_back(patient);
    }
    result.generatedAt = clock_.NowMs();
    Remember(result);
    return result;
  }
} // namespace Inbound
