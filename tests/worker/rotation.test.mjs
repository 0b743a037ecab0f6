// Rotations end to end in workerd: a subscription's secret (what each signature header carries during the 24 h
// overlap, checked with the setup guide's own verifyWebhookSignature) and the storage key SECRETS_KEY (secrets
// sealed under the previous key still sign, are re-sealed under the new one, and keep signing once the previous
// key is gone).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { BASE, client, objectBytes, pipelineClient, signedToken, startWorker, stopJwksServer } from './support.mjs';
import { createReceiver, verifyWebhookSignature, waitFor } from './receivers.mjs';

const as = (uid) => signedToken({ sub: uid });
const PUBLISHER = 'rotation-publisher-token';
/** The key id ringhook writes beside each sealed secret: 8 hex digits of a hash of the key. */
const keyId = (base64) => createHash('sha256').update('ringhook storage key id\0').update(Buffer.from(base64, 'base64')).digest('hex').slice(0, 8);
/** The guide's verifier on a received delivery, fed as its Express snippet feeds it. */
const guide = (request, header, secret) => {
  try {
    return verifyWebhookSignature(JSON.stringify(JSON.parse(request.body)), request.headers[header] ?? '', secret);
  } catch {
    return false; // lengths differ: the guide's handler would answer 500, a refusal all the same
  }
};

after(stopJwksServer);

describe("a subscription's secret rotation", () => {
  let worker;
  let W;
  let receiver;
  before(async () => {
    worker = await startWorker({ CALL_EVENTS_TOKEN: PUBLISHER }, { queues: true });
    W = pipelineClient(worker, PUBLISHER);
    receiver = await createReceiver(() => 200);
  });
  after(async () => {
    await receiver?.close();
    await worker?.close();
  });

  const sendTest = async (uid, url) => {
    const before = receiver.requests.length;
    const res = await W.call('POST', `${BASE}/test`, { token: as(uid), body: { webhook_url: url, event_type: 'call.completed' } });
    assert.equal(res.status, 200, res.text);
    await waitFor(() => receiver.requests.length > before, 10_000, { message: 'the test delivery' });
    return receiver.requests.at(-1);
  };

  it('before any rotation, one secret signs and there is no X-Webhook-Signature-Previous', async () => {
    const { subscription, secret_key } = await W.subscribe('rot-none', `${receiver.url}/none`);
    const request = await sendTest('rot-none', subscription.webhook_url);
    assert.equal(guide(request, 'x-webhook-signature', secret_key), true);
    assert.equal(request.headers['x-webhook-signature-previous'], undefined);
  });

  it('during the overlap: X-Webhook-Signature verifies with the new secret, X-Webhook-Signature-Previous with the old one (the setup guide\'s verifier)', async () => {
    const { subscription, secret_key: oldSecret } = await W.subscribe('rot-test', `${receiver.url}/test`);
    const rotated = await W.call('POST', `${BASE}/subscriptions/${subscription.id}/rotate-secret`, { token: as('rot-test') });
    assert.equal(rotated.status, 200, rotated.text);
    const newSecret = rotated.json.secret_key;
    const request = await sendTest('rot-test', subscription.webhook_url);
    assert.deepEqual({
      newOnCurrentHeader: guide(request, 'x-webhook-signature', newSecret),
      oldOnCurrentHeader: guide(request, 'x-webhook-signature', oldSecret),
      oldOnPreviousHeader: guide(request, 'x-webhook-signature-previous', oldSecret),
      newOnPreviousHeader: guide(request, 'x-webhook-signature-previous', newSecret),
    }, { newOnCurrentHeader: true, oldOnCurrentHeader: false, oldOnPreviousHeader: true, newOnPreviousHeader: false });
  });

  it('a published event during the overlap carries both, and webhook-signature verifies under either secret', async () => {
    const { subscription, secret_key: oldSecret } = await W.subscribe('rot-pub', `${receiver.url}/published`);
    const rotated = await W.call('POST', `${BASE}/subscriptions/${subscription.id}/rotate-secret`, { token: as('rot-pub') });
    assert.equal(rotated.status, 200, rotated.text);
    const newSecret = rotated.json.secret_key;
    await W.publish({ event: 'call.completed', callId: 'call_rot', status: 'completed', uid: 'rot-pub' });
    await waitFor(() => receiver.requests.some((r) => r.url === '/published'), 10_000, { message: 'the delivery' });
    const request = receiver.requests.find((r) => r.url === '/published');
    assert.equal(guide(request, 'x-webhook-signature', newSecret), true, 'the new secret verifies X-Webhook-Signature');
    assert.equal(guide(request, 'x-webhook-signature-previous', oldSecret), true, 'the old secret verifies X-Webhook-Signature-Previous');
    for (const secret of [oldSecret, newSecret]) {
      assert.equal(new Webhook(secret).verify(request.body, request.headers).callId, 'call_rot');
    }
  });

  it('one event to subscriptions with and without a previous secret: each delivery carries its own signatures, no other\'s', async () => {
    const uid = 'rot-mixed';
    // Rotated in the middle, so that its deliveries come between two that have no previous secret.
    const subscribed = [];
    for (const name of ['first', 'rotated', 'last']) subscribed.push(await W.subscribe(uid, `${receiver.url}/mixed/${name}`));
    const rotated = await W.call('POST', `${BASE}/subscriptions/${subscribed[1].subscription.id}/rotate-secret`, { token: as(uid) });
    assert.equal(rotated.status, 200, rotated.text);
    const secrets = { first: subscribed[0].secret_key, rotated: rotated.json.secret_key, last: subscribed[2].secret_key };
    await W.publish({ event: 'call.completed', callId: 'call_mixed', status: 'completed', uid });
    const received = () => receiver.requests.filter((r) => r.url.startsWith('/mixed/'));
    await waitFor(() => received().length === 3, 10_000, { message: 'the three deliveries' });
    const seen = Object.fromEntries(received().map((request) => {
      const name = request.url.split('/').at(-1);
      return [name, {
        current: guide(request, 'x-webhook-signature', secrets[name]),
        previous: request.headers['x-webhook-signature-previous'] === undefined ? 'none' : guide(request, 'x-webhook-signature-previous', subscribed[1].secret_key),
        standard: new Webhook(secrets[name]).verify(request.body, request.headers).callId,
      }];
    }));
    assert.deepEqual(seen, {
      first: { current: true, previous: 'none', standard: 'call_mixed' },
      rotated: { current: true, previous: true, standard: 'call_mixed' },
      last: { current: true, previous: 'none', standard: 'call_mixed' },
    });
  });
});

