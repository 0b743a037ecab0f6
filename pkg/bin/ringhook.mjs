#!/usr/bin/env node
// `ringhook listen`: webhooks on a laptop behind NAT, without a relay. The CLI opens the signed-in user's live
// event stream and re-sends each event to a local URL as the signed POST a webhook delivery makes, under a
// signing secret of its own that stays the same from one run to the next.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CallEventStream, signWebhook } from '../node.mjs';

const VERSION = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
const USER_AGENT = `ringhook-listen/${VERSION}`;
const DEFAULT_BASE_URL = 'http://127.0.0.1:8787';
const FORWARD_TIMEOUT_MS = 10_000;
// The service refuses a filter naming an unknown type at the WebSocket handshake, which the stream can only see
// as a closed socket (and would retry for ever): so the names are checked here, before connecting.
const EVENT_TYPES = [
  'call.initiated', 'call.scheduled', 'call.status.changed', 'call.completed', 'call.failed',
  'webhook.test', 'webhook.subscription.deactivated',
];
// Wide enough for every call event; the rare webhook.* types may push their line out.
const EVENT_COLUMN = Math.max(...EVENT_TYPES.filter((type) => type.startsWith('call.')).map((type) => type.length));
/** A signing secret as this CLI makes them: `whsec_` and the base64 of 32 random bytes. */
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;

const USAGE = `Usage: ringhook <command> [options]

Commands:
  listen    forward your live call events to a local URL as signed webhooks

Run "ringhook listen --help" for its options.
`;

const LISTEN_USAGE = `Usage: ringhook listen (--forward-to <url> | --print-json) [options]

Opens your live event stream and re-sends each event to a local URL as the signed POST a webhook delivery
makes, with a signing secret printed at start and kept for the next runs.

Options:
  --forward-to <url>   where to POST each event, e.g. http://localhost:3000/api/webhook
  --print-json         print each event's JSON body (one line each) instead of forwarding it
  --events <list>      only these event types, comma-separated (default: all), e.g. call.completed,call.failed
  --base-url <url>     the ringhook service (default: ${DEFAULT_BASE_URL}, a local "make dev")
  --token <token>      your sign-in token (default: $RINGHOOK_TOKEN); locally "make token", in production a
                       Firebase ID token (await user.getIdToken())
  --renew-secret       make a new signing secret and keep it instead of the saved one
  -h, --help           show this help

The secret is kept in $RINGHOOK_CONFIG_DIR/listen.json (default: $XDG_CONFIG_HOME/ringhook, else ~/.config/ringhook).

Examples:
  ringhook listen --forward-to http://localhost:3000/api/webhook
  ringhook listen --forward-to http://localhost:3000/api/webhook --events call.completed,call.failed
  RINGHOOK_TOKEN=$(make -s token UID=alice) ringhook listen --print-json
  ringhook listen --base-url https://ringhook.example --token "$ID_TOKEN" --forward-to http://localhost:3000/hook
`;

const NO_TOKEN = `ringhook: no sign-in token: pass --token <token> or set RINGHOOK_TOKEN.
  Locally (make dev): make token UID=<you> prints one.
  In production: a Firebase ID token of your account, from your app's await user.getIdToken().
`;

/** A mistake in how the CLI was called: its message, then a pointer to the help; exit status 2. */
class UsageError extends Error {}

