// Shared helpers for the ringhook Worker's end-to-end tests: the built Worker in Miniflare with an in-memory KV,
// a local JWKS server standing in for Google's, and Firebase-style ID tokens signed with its key.
import http from 'node:http';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCipheriv, generateKeyPairSync, createHmac, randomBytes, sign } from 'node:crypto';
import { Miniflare } from 'miniflare';
import { emulatorToken as mintEmulatorToken } from '../../www/emulator-token.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// RINGHOOK_WORKER_BUILD points the suite at another build directory (e.g. a copy under test).
export const buildDir = process.env.RINGHOOK_WORKER_BUILD
  ? path.resolve(process.env.RINGHOOK_WORKER_BUILD)
  : path.join(repoRoot, 'crates', 'ringhook-worker', 'build');

export const PROJECT = 'demo-ringhook';
export const BASE = '/api/v6/call/webhook';
export const KID = 'ringhook-test-key-1';

export const nowSeconds = () => Math.floor(Date.now() / 1000);
export const b64url = (data) => Buffer.from(typeof data === 'string' ? data : JSON.stringify(data)).toString('base64url');

// ---------------------------------------------------------------------------------------------------------------
// Keys and tokens

/** The key pair whose public half the JWKS server publishes under KID. */
export const keyPair = generateKeyPairSync('rsa', { modulusLength: 2048 });
/** Another key pair, published nowhere. */
export const otherKeyPair = generateKeyPairSync('rsa', { modulusLength: 2048 });

