// One WebSocket to the gateway (/ws, protocol v1 in docs/protocol.md), shared by every view.
//
// Views subscribe to a topic with a filter; identical (topic, filter) pairs share one server
// subscription. Each subscription remembers the last event_id it processed, so that after a reconnect
// or a `lagged` frame it subscribes again with `since` and loses and repeats nothing.

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;
const RESYNC_WAIT_MS = 1000; // the longest a resync waits for the other subscribes in flight

/** Compares stream ids "ms-seq" numerically; null sorts first. */
export function compareEventIds(a, b) {
  if (a === b) return 0;
  if (!a) return -1;
  if (!b) return 1;
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}

/** The server time (ms since the epoch) at which a stream event was appended. */
export const eventTime = (eventId) => Number(String(eventId).split('-')[0]);

export class GatewaySocket {
  #url;
  #onState;
  #onLagged;
  #laggedCount = 0;
  #ws = null;
  #running = false;
  #attempt = 0;
  #retryTimer = 0;
  #livenessTimer = 0;
  #lastFrameAt = 0;
  #heartbeatMs = 15000;
  #ready = false;       // subscribe only after `welcome`, so one is never sent twice
  #nextCommand = 0;
  #byKey = new Map();      // "topic filter-json" → subscription
  #byServerId = new Map(); // server subscription id → subscription
  #pending = new Map();    // command id → {sub, resumed} awaiting `subscribed`
  #resyncs = new Set();    // listeners owed onResync once every subscribe in flight is answered
  #resyncTimer = 0;

  /** @param {{url?: string, onState: (state: string, detail?: object) => void, onLagged?: (count: number) => void}} options */
  constructor({ url, onState, onLagged }) {
    this.#url = url ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    this.#onState = onState;
    this.#onLagged = onLagged ?? (() => {});
  }

