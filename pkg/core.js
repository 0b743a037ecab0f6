// The main entry's JavaScript side of its wasm, ringhook.wasm (crates/ringhook/src/wasm.rs): the verifier it
// shares with ringhook/verify, and signWebhook, CallEventDispatcher and the live stream's reconnection delay on
// the same numeric interface. What an event does (duplicate, stale, applied), the signatures and the delays are
// the core's; here arguments are checked, the dispatcher's memory is kept in a Set and a Map, and handlers run.
// An entry calls `defineCore()` once, instantiates the module with its `imports` and passes the instance to `init`.

import { defineVerifier } from './verify/verify.js';

/** `id` in SignOptions: visible ASCII, as a header value carries it. */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

export function defineCore() {
  const core = defineVerifier();
  const { write, answer, failure, rawBody } = core;
  const wasm = () => core.exports();

  function signWebhook(payload, secretKeys, options) {
    const body = rawBody(payload);
    const secrets = typeof secretKeys === 'string' ? [secretKeys] : secretKeys;
    if (!Array.isArray(secrets) || !secrets.every((s) => typeof s === 'string')) {
      throw new TypeError('secretKeys must be a string or an array of strings');
    }
    if (secrets.length === 0) throw new TypeError('secretKeys must name at least one secret');
    wasm().sign_reset();
    for (const secret of secrets) {
      const result = wasm().sign_secret(write([secret])[0]);
      if (result < 0) throw failure(result);
    }
    let id;
    let timestamp = NaN;
    if (options !== undefined && options !== null) {
      if (options.id !== undefined) {
        if (typeof options.id !== 'string' || !VISIBLE_ASCII.test(options.id)) {
          throw new TypeError('id must be a non-empty string of visible ASCII characters');
        }
        id = options.id;
      }
      const given = options.timestamp;
      if (given !== undefined) {
        if (typeof given !== 'number' || !Number.isInteger(given) || given < 0 || given >= 1e15) {
          throw new TypeError('timestamp must be whole unix seconds');
        }
        timestamp = given;
      }
    }
    // Without an id, the wasm makes one from the clock and 10 random bytes (not secret material).
    const random = id === undefined ? Uint8Array.from({ length: 10 }, () => Math.random() * 256) : undefined;
    const [bodyLen, idLen] = write([body, id ?? random]);
    const len = wasm().sign(bodyLen, id === undefined ? -1 : idLen, timestamp, Date.now());
    if (len < 0) throw failure(len);
    const lines = answer(len).split('\n');
    const headers = {};
    for (let i = 0; i + 1 < lines.length; i += 2) headers[lines[i]] = lines[i + 1];
    return headers;
  }

  /** Verifies (optionally), deduplicates, orders and dispatches call events. */
  class CallEventDispatcher {
    #secretKey;
    #tolerance;
    #target;
    #eventName;
    #handlers = [];
    /** The ids applied, oldest first (a Set iterates in insertion order). */
    #ids = new Set();
    /** Each call's last applied position, as the wasm packed it into a number. */
    #calls = new Map();

    constructor(options) {
      const get = (key) => (options === undefined || options === null ? undefined : options[key]);
      const eventName = get('eventName');
      if (eventName !== undefined && typeof eventName !== 'string') throw new TypeError('eventName must be a string');
      const target = get('target');
      if (target !== undefined && typeof target?.dispatchEvent !== 'function') {
        throw new TypeError('target must be an EventTarget, such as window');
      }
      this.#secretKey = get('secretKey');
      this.#tolerance = get('toleranceSeconds');
      this.#target = target;
      this.#eventName = eventName ?? 'callStatusChanged';
    }

    on(type, handler) {
      this.#handlers.push([type, handler]);
    }

    off(type, handler) {
      this.#handlers = this.#handlers.filter(([t, h]) => !(t === type && Object.is(h, handler)));
    }

    receive(rawBody, headers) {
      if (this.#secretKey === undefined) {
        throw new TypeError('receive() needs the secretKey option; use dispatch() for events verified elsewhere');
      }
      const options = this.#tolerance === undefined ? {} : { toleranceSeconds: this.#tolerance };
      return this.dispatch(core.verifyWebhook(rawBody, headers, this.#secretKey, options));
    }

    dispatch(event) {
      const field = (key) => {
        const value = event === undefined || event === null ? undefined : event[key];
        return typeof value === 'string' ? value : undefined;
      };
      const id = field('id');
      if (id === undefined) throw new TypeError('the event has no id: pass a delivered ringhook event');
      const type = field('event');
      if (type === undefined) throw new TypeError('the event has no event type');
      const callId = field('callId') ?? '';
      const timestamp = typeof event.timestamp === 'number' ? event.timestamp : NaN;
      const last = callId === '' ? undefined : this.#calls.get(callId);
      const [statusLen] = write([field('status')]);
      if (wasm().decide(this.#ids.has(id) ? 1 : 0, last ?? NaN, timestamp, statusLen) !== 0) return false;
      if (callId !== '') this.#calls.set(callId, wasm().applied());
      if (this.#ids.size >= wasm().remembered_ids()) this.#ids.delete(this.#ids.values().next().value);
      this.#ids.add(id);

      // The handlers of this moment: one may call back into the dispatcher.
      for (const [, handler] of this.#handlers.filter(([t]) => t === '*' || t === type)) handler.call(null, event);
      if (this.#target !== undefined) this.#fire(event);
      return true;
    }

    /** `target.dispatchEvent(new CustomEvent(eventName, { detail: { event, callId, status, data } }))`. */
    #fire(event) {
      if (typeof CustomEvent !== 'function') throw new TypeError('this runtime has no CustomEvent');
      const { event: type, callId, status, data } = event;
      this.#target.dispatchEvent(new CustomEvent(this.#eventName, { detail: { event: type, callId, status, data } }));
    }

    /** Holds nothing to free; kept, with `[Symbol.dispose]`, for code written when the dispatcher lived in wasm. */
    free() {}
  }
  if (Symbol.dispose) CallEventDispatcher.prototype[Symbol.dispose] = CallEventDispatcher.prototype.free;

  return {
    imports: core.imports,
    init: core.init,
    verifyWebhookSignature: core.verifyWebhookSignature,
    verifyWebhook: core.verifyWebhook,
    verifyRequest: core.verifyRequest,
    signWebhook,
    CallEventDispatcher,
    reconnectDelayMs: (attempt, random) => wasm().reconnect_delay(attempt, random),
  };
}
