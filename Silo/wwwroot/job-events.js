// How a `jobs` topic event changes a job as the dashboard holds it.
//
// A view fetches a snapshot over HTTP while its subscription already delivers events, so an event may
// be older than the snapshot. Stream ids and job timestamps both come from the Redis clock, so an event
// older than the job's latest timestamp is skipped, and progress within one attempt never goes back.

import { eventTime } from './socket.js';

export const JOB_STATUSES = ['waiting', 'pending', 'delayed', 'assigned', 'running', 'completed', 'dead', 'cancelled'];
export const FINISHED = new Set(['completed', 'dead', 'cancelled']);

const TIMESTAMPS = ['created_at', 'assigned_at', 'started_at', 'completed_at', 'failed_at'];

/** The Redis time (ms) of the latest transition a job snapshot shows. */
export function snapshotTime(job) {
  let latest = 0;
  for (const name of TIMESTAMPS) {
    const ms = job[name] ? Date.parse(job[name]) : NaN;
    if (ms > latest) latest = ms;
  }
  return latest;
}

/** Applies `event` to `job` in place; false when the event is older than what the job shows. */
export function applyJobEvent(job, event, eventId) {
  const at = eventTime(eventId);
  if (job.at && at < job.at) return false;
  if (event.type === 'job_progress' && job.status === 'running' && Number(event.progress) < (job.progress ?? 0)) return false;
  job.at = at;
  if (event.status) job.status = event.status;
  if (event.retry_count !== undefined) job.retry_count = event.retry_count;
  switch (event.type) {
    case 'job_assigned':
      job.worker_id = event.worker_id;
      job.machine_id = event.machine_id;
      job.progress = 0;
      job.progress_message = undefined;
      job.assigned_at = new Date(at).toISOString();
      break;
    case 'job_started':
      job.started_at = new Date(at).toISOString();
      break;
    case 'job_progress':
      job.progress = Number(event.progress);
      if (event.message) job.progress_message = event.message;
      break;
    case 'job_completed':
      job.progress = 100;
      if (event.result !== undefined) job.result = event.result;
      job.completed_at = new Date(at).toISOString();
      break;
    case 'job_failed':
    case 'job_dead':
      if (event.error !== undefined) job.error = event.error;
      job.failed_at = new Date(at).toISOString();
      break;
    case 'job_pending':
      job.progress = 0;
      break;
    default:
      break;
  }
  return true;
}
