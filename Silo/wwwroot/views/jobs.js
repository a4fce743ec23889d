// The live job table: one page of /api/jobs (filters, cursor pagination) kept current by the `jobs`
// topic. Only the visible page is held; events for other jobs are dropped on arrival, and rows are
// patched in place at most once per animation frame.

import { api } from '../api.js';
import { CursorPages } from '../cursor-pages.js';
import { h, KeyedList, setAttr, setText, show } from '../dom.js';
import { formatNumber, percent, shortId, timeAgo } from '../format.js';
import { applyJobEvent, JOB_STATUSES, snapshotTime } from '../job-events.js';
import { eventTime } from '../socket.js';

const PAGE_SIZES = [10, 25, 50, 100];
const MAX_BUFFERED_EVENTS = 5000;
const CURSOR_REFRESH_MS = 2000;

export class JobsView {
  #socket;
  #onSelect;
  #els;
  #filters = { status: '', type: '', limit: 25 };
  #pages = new CursorPages();
  #rows;                 // KeyedList: job ids on this page, newest first → <tr>
  #jobs = new Map();     // job id → job, this page only
  #cells = new WeakMap(); // <tr> → its cells
  #selected = null;
  #newElsewhere = 0;     // jobs submitted while not on the first page
  #loadSeq = 0;
  #buffer = null;        // events that arrive while a page is loading
  #unsubscribe = null;
  #error = null;
  #clock = 0;
  #refreshTimer = 0;

