// One job in full: its fields, payload, result or error, and its event history, kept live by a
// subscription filtered to that job which resumes from the last history entry (no gap, no repeat).

import { api } from '../api.js';
import { h, setText, show } from '../dom.js';
import { dateTime, percent, prettyJson } from '../format.js';
import { scheduleRender } from '../frame.js';
import { applyJobEvent, FINISHED, snapshotTime } from '../job-events.js';
import { eventTime } from '../socket.js';

const MAX_EVENTS = 200;
const RETRYABLE = new Set(['dead', 'cancelled', 'delayed']);
const REFRESH_ON = new Set(['job_completed', 'job_failed', 'job_dead', 'job_cancelled']);

export class JobDetailView {
  #root;
  #socket;
  #onChange;
  #jobId = null;
  #job = null;
  #events = [];
  #message = null;
  #unsubscribe = null;
  #seq = 0;

  constructor(root, { socket, onChange }) {
    this.#root = root;
    this.#socket = socket;
    this.#onChange = onChange;
    this.#renderEmpty();
  }

  get jobId() {
    return this.#jobId;
  }

  async open(jobId) {
    this.close(false);
    this.#jobId = jobId;
    const seq = ++this.#seq;
    this.#root.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    try {
      const [status, history] = await Promise.all([api.job(jobId), api.jobEvents(jobId)]);
      if (seq !== this.#seq) return;
      this.#job = { ...status.job, at: snapshotTime(status.job) };
      this.#events = history.events.slice(-MAX_EVENTS);
      const since = this.#events.at(-1)?.event_id;
      this.#unsubscribe = this.#socket.subscribe('jobs', { job_id: jobId }, {
        onEvent: (event, eventId) => this.#onEvent(event, eventId),
        onResync: () => this.#refresh(),
      }, { since });
      this.#render();
    } catch (error) {
      if (seq !== this.#seq) return;
      this.#root.replaceChildren(this.#head(jobId), h('p', { class: 'error-text' }, error.message));
    }
    this.#onChange?.(jobId);
  }

  close(notify = true) {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#jobId = null;
    this.#job = null;
    this.#events = [];
    this.#message = null;
    this.#seq += 1;
    if (notify) {
      this.#renderEmpty();
      this.#onChange?.(null);
    }
  }

  #onEvent(event, eventId) {
    if (event.job_id !== this.#jobId) return;
    this.#events.push({ ...event, event_id: eventId });
    if (this.#events.length > MAX_EVENTS) this.#events.shift();
    applyJobEvent(this.#job, event, eventId);
    if (REFRESH_ON.has(event.type)) this.#refresh();
    scheduleRender(this.#render);
  }

  /** Re-reads the job for what events do not carry in full (timestamps, attempts). */
  async #refresh() {
    const jobId = this.#jobId;
    try {
      const { job } = await api.job(jobId);
      if (jobId !== this.#jobId) return;
      this.#job = { ...job, at: Math.max(this.#job?.at ?? 0, snapshotTime(job)) };
      scheduleRender(this.#render);
    } catch {
      // the next event or refresh will try again
    }
  }

  async #act(action) {
    const jobId = this.#jobId;
    this.#message = null;
    try {
      const reply = await api[action](jobId);
      this.#message = { text: `${action === 'cancel' ? 'Cancelled' : 'Back in line'}: ${reply.status}` };
      await this.#refresh();
    } catch (error) {
      this.#message = { text: error.message, error: true };
    }
    scheduleRender(this.#render);
  }

  #head(jobId) {
    return h('header', { class: 'panel-head' },
      h('h2', {}, 'Job ', h('span', { class: 'mono', dataset: { testid: 'detail-job-id' } }, jobId)),
      h('button', { type: 'button', class: 'button ghost', 'aria-label': 'Close', onclick: () => this.close() }, '✕'));
  }

  #renderEmpty() {
    this.#root.replaceChildren(
      h('header', { class: 'panel-head' }, h('h2', {}, 'Job detail')),
      h('p', { class: 'empty' }, 'Select a job to see its payload, result and history, live.'));
  }

  // A detail panel is one job with at most 200 events: rebuilding it per frame is cheap and simple.
  #render = () => {
    const job = this.#job;
    if (!job) return;
    const fields = [
      ['Status', h('span', { class: 'pill', dataset: { testid: 'detail-status', status: job.status } }, job.status)],
      ['Type', job.type],
      ['Progress', job.progress !== undefined ? `${percent(job.progress)}${job.progress_message ? ` — ${job.progress_message}` : ''}` : ''],
      ['Priority', job.priority],
      ['Worker', job.worker_id && `${job.worker_id}${job.machine_id ? ` on ${job.machine_id}` : ''}`],
      ['Workflow', job.workflow_id],
      ['Attempts', job.attempts !== undefined && `${job.attempts} (retries ${job.retry_count ?? 0} of ${job.max_retries ?? 0})`],
      ['Created', dateTime(job.created_at)],
      ['Assigned', dateTime(job.assigned_at)],
      ['Started', dateTime(job.started_at)],
      ['Completed', dateTime(job.completed_at)],
      ['Failed', dateTime(job.failed_at)],
    ].filter(([, value]) => value !== undefined && value !== null && value !== '' && value !== false);

    const cancel = h('button', { type: 'button', class: 'button', disabled: FINISHED.has(job.status), dataset: { testid: 'detail-cancel' }, onclick: () => this.#act('cancel') }, 'Cancel');
    const retry = h('button', { type: 'button', class: 'button', disabled: !RETRYABLE.has(job.status), dataset: { testid: 'detail-retry' }, onclick: () => this.#act('retry') }, 'Retry');
    const message = h('p', { class: this.#message?.error ? 'error-text' : 'muted', role: 'status', dataset: { testid: 'detail-message' } });
    setText(message, this.#message?.text);
    show(message, Boolean(this.#message));

    this.#root.replaceChildren(...[
      this.#head(job.id),
      h('dl', { class: 'fields' }, fields.flatMap(([name, value]) => [h('dt', {}, name), h('dd', {}, value)])),
      h('div', { class: 'actions' }, cancel, retry), message,
      job.error ? block('Error', `${job.error.code ?? ''}${job.error.message ? `: ${job.error.message}` : ''}`, 'error-text') : null,
      job.result !== undefined ? block('Result', prettyJson(job.result)) : null,
      block('Payload', prettyJson(job.payload ?? {})),
      h('h3', {}, `History · ${this.#events.length}`),
      h('ol', { class: 'history', dataset: { testid: 'detail-history' } },
        [...this.#events].reverse().map((e) => h('li', {},
          h('time', { class: 'mono muted' }, new Date(eventTime(e.event_id)).toLocaleTimeString(undefined, { hour12: false })),
          h('span', { class: 'event-type' }, e.type.replace(/^job_/, '')),
          h('span', { class: 'muted' }, describe(e))))),
    ].filter(Boolean));
  };
}

function block(title, text, className = '') {
  return h('section', { class: 'block' }, h('h3', {}, title), h('pre', { class: className }, text));
}

function describe(e) {
  if (e.type === 'job_progress') return `${percent(Number(e.progress))}${e.message ? ` ${e.message}` : ''}`;
  if (e.type === 'job_assigned') return e.worker_id ?? '';
  if (e.error) {
    const error = typeof e.error === 'string' ? safeParse(e.error) : e.error;
    return error?.code ? `${error.code}${error.message ? `: ${error.message}` : ''}` : String(e.error);
  }
  return e.reason ?? '';
}

function safeParse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
