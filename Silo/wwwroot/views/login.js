// The sign-in page: an API key traded for a session cookie (POST /api/session), an account's email and password
// (POST /api/auth/login, which sets the same cookie), or a new account (POST /api/auth/register, then the login).
// Secrets are only ever in the password fields and the request bodies; nothing is written to storage.

import { api } from '../api.js';
import { setText, show } from '../dom.js';

const DEFAULT_TAB = 'key';

export class LoginView {
  #root;
  #onSignedIn;

  constructor(root, onSignedIn) {
    this.#root = root;
    this.#onSignedIn = onSignedIn;
    for (const tab of root.querySelectorAll('[data-tab]')) tab.addEventListener('click', () => this.#select(tab.dataset.tab));
    this.#on('key', (form) => api.login(form.elements.api_key.value.trim()),
      (error) => (error.status === 401 ? 'That API key is not valid.' : error.message));
    this.#on('password', (form) => api.passwordLogin(form.elements.email.value.trim(), form.elements.password.value));
    this.#on('signup', async (form) => {
      const { email, password, invitation } = form.elements;
      await api.register(email.value.trim(), password.value, invitation.value.trim());
      await api.passwordLogin(email.value.trim(), password.value);
    });
  }

  /** Shows the page on its first tab, with an optional message explaining why. */
  open(message) {
    for (const form of this.#root.querySelectorAll('form')) {
      form.reset();
      this.#setError(form, null);
    }
    this.#select(DEFAULT_TAB);
    this.#setError(this.#form(DEFAULT_TAB), message);
  }

  #form(tab) {
    return this.#root.querySelector(`[data-tab-panel="${tab}"]`);
  }

  #select(tab) {
    for (const button of this.#root.querySelectorAll('[data-tab]')) button.setAttribute('aria-selected', String(button.dataset.tab === tab));
    for (const form of this.#root.querySelectorAll('[data-tab-panel]')) show(form, form.dataset.tabPanel === tab);
    this.#form(tab).querySelector('input').focus();
  }

  /** Submitting the tab's form runs `signIn`; then the caller is asked who it now is, or the error is shown on the form. */
  #on(tab, signIn, describe = (error) => error.message) {
    const form = this.#form(tab);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      this.#setError(form, null);
      try {
        await signIn(form);
        form.reset();
        this.#onSignedIn(await api.whoami());
      } catch (error) {
        this.#setError(form, describe(error));
      } finally {
        button.disabled = false;
      }
    });
  }

  #setError(form, message) {
    const error = form.querySelector('[role=alert]');
    setText(error, message ?? '');
    show(error, Boolean(message));
  }
}
