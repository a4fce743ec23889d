// Machine cards with their workers (seed 002): one page of /api/machines, or only the machines the
// operator chose (selective monitoring: `ids=` on the request, `machine_ids` on the subscriptions).
// Worker status and current jobs follow the `workers` and `jobs` topics; a card is patched at most
// once per animation frame however many of its events arrive.

import { api } from '../api.js';
import { CursorPages } from '../cursor-pages.js';
import { h, KeyedList, reconcile, setAttr, setText, show } from '../dom.js';
import { percent, shortId, timeAgo } from '../format.js';

const PAGE_SIZES = [6, 12, 24, 48];
const RELOAD_DEBOUNCE_MS = 1000;
const MAX_BUFFERED_EVENTS = 5000;
const LEAVES_WORKER = new Set(['job_completed', 'job_failed', 'job_dead', 'job_cancelled', 'job_pending', 'job_delayed']);

export class MachinesView {
  #socket;
  #onSelectJob;
  #els;
  #selection = [];        // machine ids being monitored; [] = all
  #limit = 12;
  #pages = new CursorPages();
  #cards;                  // KeyedList: machine ids on this page → card element
  #machines = new Map();   // machine id → {id, status, host, gpu_count, last_seen, workers: Map}
  #workerMachine = new Map(); // worker id → machine id, this page only
  #jobWorker = new Map();  // job id → worker id, jobs held by workers on this page
  #parts = new WeakMap();  // element → its parts to patch
  #loadSeq = 0;
  #buffer = null;
  #reloadTimer = 0;
  #refreshTimers = new Map(); // machine id → timer of a pending /api/machines/{id} read
  #unsubscribes = [];
  #error = null;
  #clock = 0;