  /** `signal` removes the listeners on the long-lived elements when the session ends. */
  constructor({ socket, toolbar, body, empty, pager, onSelect, signal }) {
    this.#socket = socket;
    this.#onSelect = onSelect;
    this.#els = { toolbar, body, empty, pager };
    this.#rows = new KeyedList(body, {
      create: (id) => this.#createRow(id),
      update: (id, row) => {
        const job = this.#jobs.get(id);
        if (job) this.#patchRow(row, job);
      },
      afterReorder: () => {
        this.#renderEmpty();
        this.#renderPager();
      },
    });
    this.#buildToolbar();
    body.replaceChildren();
    body.addEventListener('click', (e) => this.#rowActivated(e), { signal });
    body.addEventListener('keydown', (e) => e.key === 'Enter' && this.#rowActivated(e), { signal });
  }

  start(jobTypes = []) {
    this.setJobTypes(jobTypes);
    this.#resubscribe();
    this.#load();
    this.#clock = setInterval(() => this.#rows.patchAll(), 5000); // keeps "created … ago" fresh
  }

  stop() {
    this.#unsubscribe?.();
    clearInterval(this.#clock);
    clearTimeout(this.#refreshTimer);
  }

  setJobTypes(types) {
    const select = this.#els.toolbar.querySelector('[data-testid=job-type-filter]');
    select.replaceChildren(h('option', { value: '' }, 'All types'), ...types.map((t) => h('option', { value: t.name }, t.name)));
    select.value = this.#filters.type;
  }

  /** Highlights the job shown in the detail panel. */
  select(jobId) {
    this.#selected = jobId;
    for (const [id, row] of this.#rows.elements) row.classList.toggle('selected', id === jobId);
  }

  #buildToolbar() {
    const status = h('select', { 'aria-label': 'Status', dataset: { testid: 'job-status-filter' }, onchange: (e) => this.#setFilter('status', e.target.value) },
      h('option', { value: '' }, 'All statuses'), JOB_STATUSES.map((s) => h('option', { value: s }, s)));
    const type = h('select', { 'aria-label': 'Type', dataset: { testid: 'job-type-filter' }, onchange: (e) => this.#setFilter('type', e.target.value) },
      h('option', { value: '' }, 'All types'));
    const size = h('select', { 'aria-label': 'Rows per page', dataset: { testid: 'job-page-size' }, onchange: (e) => this.#setFilter('limit', Number(e.target.value)) },
      PAGE_SIZES.map((n) => h('option', { value: n, selected: n === this.#filters.limit }, `${n} / page`)));
    this.#els.toolbar.replaceChildren(status, type, size);
  }

  #setFilter(name, value) {
    this.#filters[name] = value;
    this.#firstPage();
    if (name === 'type') this.#resubscribe();
  }

  #firstPage() {
    this.#pages.reset();
    this.#newElsewhere = 0;
    this.#load();
  }

  #resubscribe() {
    this.#unsubscribe?.();
    const filter = this.#filters.type ? { job_types: [this.#filters.type] } : {};
    this.#unsubscribe = this.#socket.subscribe('jobs', filter, {
      onEvent: (event, eventId) => this.#onEvent(event, eventId),
      onResync: () => this.#load(),
    });
  }

  async #load() {
    const seq = ++this.#loadSeq;
    this.#buffer = [];
    try {
      const page = await api.jobs({ ...this.#filters, cursor: this.#pages.cursor });
      if (seq !== this.#loadSeq) return;
      this.#error = null;
      this.#jobs = new Map(page.jobs.map((job) => [job.id, { ...job, at: snapshotTime(job) }]));
      this.#rows.keys = page.jobs.map((job) => job.id);
      this.#pages.next = page.next_cursor ?? null;
      this.#rows.reorder();
      this.#rows.patchAll();
      const buffered = this.#buffer;
      this.#buffer = null;
      for (const [event, eventId] of buffered ?? []) this.#onEvent(event, eventId);
    } catch (error) {
      if (seq !== this.#loadSeq) return;
      this.#buffer = null;
      this.#error = error.message;
      this.#rows.reorder();
    }
  }

  #onEvent(event, eventId) {
    if (this.#buffer) {
      if (this.#buffer.length < MAX_BUFFERED_EVENTS) this.#buffer.push([event, eventId]);
      return;
    }
    const job = this.#jobs.get(event.job_id);
    if (job) {
      if (applyJobEvent(job, event, eventId)) this.#rows.patch(job.id);
    } else if (event.type === 'job_submitted') {
      this.#submitted(event, eventId);
    }
  }

  /** A new job: at the top of the first page when it matches the filters. */
  #submitted(event, eventId) {
    const { status, type, limit } = this.#filters;
    if ((status && status !== event.status) || (type && type !== event.job_type)) return;
    if (!this.#pages.isFirst) {
      this.#newElsewhere += 1;
      this.#rows.reorder();
      return;
    }
    const at = eventTime(eventId);
    this.#jobs.set(event.job_id, {
      id: event.job_id, type: event.job_type, status: event.status, priority: event.priority,
      workflow_id: event.workflow_id, progress: 0, created_at: new Date(at).toISOString(), at,
    });
    this.#rows.keys.unshift(event.job_id);
    // The page stays one page long; what falls off the end belongs to the next page, which the
    // cursor we hold no longer starts at: re-read the page (at most every 2 s) for a fresh one.
    const dropped = this.#rows.keys.splice(limit);
    for (const id of dropped) this.#jobs.delete(id);
    if (dropped.length && !this.#refreshTimer) {
      this.#refreshTimer = setTimeout(() => {
        this.#refreshTimer = 0;
        if (this.#pages.isFirst) this.#load();
      }, CURSOR_REFRESH_MS);
    }
    this.#rows.reorder();
    this.#rows.patch(event.job_id);
  }

  #createRow(id) {
    const cells = {
      id: h('td', { class: 'mono', title: id }, shortId(id, 10)),
      type: h('td'),
      status: h('span', { class: 'pill', dataset: { testid: 'job-status' } }),
      progressBar: h('span', { class: 'bar-fill' }),
      progressText: h('span', { class: 'bar-text' }),
      worker: h('td', { class: 'mono muted' }),
      priority: h('td', { class: 'num' }),
      created: h('td', { class: 'num muted' }),
    };
    const row = h('tr', { tabIndex: 0, dataset: { testid: 'job-row', jobId: id } },
      cells.id, cells.type, h('td', {}, cells.status),
      h('td', { class: 'num' }, h('span', { class: 'bar' }, cells.progressBar), cells.progressText),
      cells.worker, cells.priority, cells.created);
    this.#cells.set(row, cells);
    row.classList.toggle('selected', id === this.#selected);
    return row;
  }

  #patchRow(row, job) {
    const c = this.#cells.get(row);
    setText(c.type, job.type);
    setText(c.status, job.status);
    setAttr(c.status, 'data-status', job.status);
    const progress = job.status === 'completed' ? 100 : job.progress ?? 0;
    c.progressBar.style.width = `${progress}%`;
    setText(c.progressText, job.started_at || ['assigned', 'running', 'completed'].includes(job.status) ? percent(progress) : '');
    // A job back in line keeps its last worker in its record, but no worker holds it now.
    setText(c.worker, job.status === 'pending' || job.status === 'waiting' ? '' : job.worker_id ?? '');
    setAttr(c.worker, 'title', job.machine_id ? `${job.worker_id} on ${job.machine_id}` : null);
    setText(c.priority, job.priority ?? '');
    setText(c.created, timeAgo(job.created_at));
    setAttr(c.created, 'title', job.created_at);
    // A row that left the filtered status stays (rows do not jump away while you read) but fades.
    row.classList.toggle('unmatched', Boolean(this.#filters.status) && job.status !== this.#filters.status);
  }

  #renderEmpty() {
    const { empty } = this.#els;
    const filtered = this.#filters.status || this.#filters.type;
    const message = this.#error ? `Jobs cannot be loaded: ${this.#error}`
      : this.#rows.keys.length ? ''
        : !this.#pages.isFirst ? 'No older jobs.'
          : filtered ? 'No jobs match these filters.' : 'No jobs yet — submit one and it appears here live.';
    setText(empty, message);
    empty.classList.toggle('error-text', Boolean(this.#error));
    show(empty, Boolean(message));
  }

  #renderPager() {
    const fresh = this.#newElsewhere > 0
      ? h('button', { type: 'button', class: 'button ghost', onclick: () => this.#firstPage() }, `▲ ${formatNumber(this.#newElsewhere)} new`)
      : null;
    this.#els.pager.replaceChildren(...[
      h('span', { class: 'muted', dataset: { testid: 'jobs-page' } }, `Page ${this.#pages.number}`), fresh, h('span', { class: 'spacer' }),
      ...this.#pages.buttons('jobs', ['‹ Newer', 'Older ›'], () => {
        if (this.#pages.isFirst) this.#newElsewhere = 0;
        this.#load();
      }),
    ].filter(Boolean));
  }

  #rowActivated(e) {
    const row = e.target.closest('tr[data-job-id]');
    if (row) this.#onSelect(row.dataset.jobId);
  }
}
