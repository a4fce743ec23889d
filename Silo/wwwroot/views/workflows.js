// Workflows: the newest few, each with its steps laid out as a DAG (one column per depth, dependencies
// before dependents) and coloured by status. Follows the `workflows` topic and re-reads a workflow when
// it changes, at most once per animation frame.

import { api } from '../api.js';
import { h } from '../dom.js';
import { shortId } from '../format.js';
import { scheduleRender } from '../frame.js';

const SHOWN = 6;
const REFRESH_MS = 10000;

export class WorkflowsView {
  #root;
  #socket;
  #onSelectJob;
  #signal;
  #dirty = new Set();
  #unsubscribe = null;
  #views = new Map(); // workflow id → {workflow, steps}
  #refresh = () => this.#refreshDirty();

  constructor(root, { socket, onSelectJob, signal }) {
    this.#root = root;
    this.#socket = socket;
    this.#onSelectJob = onSelectJob;
    this.#signal = signal;
  }

  start() {
    this.#unsubscribe = this.#socket.subscribe('workflows', {}, {
      onEvent: (event) => this.#changed(event.workflow_id),
      onResync: () => this.#loadList(),
    });
    this.#signal.addEventListener('abort', () => this.#unsubscribe?.());
    this.#loadList();
    const timer = setInterval(() => this.#loadList(), REFRESH_MS);
    this.#signal.addEventListener('abort', () => clearInterval(timer));
  }

  async #loadList() {
    try {
      const { workflows } = await api.workflows({ limit: SHOWN });
      const views = await Promise.all(workflows.map((w) => api.workflow(w.id)));
      this.#views = new Map(views.map((v) => [v.workflow.id, v]));
      this.#render();
    } catch {
      // the connection banner says when the silo is unreachable
    }
  }

  #changed(id) {
    if (!id) return;
    this.#dirty.add(id);
    scheduleRender(this.#refresh);
  }

  async #refreshDirty() {
    const ids = [...this.#dirty];
    this.#dirty.clear();
    if (ids.some((id) => !this.#views.has(id))) return this.#loadList(); // a new workflow: it goes first
    for (const id of ids) {
      try {
        this.#views.set(id, await api.workflow(id));
      } catch {
        this.#views.delete(id);
      }
    }
    this.#render();
  }

  #render() {
    if (this.#views.size === 0) {
      this.#root.replaceChildren(h('p', { class: 'empty' }, 'No workflows yet — create one with POST /api/workflows/create.'));
      return;
    }
    this.#root.replaceChildren(...[...this.#views.values()].map((v) => this.#card(v)));
  }

  #card({ workflow, steps }) {
    const percent = Math.round(workflow.progress_percentage ?? 0);
    return h('article', { class: 'workflow', dataset: { testid: 'workflow-card', workflowId: workflow.id } },
      h('header', { class: 'workflow-head' },
        h('strong', {}, workflow.name || shortId(workflow.id)), ' ',
        h('span', { class: 'pill', dataset: { testid: 'workflow-status', status: workflow.status } }, workflow.status), ' ',
        h('span', { class: 'muted' }, `${workflow.completed_steps}/${workflow.total_steps} steps`),
        h('span', { class: 'bar' }, h('span', { class: 'bar-fill', style: `width:${percent}%` }))),
      h('div', { class: 'dag' }, ...columns(steps).map((column) => h('div', { class: 'dag-column' },
        ...column.map((step) => h('button', {
          class: 'dag-step', type: 'button', title: dependsText(step),
          dataset: { testid: 'workflow-step', stepIndex: String(step.step_index), status: step.status },
          onclick: () => this.#onSelectJob(step.job_id),
        }, h('span', { class: 'dag-index' }, `#${step.step_index}`), ' ', step.type))))));
  }
}

/** Steps grouped by depth: a step sits one column right of its deepest dependency. */
function columns(steps) {
  const byIndex = new Map(steps.map((s) => [s.step_index, s]));
  const depth = new Map();
  const depthOf = (step, seen = new Set()) => {
    if (depth.has(step.step_index)) return depth.get(step.step_index);
    if (seen.has(step.step_index)) return 0; // the silo refuses cycles; never loop on bad data
    seen.add(step.step_index);
    const deps = (step.depends_on ?? []).map((i) => byIndex.get(i)).filter(Boolean);
    const d = deps.length === 0 ? 0 : 1 + Math.max(...deps.map((s) => depthOf(s, seen)));
    depth.set(step.step_index, d);
    return d;
  };
  const result = [];
  for (const step of steps) (result[depthOf(step)] ??= []).push(step);
  return result.filter(Boolean);
}

function dependsText(step) {
  const deps = step.depends_on ?? [];
  return `${step.status}${deps.length ? ` · after ${deps.map((i) => `#${i}`).join(', ')}` : ''}`;
}