  /** `signal` removes the listeners on the long-lived elements when the session ends. */
  constructor({ socket, toolbar, grid, pager, onSelectJob, signal }) {
    this.#socket = socket;
    this.#onSelectJob = onSelectJob;
    this.#els = { toolbar, grid, pager };
    this.#cards = new KeyedList(grid, {
      create: (id) => this.#createCard(id),
      update: (id, card) => {
        const machine = this.#machines.get(id);
        if (machine) this.#patchCard(card, machine);
      },
      afterReorder: () => {
        this.#renderEmpty();
        this.#renderPager();
      },
    });
    this.#buildToolbar();
    grid.replaceChildren();
    grid.addEventListener('click', (e) => this.#clicked(e), { signal });
    grid.addEventListener('change', (e) => this.#checked(e), { signal });
  }

  start() {
    this.#resubscribe();
    this.#load();
    this.#clock = setInterval(() => this.#cards.patchAll(), 5000);
  }

  stop() {
    for (const unsubscribe of this.#unsubscribes) unsubscribe();
    clearInterval(this.#clock);
    clearTimeout(this.#reloadTimer);
    for (const timer of this.#refreshTimers.values()) clearTimeout(timer);
  }

  /** Monitors only these machines ([] for all). */
  monitor(ids) {
    this.#selection = [...new Set(ids)];
    this.#els.filter.value = this.#selection.join(', ');
    this.#pages.reset();
    this.#resubscribe();
    this.#load();
  }

  #buildToolbar() {
    const filter = h('input', {
      type: 'search', placeholder: 'All machines — or ids, comma-separated', spellcheck: false,
      'aria-label': 'Machines to monitor', dataset: { testid: 'machine-filter' },
      onkeydown: (e) => e.key === 'Enter' && this.monitor(parseIds(filter.value)),
    });
    const apply = h('button', { type: 'button', class: 'button', dataset: { testid: 'machine-filter-apply' }, onclick: () => this.monitor(parseIds(filter.value)) }, 'Monitor');
    const all = h('button', { type: 'button', class: 'button ghost', dataset: { testid: 'machine-filter-clear' }, onclick: () => this.monitor([]) }, 'All');
    const size = h('select', { 'aria-label': 'Machines per page', onchange: (e) => { this.#limit = Number(e.target.value); this.monitor(this.#selection); } },
      PAGE_SIZES.map((n) => h('option', { value: n, selected: n === this.#limit }, `${n} / page`)));
    this.#els.filter = filter;
    this.#els.toolbar.replaceChildren(filter, apply, all, size);
  }

  #resubscribe() {
    for (const unsubscribe of this.#unsubscribes) unsubscribe();
    const filter = this.#selection.length ? { machine_ids: this.#selection } : {};
    const listener = { onEvent: (event, eventId) => this.#onEvent(event, eventId), onResync: () => this.#load() };
    this.#unsubscribes = ['workers', 'jobs', 'machines'].map((topic) => this.#socket.subscribe(topic, filter, listener));
  }

  async #load() {
    const seq = ++this.#loadSeq;
    this.#buffer = [];
    try {
      const page = await api.machines({ cursor: this.#pages.cursor, limit: this.#limit, ids: this.#selection.length ? this.#selection : undefined });
      if (seq !== this.#loadSeq) return;
      this.#error = null;
      this.#adopt(page);
      const buffered = this.#buffer;
      this.#buffer = null;
      for (const [event, eventId] of buffered) this.#onEvent(event, eventId);
      this.#hydrateProgress(seq);
    } catch (error) {
      if (seq !== this.#loadSeq) return;
      this.#buffer = null;
      this.#error = error.message;
    }
    this.#cards.reorder();
  }

  #adopt(page) {
    this.#machines.clear();
    this.#workerMachine.clear();
    this.#jobWorker.clear();
    for (const m of page.machines) {
      const workers = new Map();
      for (const w of m.workers ?? []) {
        const jobs = new Map();
        if (w.current_job_id) {
          jobs.set(w.current_job_id, { id: w.current_job_id, progress: null, status: 'assigned' });
          this.#jobWorker.set(w.current_job_id, w.id);
        }
        workers.set(w.id, { ...w, jobs });
        this.#workerMachine.set(w.id, m.id);
      }
      this.#machines.set(m.id, { ...m, workers });
    }
    this.#cards.keys = page.machines.map((m) => m.id);
    this.#pages.next = page.next_cursor ?? null;
    this.#cards.patchAll();
  }

  /**
   * A machine page names each worker's current job but not its progress: one request per busy
   * machine on the page fills it in, until the job's own events take over.
   */
  async #hydrateProgress(seq) {
    const busy = [...this.#machines.values()].filter((m) => [...m.workers.values()].some((w) => w.jobs.size > 0));
    await Promise.all(busy.map(async (machine) => {
      try {
        const { jobs } = await api.jobs({ machine: machine.id, status: 'running', limit: Math.max(1, machine.workers.size) });
        if (seq !== this.#loadSeq) return;
        for (const job of jobs) {
          const held = this.#worker(this.#jobWorker.get(job.id))?.jobs.get(job.id);
          if (!held) continue;
          held.type ??= job.type;
          if (held.progress === null) held.progress = job.progress ?? 0;
          held.status = job.status;
        }
        this.#cards.patch(machine.id);
      } catch {
        // progress stays unknown until the job's next event
      }
    }));
  }

  #onEvent(event, eventId) {
    if (this.#buffer) {
      if (this.#buffer.length < MAX_BUFFERED_EVENTS) this.#buffer.push([event, eventId]);
      return;
    }
    if (event.type === 'machine_registered') this.#maybeNewMachine(event.machine_id);
    else if (event.type === 'worker_registered') this.#workerRegistered(event);
    else if (event.type === 'worker_offline') this.#workerOffline(event);
    else if (event.type === 'job_assigned') this.#jobAssigned(event);
    else if (event.job_id) this.#jobChanged(event);
  }

  #workerRegistered(event) {
    const machine = this.#machines.get(event.machine_id);
    if (!machine) return this.#maybeNewMachine(event.machine_id);
    const existing = machine.workers.get(event.worker_id);
    for (const jobId of existing?.jobs.keys() ?? []) this.#jobWorker.delete(jobId); // a restart returns its jobs
    machine.workers.set(event.worker_id, {
      ...existing, id: event.worker_id, machine_id: event.machine_id, status: event.status ?? 'idle',
      jobs: new Map(), active: 0, registered_at: new Date().toISOString(),
    });
    this.#workerMachine.set(event.worker_id, event.machine_id);
    this.#refreshMachine(machine.id); // the event does not carry GPU index, concurrency or capabilities
    return this.#cards.patch(machine.id);
  }

  /** Re-reads one machine's details (not its workers' jobs, which events keep), once per burst of registrations. */
  #refreshMachine(machineId) {
    if (this.#refreshTimers.has(machineId)) return;
    this.#refreshTimers.set(machineId, setTimeout(async () => {
      this.#refreshTimers.delete(machineId);
      try {
        const { machine: fresh } = await api.machine(machineId);
        const machine = this.#machines.get(machineId);
        if (!machine) return;
        Object.assign(machine, { host: fresh.host, gpu_count: fresh.gpu_count, last_seen: fresh.last_seen });
        for (const w of fresh.workers ?? []) {
          const known = machine.workers.get(w.id);
          if (known) Object.assign(known, { gpu_index: w.gpu_index, concurrency: w.concurrency, capabilities: w.capabilities });
        }
        this.#cards.patch(machineId);
      } catch {
        // details stay as the event gave them
      }
    }, RELOAD_DEBOUNCE_MS / 2));
  }

  #workerOffline(event) {
    const worker = this.#worker(event.worker_id);
    if (!worker) return;
    worker.status = 'offline';
    for (const jobId of worker.jobs.keys()) this.#jobWorker.delete(jobId);
    worker.jobs.clear();
    this.#cards.patch(worker.machine_id);
  }

  #jobAssigned(event) {
    const worker = this.#worker(event.worker_id);
    if (!worker) return;
    worker.jobs.set(event.job_id, { id: event.job_id, type: event.job_type, status: 'assigned', progress: 0 });
    worker.status = 'busy';
    this.#jobWorker.set(event.job_id, worker.id);
    this.#cards.patch(worker.machine_id);
  }

  #jobChanged(event) {
    const worker = this.#worker(this.#jobWorker.get(event.job_id));
    const job = worker?.jobs.get(event.job_id);
    if (!job) return;
    if (LEAVES_WORKER.has(event.type)) {
      worker.jobs.delete(event.job_id);
      this.#jobWorker.delete(event.job_id);
      if (worker.jobs.size === 0 && worker.status === 'busy') worker.status = 'idle';
    } else {
      if (event.status) job.status = event.status;
      if (event.progress !== undefined) job.progress = Number(event.progress);
      if (event.job_type) job.type = event.job_type;
    }
    this.#cards.patch(worker.machine_id);
  }

  #worker(workerId) {
    const machineId = workerId && this.#workerMachine.get(workerId);
    const worker = machineId && this.#machines.get(machineId)?.workers.get(workerId);
    if (worker) worker.machine_id = machineId;
    return worker || null;
  }

  /** A machine this page does not show registered: reload the page if it could belong on it. */
  #maybeNewMachine(machineId) {
    if (this.#machines.has(machineId)) return;
    if (this.#selection.length && !this.#selection.includes(machineId)) return;
    if (this.#cards.keys.length >= this.#limit && this.#pages.next) return; // a full page, more after it: it is elsewhere
    clearTimeout(this.#reloadTimer);
    this.#reloadTimer = setTimeout(() => this.#load(), RELOAD_DEBOUNCE_MS);
  }

  #createCard(id) {
    const parts = {
      status: h('span', { class: 'pill', dataset: { testid: 'machine-status' } }),
      meta: h('span', { class: 'muted machine-meta' }),
      workers: h('ol', { class: 'workers' }),
      rows: new Map(),
    };
    const card = h('article', { class: 'machine', dataset: { testid: 'machine-card', machineId: id } },
      h('header', { class: 'machine-head' },
        h('label', { class: 'machine-name', title: 'Select to monitor' },
          h('input', { type: 'checkbox', class: 'machine-pick', dataset: { testid: 'machine-select' }, checked: this.#selection.includes(id) }),
          h('span', { class: 'mono' }, id)),
        parts.status),
      parts.meta,
      parts.workers);
    this.#parts.set(card, parts);
    return card;
  }

  #patchCard(card, machine) {
    const parts = this.#parts.get(card);
    const workers = [...machine.workers.values()].sort((a, b) => (a.gpu_index ?? 0) - (b.gpu_index ?? 0) || a.id.localeCompare(b.id));
    const status = machineStatus(workers);
    setText(parts.status, status);
    setAttr(parts.status, 'data-status', status);
    setAttr(card, 'data-status', status);
    const busy = workers.filter((w) => w.status === 'busy').length;
    const gpus = machine.gpu_count ? `${machine.gpu_count} GPU${machine.gpu_count === 1 ? '' : 's'}` : null;
    setText(parts.meta, [machine.host, gpus, `${busy}/${workers.length} busy`, machine.last_seen && `seen ${timeAgo(machine.last_seen)} ago`].filter(Boolean).join(' · '));
    reconcile(parts.workers, workers.map((w) => w.id), parts.rows, (workerId) => this.#createWorkerRow(workerId));
    for (const worker of workers) this.#patchWorkerRow(parts.rows.get(worker.id), worker);
    if (workers.length === 0) parts.workers.dataset.empty = 'No workers registered';
    else delete parts.workers.dataset.empty;
  }

  #createWorkerRow(workerId) {
    const parts = {
      gpu: h('span', { class: 'gpu mono' }),
      name: h('span', { class: 'worker-name mono', title: workerId }, workerId),
      // Filled in by the patch: the id without its machine's prefix, which every row would repeat.
      status: h('span', { class: 'worker-status', dataset: { testid: 'worker-status' } }),
      job: h('button', { type: 'button', class: 'link mono worker-job', dataset: { testid: 'worker-job' } }),
      bar: h('span', { class: 'bar-fill' }),
      progress: h('span', { class: 'num worker-progress' }),
    };
    const row = h('li', { class: 'worker', dataset: { testid: 'worker-row', workerId } },
      parts.gpu, h('span', { class: 'dot', 'aria-hidden': 'true' }), parts.name, parts.status, parts.job,
      h('span', { class: 'bar' }, parts.bar), parts.progress);
    this.#parts.set(row, parts);
    return row;
  }

  #patchWorkerRow(row, worker) {
    const parts = this.#parts.get(row);
    setAttr(row, 'data-status', worker.status);
    const prefix = `${worker.machine_id}-`;
    setText(parts.name, worker.id.startsWith(prefix) && worker.id.length > prefix.length ? worker.id.slice(prefix.length) : worker.id);
    setText(parts.gpu, worker.gpu_index !== undefined && worker.gpu_index !== null ? `GPU${worker.gpu_index}` : '');
    setText(parts.status, worker.status);
    const jobs = [...worker.jobs.values()];
    const job = jobs[0];
    setText(parts.job, job ? `${job.type ?? shortId(job.id, 6)}${jobs.length > 1 ? ` +${jobs.length - 1}` : ''}` : '');
    setAttr(parts.job, 'data-job-id', job?.id ?? null);
    setAttr(parts.job, 'title', job ? `${job.id} — ${job.status} (open)` : null);
    const known = job && job.progress !== null && job.progress !== undefined;
    parts.bar.style.width = known ? `${job.progress}%` : '0%';
    setText(parts.progress, known ? percent(job.progress) : job ? '…' : '');
  }

  #renderEmpty() {
    const { grid } = this.#els;
    const message = this.#error ? `Machines cannot be loaded: ${this.#error}`
      : this.#cards.keys.length ? ''
        : this.#selection.length ? `None of ${this.#selection.join(', ')} has registered.`
          : 'No machines yet — they appear when a worker registers (see docs/protocol.md).';
    grid.dataset.empty = message;
    grid.classList.toggle('error', Boolean(this.#error));
  }

  #renderPager() {
    const scope = this.#selection.length ? `Monitoring ${this.#selection.length} selected` : 'All machines';
    this.#els.pager.replaceChildren(
      h('span', { class: 'muted', dataset: { testid: 'machines-page' } }, `${scope} · page ${this.#pages.number}`),
      h('span', { class: 'spacer' }),
      ...this.#pages.buttons('machines', ['‹ Prev', 'Next ›'], () => this.#load()));
  }

  #clicked(e) {
    const job = e.target.closest('[data-testid=worker-job][data-job-id]');
    if (job) this.#onSelectJob(job.dataset.jobId);
  }

  /** A card's checkbox adds its machine to (or removes it from) the ids in the filter box. */
  #checked(e) {
    if (!e.target.matches('.machine-pick')) return;
    const id = e.target.closest('[data-machine-id]').dataset.machineId;
    const ids = new Set(parseIds(this.#els.filter.value));
    if (e.target.checked) ids.add(id);
    else ids.delete(id);
    this.#els.filter.value = [...ids].join(', ');
  }
}

const parseIds = (text) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

/** As the server derives it (MachineStatus.From): all offline → offline, some → degraded, all busy → busy. */
function machineStatus(workers) {
  if (workers.length === 0 || workers.every((w) => w.status === 'offline')) return 'offline';
  if (workers.some((w) => w.status === 'offline')) return 'degraded';
  return workers.every((w) => w.status === 'busy') ? 'busy' : 'ready';
}
