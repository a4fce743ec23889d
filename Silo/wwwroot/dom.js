// Tiny DOM helpers: build elements, set text only when it changed, reconcile keyed lists.

import { scheduleRender } from './frame.js';

/** Creates an element: h('td', {class: 'num', dataset: {testid: 'x'}}, 'text', child). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name in el && typeof value !== 'string') el[name] = value;
    else el.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Sets textContent only if it differs, so unchanged cells cost no layout. */
export function setText(el, text) {
  const value = text === undefined || text === null ? '' : String(text);
  if (el.textContent !== value) el.textContent = value;
}

/** Sets an attribute only if it differs; null removes it. */
export function setAttr(el, name, value) {
  if (value === null || value === undefined) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== String(value)) {
    el.setAttribute(name, value);
  }
}

/**
 * Makes `parent`'s children the elements for `keys`, in order, creating the missing ones with
 * `create(key)` and removing the rest. Existing elements are moved only when out of place.
 * `cache` (a Map key → element) is kept in step.
 */
export function reconcile(parent, keys, cache, create) {
  const wanted = new Set(keys);
  for (const [key, el] of cache) {
    if (!wanted.has(key)) {
      el.remove();
      cache.delete(key);
    }
  }
  let cursor = parent.firstElementChild;
  for (const key of keys) {
    let el = cache.get(key);
    if (!el) {
      el = create(key);
      cache.set(key, el);
    }
    if (el !== cursor) parent.insertBefore(el, cursor);
    else cursor = cursor.nextElementSibling;
  }
}

/** Shows or hides an element. */
export function show(el, visible) {
  if (el.hidden === visible) el.hidden = !visible;
}

/**
 * A keyed list of elements under `parent`, drawn at most once per animation frame. `keys` says what
 * shows, in which order; `reorder()` says that changed, `patch(key)` that one item did, and a frame
 * redraws only that: `create(key)` for new elements, `update(key, element)` for changed ones, and
 * `afterReorder()` for what depends on the list as a whole (an empty state, a pager).
 */
export class KeyedList {
  keys = [];
  elements = new Map(); // key → element
  #dirty = new Set();
  #reordered = true;
  #parent;
  #create;
  #update;
  #afterReorder;

  constructor(parent, { create, update, afterReorder = () => {} }) {
    this.#parent = parent;
    this.#create = create;
    this.#update = update;
    this.#afterReorder = afterReorder;
  }

  reorder() {
    this.#reordered = true;
    scheduleRender(this.#render);
  }

  patch(key) {
    this.#dirty.add(key);
    scheduleRender(this.#render);
  }

  patchAll() {
    for (const key of this.keys) this.#dirty.add(key);
    scheduleRender(this.#render);
  }

  #render = () => {
    if (this.#reordered) {
      this.#reordered = false;
      reconcile(this.#parent, this.keys, this.elements, this.#create);
      this.#afterReorder();
    }
    for (const key of this.#dirty) {
      const element = this.elements.get(key);
      if (element) this.#update(key, element);
    }
    this.#dirty.clear();
  };
}
