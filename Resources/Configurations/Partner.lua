-- Orthanc Inbound — a partner clinic's Orthanc sends every stable study to the hospital (STOW-RS).
-- Loaded by Resources/Configurations/Partner.json ("LuaScripts"); set-up and troubleshooting:
-- doc/Operations.md, "Partner sites". Written for Debian 12's Orthanc 1.10.1 and its DICOMweb
-- plugin 1.7, where:
--  * every Lua callback runs under Orthanc's one Lua lock, which every HTTP request of Orthanc
--    takes too: nothing here waits (no sleep, only "Synchronous": false jobs), or the REST API
--    and Orthanc Explorer would freeze meanwhile;
--  * a STOW-RS job counts as a success only when the hospital stored every instance (a 2xx
--    answer listing each one, no failure); any other answer makes it a failure;
--  * a failed STOW-RS job must never be resubmitted (POST /jobs/{id}/resubmit sends no
--    instance at all and may then report success): each attempt is a new job;
--  * Lua has no timer before 1.11.1: a retry is due after a back-off (RetryBaseSeconds, doubled
--    each time up to RetryMaxSeconds) and starts at the next Lua event after that: a study
--    becoming stable, a job ending, any HTTP request to this Orthanc (a health check each
--    minute is enough), or each heartbeat on Orthanc >= 1.11.1 with "LuaHeartBeatPeriod".
-- Each study's state is kept in its metadata "InboundPartnerState", so that a restart resumes:
-- "queued <attempt> <time>", "retry <attempt> <time of the next attempt>", "sent <time>".
-- Studies that were here before this script (no state) are never sent by it.

local settings = { Server = 'hospital', RetryBaseSeconds = 30, RetryMaxSeconds = 3600 }
local METADATA = 'InboundPartnerState'

local jobs = {}      -- running job id -> { study = id, attempt = n }
local running = {}   -- study id -> its running job id
local again = {}     -- study id -> true: it became stable again while its job ran
local due = {}       -- study id -> { attempt = n, at = os.time() of the next attempt }

local function Log(text)
  print('Partner: ' .. text)
end

-- Lua's RestApi* of Orthanc 1.10.1 answer nil for some errors and raise for others.
local function Call(f, ...)
  local ok, answer = pcall(f, ...)
  if ok and type(answer) == 'string' then
    return answer
  end
  return nil
end

local function SetState(study, state)
  if Call(RestApiPut, '/studies/' .. study .. '/metadata/' .. METADATA, state) == nil then
    Log('cannot record the state "' .. state .. '" of study ' .. study)
  end
end

local function Schedule(study, attempt)
  local delay = math.min(settings.RetryMaxSeconds,
                         settings.RetryBaseSeconds * 2 ^ math.min(attempt - 1, 30))
  local at = os.time() + math.floor(delay)
  due[study] = { attempt = attempt + 1, at = at }
  SetState(study, 'retry ' .. (attempt + 1) .. ' ' .. at)
  Log('study ' .. study .. ': attempt ' .. attempt .. ' failed, the next one in ' ..
      math.floor(delay) .. ' s or at the first event after that')
end

local function Send(study, attempt)
  if running[study] ~= nil then
    again[study] = true   -- sent again once the running job ends
    return
  end
  if Call(RestApiGet, '/studies/' .. study) == nil then
    Log('study ' .. study .. ' is no longer here: not sent')
    return
  end
  local answer = Call(RestApiPost, '/dicom-web/servers/' .. settings.Server .. '/stow',
                      DumpJson({ Resources = { study }, Synchronous = false }, true))
  local ok, parsed = pcall(ParseJson, answer or '')
  local job = ok and type(parsed) == 'table' and parsed['ID'] or nil
  if job == nil then
    Log('cannot start the STOW-RS job of study ' .. study .. ' (is "' .. settings.Server ..
        '" in DicomWeb.Servers?)')
    Schedule(study, attempt)
    return
  end
  jobs[job] = { study = study, attempt = attempt }
  running[study] = job
  SetState(study, 'queued ' .. attempt .. ' ' .. os.time())
end

-- Starts every attempt whose back-off is over (cheap when none is).
function InboundPartnerRetry()
  local now = os.time()
  local ready = {}
  for study, d in pairs(due) do
    if d.at <= now then
      ready[study] = d.attempt
    end
  end
  for study, attempt in pairs(ready) do
    due[study] = nil
    Send(study, attempt)
  end
end

function Initialize()
  local configuration = GetOrthancConfiguration()
  local own = configuration and configuration['InboundPartner']
  if type(own) == 'table' then
    for key, value in pairs(own) do
      if settings[key] == nil then
        Log('unknown option InboundPartner.' .. key .. ' ignored')
      elseif type(value) ~= type(settings[key]) then
        Log('InboundPartner.' .. key .. ' must be a ' .. type(settings[key]) .. ': ignored')
      else
        settings[key] = value
      end
    end
  end
  -- Resume what a stop interrupted (sent at the first event; a study sent twice is accepted
  -- by the hospital as a repeat). One metadata read per study: quick for a clinic's store.
  local ok, studies = pcall(ParseJson, Call(RestApiGet, '/studies') or '[]')
  for _, study in pairs(ok and studies or {}) do
    local state = Call(RestApiGet, '/studies/' .. study .. '/metadata/' .. METADATA)
    if state ~= nil then
      local kind, attempt, at = string.match(state, '^(%a+) (%d+) (%d+)$')
      if kind == 'queued' then
        due[study] = { attempt = tonumber(attempt), at = 0 }
      elseif kind == 'retry' then
        due[study] = { attempt = tonumber(attempt), at = tonumber(at) }
      end
    end
  end
  Log('sending stable studies to DicomWeb.Servers.' .. settings.Server)
end

function OnStableStudy(study, tags, metadata)
  Send(study, 1)
  InboundPartnerRetry()
end

function OnJobSuccess(job)
  local j = jobs[job]
  if j ~= nil then
    jobs[job] = nil
    running[j.study] = nil
    SetState(j.study, 'sent ' .. os.time())
    if again[j.study] then
      again[j.study] = nil
      Send(j.study, 1)
    end
  end
  InboundPartnerRetry()
end

function OnJobFailure(job)
  local j = jobs[job]
  if j ~= nil then
    jobs[job] = nil
    running[j.study] = nil
    again[j.study] = nil
    local details = Call(RestApiGet, '/jobs/' .. job)
    local ok, info = pcall(ParseJson, details or '{}')
    if ok and type(info) == 'table' then
      Log('job ' .. job .. ' of study ' .. j.study .. ': ' .. tostring(info['ErrorDescription']) ..
          ' ' .. tostring(info['ErrorDetails'] or ''))
    end
    Schedule(j.study, j.attempt)
  end
  InboundPartnerRetry()
end

-- Orthanc calls this for every HTTP request it answers, after its own password check:
-- only used as a clock here (it lets every request through).
function IncomingHttpRequestFilter(method, uri, ip, username, headers)
  InboundPartnerRetry()
  return true
end

-- Orthanc >= 1.11.1 with "LuaHeartBeatPeriod": retries on time even when nothing happens.
function OnHeartBeat()
  InboundPartnerRetry()
end
