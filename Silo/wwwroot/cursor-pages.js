// Where a view stands in a cursor-paged list (/api/jobs, /api/machines): this page's cursor, the cursors
// of the pages before it to go back to, and the next page's cursor from the last load.

import { h } from './dom.js';

export class CursorPages {
  #before = [];
  cursor = null;
  next = null;

  get number() { return this.#before.length + 1; }

  get isFirst() { return this.#before.length === 0; }

  reset() {
    this.#before = [];
    this.cursor = null;
  }

  /** The back and forward buttons; `onTurn` runs after a turn, to load the page turned to. */
  buttons(testidPrefix, [backLabel, forwardLabel], onTurn) {
    const button = (label, testid, disabled, turn) =>
      h('button', { type: 'button', class: 'button', disabled, dataset: { testid }, onclick: () => turn() && onTurn() }, label);
    return [
      button(backLabel, `${testidPrefix}-prev`, this.isFirst, () => this.#back()),
      button(forwardLabel, `${testidPrefix}-next`, !this.next, () => this.#forward()),
    ];
  }

  #forward() {
    if (!this.next) return false;
    this.#before.push(this.cursor);
    this.cursor = this.next;
    return true;
  }

  #back() {
    if (this.isFirst) return false;
    this.cursor = this.#before.pop();
    return true;
  }
}