const publicJwk = { ...keyPair.publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' };
export const publicPem = keyPair.publicKey.export({ type: 'spki', format: 'pem' });

/** The claims of a fresh Firebase ID token for `demo-ringhook`, user alice, with `claims` overriding. */
export function tokenClaims(claims = {}) {
  const now = nowSeconds();
  return {
    iss: `https://securetoken.google.com/${PROJECT}`,
    aud: PROJECT,
    auth_time: now - 10,
    user_id: claims.sub ?? 'alice',
    sub: 'alice',
    iat: now - 10,
    exp: now + 3600,
    firebase: { identities: {}, sign_in_provider: 'custom' },
    ...claims,
  };
}

/** An RS256 token signed with the published key (or `key`), header kid KID (or `kid`), alg RS256 (or `alg`). */
export function signedToken(claims = {}, { kid = KID, alg = 'RS256', key = keyPair.privateKey } = {}) {
  const header = { alg, typ: 'JWT' };
  if (kid !== null) header.kid = kid;
  const input = `${b64url(header)}.${b64url(tokenClaims(claims))}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

/** An unsigned token as the Firebase Auth emulator issues (alg none, empty signature part), `claims` overriding. */
export function emulatorToken(uid = 'alice', claims = {}) {
  return mintEmulatorToken(uid, { project: PROJECT, claims });
}

/** Alg confusion: header alg HS256, "signed" with HMAC-SHA256 keyed by the PEM of the published public key. */
export function hs256WithPublicKey(claims = {}) {
  const input = `${b64url({ alg: 'HS256', kid: KID, typ: 'JWT' })}.${b64url(tokenClaims(claims))}`;
  return `${input}.${createHmac('sha256', publicPem).update(input).digest('base64url')}`;
}

export const bearer = (token) => ({ authorization: `Bearer ${token}` });

// ---------------------------------------------------------------------------------------------------------------
// JWKS server: one per test process, one path per Worker so each Worker's fetches are counted apart.

let jwksServer;
let jwksListening; // resolves once jwksServer listens
const jwksHits = new Map();

/** The JWKS server's base URL (started on first use): any path serves the published key, cached `max-age=3600`. */
export async function jwksBaseUrl() {
  if (!jwksServer) {
    jwksServer = http.createServer((req, res) => {
      // A Worker's JWKS URL is /jwks/<pid>/<n>?max-age=<seconds>; hits are counted per path.
      const url = new URL(req.url, 'http://127.0.0.1');
      jwksHits.set(url.pathname, (jwksHits.get(url.pathname) ?? 0) + 1);
      // Faults on request: `status=` answers that status, `hang=1` never answers, `broken=1` lists a key that
      // cannot be imported before the good one.
      if (url.searchParams.get('hang')) return;
      const maxAge = url.searchParams.get('max-age') ?? '3600';
      const status = Number(url.searchParams.get('status') ?? 200);
      const broken = { kty: 'RSA', kid: 'broken', n: 'not-base64url!', e: 'AQAB', alg: 'RS256' };
      const keys = url.searchParams.get('broken') ? [broken, publicJwk] : [publicJwk];
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': `public, max-age=${maxAge}` });
      res.end(status === 200 ? JSON.stringify({ keys }) : '{"error":"unavailable"}');
    });
    const server = jwksServer;
    jwksListening = new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    server.unref();
  }
  const server = jwksServer;
  await jwksListening; // Workers started concurrently wait for the same server
  return `http://127.0.0.1:${server.address().port}`;
}

/** Stops the JWKS server (call in the test file's last after()). */
export async function stopJwksServer() {
  if (!jwksServer) return;
  const server = jwksServer;
  jwksServer = undefined;
  server.closeAllConnections?.();
  await new Promise((resolve) => server.close(() => resolve()));
}

// ---------------------------------------------------------------------------------------------------------------
// The Worker

let workerCount = 0;

/** The delivery pipeline's queue bindings → queue names. */
export const QUEUES = {
  DELIVERIES: 'ringhook-deliveries',
  EVENTS: 'ringhook-events',
  DEAD_LETTERS: 'ringhook-dead-letters',
};

/**
 * Miniflare options for the delivery pipeline's queues, as wrangler.toml sets them: the three producers, and this
 * Worker consuming all three with `maxBatchSize` and `maxBatchTimeout` (seconds), the first two dead-lettering.
 * `consumeDeliveries: false` leaves DELIVERIES without a consumer: only attempts made at once are made.
 */
export function queueOptions({ maxBatchSize = 100, maxBatchTimeout = 0.05, consumeDeliveries = true } = {}, { faults = true } = {}) {
  const consumer = { maxBatchSize, maxBatchTimeout, maxRetries: 100 };
  const dead = { ...consumer, deadLetterQueue: QUEUES.DEAD_LETTERS };
  // DELIVERIES goes through QUEUE_SWITCH, unless the Worker is started without fault switches.
  const direct = faults ? Object.fromEntries(Object.entries(QUEUES).filter(([binding]) => binding !== 'DELIVERIES')) : QUEUES;
  return {
    wrappedBindings: faults ? { DELIVERIES: { scriptName: 'queue-switch' } } : {},
    queueProducers: Object.fromEntries(Object.entries(direct).map(([binding, queueName]) => [binding, { queueName }])),
    queueConsumers: {
      ...(consumeDeliveries ? { [QUEUES.DELIVERIES]: dead } : {}),
      [QUEUES.EVENTS]: { ...dead },
      [QUEUES.DEAD_LETTERS]: consumer,
    },
  };
}

/** While this key holds a prefix, writes of keys with that prefix fail (a KV outage for the tests). */
export const KV_DOWN = '__ringhook_test_kv_down__';
/** How many writes the outage refused. */
export const KV_REFUSED = '__ringhook_test_kv_refused__';
/**
 * While this key exists, sending to DELIVERIES fails (a queue outage for the tests); set to `uid:<uid>`, only sends
 * that carry a message of that user's fail.
 */
export const QUEUE_DOWN = '__ringhook_test_queue_down__';

/** The DELIVERIES producer the Worker sees: the real queue, unless QUEUE_DOWN is set in the test KV. */
const QUEUE_SWITCH = `
class WorkerQueue {
  constructor(env) { this.env = env; }
  async check(bodies) {
    const down = await this.env.KV.get('${QUEUE_DOWN}');
    if (down === null) return;
    if (down.startsWith('uid:') && !bodies.some((body) => body?.uid === down.slice(4))) return;
    throw new Error('the queue is down (test)');
  }
  async send(body, options) { await this.check([body]); return this.env.QUEUE.send(body, options); }
  async sendBatch(messages, options) { await this.check(messages.map((m) => m.body)); return this.env.QUEUE.sendBatch(messages, options); }
}
export default function (env) { return new WorkerQueue(env); }`;

/**
 * The Worker's KV binding, with production's limit made strict: a key written (put or deleted) a second time
 * within a second is refused, so any path that would exceed KV's one write per second per key fails the test
 * or benchmark that takes it. Tests read and write the namespace behind it directly. With `faults`, a write is
 * refused while KV_DOWN names its prefix (which costs a read per write).
 */
const kvWriteMeter = ({ faults }) => `
const lastWrite = new Map();
async function refuseIfDown(kv, key) {
  if (!${faults}) return;
  const prefix = await kv.get('${KV_DOWN}');
  if (prefix === null || !key.startsWith(prefix)) return;
  await kv.put('${KV_REFUSED}', String(Number((await kv.get('${KV_REFUSED}')) ?? 0) + 1));
  throw new Error('KV is down (test): ' + key);
}
function written(key) {
  const now = Date.now();
  if (now - (lastWrite.get(key) ?? -Infinity) < 1000) {
    throw new Error('KV key written twice within a second: ' + key);
  }
  lastWrite.set(key, now);
}
export default function (env) {
  const kv = env.KV;
  return {
    get: (key, options) => kv.get(key, options),
    getWithMetadata: (key, options) => kv.getWithMetadata(key, options),
    list: (options) => kv.list(options),
    put: async (key, value, options) => { await refuseIfDown(kv, key); written(key); return kv.put(key, value, options); },
    delete: async (key) => { await refuseIfDown(kv, key); written(key); return kv.delete(key); },
  };
}`;

/** Miniflare's `unsafeDirectSockets` for a Worker that answers on a loopback socket of its own (see `inboundHop`). */
export const DIRECT_SOCKETS = [{ host: '127.0.0.1', port: 0 }];

/** The per-user Durable Object binding, SQLite-backed as in wrangler.toml. */
export const DURABLE_OBJECTS = { USERS: { className: 'UserState', useSQLite: true } };

/**
 * Starts the built Worker in Miniflare with a fresh in-memory KV (behind kvWriteMeter) and fresh per-user objects (kept in the
 * directory `objectsDir` when given, so a test can look at what they store). `vars` override or add bindings; a value of
 * `undefined` removes a default. `queues` (true, or `{ maxBatchSize, maxBatchTimeout, consumeDeliveries }`) adds the delivery
 * pipeline's queues (see queueOptions). `jwksMaxAge` is the max-age of this Worker's JWKS responses (default
 * 3600); `jwksFault` adds the JWKS server's fault parameters (`status=503`, `hang=1`, `broken=1`). `faults: false` leaves out the
 * tests' KV and queue outage switches (KV_DOWN, QUEUE_DOWN), which cost a KV read per write and per enqueue, for
 * benchmarks. `outboundHop: false` leaves out Miniflare's local stand-in for the edge's outbound hop (a JavaScript Worker through which
 * every fetch of the Worker passes, to strip `CF-Connecting-IP` and add `CF-Worker`; in production the edge does this itself), for
 * benchmarks. `inboundHop: false` sends `fetch` to a socket of the Worker's own instead of through Miniflare's entry Worker and
the static assets' router (JavaScript Workers on the same workerd thread that every request passes through first; in
production the edge routes outside the Worker), for benchmarks: the Worker then runs without its static assets, since
Miniflare routes even its own socket through their router (its OpenAPI route answers 503). Returns { mf, fetch(path,
init), kv, bindings, jwksRequests(), close }.
 */
export async function startWorker(vars = {}, { queues, jwksMaxAge = 3600, jwksFault = '', objectsDir, kvMeter = true, outbound, faults = true, outboundHop = true, inboundHop = true } = {}) {
  const jwksPath = `/jwks/${process.pid}/${++workerCount}`;
  const bindings = {
    FIREBASE_PROJECT_ID: PROJECT,
    SECRETS_KEY: randomBytes(32).toString('base64'),
    ALLOW_LOOPBACK_WEBHOOKS: 'true',
    FIREBASE_JWKS_URL: `${await jwksBaseUrl()}${jwksPath}?max-age=${jwksMaxAge}${jwksFault ? `&${jwksFault}` : ''}`,
  };
  for (const [name, value] of Object.entries(vars)) {
    if (value === undefined) delete bindings[name];
    else bindings[name] = value;
  }
  const queueing = queues ? queueOptions(queues === true ? {} : queues, { faults }) : {};
  const mf = new Miniflare({
    // RINGHOOK_INSPECTOR_PORT opens the runtime's inspector there, to take a CPU profile of a benchmark.
    ...(process.env.RINGHOOK_INSPECTOR_PORT ? { inspectorPort: Number(process.env.RINGHOOK_INSPECTOR_PORT) } : {}),
    kvPersist: false,
    durableObjectsPersist: objectsDir ?? false,
    cachePersist: false,
    workers: [
      {
        name: 'ringhook',
        modules: true,
        scriptPath: path.join(buildDir, 'index.js'),
        modulesRoot: buildDir,
        modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
        compatibilityDate: '2025-09-01',
        // The static assets, as wrangler.toml binds them: the Worker reads its OpenAPI document from there. Left out
        // without the inbound hop, of which their router is a part.
        ...(inboundHop ? { assets: { directory: path.join(repoRoot, 'www'), binding: 'ASSETS', routerConfig: { has_user_worker: true } } } : {}),
        // kvMeter: false binds the namespace directly (a benchmark's baseline that rewrites keys).
        ...(kvMeter ? {} : { kvNamespaces: { SUBSCRIPTIONS: 'ringhook-kv' } }),
        // A build from before the per-user objects (RINGHOOK_WORKER_BUILD, for a benchmark's baseline) has none.
        ...(readFileSync(path.join(buildDir, 'index.js'), 'utf8').includes('UserState') ? { durableObjects: DURABLE_OBJECTS } : {}),
        bindings,
        // outbound: every fetch the Worker makes goes to this function instead (a test that must not reach the
        // network answers other hosts itself).
        ...(outbound ? { outboundService: outbound } : {}),
        stripCfConnectingIp: outboundHop,
        ...(inboundHop ? {} : { unsafeDirectSockets: DIRECT_SOCKETS }),
        ...queueing,
        wrappedBindings: {
          ...(kvMeter ? { SUBSCRIPTIONS: { scriptName: 'kv-write-meter' } } : {}),
          ...queueing.wrappedBindings,
        },
      },
      { name: 'kv-write-meter', modules: true, script: kvWriteMeter({ faults }), kvNamespaces: { KV: 'ringhook-kv' } },
      ...(queues && faults ? [{
        name: 'queue-switch', modules: true, script: QUEUE_SWITCH,
        kvNamespaces: { KV: 'ringhook-kv' }, queueProducers: { QUEUE: { queueName: QUEUES.DELIVERIES } },
      }] : []),
    ],
  });
  await mf.ready;
  const direct = inboundHop ? null : await mf.unsafeGetDirectURL('ringhook');
  const kv = await mf.getKVNamespace('KV', 'kv-write-meter');
  return {
    mf,
    kv,
    bindings,
    fetch: direct ? (p, init) => fetch(new URL(p, direct), init) : (p, init) => mf.dispatchFetch('http://localhost' + p, init),
    /** A producer for one of the pipeline's queues (`DELIVERIES`, `EVENTS`, `DEAD_LETTERS`), to inject messages. */
    queue: (binding) => (binding === 'DELIVERIES' && faults ? mf.getQueueProducer('QUEUE', 'queue-switch') : mf.getQueueProducer(binding)),
    /** How many times this Worker has fetched its JWKS URL. */
    jwksRequests: () => jwksHits.get(jwksPath) ?? 0,
    close: () => mf.dispose(),
  };
}

/**
 * A small client for one Worker: `call(method, path, { token, body, raw, headers })` sends JSON (or the raw
 * string/bytes), authenticated as `token` (default: alice's RS256 token; null: no header), and resolves to
 * { status, headers, text, json }.
 */
/** Every byte the per-user objects have written under `objectsDir` (startWorker's option), as latin1 text. */
export function objectBytes(objectsDir) {
  return readdirSync(objectsDir, { recursive: true })
    .map((name) => path.join(objectsDir, name))
    .filter((file) => statSync(file).isFile())
    .map((file) => readFileSync(file).toString('latin1'))
    .join('\n');
}

/**
 * Runs SQL `statements` in the stored object of `uid` under `objectsDir` while no Worker uses it, through a stand-in
 * JavaScript object of the same name on the same storage, and resolves to each statement's rows: a test's way to
 * read what an object keeps, or to lay it out as an earlier build did.
 */
export async function objectSql(objectsDir, uid, statements) {
  const mf = new Miniflare({
    durableObjectsPersist: objectsDir,
    workers: [{
      name: 'ringhook',
      modules: true,
      compatibilityDate: '2025-09-01',
      durableObjects: DURABLE_OBJECTS,
      script: `
        export class UserState {
          constructor(state) { this.sql = state.storage.sql; }
          async fetch(request) {
            const statements = await request.json();
            return Response.json(statements.map((statement) => this.sql.exec(statement).toArray()));
          }
        }
        export default {
          fetch: (request, env) => env.USERS.getByName(new URL(request.url).searchParams.get('uid')).fetch(request),
        };`,
    }],
  });
  try {
    const res = await mf.dispatchFetch(`http://localhost/?uid=${encodeURIComponent(uid)}`, {
      method: 'POST',
      body: JSON.stringify(statements),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`objectSql: ${res.status} ${text}`);
    return JSON.parse(text);
  } finally {
    await mf.dispose();
  }
}

/** `text` parsed as JSON, or undefined when it is not JSON. */
export function jsonOrUndefined(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Bodies larger than this (bytes) are sent by `client` with `Expect: 100-continue`. */
const LARGE_UPLOAD = 64 * 1024;

/**
 * Sends a large body as curl does: `Expect: 100-continue`, the body only once the server asks for it. A server that
 * refuses the request from its headers (413) answers before any of the body is sent; a client that sends the whole
 * body regardless is reset by local workerd about half the time when the answer comes early (Cloudflare's edge
 * reads the body first), and the test would see a network error instead of the answer.
 */
function uploadWithContinue(url, method, headers, payload) {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method,
      headers: { ...headers, 'content-length': Buffer.byteLength(payload), expect: '100-continue' },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const json = jsonOrUndefined(text);
        const responseHeaders = new Headers(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));
        resolve({ status: res.statusCode, headers: responseHeaders, text, json });
      });
    });
    request.on('error', reject);
    request.on('continue', () => request.end(payload));
    request.flushHeaders();
  });
}

