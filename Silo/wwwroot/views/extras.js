// Sections for grains that do not exist yet, with honest empty states rather than fake data.

import { h } from '../dom.js';

const SECTIONS = [
  { id: 'workflows', title: 'Workflows', text: 'No workflows yet — they arrive with the workflow API.' },
  { id: 'modules', title: 'Modules', text: 'No hardware modules yet — they arrive with the module grains (inputs and outputs per machine).' },
  { id: 'silos', title: 'Silos', text: 'Silo membership is not published yet — it arrives with the membership heartbeat.' },
];

export function renderExtras(root) {
  root.replaceChildren(...SECTIONS.map((s) => h('section', { class: 'panel compact', dataset: { testid: `section-${s.id}` } },
    h('header', { class: 'panel-head' }, h('h2', {}, s.title)),
    h('p', { class: 'empty' }, s.text))));
}
