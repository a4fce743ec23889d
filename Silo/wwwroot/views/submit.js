// A small form to submit a job through the session (the key needs the `submit` or `admin` scope).
// The API's error message is shown as it is, so a newcomer learns what the API expects.

import { api } from '../api.js';
import { h, setText } from '../dom.js';

const DEFAULT_TYPE = 'simulation';
const EXAMPLES = {
  'text-to-image': { prompt: 'a lighthouse at dusk, volumetric light', parameters: { width: 1024, height: 1024, steps: 30 } },
  img2img: { image_url: 'https://example.com/in.png', prompt: 'as a watercolour', strength: 0.6 },
  upscale: { image_url: 'https://example.com/in.png', scale_factor: 2 },
  'text-generation': { prompt: 'Summarise the design of this cluster in one line.', max_tokens: 64 },
  simulation: { duration_ms: 5000 },
};

export class SubmitView {
  #root;
  #onSubmitted;
  #form;
  #result;

  constructor(root, { onSubmitted }) {
    this.#root = root;
    this.#onSubmitted = onSubmitted;
  }

  render(jobTypes, canSubmit) {
    const type = h('select', { name: 'type', dataset: { testid: 'submit-type' }, onchange: () => this.#example() },
      jobTypes.map((t) => h('option', { value: t.name, title: t.description, selected: t.name === DEFAULT_TYPE }, t.name)));
    const payload = h('textarea', { name: 'payload', rows: 5, spellcheck: false, class: 'mono', dataset: { testid: 'submit-payload' } });
    const priority = h('input', { name: 'priority', type: 'number', min: 0, max: 1000, value: 50, dataset: { testid: 'submit-priority' } });
    this.#result = h('p', { class: 'muted', role: 'status', dataset: { testid: 'submit-result' } },
      canSubmit ? '' : 'This session’s key has no submit scope; the API will refuse submissions.');
    this.#form = h('form', { class: 'submit-form', onsubmit: (e) => { e.preventDefault(); this.#submit(); } },
      h('div', { class: 'form-row' }, h('label', {}, 'Type', type), h('label', {}, 'Priority', priority)),
      h('label', {}, 'Payload (JSON)', payload),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary', dataset: { testid: 'submit-job' } }, 'Submit job'), this.#result));
    this.#root.replaceChildren(h('header', { class: 'panel-head' }, h('h2', { id: 'submit-title' }, 'Submit a job')), this.#form);
    this.#example();
  }

  #example() {
    const { type, payload } = this.#form.elements;
    payload.value = JSON.stringify(EXAMPLES[type.value] ?? {}, null, 2);
  }

  async #submit() {
    const { type, payload, priority } = this.#form.elements;
    let body;
    try {
      body = JSON.parse(payload.value || '{}');
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('the payload must be a JSON object');
    } catch (error) {
      return this.#show(`Payload is not valid JSON: ${error.message}`, true);
    }
    try {
      const reply = await api.submit({ ...body, type: type.value, priority: Number(priority.value) });
      this.#show(`Submitted ${reply.job_id}`, false);
      this.#onSubmitted(reply.job_id);
    } catch (error) {
      this.#show(`${error.code}: ${error.message}`, true);
    }
    return undefined;
  }

  #show(text, isError) {
    setText(this.#result, text);
    this.#result.className = isError ? 'error-text' : 'muted';
  }
}
