// The package's WebhookClient against the real Worker (wrangler dev with this repo's config), from Node.js and
// from a page in headless Chromium served from another origin (so every call crosses origins: CORS). The same
// scenario runs in both; each test asserts one part of what it observed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { entryPage, launchChromium, serveFiles, startWranglerDev } from '../support/local.mjs';
import { pkgDir } from '../node/support.mjs';
import { emulatorToken } from '../../www/emulator-token.js';

/**
 * Every method of the client against the API, as a user would call them; returns what it saw. Self-contained: it
 * runs as is in Node and, from its source, in the page. `url` is a receiver nobody listens on.
 */
async function scenario({ WebhookClient }, { api, token, otherToken, url }) {
  const seen = {};
  const failure = (promise) => promise.then(() => null, (e) => ({
    name: e.name, status: e.status, code: e.code, message: e.message, error: e instanceof Error, typeError: e instanceof TypeError,
  }));
  const client = new WebhookClient({ baseUrl: `${api}/`, token });

  const created = await client.subscribe({ webhook_url: url, events: ['call.completed'] });
  const { id } = created.subscription;
  seen.created = { secret: created.secret_key.startsWith('whsec_'), url: created.subscription.webhook_url };
  seen.listed = (await client.list()).map((s) => s.id === id);
  seen.got = (await client.get(id)).webhook_url;
  seen.off = (await client.update(id, { active: false, events: ['*'] })).active;
  const on = await client.reactivate(id);
  seen.on = [on.active, on.failure_count];
  const rotated = await client.rotateSecret(id);
  seen.rotated = [rotated.secret_key !== created.secret_key, typeof rotated.previous_secret_expires_at];

  seen.tested = (await client.test({ webhook_url: url, event_type: 'call.completed' })).success;
  seen.logged = (await client.deliveries(id, { limit: 5 })).deliveries.length;
  await client.test({ webhook_url: url, event_type: 'call.failed' });
  const first = await client.deliveries(id, { limit: 1 });
  const second = await client.deliveries(id, { limit: 1, cursor: first.cursor });
  seen.pages = [first.deliveries[0].event, typeof first.cursor, second.deliveries[0].event, second.cursor];
  const stats = await client.stats(id, '7d');
  seen.stats = [stats.window, stats.subscription_id === id];
  seen.recovered = Array.isArray((await client.recover(id, Math.floor(Date.now() / 1000) - 60)).events);

  seen.missing = await failure(client.redeliver(id, 'evt_never'));
  seen.deleted = await client.delete(id);
  seen.gone = await failure(client.get(id));

  seen.invalid = await failure(client.subscribe({ webhook_url: 'ftp://example.com/', events: ['*'] }));
  seen.anonymous = await failure(new WebhookClient({ baseUrl: api }).list());
  seen.asyncToken = (await new WebhookClient({ baseUrl: api, token: async () => otherToken }).list()).length;
  seen.failingToken = await failure(new WebhookClient({ baseUrl: api, token: async () => { throw new Error('signed out'); } }).list());
  seen.wrongTokens = [
    await failure(new WebhookClient({ baseUrl: api, token: 42 }).list()),
    await failure(new WebhookClient({ baseUrl: api, token: () => undefined }).list()),
  ].map((e) => e?.typeError);
  seen.unreachable = await failure(new WebhookClient({ baseUrl: 'http://127.0.0.1:9' }).list());
  return seen;
}

let worker;
const observed = {};

before(async () => {
  worker = await startWranglerDev();
});

after(() => worker?.stop());

/** Runs the scenario for a fresh user of its own. */
const argsFor = (where) => ({
  api: worker.base,
  token: emulatorToken(`client-${where}`),
  otherToken: emulatorToken(`client-${where}-other`),
  url: `http://127.0.0.1:9/${where}`,
});

describe('the client from Node.js', () => {
  before(async () => {
    // pkg/node.mjs: what `import 'ringhook'` resolves to in Node.js (tests/node/pkg.test.mjs holds it to that).
    observed.node = await scenario(await import('../../pkg/node.mjs'), argsFor('node'));
  });
  defineChecks('node');
});

describe('the client from Chromium, across origins', () => {
  let server, browser;
  before(async () => {
    server = await serveFiles({ root: pkgDir, prefix: '/pkg/', page: entryPage() });
    browser = await launchChromium();
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => window.ringhookReady === true, null, { timeout: 15_000 });
    observed.browser = await page.evaluate(async ([source, args]) => {
      const run = new Function(`return (${source})`)();
      return run(window.ringhook, args);
    }, [scenario.toString(), argsFor('browser')]);
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  });
  defineChecks('browser');
});

function defineChecks(where) {
  const seen = () => observed[where];
  it('subscribes, lists, gets, updates and reactivates', () => {
    const url = `http://127.0.0.1:9/${where}`;
    assert.deepEqual(
      [seen().created, seen().listed, seen().got, seen().off, seen().on],
      [{ secret: true, url }, [true], url, false, [true, 0]],
    );
  });
  it('rotates the secret, keeping the previous one for a while', () => {
    assert.deepEqual(seen().rotated, [true, 'string']);
  });
  it('sends a test event (nobody listens) and pages through the log, newest first', () => {
    assert.deepEqual([seen().tested, seen().logged, seen().pages], [false, 1, ['call.failed', 'string', 'call.completed', null]]);
  });
  it('reads the delivery stats and asks for recovery', () => {
    assert.deepEqual([seen().stats, seen().recovered], [['7d', true], true]);
  });
  it('deletes, resolving to nothing, after which the subscription is not found', () => {
    assert.equal(seen().deleted, undefined);
    assert.deepEqual([seen().missing.status, seen().gone.name, seen().gone.status, seen().gone.code],
      [404, 'RingHookApiError', 404, 'not_found']);
  });
  it('rejects what the API refuses with its status and code', () => {
    const { invalid, anonymous } = seen();
    assert.deepEqual([invalid.error, invalid.status, invalid.code, /https/.test(invalid.message)], [true, 400, 'invalid_url', true]);
    assert.deepEqual([anonymous.status, anonymous.code], [401, 'unauthorized']);
  });
  it('takes the token from an async function, and rejects a failing or wrong one before any request', () => {
    assert.deepEqual([seen().asyncToken, seen().failingToken.message, seen().wrongTokens], [0, 'signed out', [true, true]]);
  });
  it('rejects with a network error when the API cannot be reached', () => {
    assert.deepEqual([seen().unreachable.code, seen().unreachable.status], ['network_error', 0]);
  });
}