  start() {
    if (this.#running) return;
    this.#running = true;
    this.#connect();
  }

  stop() {
    this.#running = false;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#livenessTimer);
    this.#ws?.close(1000, 'logout');
    this.#ws = null;
    this.#byKey.clear();
    this.#byServerId.clear();
    this.#pending.clear();
    this.#resyncs.clear();
    clearTimeout(this.#resyncTimer);
    this.#resyncTimer = 0;
    this.#onState('idle');
  }

  /**
   * Subscribes `listener` ({onEvent(event, eventId), onResync?()}) to a topic. `since` applies only
   * when this (topic, filter) is not subscribed yet. Returns a function that ends the subscription.
   */
  subscribe(topic, filter, listener, { since } = {}) {
    const cleanFilter = compact(filter);
    const key = `${topic} ${JSON.stringify(cleanFilter)}`;
    let sub = this.#byKey.get(key);
    if (!sub) {
      sub = { key, topic, filter: cleanFilter, lastEventId: since ?? null, serverId: null, listeners: new Set() };
      this.#byKey.set(key, sub);
      this.#sendSubscribe(sub);
    }
    sub.listeners.add(listener);
    return () => {
      sub.listeners.delete(listener);
      if (sub.listeners.size > 0 || this.#byKey.get(key) !== sub) return;
      this.#byKey.delete(key);
      if (sub.serverId) {
        this.#byServerId.delete(sub.serverId);
        this.#send({ type: 'unsubscribe', subscription: sub.serverId });
      }
    };
  }

  #connect() {
    clearTimeout(this.#retryTimer);
    this.#onState('connecting', { attempt: this.#attempt });
    let ws;
    try {
      ws = new WebSocket(this.#url);
    } catch {
      this.#scheduleReconnect();
      return;
    }
    this.#ws = ws;
    ws.onmessage = (message) => this.#receive(message.data);
    ws.onclose = () => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#ready = false;
      clearInterval(this.#livenessTimer);
      this.#byServerId.clear();
      this.#pending.clear();
      this.#flushResyncs();
      for (const sub of this.#byKey.values()) sub.serverId = null;
      this.#scheduleReconnect();
    };
  }

  #scheduleReconnect() {
    if (!this.#running) return;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.#attempt) * (0.75 + Math.random() / 2);
    this.#attempt += 1;
    this.#onState('disconnected', { retryInMs: Math.round(delay), attempt: this.#attempt });
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  #receive(text) {
    this.#lastFrameAt = Date.now();
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    switch (frame.type) {
      case 'welcome': return this.#welcomed(frame);
      case 'event': return this.#deliver(frame);
      case 'subscribed': return this.#subscribed(frame);
      case 'lagged': return this.#lagged(frame);
      case 'ping': return this.#send({ type: 'pong', ...(frame.id ? { ack: frame.id } : {}) });
      case 'error': return this.#failed(frame);
      default: return undefined; // pong, ack
    }
  }

  #welcomed(frame) {
    this.#attempt = 0;
    this.#ready = true;
    if (frame.heartbeat_ms > 0) this.#heartbeatMs = frame.heartbeat_ms;
    clearInterval(this.#livenessTimer);
    // A connection that has said nothing for three heartbeats is dead even if TCP has not noticed.
    this.#livenessTimer = setInterval(() => {
      if (Date.now() - this.#lastFrameAt > 3 * this.#heartbeatMs) this.#ws?.close(4000, 'silent');
    }, this.#heartbeatMs);
    this.#onState('connected');
    for (const sub of this.#byKey.values()) this.#sendSubscribe(sub);
  }

  #sendSubscribe(sub) {
    if (!this.#ready || this.#ws?.readyState !== WebSocket.OPEN) return; // sent on the next welcome
    const id = `c${++this.#nextCommand}`;
    this.#pending.set(id, { sub, resumed: Boolean(sub.lastEventId) });
    this.#send({
      type: 'subscribe', id, topic: sub.topic,
      ...(Object.keys(sub.filter).length ? { filter: sub.filter } : {}),
      ...(sub.lastEventId ? { since: sub.lastEventId } : {}),
    });
  }

  #subscribed(frame) {
    const { sub, resumed } = this.#pending.get(frame.ack) ?? {};
    if (!sub) return;
    this.#pending.delete(frame.ack);
    if (this.#byKey.get(sub.key) !== sub) {
      // Unsubscribed while the request was on its way.
      this.#send({ type: 'unsubscribe', subscription: frame.subscription });
    } else {
      sub.serverId = frame.subscription;
      this.#byServerId.set(frame.subscription, sub);
      // Without a position to resume from, or when the stream no longer holds everything after it,
      // what the views hold may have gaps: they reload, and events from here on keep them current.
      if (!resumed || frame.truncated) for (const listener of sub.listeners) this.#resyncs.add(listener);
    }
    this.#flushResyncs();
  }

  /**
   * A view subscribed to several topics reloads once, when the last of its subscribes is answered, not
   * once per topic. A subscribe never answered (an error the server could not tie to it) holds them back
   * for RESYNC_WAIT_MS at most. Listeners that have unsubscribed meanwhile are not called.
   */
  #flushResyncs(force = false) {
    if (this.#pending.size > 0 && !force) {
      if (this.#resyncs.size > 0) this.#resyncTimer ||= setTimeout(() => this.#flushResyncs(true), RESYNC_WAIT_MS);
      return;
    }
    clearTimeout(this.#resyncTimer);
    this.#resyncTimer = 0;
    const subscribed = new Set([...this.#byKey.values()].flatMap((sub) => [...sub.listeners]));
    const owed = [...this.#resyncs].filter((listener) => subscribed.has(listener));
    this.#resyncs.clear();
    for (const listener of owed) listener.onResync?.();
  }

  #deliver(frame) {
    const sub = this.#byServerId.get(frame.subscription);
    if (!sub || compareEventIds(frame.event_id, sub.lastEventId) <= 0) return;
    sub.lastEventId = frame.event_id;
    for (const listener of sub.listeners) listener.onEvent(frame.event, frame.event_id);
  }

  #lagged(frame) {
    const sub = this.#byServerId.get(frame.subscription);
    if (!sub) return;
    this.#byServerId.delete(frame.subscription);
    sub.serverId = null;
    // Every frame sent before `lagged` has been processed, so our own position is exact.
    if (!sub.lastEventId && frame.last_event_id) sub.lastEventId = frame.last_event_id;
    this.#sendSubscribe(sub);
    this.#onLagged(++this.#laggedCount);
  }

  #failed(frame) {
    const { sub } = (frame.ack && this.#pending.get(frame.ack)) || {};
    if (!sub) return;
    this.#pending.delete(frame.ack);
    this.#flushResyncs();
    console.warn(`subscription to ${sub.topic} refused: ${frame.error?.code} ${frame.error?.message}`);
  }

  #send(frame) {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify({ v: 1, ...frame }));
  }
}

/** Drops empty values so equal filters produce equal keys. */
function compact(filter = {}) {
  const out = {};
  for (const name of Object.keys(filter).sort()) {
    const value = filter[name];
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value) && value.length === 0) continue;
    out[name] = Array.isArray(value) ? [...value].sort() : value;
  }
  return out;
}
