#!/usr/bin/env node
// The dashboard's demo webhook receiver (local only): verifies each ringhook delivery with the package's
// verifyRequest and relays the verified events to the dashboard over Server-Sent Events.
//
//   node www/demo-receiver/server.mjs                       # http://127.0.0.1:8788 (PORT=… to change)
//   WEBHOOK_SECRET=whsec_… node www/demo-receiver/server.mjs
//
//   POST /api/webhook  a delivery: 200 {success:true} when a known secret verifies it, else 401 {error, message}
//   GET  /events       Server-Sent Events, one `data: <event JSON>` per verified delivery (Last-Event-ID replays)
//   POST /secret       {secret}: adds a secret at runtime (the dashboard posts the one it got when subscribing)
//   GET  /             {success, secrets, clients}
//
// POST /secret is a local demo shortcut: it lets the page hand over the secret it was shown once. A real
// receiver keeps its secret server-side (an environment variable or a secret store) and never takes it from a page.
// CORS: origins on 127.0.0.1 / localhost / [::1] by default; DASHBOARD_ORIGINS=https://a.example,… to set them.
import http from 'node:http';
import { verifyRequest } from '../../pkg/node.mjs';

const HOST = '127.0.0.1';
const PORT = Number(process.env.PORT ?? 8788);
const MAX_BODY = 256 * 1024;
const KEEP_SECRETS = 8; // newest first: a re-subscribe or a rotation adds one
const KEEP_EVENTS = 200; // for Last-Event-ID replays after a reconnect

const secrets = process.env.WEBHOOK_SECRET ? [process.env.WEBHOOK_SECRET] : [];
const recent = []; // { id, line }
const clients = new Set();
const origins = (process.env.DASHBOARD_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean);

function originAllowed(origin) {
  if (!origin) return false;
  if (origins.length) return origins.includes('*') || origins.includes(origin);
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(origin).hostname);
  } catch {
    return false;
  }
}

function cors(req) {
  const origin = req.headers.origin;
  if (!originAllowed(origin)) return {};
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-allow-headers': 'content-type, last-event-id',
    'access-control-max-age': '600',
    ...(req.headers['access-control-request-private-network'] ? { 'access-control-allow-private-network': 'true' } : {}),
    vary: 'Origin',
  };
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The Node request as a Fetch `Request` (headers as received, the raw body bytes). */
function toFetchRequest(req, body) {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    if (!['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive'].includes(name)) {
      headers.append(name, req.rawHeaders[i + 1]);
    }
  }
  return new Request(`http://${req.headers.host ?? `${HOST}:${PORT}`}${req.url}`, { method: req.method, headers, body });
}

async function receive(req, res) {
  const body = await readBody(req);
  if (!secrets.length) {
    return send(res, 401, { error: 'no_secret', message: 'No secret set: start with WEBHOOK_SECRET=… or POST /secret.' });
  }
  let failure;
  for (const secret of secrets) {
    try {
      const event = await verifyRequest(toFetchRequest(req, body), secret);
      relay(event);
      console.log(`verified ${event.event} ${event.callId || '-'} ${event.status} (${event.id})`);
      return send(res, 200, { success: true, id: event.id });
    } catch (err) {
      failure = err;
      if (err?.code !== 'signature_mismatch') break; // only another secret can fix a mismatch
    }
  }
  console.log(`refused a delivery: ${failure?.code ?? 'error'}: ${failure?.message}`);
  return send(res, 401, { error: failure?.code ?? 'invalid_signature', message: failure?.message ?? 'not verified' });
}

function relay(event) {
  const line = `id: ${event.id}\ndata: ${JSON.stringify(event)}\n\n`;
  recent.push({ id: event.id, line });
  if (recent.length > KEEP_EVENTS) recent.shift();
  for (const client of clients) client.write(line);
}

function stream(req, res) {
  res.writeHead(200, {
    'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', ...cors(req),
  });
  res.write('retry: 2000\n: connected\n\n');
  const last = req.headers['last-event-id'];
  const from = last ? recent.findIndex((e) => e.id === last) : -1;
  if (from >= 0) for (const e of recent.slice(from + 1)) res.write(e.line);
  clients.add(res);
  const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
  req.on('close', () => {
    clearInterval(ping);
    clients.delete(res);
  });
}

async function setSecret(req, res) {
  let secret;
  try {
    ({ secret } = JSON.parse((await readBody(req)).toString('utf8')));
  } catch {
    return send(res, 400, { error: 'invalid_json', message: 'Send {"secret": "whsec_…"}.' }, cors(req));
  }
  if (typeof secret !== 'string' || !secret || secret.length > 256) {
    return send(res, 400, { error: 'invalid_secret', message: 'secret must be a non-empty string.' }, cors(req));
  }
  if (!secrets.includes(secret)) secrets.unshift(secret);
  secrets.length = Math.min(secrets.length, KEEP_SECRETS);
  console.log(`secret set at runtime (${secrets.length} known)`);
  return send(res, 200, { success: true, secrets: secrets.length }, cors(req));
}

const server = http.createServer(async (req, res) => {
  const { pathname } = new URL(req.url, 'http://receiver');
  try {
    if (req.method === 'OPTIONS') return res.writeHead(204, cors(req)).end();
    if (pathname === '/api/webhook' && req.method === 'POST') return await receive(req, res);
    if (pathname === '/events' && req.method === 'GET') return stream(req, res);
    if (pathname === '/secret' && req.method === 'POST') return await setSecret(req, res);
    if (pathname === '/' && req.method === 'GET') {
      return send(res, 200, { success: true, secrets: secrets.length, clients: clients.size }, cors(req));
    }
    return send(res, 404, { error: 'not_found' }, cors(req));
  } catch (err) {
    if (!res.headersSent) send(res, err.status ?? 500, { error: 'error', message: err.message });
  }
});

server.listen(PORT, HOST, () => {
  const { port } = server.address();
  console.log(`ringhook demo receiver on http://${HOST}:${port} (POST /api/webhook, GET /events, POST /secret)`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const client of clients) client.end();
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
  });
}