export function client(worker) {
  return async (method, p, { token = signedToken(), body, raw, headers = {} } = {}) => {
    const h = { ...headers };
    if (token !== null) h.authorization = `Bearer ${token}`;
    let payload;
    if (raw !== undefined) payload = raw;
    else if (body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
      h['content-type'] = 'application/json';
    }
    if (payload !== undefined && Buffer.byteLength(payload) > LARGE_UPLOAD) {
      return uploadWithContinue(new URL(p, await worker.mf.ready), method, h, payload);
    }
    const res = await worker.fetch(p, { method, headers: h, body: payload });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: jsonOrUndefined(text) };
  };
}

/** Asserts an error response: status, `{success:false, error:{code, message}}` with a non-empty message. */
export function assertError(assert, res, status, code, context = '') {
  const where = `${context} -> ${res.status} ${res.text}`;
  assert.equal(res.status, status, where);
  assert.equal(res.json?.success, false, where);
  assert.equal(res.json?.error?.code, code, where);
  assert.equal(typeof res.json.error.message, 'string', where);
  assert.ok(res.json.error.message.length > 0, where);
}

/** Every key and value in the KV namespace, as { key: text }. */
export async function kvDump(kv) {
  const out = {};
  let cursor;
  do {
    const page = await kv.list({ cursor });
    for (const { name } of page.keys) out[name] = await kv.get(name, 'text');
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return out;
}

/** The deterministic PRNG of the package tests, so a failing random case can be reproduced from its starting number. */
export { rng } from '../node/support.mjs';

export const RFC3339_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;
export const SUB_ID = /^sub_[0-9A-Za-z]{26}$/;
export const SUBSCRIPTION_FIELDS = [
  'active', 'created_at', 'deactivated_at', 'deactivation_reason', 'events', 'failing_since', 'failure_count', 'id', 'last_failure_at',
  'last_failure_reason', 'updated_at', 'webhook_url',
];

/** A secret sealed as the Worker seals it: AES-256-GCM under SECRETS_KEY, bound to the subscription id. */
export function sealSecret(secretsKey, subscriptionId, secret) {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(secretsKey, 'base64'), nonce);
  cipher.setAAD(Buffer.from(subscriptionId));
  const ciphertext = Buffer.concat([cipher.update(secret), cipher.final(), cipher.getAuthTag()]);
  return { nonce: nonce.toString('base64'), ciphertext: ciphertext.toString('base64') };
}

