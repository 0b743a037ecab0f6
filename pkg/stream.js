// The live stream of call events, and a store of every call's state, built on the core's exports (each
// entry of the package passes its own). The stream speaks ringhook's stream protocol (see the core's
// `service::stream`): a ticket from POST /api/v6/call/stream/ticket, then a WebSocket whose frames are
// {type: "event" | "live" | "gap" | "error" | "expired", cursor, event?}. When to reconnect is the core's decision
// (`reconnectDelayMs`); what an event does to a call is the dispatcher's.

const STREAM_PATH = '/api/v6/call/stream';
const DEFAULT_CURSOR_KEY = 'ringhook:stream-cursor';
/** The close code of a socket whose sign-in expired: reconnect at once, with a fresh ticket. */
const TOKEN_EXPIRED = 4001;

/** @param {{ reconnectDelayMs: (attempt: number, random: number) => number }} core */
export function defineStream(core) {
  const delayFor = (attempt) => core.reconnectDelayMs(attempt, Math.random());

  class CallEventStream extends EventTarget {
    #options;
    #state = 'closed';
    #cursor = null;
    #socket = null;
    #timer = null;
    #pinger = null;
    #attempt = 0;
    #generation = 0;
    #waiting = [];

    constructor({ baseUrl = '', token, dispatcher, events, cursorStore, cursorKey = DEFAULT_CURSOR_KEY,
      WebSocket: Socket = globalThis.WebSocket, pingIntervalMs = 30_000 } = {}) {
      super();
      if (!dispatcher || typeof dispatcher.dispatch !== 'function') {
        throw new TypeError('CallEventStream needs { dispatcher }: a CallEventDispatcher');
      }
      if (typeof token !== 'string' && typeof token !== 'function') {
        throw new TypeError('CallEventStream needs { token }: a Firebase ID token, or a function returning one');
      }
      if (typeof Socket !== 'function') {
        throw new TypeError('this runtime has no WebSocket: pass { WebSocket } (e.g. from the "ws" package)');
      }
      this.#options = { baseUrl, token, dispatcher, events, cursorStore, cursorKey, Socket, pingIntervalMs };
      const stored = cursorStore?.getItem(cursorKey);
      if (stored != null && /^\d+$/.test(stored)) this.#cursor = Number(stored);
    }

    /** `connecting` | `live` | `reconnecting` | `closed`. */
    get state() { return this.#state; }

    /** The cursor of the last event (or marker) received: where the next connection resumes. */
    get cursor() { return this.#cursor; }

    /** Opens the stream (resuming from the last cursor seen); resolves once it is live. */
    connect() {
      const live = new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
      if (this.#state === 'closed') this.#open('connecting');
      else if (this.#state === 'live') this.#settle(null);
      return live;
    }

    /** Closes the stream; no reconnection. `connect()` opens it again, resuming where it left off. */
    close() {
      clearTimeout(this.#timer);
      this.#abandon('closed by the client');
      this.#setState('closed');
      this.#settle(new DOMException('the stream was closed before it was live', 'AbortError'));
    }

    /** Leaves the current socket: its listeners go quiet, and it is closed if still open. */
    #abandon(reason) {
      this.#generation++;
      clearInterval(this.#pinger);
      const socket = this.#socket;
      this.#socket = null;
      if (socket && socket.readyState <= 1) socket.close(1000, reason);
    }

    async #open(state) {
      const generation = ++this.#generation;
      this.#setState(state);
      let socket;
      try {
        const url = await this.#url();
        if (generation !== this.#generation) return;
        socket = new this.#options.Socket(url);
      } catch (error) {
        if (generation !== this.#generation) return;
        this.dispatchEvent(Object.assign(new Event('error'), { error }));
        this.#retry(generation, false);
        return;
      }
      this.#socket = socket;
      socket.addEventListener('message', (message) => {
        if (generation === this.#generation) this.#receive(message.data);
      });
      socket.addEventListener('close', (closed) => {
        if (generation !== this.#generation) return;
        clearInterval(this.#pinger);
        this.#socket = null;
        this.#retry(generation, closed.code === TOKEN_EXPIRED);
      });
    }

    /** A fresh ticket, then the stream's URL with it, the event filter and the cursor. */
    async #url() {
      const { baseUrl, token, events } = this.#options;
      const idToken = typeof token === 'function' ? await token() : token;
      const base = baseUrl || globalThis.location?.origin;
      if (!base) throw new TypeError('CallEventStream needs { baseUrl } outside a browser page');
      const answer = await fetch(new URL(`${STREAM_PATH}/ticket`, base), {
        method: 'POST',
        headers: { authorization: `Bearer ${idToken}` },
      });
      const body = await answer.json().catch(() => ({}));
      if (!answer.ok) {
        const error = new Error(body?.error?.message ?? `the stream ticket was refused (${answer.status})`);
        throw Object.assign(error, { name: 'RingHookApiError', status: answer.status, code: body?.error?.code ?? 'http_error' });
      }
      const url = new URL(STREAM_PATH, base);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      url.searchParams.set('ticket', body.ticket);
      if (events?.length) url.searchParams.set('events', events.join(','));
      if (this.#cursor !== null) url.searchParams.set('cursor', String(this.#cursor));
      return url.href;
    }

    #receive(data) {
      let frame;
      try {
        frame = JSON.parse(data);
      } catch {
        return; // `pong`
      }
      if (frame.type === 'event') {
        this.#remember(frame.cursor);
        this.#options.dispatcher.dispatch(frame.event);
      } else if (frame.type === 'live') {
        this.#remember(frame.cursor);
        this.#attempt = 0;
        this.#setState('live');
        this.#keepAlive();
        this.#settle(null);
      } else if (frame.type === 'gap') {
        this.#remember(frame.cursor);
        this.dispatchEvent(new Event('gap'));
      } else if (frame.type === 'expired') {
        // The sign-in behind this socket expired: a fresh ticket (with a fresh token) now, not after the close.
        this.#abandon('sign-in expired');
        this.#retry(this.#generation, true);
      } else if (frame.type === 'error') {
        this.dispatchEvent(Object.assign(new Event('error'), { error: frame }));
      }
    }

    #remember(cursor) {
      if (!Number.isSafeInteger(cursor)) return;
      this.#cursor = cursor;
      this.#options.cursorStore?.setItem(this.#options.cursorKey, String(cursor));
    }

    #keepAlive() {
      clearInterval(this.#pinger);
      const socket = this.#socket;
      if (!(this.#options.pingIntervalMs > 0) || !socket) return;
      this.#pinger = setInterval(() => { if (socket.readyState === 1) socket.send('ping'); }, this.#options.pingIntervalMs);
      this.#pinger.unref?.();
    }

    #retry(generation, now) {
      if (generation !== this.#generation) return;
      this.#setState('reconnecting');
      const delay = now ? 0 : delayFor(this.#attempt++);
      this.#timer = setTimeout(() => {
        if (generation === this.#generation) this.#open('reconnecting');
      }, delay);
    }

    #setState(state) {
      if (this.#state === state) return;
      this.#state = state;
      this.dispatchEvent(new Event('state'));
    }

    #settle(error) {
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const { resolve, reject } of waiting) error ? reject(error) : resolve();
    }
  }

  const CALL = /^call\./;

  class CallStore {
    #snapshot = Object.freeze({});
    #listeners = new Set();
    #handler;
    #dispatcher;

    constructor(dispatcher) {
      if (!dispatcher || typeof dispatcher.on !== 'function') throw new TypeError('CallStore needs a CallEventDispatcher');
      this.#dispatcher = dispatcher;
      this.#handler = (event) => {
        if (!CALL.test(event.event) || typeof event.callId !== 'string') return;
        const { callId, event: type, status, data, timestamp } = event;
        this.#snapshot = Object.freeze({ ...this.#snapshot, [callId]: Object.freeze({ callId, event: type, status, data, timestamp }) });
        for (const listener of [...this.#listeners]) listener();
      };
      dispatcher.on('*', this.#handler);
    }

    /** Every call's latest state, by call id; the same object until something changes. */
    getSnapshot = () => this.#snapshot;

    /** Calls `listener` after each change; returns the function that stops it. */
    subscribe = (listener) => {
      this.#listeners.add(listener);
      return () => { this.#listeners.delete(listener); };
    };

    /** Stops following the dispatcher. */
    dispose() {
      this.#dispatcher.off('*', this.#handler);
      this.#listeners.clear();
    }
  }

  return { CallEventStream, CallStore };
}