describe('rotating the storage key SECRETS_KEY', () => {
  const first = randomBytes(32).toString('base64');
  const second = randomBytes(32).toString('base64');
  let objectsDir;
  let receiver;
  before(async () => {
    objectsDir = mkdtempSync(path.join(tmpdir(), 'ringhook-rotation-'));
    receiver = await createReceiver(() => 200);
  });
  after(async () => {
    await receiver?.close();
    rmSync(objectsDir, { recursive: true, force: true });
  });


  /** Runs `body(call)` against a Worker on the shared object storage with these keys, then stops it. */
  async function withWorker(keys, body) {
    const worker = await startWorker(keys, { objectsDir });
    try {
      return await body(client(worker));
    } finally {
      await worker.close();
    }
  }

  /** Sends a test delivery and returns whether the setup guide's verifier accepts it with `secret`. */
  async function testVerifies(call, url, secret) {
    const before = receiver.requests.length;
    const res = await call('POST', `${BASE}/test`, { token: as('keyring'), body: { webhook_url: url, event_type: 'call.completed' } });
    assert.equal(res.status, 200, res.text);
    await waitFor(() => receiver.requests.length > before, 10_000, { message: 'the test delivery' });
    return guide(receiver.requests.at(-1), 'x-webhook-signature', secret);
  }

  let url;
  let secret;

  it('a secret sealed under the first key names that key', async () => {
    await withWorker({ SECRETS_KEY: first }, async (call) => {
      const res = await call('POST', `${BASE}/subscribe`, { token: as('keyring'), body: { webhook_url: `${receiver.url}/keyring`, events: ['*'] } });
      assert.equal(res.status, 201, res.text);
      ({ secret_key: secret } = res.json);
      url = res.json.subscription.webhook_url;
    });
    assert.ok(objectBytes(objectsDir).includes(`"key_id":"${keyId(first)}"`));
  });

  it('with SECRETS_KEY new and SECRETS_KEY_PREVIOUS the old key, the secret still signs and is re-sealed under the new key', async () => {
    await withWorker({ SECRETS_KEY: second, SECRETS_KEY_PREVIOUS: first }, async (call) => {
      assert.equal(await testVerifies(call, url, secret), true);
    });
    assert.ok(objectBytes(objectsDir).includes(`"key_id":"${keyId(second)}"`));
  });

  it('once SECRETS_KEY_PREVIOUS is removed, the re-sealed secret keeps signing', async () => {
    await withWorker({ SECRETS_KEY: second }, async (call) => {
      assert.equal(await testVerifies(call, url, secret), true);
    });
  });

  it('a SECRETS_KEY_PREVIOUS that is not 32 bytes of base64 stops the Worker, and its value is never shown', async () => {
    await withWorker({ SECRETS_KEY: second, SECRETS_KEY_PREVIOUS: 'c2hvcnQ=' }, async (call) => {
      const res = await call('GET', `${BASE}/subscriptions`, { token: as('keyring') });
      assert.deepEqual([res.status, res.json.error.code, res.text.includes('c2hvcnQ=')], [500, 'internal_error', false]);
    });
  });
});
