// Cluster totals from /api/stats, polled every 2.5 s (each figure is an O(1) read on the server),
// with a sparkline of jobs completed per minute.

import { api } from '../api.js';
import { h, setText } from '../dom.js';
import { formatNumber } from '../format.js';

const POLL_MS = 2500;
const MINUTES = 15;
const SVG = 'http://www.w3.org/2000/svg';

const TILES = [
  { key: 'pending', label: 'Pending', value: (s) => s.jobs.pending },
  { key: 'running', label: 'Running', value: (s) => (s.jobs.running ?? 0) + (s.jobs.assigned ?? 0), note: (s) => `${formatNumber(s.jobs.assigned ?? 0)} assigned` },
  { key: 'completed', label: 'Completed / min', value: (s) => minute(s, -1).completed, note: (s) => `prev ${formatNumber(minute(s, -2).completed)} · total ${formatNumber(s.jobs.completed)}` },
  // Every failed attempt counts as failed; those out of retries also count as dead.
  { key: 'failed', label: 'Failed / min', value: (s) => minute(s, -1).failed, note: (s) => `dead total ${formatNumber(s.jobs.dead)}`, alarm: true },
  { key: 'workers', label: 'Workers online', value: (s) => s.workers.online },
  { key: 'machines', label: 'Machines', value: (s) => s.machines.total },
];

/** The per-minute entry `offset` from the end (-1 = the current minute), zeros if absent. */
function minute(stats, offset) {
  const entry = stats.per_minute?.at(offset);
  return { submitted: 0, completed: 0, failed: 0, dead: 0, ...entry };
}

export class TotalsView {
  #root;
  #cells = new Map();
  #spark;
  #timer = 0;
  #stopped = false;

  constructor(root) {
    this.#root = root;
    root.replaceChildren(...TILES.map((tile) => this.#tile(tile)), this.#sparkTile());
  }

  start() {
    this.#stopped = false;
    this.#poll();
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #poll() {
    try {
      this.#render(await api.stats(MINUTES));
      this.#root.classList.remove('stale');
    } catch (error) {
      this.#root.classList.add('stale');
      this.#root.title = `Totals are stale: ${error.message}`;
    }
    if (!this.#stopped) this.#timer = setTimeout(() => this.#poll(), POLL_MS);
  }

  #tile(tile) {
    const value = h('div', { class: 'tile-value', dataset: { testid: `total-${tile.key}` } }, '—');
    const note = h('div', { class: 'tile-note' });
    this.#cells.set(tile.key, { tile, value, note });
    return h('div', { class: 'tile' }, h('div', { class: 'tile-label' }, tile.label), value, note);
  }

  #sparkTile() {
    this.#spark = document.createElementNS(SVG, 'svg');
    this.#spark.setAttribute('viewBox', '0 0 160 40');
    this.#spark.setAttribute('preserveAspectRatio', 'none');
    this.#spark.classList.add('sparkline');
    this.#spark.setAttribute('role', 'img');
    return h('div', { class: 'tile tile-spark' },
      h('div', { class: 'tile-label' }, `Completed per minute · ${MINUTES} min`), this.#spark);
  }

  #render(stats) {
    for (const { tile, value, note } of this.#cells.values()) {
      const n = tile.value(stats) ?? 0;
      setText(value, formatNumber(n));
      setText(note, tile.note?.(stats) ?? '');
      value.classList.toggle('alarm', Boolean(tile.alarm) && n > 0);
    }
    this.#renderSpark(stats.per_minute ?? []);
  }

  #renderSpark(perMinute) {
    const completed = perMinute.map((m) => m.completed ?? 0);
    const failed = perMinute.map((m) => m.failed ?? 0);
    const max = Math.max(1, ...completed, ...failed);
    const points = (series) => series.map((v, i) =>
      `${((i / Math.max(1, series.length - 1)) * 160).toFixed(1)},${(38 - (v / max) * 34).toFixed(1)}`).join(' ');
    const line = points(completed);
    this.#spark.replaceChildren(
      svg('polygon', { class: 'spark-area', points: `0,40 ${line} 160,40` }),
      svg('polyline', { class: 'spark-line', points: line }),
      svg('polyline', { class: 'spark-failed', points: points(failed) }),
    );
    this.#spark.setAttribute('aria-label', `Completed per minute, last ${completed.length} minutes: ${completed.join(', ')}`);
  }
}

function svg(tag, attributes) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, value);
  return el;
}