/**
 * Writes a user's subscriptions into KV as earlier versions kept them (one document under `user:<uid>`), for a
 * user the Worker has not seen yet. `subscriptions` are the API's fields plus `secret` (plaintext, sealed here).
 */
export async function writeOldLayout(worker, uid, subscriptions) {
  const document = {
    // The old layout had no deactivation_reason or failing_since: they read as null.
    subscriptions: subscriptions.map(({ secret, deactivation_reason: _r, failing_since: _f, ...fields }) => ({
      ...fields,
      secret: sealSecret(worker.bindings.SECRETS_KEY, fields.id, secret),
    })),
  };
  await worker.kv.put(`user:${uid}`, JSON.stringify(document));
}

/** A subscription's fields as the API shows them, for writeOldLayout. */
export function oldSubscription(id, webhookUrl, over = {}) {
  return {
    id,
    webhook_url: webhookUrl,
    events: ['*'],
    active: true,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    failure_count: 0,
    last_failure_at: null,
    last_failure_reason: null,
    deactivated_at: null,
    deactivation_reason: null,
    failing_since: null,
    ...over,
  };
}

/** The status each event type carries in the tests' publishes. */
export const STATUS_OF = {
  'call.initiated': 'initiated',
  'call.scheduled': 'scheduled',
  'call.status.changed': 'ringing',
  'call.completed': 'completed',
  'call.failed': 'failed',
};

