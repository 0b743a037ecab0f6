// The package's WebhookClient in Node.js, through import and require of `ringhook`, against a real HTTP server on
// 127.0.0.1 (the delivery tests' recording receiver) that answers as the test says: the route, method, headers and
// body of every method, what each resolves to, and every way a call fails.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createReceiver, down } from '../worker/receivers.mjs';

const esm = await import('ringhook');
const cjs = createRequire(import.meta.url)('ringhook');

const BASE = '/api/v6/call/webhook';
const SUBSCRIPTION = { id: 'sub_1', webhook_url: 'https://a.example/hook', events: ['*'], active: true };

/** The server: `answer` is its next answer; `seen` holds the requests that arrived. */
let server;
let origin;
let seen;
let answer = { status: 200, body: '{}' };

before(async () => {
  server = await createReceiver(() => answer);
  ({ url: origin, requests: seen } = server);
});

after(() => server.close());

/** Calls `call(client)` with the server answering `status` and `body`; resolves to the result and the request. */
async function exchange(client, call, status = 200, body = {}) {
  answer = { status, body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } };
  seen.length = 0;
  const result = await call(client);
  assert.equal(seen.length, 1, 'one request per call');
  return { result, request: seen[0] };
}

for (const [entry, { WebhookClient }] of Object.entries({ import: esm, require: cjs })) {
  describe(`WebhookClient via ${entry}`, () => {
    const client = () => new WebhookClient({ baseUrl: `${origin}//`, token: async () => 'id-token' });

    it('subscribe POSTs the request as JSON with the bearer token and resolves to the whole answer', async () => {
      const reply = { success: true, subscription: SUBSCRIPTION, secret_key: 'whsec_x' };
      const request = { webhook_url: 'https://a.example/hook', events: ['call.completed'] };
      const { result, request: got } = await exchange(client(), (c) => c.subscribe(request), 201, reply);
      assert.deepEqual(
        [got.method, got.url, got.headers.authorization, got.headers['content-type'], JSON.parse(got.body)],
        ['POST', `${BASE}/subscribe`, 'Bearer id-token', 'application/json', request],
      );
      assert.deepEqual(result, reply);
    });

    it('list GETs the subscriptions, without a body, and resolves to the list', async () => {
      const { result, request } = await exchange(client(), (c) => c.list(), 200, { success: true, subscriptions: [SUBSCRIPTION] });
      assert.deepEqual([request.method, request.url, request.body, request.headers['content-type']],
        ['GET', `${BASE}/subscriptions`, '', undefined]);
      assert.deepEqual(result, [SUBSCRIPTION]);
    });

    it('get, update and reactivate resolve to the subscription, the id made one path segment', async () => {
      const reply = { success: true, subscription: SUBSCRIPTION };
      const got = await exchange(client(), (c) => c.get('a/b c'), 200, reply);
      assert.deepEqual([got.request.method, got.request.url, got.result], ['GET', `${BASE}/subscriptions/a%2Fb%20c`, SUBSCRIPTION]);
      const updated = await exchange(client(), (c) => c.update('sub_1', { events: ['*'] }), 200, reply);
      assert.deepEqual([updated.request.method, updated.request.url, JSON.parse(updated.request.body), updated.result],
        ['PATCH', `${BASE}/subscriptions/sub_1`, { events: ['*'] }, SUBSCRIPTION]);
      const reactivated = await exchange(client(), (c) => c.reactivate('sub_1'), 200, reply);
      assert.deepEqual([reactivated.request.method, JSON.parse(reactivated.request.body)], ['PATCH', { active: true }]);
    });

    it('delete resolves to nothing, whatever the answer holds', async () => {
      const { result, request } = await exchange(client(), (c) => c.delete('sub_1'), 200, { success: true });
      assert.deepEqual([request.method, request.url, result], ['DELETE', `${BASE}/subscriptions/sub_1`, undefined]);
    });

    it('rotateSecret, test, redeliver and recover reach their routes and resolve to the answer', async () => {
      const reply = { success: true };
      const calls = [
        [(c) => c.rotateSecret('sub_1'), 'POST', `${BASE}/subscriptions/sub_1/rotate-secret`, ''],
        [(c) => c.test({ webhook_url: 'https://a.example/hook', event_type: 'call.completed' }), 'POST', `${BASE}/test`,
          '{"webhook_url":"https://a.example/hook","event_type":"call.completed"}'],
        [(c) => c.redeliver('sub_1', 'evt/1'), 'POST', `${BASE}/subscriptions/sub_1/deliveries/evt%2F1/redeliver`, ''],
        [(c) => c.recover('sub_1', 1700000000.9), 'POST', `${BASE}/subscriptions/sub_1/recover`, '{"since":1700000000}'],
      ];
      for (const [call, method, url, body] of calls) {
        const { result, request } = await exchange(client(), call, 200, reply);
        assert.deepEqual([request.method, request.url, request.body, result], [method, url, body, reply]);
      }
    });

    it('deliveries and stats put their options in the query', async () => {
      const pages = [
        [undefined, ''],
        [{ limit: 20.7 }, '?limit=20'],
        [{ limit: -3, cursor: 'a b&c' }, '?limit=0&cursor=a%20b%26c'],
        [{ cursor: 'next' }, '?cursor=next'],
      ];
      for (const [page, query] of pages) {
        const { request } = await exchange(client(), (c) => c.deliveries('sub_1', page), 200, { success: true, deliveries: [] });
        assert.equal(request.url, `${BASE}/subscriptions/sub_1/deliveries${query}`);
      }
      for (const [window, query] of [[undefined, ''], ['7d', '?window=7d']]) {
        const { request } = await exchange(client(), (c) => c.stats('sub_1', window), 200, { success: true });
        assert.equal(request.url, `${BASE}/subscriptions/sub_1/stats${query}`);
      }
    });

    it('sends no authorization without a token, and takes a token string as is', async () => {
      const bare = await exchange(new WebhookClient({ baseUrl: origin }), (c) => c.list(), 200, { subscriptions: [] });
      assert.equal(bare.request.headers.authorization, undefined);
      const plain = await exchange(new WebhookClient({ baseUrl: origin, token: 'abc' }), (c) => c.list(), 200, { subscriptions: [] });
      assert.equal(plain.request.headers.authorization, 'Bearer abc');
    });

    it('rejects a non-2xx answer with a RingHookApiError carrying the API code and message', async () => {
      const refused = { success: false, error: { code: 'not_found', message: 'no such subscription' } };
      await assert.rejects(exchange(client(), (c) => c.get('nope'), 404, refused),
        { name: 'RingHookApiError', status: 404, code: 'not_found', message: 'no such subscription' });
    });

    it('rejects an answer without the API error shape with code http_error', async () => {
      await assert.rejects(exchange(client(), (c) => c.list(), 502, 'Bad Gateway'),
        { name: 'RingHookApiError', status: 502, code: 'http_error', message: 'the API answered HTTP 502' });
    });

    it('rejects with status 0 and code network_error when nothing answers', async () => {
      const offline = new WebhookClient({ baseUrl: (await down()).url, token: 't' });
      await assert.rejects(offline.list(), (error) => error.name === 'RingHookApiError' && error.status === 0
        && error.code === 'network_error' && error.message.startsWith('the request did not complete: '));
    });

    it('rejects a token function that gives no string, before sending anything', async () => {
      seen.length = 0;
      const unsigned = new WebhookClient({ baseUrl: origin, token: async () => undefined });
      await assert.rejects(unsigned.list(), { name: 'TypeError', message: 'token must be a string or a function returning one' });
      assert.equal(seen.length, 0);
    });

    it('can still be freed and disposed of, as when it was a wasm object', () => {
      const disposable = new WebhookClient();
      assert.equal(disposable[Symbol.dispose], disposable.free);
      assert.equal(disposable.free(), undefined);
    });

    it('throws at construction for a baseUrl that is not a string', () => {
      assert.throws(() => new WebhookClient({ baseUrl: 42 }), { name: 'TypeError', message: 'baseUrl must be a string' });
    });
  });
}
