// The account page (seed 004): the caller's usage and limits, the keys of a logged-in user (or, for an admin,
// every key), and for monitors and admins every tenant's usage; for admins, the accounts and invitations.

import { api } from '../api.js';
import { h, show } from '../dom.js';
import { dateTime, formatNumber } from '../format.js';

const hasScope = (me, ...scopes) => me.scopes?.some((s) => scopes.includes(s));
// docs/api-keys.md: an admin may give a key any of these; anyone else no more than its own.
const ALL_SCOPES = ['submit', 'worker', 'monitor', 'admin'];

export class AccountView {
  #me;
  #sections;

  constructor(sections, me) {
    this.#sections = sections;
    this.#me = me;
    show(sections.keys, me.login || hasScope(me, 'admin'));
    show(sections.tenants, hasScope(me, 'monitor', 'admin'));
    show(sections.users, hasScope(me, 'admin'));
  }

  /** Reads everything the page shows afresh. */
  refresh() {
    this.#usage();
    if (!this.#sections.keys.hidden) this.#keys();
    if (!this.#sections.tenants.hidden) this.#tenants();
    if (!this.#sections.users.hidden) this.#users();
  }

  async #usage() {
    const root = this.#sections.usage;
    const head = panelHead('usage-title', 'My usage', h('button', { type: 'button', class: 'button ghost', onclick: () => this.refresh() }, 'Refresh'));
    if (!this.#me.user) {
      root.replaceChildren(head, h('p', { class: 'empty' }, 'This key belongs to no user: its work is of no tenant, and not limited.'));
      return;
    }
    await load(root, head, async () => {
      const { usage, limits, weight } = await api.usage();
      return h('div', { class: 'usage-tiles' },
        tile('Jobs today', usage.jobs_today, limitNote(limits.jobs_per_day), 'usage-jobs-today'),
        tile('Pending now', usage.pending_jobs, 'waiting for a worker', 'usage-pending'),
        tile('Running now', usage.running_jobs, limitNote(limits.running_jobs), 'usage-running'),
        tile('Share weight', weight, 'of the workers, against other tenants', 'usage-weight'));
    });
  }

  async #keys(created) {
    const root = this.#sections.keys;
    const scopes = hasScope(this.#me, 'admin') ? ALL_SCOPES : this.#me.scopes ?? [];
    const name = h('input', { name: 'name', required: true, maxLength: 100, placeholder: 'laptop', dataset: { testid: 'key-name' } });
    const boxes = scopes.map((scope) => h('label', { class: 'inline' },
      h('input', { type: 'checkbox', name: 'scope', value: scope, checked: scope === 'submit', dataset: { testid: `key-scope-${scope}` } }), ` ${scope}`));
    const error = h('span', { class: 'error-text', role: 'alert', dataset: { testid: 'key-error' } });
    const form = h('form', {
      onsubmit: async (e) => {
        e.preventDefault();
        const chosen = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
        try {
          const key = await api.createKey(name.value.trim(), chosen);
          this.#keys(key);
        } catch (problem) {
          error.textContent = problem.message;
        }
      },
    }, h('label', {}, 'Name', name), h('fieldset', { class: 'toolbar' }, h('legend', {}, 'Scopes'), boxes),
      h('button', { type: 'submit', class: 'button primary', dataset: { testid: 'key-create' } }, 'Create key'), error);
    const secret = created
      ? h('p', { class: 'secret' }, 'Your new key, shown this once: ', h('code', { dataset: { testid: 'new-key' } }, created.key))
      : null;
    await load(root, [panelHead('keys-title', this.#me.login ? 'My API keys' : 'API keys'), form, secret], async () => {
      const { keys } = await api.keys();
      if (keys.length === 0) return h('p', { class: 'empty' }, 'No keys yet.');
      return table(['Name', 'Prefix', 'Scopes', 'Created', ''], keys.map((key) => h('tr', { dataset: { testid: 'key-row', keyId: key.id } },
        h('td', {}, key.name), h('td', { class: 'mono' }, key.prefix), h('td', {}, key.scopes.join(', ')), h('td', {}, dateTime(key.created_at)),
        h('td', {}, h('button', {
          type: 'button', class: 'button ghost', dataset: { testid: 'key-revoke' },
          onclick: async () => { await api.deleteKey(key.id); this.#keys(); },
        }, 'Revoke')))));
    });
  }

  async #tenants() {
    const root = this.#sections.tenants;
    await load(root, panelHead('tenants-title', 'Tenants'), async () => {
      const { tenants, limits } = await api.tenantsUsage();
      if (tenants.length === 0) return h('p', { class: 'empty' }, 'No accounts yet.');
      return table(['Tenant', 'Jobs today', 'Pending', `Running${limits.running_jobs ? ` (limit ${limits.running_jobs})` : ''}`, 'Weight'],
        tenants.map((t) => h('tr', { dataset: { testid: 'tenant-row', tenant: t.tenant } },
          h('td', {}, t.email ?? t.tenant), h('td', { class: 'num' }, formatNumber(t.usage.jobs_today)),
          h('td', { class: 'num' }, formatNumber(t.usage.pending_jobs)), h('td', { class: 'num' }, formatNumber(t.usage.running_jobs)),
          h('td', { class: 'num' }, t.weight))), ['', 'num', 'num', 'num', 'num']);
    });
  }

  async #users(invitation) {
    const root = this.#sections.users;
    const invite = h('button', {
      type: 'button', class: 'button', dataset: { testid: 'invite' },
      onclick: async () => this.#users((await api.invite()).invitation),
    }, 'New invitation');
    const code = invitation ? h('p', { class: 'secret' }, 'Invitation code, good for one account: ', h('code', { dataset: { testid: 'invitation' } }, invitation)) : null;
    await load(root, [panelHead('users-title', 'Accounts', invite), code], async () => {
      const { users } = await api.users();
      if (users.length === 0) return h('p', { class: 'empty' }, 'No accounts yet.');
      return table(['Email', 'Role', 'Created', 'Status', ''], users.map((user) => h('tr', { dataset: { testid: 'user-row', userId: user.id } },
        h('td', {}, user.email), h('td', {}, user.role), h('td', {}, dateTime(user.created_at)),
        h('td', { dataset: { testid: 'user-status' } }, user.disabled ? 'disabled' : user.locked_until ? `locked until ${dateTime(user.locked_until)}` : 'active'),
        h('td', {}, h('button', {
          type: 'button', class: 'button ghost', dataset: { testid: 'user-toggle' },
          // Disabling deletes the account's keys: the keys list changes too.
          onclick: async () => { await api.setUserDisabled(user.id, !user.disabled); this.refresh(); },
        }, user.disabled ? 'Enable' : 'Disable')))));
    });
  }
}

function panelHead(id, title, ...actions) {
  return h('header', { class: 'panel-head' }, h('h2', { id }, title), ...actions);
}

const limitNote = (limit) => (limit ? `limit ${formatNumber(limit)}` : 'no limit');

function tile(label, value, note, testid) {
  return h('div', { class: 'tile' }, h('div', { class: 'tile-label' }, label),
    h('div', { class: 'tile-value', dataset: { testid } }, formatNumber(value)), h('div', { class: 'tile-note' }, note));
}

function table(headings, rows, classes = []) {
  return h('table', {}, h('thead', {}, h('tr', {}, headings.map((text, i) => h('th', { class: classes[i] }, text)))), h('tbody', {}, rows));
}

/** Renders `head` at once, then what `body` resolves to, or its error. */
async function load(root, head, body) {
  root.replaceChildren(...[head].flat().filter(Boolean));
  try {
    root.append(await body());
  } catch (error) {
    if (error.status !== 401) root.append(h('p', { class: 'empty error-text' }, error.message));
  }
}
