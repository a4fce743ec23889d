#!lua name=cluster
-- The grain state machine of Cluster. Every transition of a job, worker, machine or workflow is one function call
-- here, so it runs atomically, and the same call appends the event that describes it to a stream:
-- no event is lost or invented when a silo dies between the two.
-- Bump LIBRARY_VERSION whenever a function's behaviour or the key layout changes.
--
-- Key layout (seed 001 is a contract for job:{id}, jobs:pending and findMatchingJob):
--   job:{id}                 hash, the job grain (seed 001 field names plus lease and index fields)
--   jobs:pending             zset id -> priority: every claimable job (seed 001's view; higher served first)
--   jobs:class:{cls}         zset id -> -priority*2^32 + seq: claimable jobs with identical requirements, FIFO per priority
--   jobs:classes             hash cls -> normalised requirements JSON, one entry per non-empty class
--   jobs:indexed             count of ids held by all class sets (tells whether jobs:pending holds strays)
--   jobs:delayed             zset id -> due ms: failed jobs waiting out their retry backoff
--   jobs:leases              zset id -> lease expiry ms: assigned and running jobs
--   jobs:deadlines           zset id -> timeout ms: assigned and running jobs that have a timeout
--   jobs:all, jobs:status:{s}, jobs:type:{t}, jobs:worker:{w}, jobs:machine:{m}, jobs:workflow:{w}
--                            zsets id -> seq: listing indexes, newest first by seq
--   idempotency:{key}        string -> job id, for 24 h
--   worker:{id}              hash, the worker grain;  worker:{id}:jobs  set of its leased job ids
--   workers:heartbeats       zset id -> last heartbeat ms of online workers
--   machine:{id}             hash, the machine grain; machine:{id}:workers  set of worker ids
--   machines                 zset id -> 0, for lexicographic pagination
--   job:{id}:events          list of the job's last 200 events as JSON, for its history
--   stats:{kind}:{minute}    counters of submitted, completed, failed and dead jobs per minute, kept 2 h
--   workflow:{id}            hash, the workflow grain (seed 001 fields id, name, status, steps, total_steps,
--                            completed_steps, created_at; plus description, failure_policy, webhook_url,
--                            failed_steps, completed_at)
--   workflow:{id}:jobs       list of the workflow's job ids, by step index
--   workflow:{id}:dependents hash step index -> "i,j,…": the steps that depend on it (a job's own
--                            dependencies are its depends_on field, its index its step_index field)
--   workflow:{id}:completed  set of step indexes whose completion has been counted (makes it exactly once)
--   workflows                zset id -> seq, newest first by seq
--   events:jobs, events:workers, events:machines, events:workflows   streams, capped with MAXLEN ~

local LIBRARY_VERSION = '4'
local TWO32 = 4294967296
local MAX_PRIORITY = 1000
local DEFAULT_EVENTS_MAXLEN = 100000
local IDEMPOTENCY_TTL_SECONDS = 86400
local MAX_BACKOFF_MS = 3600000
local JOB_HISTORY_LENGTH = 200
local STATS_TTL_SECONDS = 7200

-- Shared helpers -------------------------------------------------------------------------------------

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- ISO 8601 UTC with milliseconds (the os library is not available to functions).
local function iso(ms)
  local secs = math.floor(ms / 1000)
  local days = math.floor(secs / 86400)
  local rem = secs - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d,
    math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60, ms % 1000)
end

local function str(v)
  if type(v) == 'string' then return v end
  if type(v) == 'number' then return tostring(v) end
  return ''
end

local function fail(code, message)
  return redis.error_reply(code .. ' ' .. message)
end

local function decode(json, what)
  local ok, value = pcall(cjson.decode, json)
  if not ok or type(value) ~= 'table' then error('VALIDATION_ERROR ' .. what .. ' is not a JSON object') end
  return value
end

-- Objects may arrive as JSON text so that they are stored verbatim: cjson would turn [] into {}.
local function object_and_text(value, what)
  if type(value) == 'string' and value ~= '' then return decode(value, what), value end
  if type(value) == 'table' then return value, cjson.encode(value) end
  return {}, '{}'
end

