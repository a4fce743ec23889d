// The side sections: workflows with their DAGs, grains that do not exist yet (with honest empty states
// rather than fake data), and the silos of the cluster from their membership heartbeat.

import { api } from '../api.js';
import { h } from '../dom.js';
import { timeAgo } from '../format.js';
import { WorkflowsView } from './workflows.js';

const SILO_REFRESH_MS = 5000;

const SECTIONS = [
  { id: 'modules', title: 'Modules', text: 'No hardware modules yet — they arrive with the module grains (inputs and outputs per machine).' },
];

export function renderExtras(root, { signal, socket, onSelectJob }) {
  const silos = h('p', { class: 'empty' }, 'Looking for silos…');
  const workflows = h('div', { class: 'workflows' });
  root.replaceChildren(
    h('section', { class: 'panel compact', dataset: { testid: 'section-workflows' } },
      h('header', { class: 'panel-head' }, h('h2', {}, 'Workflows')), workflows),
    ...SECTIONS.map((s) => h('section', { class: 'panel compact', dataset: { testid: `section-${s.id}` } },
      h('header', { class: 'panel-head' }, h('h2', {}, s.title)),
      h('p', { class: 'empty' }, s.text))),
    h('section', { class: 'panel compact', dataset: { testid: 'section-silos' } },
      h('header', { class: 'panel-head' }, h('h2', {}, 'Silos')), silos));
  pollSilos(silos, signal);
  new WorkflowsView(workflows, { socket, onSelectJob, signal }).start();
}

async function pollSilos(target, signal) {
  while (!signal?.aborted) {
    try {
      const { silos } = await api.silos();
      target.replaceWith(target = silos.length === 0
        ? h('p', { class: 'empty' }, 'No silo has published a heartbeat yet.')
        : h('ul', { class: 'silos' }, ...silos.map((s) => h('li', {},
          h('strong', {}, s.addresses || s.id), ' ',
          h('span', { class: 'muted' }, `${s.workers} workers · ${s.subscribers} subscribers · ${s.memory_mb} MB · seen ${timeAgo(s.last_seen)} ago`)))));
    } catch {
      // the connection banner already says when the silo is unreachable
    }
    await new Promise((resolve) => setTimeout(resolve, SILO_REFRESH_MS));
  }
}
