// `WebhookClient`: the subscription API over the platform's `fetch`, for browsers, Node.js and Workers. Request and
// response bodies are the API's JSON as is (typed in ringhook.d.ts); the server validates them. Plain JavaScript:
// there is nothing to decide here, and the wasm build of it cost the package about 6 KB gzip.

const API_BASE = '/api/v6/call/webhook';

/** A `RingHookApiError`: an `Error` with the HTTP `status` (0 when no answer came) and the API's error `code`. */
function apiError(status, code, message) {
  return Object.assign(new Error(message), { name: 'RingHookApiError', status, code });
}

/** The API's error in an answer's parsed body, or one made from its status. */
function answerError(status, body) {
  const { code, message } = body?.error ?? {};
  return apiError(status, typeof code === 'string' ? code : 'http_error',
    typeof message === 'string' ? message : `the API answered HTTP ${status}`);
}

const segment = encodeURIComponent;

export class WebhookClient {
  #base;
  #token;

  /** `new WebhookClient({ baseUrl, token })`: `token` is a Firebase ID token, or a function returning one. */
  constructor(options) {
    const { baseUrl = '', token } = options ?? {};
    if (typeof baseUrl !== 'string') throw new TypeError('baseUrl must be a string');
    this.#base = baseUrl.replace(/\/+$/, '');
    this.#token = token;
  }

  /** One call: resolves to the answer's JSON (or its `member`, or nothing when `member` is null). */
  async #request(method, path, body, member) {
    const source = this.#token;
    const headers = {};
    if (source != null) {
      const token = typeof source === 'function' ? await source() : source;
      if (typeof token !== 'string') throw new TypeError('token must be a string or a function returning one');
      headers.authorization = `Bearer ${token}`;
    }
    const init = { method, headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (typeof globalThis.fetch !== 'function') throw new TypeError('this runtime has no fetch()');
    let answer;
    try {
      answer = await fetch(this.#base + API_BASE + path, init);
    } catch (error) {
      const reason = typeof error?.message === 'string' ? error.message : 'network error';
      throw apiError(0, 'network_error', `the request did not complete: ${reason}`);
    }
    const text = await answer.text();
    let parsed;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (answer.status < 200 || answer.status > 299) throw answerError(answer.status, parsed);
    return member === null ? undefined : member ? parsed[member] : parsed;
  }

  /** `POST /subscribe`: resolves to `{success, subscription, secret_key}`. */
  subscribe(request) {
    return this.#request('POST', '/subscribe', request);
  }

  /** `GET /subscriptions`: resolves to the subscriptions. */
  list() {
    return this.#request('GET', '/subscriptions', undefined, 'subscriptions');
  }

  /** `GET /subscriptions/{id}`. */
  get(id) {
    return this.#request('GET', `/subscriptions/${segment(id)}`, undefined, 'subscription');
  }

  /** `PATCH /subscriptions/{id}`. */
  update(id, patch) {
    return this.#request('PATCH', `/subscriptions/${segment(id)}`, patch, 'subscription');
  }

  /** `PATCH /subscriptions/{id}` with `{active: true}`: turns it back on and resets its failure count. */
  reactivate(id) {
    return this.update(id, { active: true });
  }

  /** `DELETE /subscriptions/{id}`. */
  delete(id) {
    return this.#request('DELETE', `/subscriptions/${segment(id)}`, undefined, null);
  }

  /** `POST /subscriptions/{id}/rotate-secret`: the new secret; the previous one signs for 24 h more. */
  rotateSecret(id) {
    return this.#request('POST', `/subscriptions/${segment(id)}/rotate-secret`);
  }

  /** `POST /test`: sends a signed sample event to one of your subscriptions now. */
  test(request) {
    return this.#request('POST', '/test', request);
  }

  /** `GET /subscriptions/{id}/deliveries`: one page of the delivery log, newest first. */
  deliveries(id, page) {
    let search = '';
    for (const key of ['limit', 'cursor']) {
      let value = page?.[key];
      if (typeof value === 'number') value = String(Math.floor(Math.max(value, 0) || 0));
      if (typeof value === 'string') search += `${search ? '&' : '?'}${key}=${segment(value)}`;
    }
    return this.#request('GET', `/subscriptions/${segment(id)}/deliveries${search}`);
  }

  /** `GET /subscriptions/{id}/stats?window=`: attempts per hour by outcome, over `"24h"` (default) or `"7d"`. */
  stats(id, window) {
    const search = window == null ? '' : `?window=${segment(window)}`;
    return this.#request('GET', `/subscriptions/${segment(id)}/stats${search}`);
  }

  /** `POST /subscriptions/{id}/deliveries/{eventId}/redeliver`. */
  redeliver(id, eventId) {
    return this.#request('POST', `/subscriptions/${segment(id)}/deliveries/${segment(eventId)}/redeliver`);
  }

  /** `POST /subscriptions/{id}/recover`: delivers again every event not delivered since `since` (unix seconds). */
  recover(id, since) {
    return this.#request('POST', `/subscriptions/${segment(id)}/recover`, { since: Math.floor(since) });
  }

  /** Holds nothing to free; kept, with `[Symbol.dispose]`, for code written when the client lived in wasm. */
  free() {}
}
if (Symbol.dispose) WebhookClient.prototype[Symbol.dispose] = WebhookClient.prototype.free;
