// The sign-in form: trades an API key for a session cookie (POST /api/session). The key is only ever
// in the password field and the request body; nothing is written to storage.

import { api } from '../api.js';
import { setText, show } from '../dom.js';

export class LoginView {
  #form;
  #error;
  #onSignedIn;

  constructor(form, onSignedIn) {
    this.#form = form;
    this.#error = form.querySelector('#login-error');
    this.#onSignedIn = onSignedIn;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#signIn();
    });
  }

  /** Shows the form, with an optional message explaining why. */
  open(message) {
    this.#form.reset();
    this.#setError(message);
    this.#form.querySelector('input').focus();
  }

  async #signIn() {
    const input = this.#form.elements.api_key;
    const button = this.#form.querySelector('button[type=submit]');
    button.disabled = true;
    this.#setError(null);
    try {
      await api.login(input.value.trim());
      input.value = '';
      const me = await api.whoami();
      this.#onSignedIn(me);
    } catch (error) {
      this.#setError(error.status === 401 ? 'That API key is not valid.' : error.message);
    } finally {
      button.disabled = false;
    }
  }

  #setError(message) {
    setText(this.#error, message ?? '');
    show(this.#error, Boolean(message));
  }
}
