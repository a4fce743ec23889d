#!lua name=cluster
-- The grain state machine of Cluster. Every transition of a job, worker or machine is one function call
-- here, so it runs atomically, and the same call appends the event that describes it to a stream.
-- Bump LIBRARY_VERSION whenever a function's behaviour or the key layout changes.

local LIBRARY_VERSION = '1'

redis.register_function{
  function_name = 'cluster_version',
  callback = function() return LIBRARY_VERSION end,
  flags = { 'no-writes' },
}