/** A publisher's event id, unique to the run, named after what the test publishes. */
export const uniqueId = (label) => `evt_${label}_${randomBytes(5).toString('hex')}`;

/** A call.completed publish item for `uid`, with `over` overriding fields. */
export const callEvent = (uid, over = {}) => ({ event: 'call.completed', callId: 'call_1', status: 'completed', uid, ...over });

/**
 * Helpers bound to one Worker with its pipeline, for the delivery tests: `call` (see client), `subscribe`
 * (asserts 201, resolves to the answer), `publish` (as the call system with `publisherToken`; asserts 202, resolves
 * to the events), `get` (the raw answer), `subscription` (asserts 200), and what KV holds: `logged` (a
 * subscription's log records) and `deadLetters` (the letters kept under dead:).
 */
export function pipelineClient(worker, publisherToken) {
  const call = client(worker);
  const as = (uid) => signedToken({ sub: uid });
  const h = {
    call,
    async subscribe(uid, webhook_url, events = ['*']) {
      const res = await call('POST', `${BASE}/subscribe`, { token: as(uid), body: { webhook_url, events } });
      if (res.status !== 201) throw new Error(`subscribe ${uid} ${webhook_url}: ${res.status} ${res.text}`);
      return res.json;
    },
    async publish(body) {
      const res = await call('POST', '/api/v6/call/events', { token: publisherToken, body });
      if (res.status !== 202) throw new Error(`publish: ${res.status} ${res.text}`);
      return res.json.events;
    },
    get: (uid, id) => call('GET', `${BASE}/subscriptions/${id}`, { token: as(uid) }),
    async subscription(uid, id) {
      const res = await h.get(uid, id);
      if (res.status !== 200) throw new Error(`subscription ${id}: ${res.status} ${res.text}`);
      return res.json.subscription;
    },
    async logged(uid, id) {
      const { keys } = await worker.kv.list({ prefix: `log:${uid}:${id}:` });
      const groups = await Promise.all(keys.map(({ name }) => worker.kv.get(name, 'json')));
      return groups.flat();
    },
    async deadLetters() {
      const { keys } = await worker.kv.list({ prefix: 'dead:' });
      return Promise.all(keys.map(({ name }) => worker.kv.get(name, 'json')));
    },
  };
  return h;
}