function relaunchWithWebSocket() {
  if (process.execArgv.includes('--experimental-websocket') || !process.allowedNodeEnvironmentFlags.has('--experimental-websocket')) {
    process.stderr.write(`ringhook: Node.js ${process.version} has no WebSocket: use Node.js 20.10 or newer\n`);
    process.exit(1);
  }
  const script = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [...process.execArgv, '--experimental-websocket', script, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('error', (error) => {
    process.stderr.write(`ringhook: could not start Node.js again with WebSocket: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      // Die of the same signal, as the child did.
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else {
      process.exit(code);
    }
  });
}

function main(args) {
  let command;
  try {
    command = parseCommand(args);
  } catch (error) {
    if (!(error instanceof UsageError) && error.code?.startsWith('ERR_PARSE_ARGS') !== true) throw error;
    // parseArgs' own message goes on about positional arguments; its first sentence names the flag.
    const message = error instanceof UsageError ? error.message : error.message.replace(/\. To specify .*/s, '');
    process.stderr.write(`ringhook: ${message}\n${args.includes('listen') ? 'Run "ringhook listen --help" for its options.' : USAGE}\n`);
    process.exit(2);
  }
  if (command.help) {
    process.stdout.write(command.help);
    process.exit(0);
  }
  listen(command.options);
}

/** The command line → `{ help }` (text to print) or `{ options }` of `listen`; throws for a mistake. */
function parseCommand(args) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      'forward-to': { type: 'string' },
      'print-json': { type: 'boolean' },
      events: { type: 'string' },
      'base-url': { type: 'string' },
      token: { type: 'string' },
      'renew-secret': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...extra] = positionals;
  if (command === undefined) {
    if (values.help) return { help: USAGE };
    throw new UsageError('name a command');
  }
  if (command !== 'listen') throw new UsageError(`unknown command "${command}"`);
  if (values.help) return { help: LISTEN_USAGE };
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);

  const forwardTo = values['forward-to'];
  const printJson = values['print-json'] ?? false;
  if ((forwardTo === undefined) === !printJson) {
    throw new UsageError('give exactly one of --forward-to <url> (POST each event there) and --print-json (print each event)');
  }
  if (forwardTo !== undefined) httpUrl(forwardTo, '--forward-to');
  const baseUrl = httpUrl(values['base-url'] ?? DEFAULT_BASE_URL, '--base-url').origin;
  return {
    options: {
      forwardTo,
      printJson,
      baseUrl,
      events: values.events === undefined ? undefined : eventList(values.events),
      token: values.token ?? process.env.RINGHOOK_TOKEN ?? '',
      renewSecret: values['renew-secret'] ?? false,
    },
  };
}

function httpUrl(text, flag) {
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${flag} must be a URL, e.g. http://localhost:3000/api/webhook (got "${text}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${flag} must be an http:// or https:// URL (got "${text}")`);
  }
  return url;
}

function eventList(text) {
  const names = [...new Set(text.split(',').map((name) => name.trim()).filter(Boolean))];
  if (!names.length) throw new UsageError('--events needs at least one event type');
  const unknown = names.find((name) => !EVENT_TYPES.includes(name));
  if (unknown) throw new UsageError(`--events: unknown event type "${unknown}"; the types are ${EVENT_TYPES.join(', ')}`);
  return names;
}

// ---------------------------------------------------------------------------------------------------------------
// The signing secret, kept across runs

function configFile() {
  const env = process.env;
  const dir = env.RINGHOOK_CONFIG_DIR
    || (env.XDG_CONFIG_HOME ? path.join(env.XDG_CONFIG_HOME, 'ringhook') : path.join(homedir(), '.config', 'ringhook'));
  return path.join(dir, 'listen.json');
}

/** The saved secret, or a new one (saved) when there is none or `renew` asks for one. */
function signingSecret(file, renew) {
  if (!renew) {
    let saved;
    try {
      saved = JSON.parse(readFileSync(file, 'utf8')).secret;
    } catch {
      saved = undefined; // no file yet, or not ours to read: a new secret replaces it
    }
    if (typeof saved === 'string' && SECRET.test(saved)) return saved;
  }
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // Written beside it, then renamed over it: the file is never half-written, and it is 0600 whatever was there.
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, `${JSON.stringify({ secret }, null, 2)}\n`, { mode: 0o600 });
  renameSync(partial, file);
  return secret;
}

// ---------------------------------------------------------------------------------------------------------------
// Listening

function listen({ forwardTo, printJson, baseUrl, events, token, renewSecret }) {
  if (!token) {
    process.stderr.write(NO_TOKEN);
    process.exit(1);
  }
  const note = (line) => process.stderr.write(`ringhook: ${line}\n`);

  let secret;
  if (!printJson) {
    const file = configFile();
    try {
      secret = signingSecret(file, renewSecret);
    } catch (error) {
      note(`could not keep the signing secret in ${file}: ${error.message}`);
      process.exit(1);
    }
    process.stdout.write(`Your webhook signing secret is ${secret} (^C to quit)\n`);
  }

  // A webhook delivers every event, duplicates and stale updates included: so does this dispatcher.
  const dispatcher = {
    dispatch(event) {
      if (printJson) process.stdout.write(`${JSON.stringify(event)}\n`);
      else {
        const line = eventLine(event); // the time it arrived, not the time the answer did
        forward(event, forwardTo, secret).then((outcome) => process.stdout.write(`${line}  → ${outcome}\n`));
      }
      return true;
    },
  };
  const stream = new CallEventStream({ baseUrl, token, dispatcher, events });

  const stop = () => {
    stream.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  let wasLive = false;
  stream.addEventListener('state', () => {
    if (stream.state === 'connecting') note(`connecting to ${baseUrl}`);
    else if (stream.state === 'reconnecting') note(wasLive ? 'disconnected; reconnecting' : 'reconnecting');
    else if (stream.state === 'live') {
      note(wasLive ? 'live again' : `live on ${baseUrl} (events: ${events?.join(',') ?? 'all'})`);
      wasLive = true;
    }
  });
  stream.addEventListener('gap', () => note('some events were missed while disconnected: the service no longer holds them'));
  stream.addEventListener('error', ({ error }) => {
    if (error?.status === 401) {
      note(`the token was refused (${error.message}): get a fresh one (locally: make token) and run again`);
      stream.close();
      process.exit(1);
    }
    note(streamFailure(error, baseUrl));
  });
  // Failures are reported by the listeners above, and the stream keeps reconnecting by itself.
  stream.connect().catch(() => {});
}

/** POSTs one event as a webhook delivery signs it; resolves to what the line reports: the answer, or the failure. */
async function forward(event, url, secret) {
  const started = performance.now();
  try {
    const body = JSON.stringify(event);
    const signed = signWebhook(body, secret, { id: event.id });
    const headers = {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      ...signed,
      'x-webhook-id': event.id,
      'x-webhook-timestamp': signed['webhook-timestamp'],
      'x-webhook-event': event.event,
    };
    const answer = await fetch(url, {
      method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
    });
    await answer.arrayBuffer();
    return `${answer.status} (${Math.round(performance.now() - started)} ms)`;
  } catch (error) {
    if (error.name === 'TimeoutError') return `failed: no answer within ${FORWARD_TIMEOUT_MS / 1000} s`;
    return `failed: ${cause(error)}`;
  }
}

/** `14:03:07  call.completed       call_123`: when the event arrived (local time), its type and its call. */
function eventLine(event) {
  const now = new Date();
  const time = [now.getHours(), now.getMinutes(), now.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  return `${time}  ${String(event.event).padEnd(EVENT_COLUMN)}  ${event.callId ?? '-'}`;
}

/** What went wrong with the stream, in one line. */
function streamFailure(error, baseUrl) {
  if (error?.name === 'RingHookApiError') return `the stream ticket was refused (${error.status} ${error.code}): ${error.message}`;
  if (error?.type === 'error') return `the stream reported ${error.code}: ${error.message}`;
  return `cannot reach ${baseUrl}: ${cause(error)}`;
}

/** The reason under fetch's "fetch failed": e.g. "connect ECONNREFUSED 127.0.0.1:3000". */
function cause(error) {
  const inner = error?.cause ?? error;
  return inner?.message || inner?.errors?.[0]?.message || inner?.code || String(error);
}

// Node.js 20 has WebSocket only behind --experimental-websocket (from 20.10), and the flag cannot be turned on from
// inside a running process: so the same script runs again in a child with the flag, and this process only relays
// signals and the exit status. (Last in the file: everything above is initialised by then.)
if (typeof globalThis.WebSocket !== 'function') relaunchWithWebSocket();
else main(process.argv.slice(2));