local function hash_to_table(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

-- Read once per function call (guarded() forgets it before each): a call may append many events.
local call_events_maxlen = nil

local function events_maxlen()
  if not call_events_maxlen then
    call_events_maxlen = tonumber(redis.call('HGET', 'cluster:config', 'events_maxlen')) or DEFAULT_EVENTS_MAXLEN
  end
  return call_events_maxlen
end

-- Appends an event; fields is a flat list of name, value pairs. Empty values are left out.
local function emit(stream, kind, fields)
  local args = { 'XADD', stream, 'MAXLEN', '~', events_maxlen(), '*', 'type', kind }
  for i = 1, #fields, 2 do
    local value = fields[i + 1]
    if value ~= nil and value ~= '' and value ~= false then
      args[#args + 1] = fields[i]
      args[#args + 1] = tostring(value)
    end
  end
  return redis.call(unpack(args))
end

local function count(kind, now)
  local key = 'stats:' .. kind .. ':' .. math.floor(now / 60000)
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, STATS_TTL_SECONDS) end
end

-- Appends a job event to the stream and to the job's own history.
local function job_event(job_id, kind, job, extra)
  local fields = { 'job_id', job_id }
  for _, name in ipairs({ 'status', 'type', 'priority', 'worker_id', 'machine_id', 'workflow_id', 'step_index', 'retry_count' }) do
    local value = job[name]
    if value ~= nil and value ~= false and value ~= '' then
      fields[#fields + 1] = name == 'type' and 'job_type' or name
      fields[#fields + 1] = value
    end
  end
  for i = 1, #(extra or {}) do fields[#fields + 1] = extra[i] end
  local id = emit('events:jobs', kind, fields)
  local entry = { event_id = id, type = kind }
  for i = 1, #fields, 2 do
    local value = fields[i + 1]
    if value ~= nil and value ~= false and value ~= '' then entry[fields[i]] = tostring(value) end
  end
  local history = 'job:' .. job_id .. ':events'
  redis.call('RPUSH', history, cjson.encode(entry))
  redis.call('LTRIM', history, -JOB_HISTORY_LENGTH, -1)
  return id
end

-- Requirements and capabilities ------------------------------------------------------------------------

-- Jobs whose requirements are identical share a class; a claim looks at the head of each class a worker
-- can serve, so its cost grows with the number of distinct requirement shapes, never with the backlog.
local function normalise_requirements(req)
  local caps = {}
  if type(req.capabilities) == 'table' then
    for _, c in ipairs(req.capabilities) do caps[#caps + 1] = str(c) end
  end
  table.sort(caps)
  local pool = str(req.pool_preference)
  if pool == '' then pool = 'standard' end
  return {
    gpu_memory = tonumber(req.gpu_memory) or 0,
    model_type = str(req.model_type),
    capabilities = caps,
    pool = pool,
  }
end

local function class_id(n)
  return 'g=' .. n.gpu_memory .. ';m=' .. n.model_type .. ';c=' .. table.concat(n.capabilities, ',') .. ';p=' .. n.pool
end

local function parse_capabilities(json)
  local w = decode(json, 'worker capabilities')
  local models, caps = {}, {}
  if type(w.model_types) == 'table' then for _, m in ipairs(w.model_types) do models[str(m)] = true end end
  if type(w.capabilities) == 'table' then for _, c in ipairs(w.capabilities) do caps[str(c)] = true end end
  local pool = str(w.pool_type)
  if pool == '' then pool = 'standard' end
  return {
    gpu_memory = tonumber(w.gpu_memory) or 0, models = models, caps = caps, pool = pool,
    worker_id = str(w.worker_id), machine_id = str(w.machine_id),
  }
end

local function can_serve(req, w)
  if req.gpu_memory > w.gpu_memory then return false end
  if req.model_type ~= '' and not w.models[req.model_type] then return false end
  for _, c in ipairs(req.capabilities) do
    if not w.caps[c] then return false end
  end
  return true
end

-- The claimable index --------------------------------------------------------------------------------

local function enqueue(id, job)
  local priority = tonumber(job.priority) or 0
  local seq = tonumber(job.seq)
  local cls = job.cls
  local added = redis.call('ZADD', 'jobs:class:' .. cls, -priority * TWO32 + seq, id)
  redis.call('ZADD', 'jobs:pending', priority, id)
  if added == 1 then redis.call('INCR', 'jobs:indexed') end
  redis.call('HSETNX', 'jobs:classes', cls, job.requirements_normalised or '{}')
end

local function dequeue(id, cls)
  redis.call('ZREM', 'jobs:pending', id)
  if cls and cls ~= '' and redis.call('ZREM', 'jobs:class:' .. cls, id) == 1 then
    redis.call('DECR', 'jobs:indexed')
    if redis.call('EXISTS', 'jobs:class:' .. cls) == 0 then redis.call('HDEL', 'jobs:classes', cls) end
  end
end

-- Moves a job between the status indexes; set_status also writes the hash, which write_job has just done.
local function index_status(id, job, status)
  if job.status and job.status ~= '' then redis.call('ZREM', 'jobs:status:' .. job.status, id) end
  redis.call('ZADD', 'jobs:status:' .. status, tonumber(job.seq) or 0, id)
  job.status = status
end

-- Gives a job a new status, in its hash and indexes at once, with any fields that change with it.
local function set_status(id, job, status, ...)
  index_status(id, job, status)
  redis.call('HSET', 'job:' .. id, 'status', status, ...)
end

-- Gives the class index a job found in jobs:pending but not in it (written there by seed-era code).
local function adopt(id)
  local job = hash_to_table(redis.call('HGETALL', 'job:' .. id))
  if job.id == nil and job.status == nil and job.requirements == nil then
    redis.call('ZREM', 'jobs:pending', id) -- dangling id: nothing to run
    return
  end
  local ok, req = pcall(cjson.decode, job.requirements or '{}')
  if not ok or type(req) ~= 'table' then req = {} end
  local n = normalise_requirements(req)
  local cls = class_id(n)
  local seq = tonumber(job.seq) or redis.call('INCR', 'jobs:seq')
  local priority = tonumber(redis.call('ZSCORE', 'jobs:pending', id)) or tonumber(job.priority) or 0
  redis.call('HSET', 'job:' .. id, 'id', id, 'cls', cls, 'seq', seq, 'priority', priority)
  job.status = job.status or ''
  job.seq, job.cls, job.priority = seq, cls, priority
  job.requirements_normalised = cjson.encode(n)
  set_status(id, job, 'pending')
  redis.call('ZADD', 'jobs:all', seq, id)
  enqueue(id, job)
end

local function adopt_strays(max_scan)
  local pending = redis.call('ZCARD', 'jobs:pending')
  local indexed = tonumber(redis.call('GET', 'jobs:indexed')) or 0
  if pending <= indexed then return end
  local ids = redis.call('ZREVRANGE', 'jobs:pending', 0, max_scan - 1)
  for _, id in ipairs(ids) do
    local cls = redis.call('HGET', 'job:' .. id, 'cls')
    if not cls or not redis.call('ZSCORE', 'jobs:class:' .. cls, id) then adopt(id) end
  end
end

-- The normalised requirements of a job's class, as the class index keeps them (rebuilt if the class is gone).
local function class_requirements(job)
  local normalised = job.cls and redis.call('HGET', 'jobs:classes', job.cls)
  if normalised then return normalised end
  local ok, req = pcall(cjson.decode, job.requirements or '{}')
  return cjson.encode(normalise_requirements(ok and type(req) == 'table' and req or {}))
end

-- Makes a job claimable again: pending (with `fields`, name/value pairs, set in the same HSET), queued
-- under its class, and a job_pending event that gives the reason.
local function requeue(id, job, reason, fields)
  set_status(id, job, 'pending', unpack(fields or {}))
  job.requirements_normalised = class_requirements(job)
  enqueue(id, job)
  job_event(id, 'job_pending', job, { 'reason', reason })
end

-- Due retries become claimable the moment anyone looks, so no timer stands between a backoff and a worker.
local function promote_due(now, limit)
  local due = redis.call('ZRANGEBYSCORE', 'jobs:delayed', '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(due) do
    redis.call('ZREM', 'jobs:delayed', id)
    local job = hash_to_table(redis.call('HGETALL', 'job:' .. id))
    if job.status == 'delayed' then requeue(id, job, 'retry') end
  end
  return #due
end

-- Job transitions ------------------------------------------------------------------------------------

local function load_job(id)
  local flat = redis.call('HGETALL', 'job:' .. id)
  if #flat == 0 then return nil end
  return hash_to_table(flat)
end

local TERMINAL = { completed = true, dead = true, cancelled = true }

-- Removes a job from its worker and from the lease and timeout sets.
local function release(id, job)
  redis.call('ZREM', 'jobs:leases', id)
  redis.call('ZREM', 'jobs:deadlines', id)
  local worker_id = job.worker_id
  if worker_id and worker_id ~= '' and redis.call('SREM', 'worker:' .. worker_id .. ':jobs', id) == 1 then
    local active = redis.call('HINCRBY', 'worker:' .. worker_id, 'active', -1)
    if active <= 0 then
      redis.call('HSET', 'worker:' .. worker_id, 'active', 0)
      if redis.call('HGET', 'worker:' .. worker_id, 'status') == 'busy' then
        redis.call('HSET', 'worker:' .. worker_id, 'status', 'idle')
      end
    end
    redis.call('HDEL', 'worker:' .. worker_id, 'current_job_id')
  end
  redis.call('HDEL', 'job:' .. id, 'lease_token', 'lease_expires_at')
end

-- Ends a job that has not finished. by_workflow marks a cancellation made by a workflow's failure policy,
-- which retrying the step that caused it undoes.
local function cancel_job(id, job, reason, now, by_workflow)
  dequeue(id, job.cls)
  redis.call('ZREM', 'jobs:delayed', id)
  release(id, job)
  set_status(id, job, 'cancelled', 'completed_at', iso(now), 'completed_ms', now, 'cancel_reason', reason,
    unpack(by_workflow and { 'cancelled_by_workflow', 1 } or {}))
  job_event(id, 'job_cancelled', job, { 'reason', reason })
end

-- Workflows ------------------------------------------------------------------------------------------
-- A workflow is a DAG of jobs, one per step. Its transitions run inside the job transitions that cause
-- them (a step completing promotes its dependents in the same call), so they happen exactly once
-- however many silos serve the jobs, and each appends its event to events:workflows.

local UNFINISHED = { waiting = true, pending = true, delayed = true, assigned = true, running = true }

-- "0,2" -> {0, 2}
local function indexes(text)
  local list = {}
  for part in string.gmatch(text or '', '[^,]+') do list[#list + 1] = tonumber(part) end
  return list
end

local function workflow_event(wf_id, kind, extra)
  local wf = redis.call('HMGET', 'workflow:' .. wf_id, 'status', 'completed_steps', 'failed_steps', 'total_steps', 'name', 'webhook_url')
  local fields = { 'workflow_id', wf_id, 'status', wf[1], 'completed_steps', wf[2], 'failed_steps', wf[3],
    'total_steps', wf[4], 'name', wf[5], 'webhook_url', wf[6] }
  for i = 1, #(extra or {}) do fields[#fields + 1] = extra[i] end
  return emit('events:workflows', kind, fields)
end

local function step_job_ids(wf_id)
  return redis.call('LRANGE', 'workflow:' .. wf_id .. ':jobs', 0, -1)
end

local function step_index_of(wf_id, id, job)
  local idx = tonumber(job.step_index)
  if idx then return idx end
  local pos = redis.call('LPOS', 'workflow:' .. wf_id .. ':jobs', id)
  return pos or nil
end

local function step_dependents(wf_id, idx)
  return indexes(redis.call('HGET', 'workflow:' .. wf_id .. ':dependents', idx) or '')
end

local function deps_completed(ids, deps)
  for _, d in ipairs(deps) do
    local id = ids[d + 1]
    if not id or redis.call('HGET', 'job:' .. id, 'status') ~= 'completed' then return false end
  end
  return true
end

-- {"<step index>": <result>, …} as JSON text, built from the stored result texts: results are never
-- decoded and re-encoded, because cjson would turn [] into {}.
local function inputs_of(ids, deps)
  local parts = {}
  for _, d in ipairs(deps) do
    local r = redis.call('HGET', 'job:' .. ids[d + 1], 'result')
    if not r or r == '' then r = 'null' end
    if not pcall(cjson.decode, r) then r = cjson.encode(r) end -- seed-era code may store plain text
    parts[#parts + 1] = '"' .. d .. '":' .. r
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

-- Inserts "inputs":… as the first member of the payload object's text.
local function with_inputs(payload, inputs)
  local open = string.find(payload, '{', 1, true)
  if not open then return payload end
  local rest = string.sub(payload, open + 1)
  local sep = string.match(rest, '^%s*}') and '' or ','
  return string.sub(payload, 1, open) .. '"inputs":' .. inputs .. sep .. rest
end

-- Every step that depends on step idx, directly or not, in the order of a depth-first walk; and the set
-- of those indexes, idx included.
local function descendants(wf_id, idx)
  local order, seen, queue = {}, { [idx] = true }, step_dependents(wf_id, idx)
  while #queue > 0 do
    local d = table.remove(queue)
    if not seen[d] then
      seen[d] = true
      order[#order + 1] = d
      for _, next_index in ipairs(step_dependents(wf_id, d)) do queue[#queue + 1] = next_index end
    end
  end
  return order, seen
end

-- Makes a step claimable, with its dependencies' results as inputs. kind: the workflow event to append, if any.
local function make_pending(wf_id, idx, id, job, ids, reason, kind, now)
  local fields = { 'promoted_at', iso(now) }
  local deps = indexes(job.depends_on)
  if #deps > 0 then
    table.insert(fields, 'payload')
    table.insert(fields, with_inputs(job.step_payload or job.payload or '{}', inputs_of(ids, deps)))
  end
  requeue(id, job, reason, fields)
  if kind then workflow_event(wf_id, kind, { 'step_index', idx, 'job_id', id }) end
end

-- Counts the steps by status and stores completed_steps and failed_steps. ids: the step job ids, if at hand.
local function workflow_recount(wf_id, ids)
  ids = ids or step_job_ids(wf_id)
  local completed, dead, unfinished = 0, 0, 0
  for _, id in ipairs(ids) do
    local s = redis.call('HGET', 'job:' .. id, 'status')
    if s == 'completed' then completed = completed + 1
    elseif s == 'dead' or s == 'failed' then dead = dead + 1
    elseif UNFINISHED[s] then unfinished = unfinished + 1 end
  end
  if #ids > 0 then redis.call('HSET', 'workflow:' .. wf_id, 'completed_steps', completed, 'failed_steps', dead) end
  return #ids, completed, dead, unfinished
end

-- Recounts the steps (unless `counted`, the results of a workflow_recount that still hold) and ends the
-- workflow once nothing is left to run: completed when every step completed, failed when a step died,
-- cancelled otherwise (or `outcome`, when given). Returns the status.
local function workflow_settle(wf_id, now, outcome, counted)
  local key = 'workflow:' .. wf_id
  local total, completed, dead, unfinished
  if counted then total, completed, dead, unfinished = unpack(counted)
  else total, completed, dead, unfinished = workflow_recount(wf_id) end
  local status = redis.call('HGET', key, 'status')
  if unfinished > 0 or (total == 0 and not outcome) then return status end
  local final = outcome or (completed == total and 'completed') or (dead > 0 and 'failed') or 'cancelled'
  if status == final then return status end
  redis.call('HSET', key, 'status', final, 'completed_at', iso(now), 'completed_ms', now)
  workflow_event(wf_id, 'workflow_' .. final)
  return final
end

-- Called in the same call that completes a step's job: counts the step once and promotes each waiting
-- dependent whose dependencies have now all completed. Calling it again changes nothing.
-- Returns true when this call counted the step.
local function workflow_on_step_completed(id, job, now)
  local wf_id = str(job.workflow_id)
  if wf_id == '' or redis.call('EXISTS', 'workflow:' .. wf_id) == 0 then return false end
  local idx = step_index_of(wf_id, id, job)
  if not idx then return false end
  local first = redis.call('SADD', 'workflow:' .. wf_id .. ':completed', idx) == 1
  local ids = step_job_ids(wf_id)
  -- Counted before any event reports completed_steps. The promotions below turn waiting steps into
  -- pending ones, both unfinished, so the counts still hold when the workflow is settled.
  local counted = { workflow_recount(wf_id, ids) }
  if first then workflow_event(wf_id, 'workflow_step_completed', { 'step_index', idx, 'job_id', id }) end
  for _, d in ipairs(step_dependents(wf_id, idx)) do
    local dep_id = ids[d + 1]
    local dep = dep_id and load_job(dep_id)
    if dep and dep.status == 'waiting' and deps_completed(ids, indexes(dep.depends_on)) then
      make_pending(wf_id, d, dep_id, dep, ids, 'dependencies_completed', 'workflow_step_promoted', now)
    end
  end
  workflow_settle(wf_id, now, nil, counted)
  return first
end

-- Applies the failure policy when a step's job ends dead or cancelled. fail_fast cancels every unfinished
-- step; continue cancels only the steps that depend on this one, directly or not.
local function workflow_on_step_ended(id, job, outcome, detail, now)
  local wf_id = str(job.workflow_id)
  if wf_id == '' or redis.call('EXISTS', 'workflow:' .. wf_id) == 0 then return end
  local idx = step_index_of(wf_id, id, job)
  if not idx then return end
  local key = 'workflow:' .. wf_id
  local ids = step_job_ids(wf_id)
  workflow_recount(wf_id)
  workflow_event(wf_id, outcome == 'dead' and 'workflow_step_failed' or 'workflow_step_cancelled',
    { 'step_index', idx, 'job_id', id, outcome == 'dead' and 'error' or 'reason', detail })
  if redis.call('HGET', key, 'status') == 'running' then
    if redis.call('HGET', key, 'failure_policy') == 'continue' then
      for _, d in ipairs((descendants(wf_id, idx))) do
        local dep = ids[d + 1] and load_job(ids[d + 1])
        if dep and UNFINISHED[dep.status] then cancel_job(ids[d + 1], dep, 'dependency failed', now, true) end
      end
    else
      for _, other in ipairs(ids) do
        local j = load_job(other)
        if j and UNFINISHED[j.status] then
          cancel_job(other, j, 'workflow failed: step ' .. idx .. ' ended ' .. outcome, now, true)
        end
      end
    end
  end
  workflow_settle(wf_id, now)
end

-- Gives a dead or cancelled step a fresh start: pending if its dependencies have all completed, else waiting.
local function restore_step(wf_id, idx, id, job, ids, reason, kind, now)
  redis.call('ZREM', 'jobs:delayed', id)
  job.retry_count = 0
  redis.call('HSET', 'job:' .. id, 'retry_count', 0, 'progress', 0)
  redis.call('HDEL', 'job:' .. id, 'completed_at', 'completed_ms', 'result', 'cancel_reason', 'cancelled_by_workflow')
  if deps_completed(ids, indexes(job.depends_on)) then
    make_pending(wf_id, idx, id, job, ids, reason, kind, now)
  else
    set_status(id, job, 'waiting')
    job_event(id, 'job_waiting', job, { 'reason', reason })
    if kind then workflow_event(wf_id, kind, { 'step_index', idx, 'job_id', id }) end
  end
end

-- Retries a dead or cancelled step. The steps cancelled because of it (its dependents, and under fail_fast
-- every step the policy cancelled) come back waiting or pending, and the workflow runs again.
local function retry_step(wf_id, idx, now)
  local key = 'workflow:' .. wf_id
  if redis.call('EXISTS', key) == 0 then return fail('WORKFLOW_NOT_FOUND', 'Workflow not found: ' .. wf_id) end
  local ids = step_job_ids(wf_id)
  local id = ids[idx + 1]
  local job = id and load_job(id)
  if not job then return fail('VALIDATION_ERROR', 'workflow ' .. wf_id .. ' has no step ' .. idx) end
  if job.status ~= 'dead' and job.status ~= 'cancelled' and job.status ~= 'failed' then
    return fail('INVALID_STATE', 'step ' .. idx .. ' of workflow ' .. wf_id .. ' is ' .. str(job.status) .. '; only dead or cancelled steps can be retried')
  end
  -- A step whose dependency has ended without completing would wait for ever: retry that one first.
  for _, d in ipairs(indexes(job.depends_on)) do
    local s = ids[d + 1] and redis.call('HGET', 'job:' .. ids[d + 1], 'status')
    if s == 'dead' or s == 'cancelled' or s == 'failed' then
      return fail('INVALID_STATE', 'step ' .. idx .. ' of workflow ' .. wf_id .. ' depends on step ' .. d .. ', which is ' .. s .. '; retry that step first')
    end
  end
  restore_step(wf_id, idx, id, job, ids, 'manual_retry', 'workflow_step_retried', now)
  local order, seen = descendants(wf_id, idx)
  for _, d in ipairs(order) do
    local dep = ids[d + 1] and load_job(ids[d + 1])
    if dep and dep.status == 'cancelled' then restore_step(wf_id, d, ids[d + 1], dep, ids, 'dependency_retried', nil, now) end
  end
  if redis.call('HGET', key, 'failure_policy') ~= 'continue' then
    for i, other in ipairs(ids) do
      if not seen[i - 1] then
        local j = load_job(other)
        if j and j.status == 'cancelled' and j.cancelled_by_workflow == '1' then
          restore_step(wf_id, i - 1, other, j, ids, 'workflow_retried', nil, now)
        end
      end
    end
  end
  if redis.call('HGET', key, 'status') ~= 'running' then
    redis.call('HSET', key, 'status', 'running')
    redis.call('HDEL', key, 'completed_at', 'completed_ms')
    workflow_recount(wf_id)
    workflow_event(wf_id, 'workflow_resumed', { 'step_index', idx, 'job_id', id })
  else
    workflow_settle(wf_id, now)
  end
  return 'OK'
end

-- Checks a job spec and works out what write_job stores, writing nothing, so that a workflow can check all
-- its steps before it writes any. Returns the prepared job, or nil and an error reply.
local function prepare_job(spec)
  local id = str(spec.id)
  if id == '' then return nil, fail('VALIDATION_ERROR', 'job id is required') end
  if redis.call('EXISTS', 'job:' .. id) == 1 then return nil, fail('DUPLICATE_JOB', 'a job with id ' .. id .. ' exists') end
  local priority = tonumber(spec.priority) or 50
  if priority < 0 or priority > MAX_PRIORITY or priority ~= math.floor(priority) then
    return nil, fail('VALIDATION_ERROR', 'priority must be a whole number from 0 to ' .. MAX_PRIORITY)
  end
  local status = str(spec.status)
  if status == '' then status = 'pending' end
  if status ~= 'pending' and status ~= 'waiting' then return nil, fail('VALIDATION_ERROR', 'status must be pending or waiting') end
  local req, req_text = object_and_text(spec.requirements, 'requirements')
  return { id = id, spec = spec, priority = priority, status = status, req_text = req_text, n = normalise_requirements(req) }
end

local function write_job(p, now)
  local spec, id = p.spec, p.id
  local seq = redis.call('INCR', 'jobs:seq')
  local job = {
    id = id, type = str(spec.type), status = '', priority = p.priority, seq = seq, cls = class_id(p.n),
    workflow_id = str(spec.workflow_id), step_index = str(spec.step_index), retry_count = 0,
  }
  local payload = str(spec.payload) ~= '' and str(spec.payload) or '{}'
  local fields = {
    'id', id, 'type', job.type, 'status', p.status, 'priority', p.priority,
    'payload', payload,
    'requirements', p.req_text, 'progress', 0, 'retry_count', 0,
    'max_retries', tonumber(spec.max_retries) or 3, 'timeout_ms', tonumber(spec.timeout_ms) or 0,
    'created_at', iso(now), 'created_ms', now, 'seq', seq, 'cls', job.cls,
  }
  for _, field in ipairs({ 'workflow_id', 'idempotency_key', 'webhook_url', 'webhook_events', 'step_index', 'depends_on' }) do
    local v = str(spec[field])
    if v ~= '' then table.insert(fields, field); table.insert(fields, v) end
  end
  -- A step that will get its dependencies' results keeps its payload as given, so inputs can be spliced in again.
  if str(spec.depends_on) ~= '' then table.insert(fields, 'step_payload'); table.insert(fields, payload) end
  redis.call('HSET', 'job:' .. id, unpack(fields))
  redis.call('ZADD', 'jobs:all', seq, id)
  redis.call('ZADD', 'jobs:type:' .. job.type, seq, id)
  if job.workflow_id ~= '' then redis.call('ZADD', 'jobs:workflow:' .. job.workflow_id, seq, id) end
  index_status(id, job, p.status)
  if p.status == 'pending' then
    job.requirements_normalised = cjson.encode(p.n)
    enqueue(id, job)
  end
  local idem = str(spec.idempotency_key)
  if idem ~= '' then redis.call('SET', 'idempotency:' .. idem, id, 'EX', IDEMPOTENCY_TTL_SECONDS) end
  count('submitted', now)
  job_event(id, 'job_submitted', job)
  return id
end

-- ARGV: job JSON {id, type, priority, payload (JSON text), requirements (object), max_retries,
--       timeout_ms, workflow_id, idempotency_key, status ('pending' or 'waiting'), webhook_url,
--       webhook_events (comma-separated: failed, progress)}
-- Returns [job id, 1 if created or 0 if the idempotency key named an existing job].
local function job_submit(keys, args)
  local spec = decode(args[1], 'job')
  local idem = str(spec.idempotency_key)
  if idem ~= '' then
    local existing = redis.call('GET', 'idempotency:' .. idem)
    if existing then return { existing, 0 } end
  end
  local p, refused = prepare_job(spec)
  if not p then return refused end
  return { write_job(p, now_ms()), 1 }
end

-- Picks the best job a worker can serve: its own pool first, then priority, then age. Marks it assigned
-- under a lease. w: parsed capabilities. Returns the job table or nil.
local function claim_best(w, token, lease_ms, now)
  local registered = false
  if w.worker_id ~= '' then
    local info = redis.call('HMGET', 'worker:' .. w.worker_id, 'status', 'concurrency', 'active', 'machine_id')
    if info[1] then
      registered = true
      if info[1] == 'offline' or info[1] == 'draining' then return nil end
      if (tonumber(info[3]) or 0) >= (tonumber(info[2]) or 1) then return nil end
      if w.machine_id == '' then w.machine_id = info[4] or '' end
    end
  end

  local best_id, best_cls, best_pool_miss, best_score
  local classes = redis.call('HGETALL', 'jobs:classes')
  for i = 1, #classes, 2 do
    local ok, req = pcall(cjson.decode, classes[i + 1])
    if ok and can_serve(req, w) then
      local head = redis.call('ZRANGE', 'jobs:class:' .. classes[i], 0, 0, 'WITHSCORES')
      if head[1] then
        local pool_miss = (req.pool == w.pool) and 0 or 1
        local score = tonumber(head[2])
        if best_id == nil or pool_miss < best_pool_miss or (pool_miss == best_pool_miss and score < best_score) then
          best_id, best_cls, best_pool_miss, best_score = head[1], classes[i], pool_miss, score
        end
      else
        redis.call('HDEL', 'jobs:classes', classes[i]) -- an empty sorted set no longer exists
      end
    end
  end
  if not best_id then return nil end

  dequeue(best_id, best_cls)
  local job = load_job(best_id)
  local expires = now + lease_ms
  job.worker_id, job.machine_id = w.worker_id, w.machine_id
  job.lease_token, job.lease_expires_at, job.assigned_at, job.assigned_ms = token, expires, iso(now), now
  set_status(best_id, job, 'assigned', 'worker_id', w.worker_id, 'machine_id', w.machine_id,
    'lease_token', token, 'lease_expires_at', expires, 'assigned_at', job.assigned_at, 'assigned_ms', now)
  job.attempts = redis.call('HINCRBY', 'job:' .. best_id, 'attempts', 1)
  redis.call('ZADD', 'jobs:leases', expires, best_id)
  local timeout = tonumber(job.timeout_ms) or 0
  if timeout > 0 then redis.call('ZADD', 'jobs:deadlines', now + timeout, best_id) end
  if w.worker_id ~= '' then
    redis.call('ZADD', 'jobs:worker:' .. w.worker_id, tonumber(job.seq), best_id)
  end
  if w.machine_id ~= '' then
    redis.call('ZADD', 'jobs:machine:' .. w.machine_id, tonumber(job.seq), best_id)
  end
  if registered then
    redis.call('SADD', 'worker:' .. w.worker_id .. ':jobs', best_id)
    redis.call('HINCRBY', 'worker:' .. w.worker_id, 'active', 1)
    redis.call('HSET', 'worker:' .. w.worker_id, 'status', 'busy', 'current_job_id', best_id)
  end
  job_event(best_id, 'job_assigned', job, { 'lease_expires_at', expires })
  return job
end

-- ARGV: worker capabilities JSON (with worker_id, machine_id), lease token, lease ms.
-- Returns the assigned job's fields as a flat list, or nil when nothing matches.
local function job_claim(keys, args)
  local w = parse_capabilities(args[1])
  local token = str(args[2])
  local lease_ms = tonumber(args[3]) or 30000
  if token == '' then return fail('VALIDATION_ERROR', 'a lease token is required') end
  local now = now_ms()
  promote_due(now, 100)
  adopt_strays(1000)
  local job = claim_best(w, token, lease_ms, now)
  if not job then return nil end
  -- claim_best holds every field of the hash as it now stands; no need to read it again.
  local fields = {}
  for name, value in pairs(job) do
    fields[#fields + 1] = name
    fields[#fields + 1] = tostring(value)
  end
  return fields
end

-- Seed 001's contract: FCALL findMatchingJob 0 <capabilities JSON> <max scan>
-- -> {"success":true,"jobId":…} or {"success":false,"reason":"No matching jobs found"}.
-- Seed-era workers have no lease token to present, so the lease it grants is unfenced (empty token).
local function find_matching_job(keys, args)
  local w = parse_capabilities(args[1])
  local max_scan = math.max(tonumber(args[2]) or 100, 100)
  local now = now_ms()
  promote_due(now, 100)
  adopt_strays(max_scan)
  local lease_ms = tonumber(redis.call('HGET', 'cluster:config', 'lease_ms')) or 30000
  local job = claim_best(w, '', lease_ms, now)
  if not job then return cjson.encode({ success = false, reason = 'No matching jobs found' }) end
  return cjson.encode({ success = true, jobId = job.id })
end

-- Checks that the caller holds the job's lease. An empty token is the seed's unfenced internal API.
local function check_lease(job, token)
  if token ~= '' and job.lease_token ~= token then
    return fail('STALE_LEASE', 'the lease on job ' .. job.id .. ' is no longer yours')
  end
  if job.status ~= 'assigned' and job.status ~= 'running' then
    return fail('INVALID_STATE', 'job ' .. job.id .. ' is ' .. job.status .. ', not assigned or running')
  end
  return nil
end

-- ARGV: job id, lease token, progress (0-100), message, lease ms. Marks the job running and renews its lease.
local function job_progress(keys, args)
  local id, token = args[1], str(args[2])
  local job = load_job(id)
  if not job then return fail('JOB_NOT_FOUND', 'Job not found: ' .. id) end
  local refused = check_lease(job, token)
  if refused then return refused end
  local progress = tonumber(args[3])
  if not progress or progress < 0 or progress > 100 then return fail('VALIDATION_ERROR', 'progress must be a number from 0 to 100') end
  local now = now_ms()
  local lease_ms = tonumber(args[5]) or 0
  if job.status == 'assigned' then
    set_status(id, job, 'running', 'started_at', iso(now), 'started_ms', now)
    job_event(id, 'job_started', job)
  end
  redis.call('HSET', 'job:' .. id, 'progress', progress, 'progress_message', str(args[4]), 'updated_at', iso(now))
  if lease_ms > 0 and job.lease_token then
    redis.call('ZADD', 'jobs:leases', 'XX', now + lease_ms, id)
    redis.call('HSET', 'job:' .. id, 'lease_expires_at', now + lease_ms)
  end
  job_event(id, 'job_progress', job, { 'progress', progress, 'message', str(args[4]) })
  return 'OK'
end

local function complete_job(id, job, result, now)
  release(id, job)
  local started = job.started_at and {} or { 'started_at', iso(now), 'started_ms', now }
  set_status(id, job, 'completed', 'progress', 100, 'result', result,
    'completed_at', iso(now), 'completed_ms', now, unpack(started))
  count('completed', now)
  job_event(id, 'job_completed', job, { 'result', result })
  workflow_on_step_completed(id, job, now)
end

-- ARGV: job id, lease token, result JSON. Idempotent for a job already completed.
-- A workflow step's completion promotes its dependents in this same call.
local function job_complete(keys, args)
  local id, token = args[1], str(args[2])
  local job = load_job(id)
  if not job then return fail('JOB_NOT_FOUND', 'Job not found: ' .. id) end
  if job.status == 'completed' then return 'ALREADY_COMPLETED' end
  local refused = check_lease(job, token)
  if refused then return refused end
  local result = str(args[3])
  if result == '' then result = 'null' end
  complete_job(id, job, result, now_ms())
  return 'OK'
end

-- Puts a job that failed (or whose lease or time ran out) back in line with exponential backoff, or ends it dead.
local function fail_attempt(id, job, error_json, retryable, backoff_ms, now)
  release(id, job)
  local retries = (tonumber(job.retry_count) or 0) + 1
  local max_retries = tonumber(job.max_retries) or 0
  job.retry_count = retries
  redis.call('HSET', 'job:' .. id, 'error', error_json, 'failed_at', iso(now), 'retry_count', retries)
  count('failed', now)
  if retryable and retries <= max_retries then
    local delay = math.min(backoff_ms * 2 ^ (retries - 1), MAX_BACKOFF_MS)
    set_status(id, job, 'delayed', 'progress', 0)
    redis.call('ZADD', 'jobs:delayed', now + delay, id)
    job_event(id, 'job_failed', job, { 'error', error_json, 'will_retry', 1, 'retry_at', now + delay })
    return 'RETRYING'
  end
  set_status(id, job, 'dead', 'completed_at', iso(now), 'completed_ms', now)
  count('dead', now)
  job_event(id, 'job_failed', job, { 'error', error_json, 'will_retry', 0 })
  job_event(id, 'job_dead', job, { 'error', error_json })
  workflow_on_step_ended(id, job, 'dead', error_json, now)
  return 'DEAD'
end

-- ARGV: job id, lease token, error JSON {code, message}, retryable (1/0), base backoff ms.
local function job_fail(keys, args)
  local id, token = args[1], str(args[2])
  local job = load_job(id)
  if not job then return fail('JOB_NOT_FOUND', 'Job not found: ' .. id) end
  local refused = check_lease(job, token)
  if refused then return refused end
  return fail_attempt(id, job, str(args[3]) ~= '' and args[3] or '{}', args[4] ~= '0', tonumber(args[5]) or 1000, now_ms())
end

-- ARGV: job id, reason. Any job not yet finished can be cancelled; a worker holding it loses its lease.
-- Cancelling a workflow step applies the workflow's failure policy.
local function job_cancel(keys, args)
  local id = args[1]
  local job = load_job(id)
  if not job then return fail('JOB_NOT_FOUND', 'Job not found: ' .. id) end
  if TERMINAL[job.status] then return fail('INVALID_STATE', 'job ' .. id .. ' is already ' .. job.status) end
  local now = now_ms()
  local reason = str(args[2])
  cancel_job(id, job, reason, now, false)
  workflow_on_step_ended(id, job, 'cancelled', reason, now)
  return 'OK'
end

-- ARGV: job id. Gives a dead, cancelled or delayed job a fresh start now, with its retry count reset.
-- A dead or cancelled workflow step is retried as its workflow's step (see retry_step).
local function job_retry(keys, args)
  local id = args[1]
  local job = load_job(id)
  if not job then return fail('JOB_NOT_FOUND', 'Job not found: ' .. id) end
  if job.status ~= 'dead' and job.status ~= 'cancelled' and job.status ~= 'delayed' and job.status ~= 'failed' then
    return fail('INVALID_STATE', 'job ' .. id .. ' is ' .. job.status .. '; only dead, failed, cancelled or delayed jobs can be retried')
  end
  local wf_id = str(job.workflow_id)
  if job.status ~= 'delayed' and wf_id ~= '' and redis.call('EXISTS', 'workflow:' .. wf_id) == 1 then
    local idx = step_index_of(wf_id, id, job)
    if idx then return retry_step(wf_id, idx, now_ms()) end
  end
  redis.call('ZREM', 'jobs:delayed', id)
  job.retry_count = 0
  redis.call('HDEL', 'job:' .. id, 'completed_at', 'completed_ms', 'result')
  requeue(id, job, 'manual_retry', { 'retry_count', 0, 'progress', 0 })
  return 'OK'
end

-- Workflow functions -----------------------------------------------------------------------------------

-- ARGV: workflow JSON {id, name, description, failure_policy, webhook_url, steps (the step definitions as
-- JSON text, stored verbatim), jobs: [job spec as for job_submit, plus depends_on "i,j,…"]}.
-- Checked by the silo first (including cycles); checked again here before anything is written, so the
-- workflow and all its jobs are created, or nothing is. Returns the job ids by step.
local function workflow_create(keys, args)
  local spec = decode(args[1], 'workflow')
  local wf_id = str(spec.id)
  if wf_id == '' then return fail('VALIDATION_ERROR', 'workflow id is required') end
  if redis.call('EXISTS', 'workflow:' .. wf_id) == 1 then return fail('VALIDATION_ERROR', 'a workflow with id ' .. wf_id .. ' exists') end
  local jobs = spec.jobs
  if type(jobs) ~= 'table' or #jobs == 0 then return fail('VALIDATION_ERROR', 'a workflow needs at least one step') end
  local n = #jobs
  local policy = str(spec.failure_policy)
  if policy == '' then policy = 'fail_fast' end
  if policy ~= 'fail_fast' and policy ~= 'continue' then return fail('VALIDATION_ERROR', 'failure_policy must be fail_fast or continue') end
  local prepared, dependents, ids = {}, {}, {}
  for i, js in ipairs(jobs) do
    local idx = i - 1
    js.step_index, js.workflow_id, js.idempotency_key = idx, wf_id, nil
    local deps = indexes(str(js.depends_on))
    for _, d in ipairs(deps) do
      if d < 0 or d >= n or d == idx or d ~= math.floor(d) then
        return fail('VALIDATION_ERROR', 'step ' .. idx .. ' depends on ' .. d .. ', which is not another step of the workflow')
      end
      dependents[d] = dependents[d] and (dependents[d] .. ',' .. idx) or tostring(idx)
    end
    js.status = #deps > 0 and 'waiting' or 'pending'
    local p, refused = prepare_job(js)
    if not p then return refused end
    if ids[p.id] then return fail('DUPLICATE_JOB', 'two steps share the job id ' .. p.id) end
    ids[p.id] = true
    prepared[i] = p
  end
  local now = now_ms()
  local key = 'workflow:' .. wf_id
  redis.call('HSET', key, 'id', wf_id, 'name', str(spec.name), 'status', 'running', 'steps', str(spec.steps),
    'total_steps', n, 'completed_steps', 0, 'failed_steps', 0, 'failure_policy', policy,
    'created_at', iso(now), 'created_ms', now)
  for _, field in ipairs({ 'description', 'webhook_url' }) do
    if str(spec[field]) ~= '' then redis.call('HSET', key, field, str(spec[field])) end
  end
  local job_ids = {}
  for i, p in ipairs(prepared) do job_ids[i] = write_job(p, now) end
  redis.call('RPUSH', key .. ':jobs', unpack(job_ids))
  for d, list in pairs(dependents) do redis.call('HSET', key .. ':dependents', d, list) end
  redis.call('ZADD', 'workflows', redis.call('INCR', 'workflows:seq'), wf_id)
  workflow_event(wf_id, 'workflow_created')
  return job_ids
end

-- ARGV: workflow id. Returns [workflow hash, job hash of each step…] read in one atomic step, or nil.
local function workflow_get(keys, args)
  local wf = redis.call('HGETALL', 'workflow:' .. args[1])
  if #wf == 0 then return nil end
  local out = { wf }
  for _, id in ipairs(step_job_ids(args[1])) do out[#out + 1] = redis.call('HGETALL', 'job:' .. id) end
  return out
end

-- ARGV: workflow id, job id, result JSON. Seed 001's internal route: seed-era code marks the job completed
-- with HMSET and then calls this. Brings the job's indexes in line, appends its job_completed event and
-- promotes its dependents, exactly once however often it is called. A job still assigned or running is
-- completed here (unfenced, as the seed's internal API is).
local function workflow_job_completed(keys, args)
  local wf_id, id = args[1], args[2]
  if redis.call('EXISTS', 'workflow:' .. wf_id) == 0 then return fail('WORKFLOW_NOT_FOUND', 'Workflow not found: ' .. wf_id) end
  local job = load_job(id)
  if not job then return fail('JOB_NOT_FOUND', 'Job not found: ' .. id) end
  if str(job.workflow_id) ~= wf_id then return fail('VALIDATION_ERROR', 'job ' .. id .. ' is not a step of workflow ' .. wf_id) end
  local now = now_ms()
  local result = str(args[3])
  if result == '' then result = 'null' end
  if job.status == 'assigned' or job.status == 'running' then
    complete_job(id, job, result, now)
    return 'OK'
  end
  if job.status ~= 'completed' then
    return fail('INVALID_STATE', 'job ' .. id .. ' is ' .. str(job.status) .. ', not completed')
  end
  local idx = step_index_of(wf_id, id, job)
  if not idx or redis.call('SISMEMBER', 'workflow:' .. wf_id .. ':completed', idx) == 1 then return 'ALREADY_COMPLETED' end
  dequeue(id, job.cls)
  redis.call('ZREM', 'jobs:delayed', id)
  release(id, job)
  for s in pairs(UNFINISHED) do redis.call('ZREM', 'jobs:status:' .. s, id) end
  redis.call('ZADD', 'jobs:status:completed', tonumber(job.seq) or 0, id)
  if not job.result or job.result == '' then
    job.result = result
    redis.call('HSET', 'job:' .. id, 'result', result)
  end
  redis.call('HSET', 'job:' .. id, 'progress', 100)
  if not job.completed_ms then redis.call('HSET', 'job:' .. id, 'completed_ms', now) end
  if not job.completed_at then redis.call('HSET', 'job:' .. id, 'completed_at', iso(now)) end
  count('completed', now)
  job_event(id, 'job_completed', job, { 'result', job.result, 'reason', 'internal_job_completed' })
  workflow_on_step_completed(id, job, now)
  return 'OK'
end

-- ARGV: workflow id, reason. Cancels every unfinished step; the workflow ends cancelled.
local function workflow_cancel(keys, args)
  local wf_id = args[1]
  local key = 'workflow:' .. wf_id
  local status = redis.call('HGET', key, 'status')
  if not status then return fail('WORKFLOW_NOT_FOUND', 'Workflow not found: ' .. wf_id) end
  if status ~= 'running' and status ~= 'pending' then
    return fail('INVALID_STATE', 'workflow ' .. wf_id .. ' is already ' .. status)
  end
  local now = now_ms()
  local reason = str(args[2]) ~= '' and args[2] or 'workflow cancelled'
  for _, id in ipairs(step_job_ids(wf_id)) do
    local job = load_job(id)
    if job and UNFINISHED[job.status] then cancel_job(id, job, reason, now, false) end
  end
  workflow_settle(wf_id, now, 'cancelled')
  return 'OK'
end

-- ARGV: workflow id, step index.
local function workflow_retry_step(keys, args)
  local idx = tonumber(args[2])
  if not idx or idx < 0 or idx ~= math.floor(idx) then return fail('VALIDATION_ERROR', 'the step index must be a whole number') end
  return retry_step(args[1], idx, now_ms())
end

-- Workers and machines -------------------------------------------------------------------------------

local function machine_touch(machine_id, spec, now)
  local key = 'machine:' .. machine_id
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'id', machine_id, 'created_at', iso(now))
    redis.call('ZADD', 'machines', 0, machine_id)
    emit('events:machines', 'machine_registered', { 'machine_id', machine_id })
  end
  redis.call('HSET', key, 'last_seen', iso(now), 'last_seen_ms', now)
  if str(spec.host) ~= '' then redis.call('HSET', key, 'host', str(spec.host)) end
  if tonumber(spec.gpu_count) then redis.call('HSET', key, 'gpu_count', tonumber(spec.gpu_count)) end
end

-- Hands back every job a worker holds, each as a failed attempt (retried, or dead when out of retries).
-- Returns how many it handed back.
local function return_leases(worker_id, code, message, now)
  local held = 'worker:' .. worker_id .. ':jobs'
  local returned = 0
  for _, job_id in ipairs(redis.call('SMEMBERS', held)) do
    local job = load_job(job_id)
    if job and (job.status == 'assigned' or job.status == 'running') then
      fail_attempt(job_id, job, cjson.encode({ code = code, message = message }), true, 0, now)
      returned = returned + 1
    end
  end
  redis.call('DEL', held)
  return returned
end

-- ARGV: worker JSON {worker_id, machine_id, host, gpu_count, gpu_index, concurrency, capabilities{…}, silo_id}.
-- Re-registering (a restart) keeps the machine association and returns the worker's old leases to the queue.
local function worker_register(keys, args)
  local spec = decode(args[1], 'worker')
  local id, machine_id = str(spec.worker_id), str(spec.machine_id)
  if id == '' then return fail('VALIDATION_ERROR', 'worker_id is required') end
  if machine_id == '' or machine_id == 'unknown' then
    return fail('MACHINE_ID_REQUIRED', 'worker ' .. id .. ' must name its machine_id (got "' .. machine_id .. '")')
  end
  local key = 'worker:' .. id
  local previous = redis.call('HGET', key, 'machine_id')
  if previous and previous ~= machine_id then
    redis.call('SREM', 'machine:' .. previous .. ':workers', id)
  end
  local now = now_ms()
  local returned = return_leases(id, 'WORKER_RESTARTED', 'worker ' .. id .. ' registered again while holding the job', now)
  local _, caps_text = object_and_text(spec.capabilities, 'capabilities')
  redis.call('HSET', key, 'id', id, 'machine_id', machine_id, 'status', 'idle', 'active', 0,
    'concurrency', math.max(tonumber(spec.concurrency) or 1, 1), 'capabilities', caps_text,
    'gpu_index', str(spec.gpu_index), 'silo_id', str(spec.silo_id),
    'registered_at', iso(now), 'last_heartbeat', iso(now), 'last_heartbeat_ms', now)
  redis.call('HDEL', key, 'current_job_id')
  redis.call('ZADD', 'workers:heartbeats', now, id)
  redis.call('ZADD', 'workers', 0, id)
  machine_touch(machine_id, spec, now)
  redis.call('SADD', 'machine:' .. machine_id .. ':workers', id)
  emit('events:workers', 'worker_registered', { 'worker_id', id, 'machine_id', machine_id, 'status', 'idle' })
  return returned
end

-- ARGV: worker id, lease ms. Renews the worker and every lease it holds.
-- Returns the ids of the jobs it holds, so a worker can learn that one was taken from it.
local function worker_heartbeat(keys, args)
  local id = args[1]
  local key = 'worker:' .. id
  local status = redis.call('HGET', key, 'status')
  if not status then return fail('WORKER_NOT_FOUND', 'Worker not found: ' .. id) end
  if status == 'offline' then return fail('WORKER_OFFLINE', 'worker ' .. id .. ' was declared offline; register again') end
  local now = now_ms()
  local lease_ms = tonumber(args[2]) or 30000
  redis.call('HSET', key, 'last_heartbeat', iso(now), 'last_heartbeat_ms', now)
  redis.call('ZADD', 'workers:heartbeats', now, id)
  local machine_id = redis.call('HGET', key, 'machine_id')
  if machine_id then redis.call('HSET', 'machine:' .. machine_id, 'last_seen', iso(now), 'last_seen_ms', now) end
  local jobs = redis.call('SMEMBERS', key .. ':jobs')
  for _, job_id in ipairs(jobs) do
    redis.call('ZADD', 'jobs:leases', 'XX', now + lease_ms, job_id)
    redis.call('HSET', 'job:' .. job_id, 'lease_expires_at', now + lease_ms)
  end
  return jobs
end

local function worker_offline(id, reason, now)
  local key = 'worker:' .. id
  local returned = return_leases(id, 'WORKER_LOST', 'worker ' .. id .. ' went offline: ' .. reason, now)
  redis.call('HSET', key, 'status', 'offline', 'active', 0, 'offline_at', iso(now))
  redis.call('HDEL', key, 'current_job_id')
  redis.call('ZREM', 'workers:heartbeats', id)
  emit('events:workers', 'worker_offline', { 'worker_id', id, 'machine_id', redis.call('HGET', key, 'machine_id'), 'reason', reason })
  return returned
end

-- ARGV: worker id, reason. A worker leaving cleanly; its jobs go back to the queue at once.
local function worker_unregister(keys, args)
  if redis.call('EXISTS', 'worker:' .. args[1]) == 0 then return fail('WORKER_NOT_FOUND', 'Worker not found: ' .. args[1]) end
  return worker_offline(args[1], str(args[2]) ~= '' and args[2] or 'disconnected', now_ms())
end

-- Housekeeping ---------------------------------------------------------------------------------------

-- ARGV: worker timeout ms, limit. Run by one silo per interval (guarded by a key); safe to run more often.
-- Returns [expired leases, timed-out jobs, workers declared offline, retries promoted].
local function sweep(keys, args)
  local worker_timeout = tonumber(args[1]) or 30000
  local limit = tonumber(args[2]) or 1000
  local now = now_ms()
  local lost_workers = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', 'workers:heartbeats', '-inf', now - worker_timeout, 'LIMIT', 0, limit)) do
    worker_offline(id, 'heartbeat lapsed', now)
    lost_workers = lost_workers + 1
  end
  local expired = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', 'jobs:leases', '-inf', now, 'LIMIT', 0, limit)) do
    local job = load_job(id)
    if job and (job.status == 'assigned' or job.status == 'running') then
      fail_attempt(id, job, cjson.encode({ code = 'LEASE_EXPIRED', message = 'the worker stopped renewing its lease' }), true, 0, now)
      expired = expired + 1
    else
      redis.call('ZREM', 'jobs:leases', id)
    end
  end
  local timed_out = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', 'jobs:deadlines', '-inf', now, 'LIMIT', 0, limit)) do
    local job = load_job(id)
    if job and (job.status == 'assigned' or job.status == 'running') then
      fail_attempt(id, job, cjson.encode({ code = 'TIMEOUT', message = 'the job ran longer than its timeout of ' .. job.timeout_ms .. ' ms' }), true, 1000, now)
      timed_out = timed_out + 1
    else
      redis.call('ZREM', 'jobs:deadlines', id)
    end
  end
  local promoted = promote_due(now, limit)
  return { expired, timed_out, lost_workers, promoted }
end

-- Registration ---------------------------------------------------------------------------------------

local function guarded(fn)
  return function(keys, args)
    call_events_maxlen = nil
    local ok, result = pcall(fn, keys, args)
    if ok then return result end
    if type(result) == 'table' and result.err then return result end
    local message = tostring(result)
    local code, text = string.match(message, '(VALIDATION_ERROR) (.*)$')
    if code then return redis.error_reply(code .. ' ' .. text) end
    return redis.error_reply('ERR ' .. message)
  end
end

local function register(name, fn, flags)
  redis.register_function{ function_name = name, callback = guarded(fn), flags = flags }
end

redis.register_function{
  function_name = 'cluster_version',
  callback = function() return LIBRARY_VERSION end,
  flags = { 'no-writes' },
}
register('job_submit', job_submit)
register('job_claim', job_claim)
register('findMatchingJob', find_matching_job)
register('job_progress', job_progress)
register('job_complete', job_complete)
register('job_fail', job_fail)
register('job_cancel', job_cancel)
register('job_retry', job_retry)
register('workflow_create', workflow_create)
register('workflow_get', workflow_get, { 'no-writes' })
register('workflow_job_completed', workflow_job_completed)
register('workflow_cancel', workflow_cancel)
register('workflow_retry_step', workflow_retry_step)
register('worker_register', worker_register)
register('worker_heartbeat', worker_heartbeat)
register('worker_unregister', worker_unregister)
register('cluster_sweep', sweep)
