// The JavaScript side of the core's verifier (crates/ringhook/src/verify_abi.rs), in ringhook/verify's
// ringhook_verify.wasm and in the main entry's ringhook.wasm. Here the arguments are checked and written into the
// wasm's input buffer, one export is called, and its answer is read back; every decision (which signature, the
// timestamp's age, what an error says) is the core's. An entry calls `defineVerifier()` once for its wasm,
// instantiates the module with the `imports` it returns, and passes the instance to its `init`.

import { defineVerifyRequest } from '../request.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The raw body: a string, or bytes (a Uint8Array, Node's Buffer included, or an ArrayBuffer). */
function rawBody(payload) {
  if (typeof payload === 'string' || payload instanceof Uint8Array) return payload;
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  throw new TypeError('the payload must be the raw body as a string, Uint8Array/Buffer or ArrayBuffer (not parsed JSON)');
}

/** A header's value: a string, or the first of a list (Node gives repeated headers as arrays). */
function headerText(value) {
  const text = Array.isArray(value) ? value[0] : value;
  return typeof text === 'string' ? text : undefined;
}

const NAMES = ['x-webhook-signature', 'webhook-id', 'webhook-timestamp', 'webhook-signature'];

/** The four signature headers from a `Headers`-like object (with `get`) or a plain object (names in any case). */
function headerValues(headers) {
  if (headers === undefined || headers === null) return NAMES.map(() => undefined);
  if (typeof headers !== 'object') throw new TypeError('headers must be a Headers object or a plain object of header names to values');
  if (typeof headers.get === 'function') return NAMES.map((name) => headerText(headers.get(name)));
  const values = NAMES.map((name) => headerText(headers[name]));
  const [bodySignature, id, timestamp, standard] = values;
  // Names in another case than Node's lower case: looked for only when no whole signature was found, that is
  // neither the three Standard Webhooks headers nor X-Webhook-Signature alone (webhook-signature would come first).
  const whole = (id !== undefined && timestamp !== undefined && standard !== undefined) || (bodySignature !== undefined && standard === undefined);
  if (!whole) {
    for (const [name, value] of Object.entries(headers)) {
      const slot = NAMES.indexOf(name.toLowerCase());
      if (slot >= 0 && values[slot] === undefined) values[slot] = headerText(value);
    }
  }
  return values;
}

/**
 * The verifier around one wasm instance, and what calling its other exports takes (`exports`, `write`, `answer`,
 * `failure`, `rawBody`).
 */
export function defineVerifier() {
  let wasm;
  let memory = new Uint8Array(0);

  /** The secret the wasm holds prepared: receivers verify with the same one again and again. */
  let preparedSecret;
  /** The body under verification (a string or bytes), then the object JSON.parse made of it. */
  let pending;
  let parsed;

  const imports = {
    ringhook: {
      parse_body() {
        try {
          parsed = JSON.parse(typeof pending === 'string' ? pending : decoder.decode(pending));
        } catch {
          return 0;
        }
        return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? 2 : 1;
      },
      timestamp_kind() {
        const timestamp = parsed.timestamp;
        return timestamp === undefined ? 0 : typeof timestamp === 'number' ? 1 : 2;
      },
      timestamp_value: () => parsed.timestamp,
    },
  };

  function init(instance) {
    wasm = instance.exports;
  }

  function view() {
    if (memory.buffer !== wasm.memory.buffer) memory = new Uint8Array(wasm.memory.buffer);
    return memory;
  }

  /** Writes texts and byte arrays one after another into the input buffer; their lengths, -1 for undefined. */
  function write(values) {
    let bound = 0;
    for (const value of values) if (value !== undefined) bound += typeof value === 'string' ? value.length * 3 : value.length;
    let at = wasm.input(bound);
    const bytes = view();
    const lens = [];
    for (const value of values) {
      let len = -1;
      if (typeof value === 'string') len = encoder.encodeInto(value, bytes.subarray(at)).written;
      else if (value !== undefined) bytes.set(value, at), (len = value.length);
      if (len > 0) at += len;
      lens.push(len);
    }
    return lens;
  }

  /** The answer's text: `len` bytes of the output buffer. */
  function answer(len) {
    const start = wasm.output();
    return decoder.decode(view().subarray(start, start + len));
  }

  /** A failed export's `code message` as the error it names. */
  function failure(result) {
    const text = answer(-result);
    const space = text.indexOf(' ');
    const error = new Error(text.slice(space + 1));
    error.name = 'WebhookVerificationError';
    error.code = text.slice(0, space);
    return error;
  }

  /** Prepares the secret in the wasm unless it is the one already there: 0, or the failure. */
  function prepare(secret) {
    if (typeof secret === 'string' && secret === preparedSecret) return 0;
    preparedSecret = undefined;
    const result = wasm.secret(write([typeof secret === 'string' ? secret : ''])[0]);
    if (result === 0) preparedSecret = secret;
    return result;
  }

  function verifyWebhookSignature(payload, signature, secretKey) {
    const prepared = prepare(secretKey);
    if (prepared < 0) {
      // A secret that is not one (such as a bad whsec_) cannot have signed the body; a missing one is a mistake.
      if (typeof secretKey === 'string' && secretKey !== '') return false;
      throw failure(prepared);
    }
    const text = headerText(signature);
    if (text === undefined) return false;
    const [bodyLen, signatureLen] = write([rawBody(payload), text]);
    return wasm.verify_signature(bodyLen, signatureLen) === 1;
  }

  function verifyWebhook(rawBodyValue, headers, secretKey, options) {
    const prepared = prepare(secretKey);
    if (prepared < 0) throw failure(prepared);
    let tolerance = NaN;
    let now = Math.floor(Date.now() / 1000);
    if (options !== undefined && options !== null) {
      const given = options.toleranceSeconds;
      if (given === null) tolerance = -1;
      else if (given !== undefined) {
        if (typeof given !== 'number' || !(given >= 0) || given === Infinity) throw new TypeError('toleranceSeconds must be a non-negative number of seconds, or null');
        tolerance = given;
      }
      if (options.now !== undefined) {
        if (typeof options.now !== 'number' || !Number.isFinite(options.now)) throw new TypeError('now must be unix seconds');
        now = Math.floor(options.now);
      }
    }
    const body = rawBody(rawBodyValue);
    const lens = write([body, ...headerValues(headers)]);
    pending = body;
    let result;
    try {
      result = wasm.verify(lens[0], typeof body === 'string' ? 0 : 1, lens[1], lens[2], lens[3], lens[4], tolerance, now);
    } finally {
      pending = undefined;
    }
    const event = parsed;
    parsed = undefined;
    if (result < 0) throw failure(result);
    return event;
  }

  return {
    imports, init, exports: () => wasm, write, answer, failure, rawBody,
    verifyWebhookSignature, verifyWebhook, verifyRequest: defineVerifyRequest(verifyWebhook),
  };
}
