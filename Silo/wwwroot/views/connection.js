// The connection indicator in the top bar and the banner shown while the gateway socket is down.

import { setAttr, setText, show } from '../dom.js';

const LABELS = { idle: '', connecting: 'Connecting…', connected: 'Connected', disconnected: 'Disconnected' };

export class ConnectionView {
  #indicator;
  #banner;
  #everConnected = false;

  constructor(indicator, banner) {
    this.#indicator = indicator;
    this.#banner = banner;
  }

  /** Counts the times the silo said this page fell behind; each was resumed from its last event. */
  lagged = (count) => {
    setAttr(this.#indicator, 'data-lagged', count);
    setAttr(this.#indicator, 'title', `Fell behind ${count} time${count === 1 ? '' : 's'}; resumed each time from the last event seen`);
  };

  /** Receives the socket's state changes ('idle', 'connecting', 'connected', 'disconnected'). */
  update = (state, detail = {}) => {
    // A retry in progress is still "disconnected" to the reader; only the first attempt is "connecting".
    const shown = state === 'connecting' && (detail.attempt > 0 || this.#everConnected) ? 'disconnected' : state;
    if (state === 'connected') this.#everConnected = true;
    if (state === 'idle') this.#everConnected = false;
    setAttr(this.#indicator, 'data-state', shown);
    setText(this.#indicator, LABELS[shown]);
    setAttr(this.#indicator, 'title', shown === 'disconnected' && detail.retryInMs
      ? `Next attempt in ${(detail.retryInMs / 1000).toFixed(1)} s` : null);
    show(this.#indicator, state !== 'idle');
    show(this.#banner, shown === 'disconnected');
  };
}
