//! The JavaScript surface of the `ringhook` npm package (the `wasm` feature): verifying and signing deliveries,
//! and a dispatcher of call events for frontends. Exported names are camelCase; errors are `Error` objects with a
//! `name` and a `code`. The package's API client (`pkg/client.js`) and live stream (`pkg/stream.js`) are plain
//! JavaScript beside this module, typed below.

mod dispatcher;
mod verify;

use js_sys::{JsString, Reflect};
use wasm_bindgen::prelude::*;

pub use dispatcher::CallEventDispatcher;
pub use verify::{sign_webhook, verify_webhook, verify_webhook_signature};

#[wasm_bindgen(typescript_custom_section)]
const API_TYPES: &str = r#"
export interface Subscription {
  id: string;
  webhook_url: string;
  events: (CallEventType | "*")[];
  active: boolean;
  created_at: string;
  updated_at: string;
  failure_count: number;
  last_failure_at: string | null;
  last_failure_reason: string | null;
  deactivated_at: string | null;
  deactivation_reason: "gone" | "failing" | "manual" | null;
  failing_since: string | null;
}
export interface SubscribeRequest { webhook_url: string; events: (CallEventType | "*")[] }
export interface SubscribeResponse { success: true; subscription: Subscription; secret_key: string }
export interface SubscriptionPatch { active?: boolean; events?: (CallEventType | "*")[]; webhook_url?: string }
export interface RotateResponse { success: true; subscription: Subscription; secret_key: string; previous_secret_expires_at: string }
export interface TestRequest { webhook_url: string; event_type: CallEventType }
export interface TestResponse { success: boolean; status_code: number | null; response_time_ms: number; response_excerpt: string | null; error?: string }
export interface DeliveryRecord {
  event_id: string;
  event: CallEventType;
  attempt: number;
  outcome: "delivered" | "failed" | "dead_lettered" | "skipped";
  status_code: number | null;
  duration_ms: number | null;
  error: string | null;
  response_excerpt: string | null;
  at: string;
  next_retry_at: string | null;
}
export interface DeliveriesResponse { success: true; deliveries: DeliveryRecord[]; cursor: string | null }
export interface RedeliverResponse { success: true; event_id: string }
export interface RecoverResponse { success: true; events: string[] }
/** Counts of one hour (or a window) of a subscription's deliveries; times in milliseconds, null without attempts. */
export interface DeliveryCounts {
  delivered: number;
  failed: number;
  retried: number;
  dead_lettered: number;
  skipped: number;
  p50_ms: number | null;
  p95_ms: number | null;
}
export interface HourStats extends DeliveryCounts { hour: string }
export interface StatsResponse {
  success: true;
  subscription_id: string;
  window: "24h" | "7d";
  /** Every hour of the window, oldest first, the hour under way last. */
  hours: HourStats[];
  totals: DeliveryCounts & { success_rate: number | null };
  failure_streak: number;
}
export interface ClientOptions {
  /** Where the API is, e.g. "https://ringhook.example.workers.dev"; default "" (same origin). */
  baseUrl?: string;
  /** A Firebase ID token, or a function returning one (e.g. () => auth.currentUser.getIdToken()). */
  token?: string | (() => string | Promise<string>);
}
/** Thrown by WebhookClient for an answer that is not 2xx (status 0 and code "network_error" when fetch failed). */
export interface RingHookApiError extends Error {
  name: "RingHookApiError";
  status: number;
  code: string;
}
/**
 * A typed client of the subscription API. Every method returns a Promise; a non-2xx answer rejects with a
 * `RingHookApiError` carrying the HTTP `status` and the API's `code`.
 */
export declare class WebhookClient {
  /** `new WebhookClient({ baseUrl, token })`. */
  constructor(options?: ClientOptions);
  /** `POST /subscribe`: resolves to `{success, subscription, secret_key}`. */
  subscribe(request: SubscribeRequest): Promise<SubscribeResponse>;
  /** `GET /subscriptions`: resolves to the subscriptions. */
  list(): Promise<Subscription[]>;
  /** `GET /subscriptions/{id}`. */
  get(id: string): Promise<Subscription>;
  /** `PATCH /subscriptions/{id}`. */
  update(id: string, patch: SubscriptionPatch): Promise<Subscription>;
  /** `PATCH /subscriptions/{id}` with `{active: true}`: turns it back on and resets its failure count. */
  reactivate(id: string): Promise<Subscription>;
  /** `DELETE /subscriptions/{id}`. */
  delete(id: string): Promise<void>;
  /** `POST /subscriptions/{id}/rotate-secret`: the new secret; the previous one signs for 24 h more. */
  rotateSecret(id: string): Promise<RotateResponse>;
  /** `POST /test`: sends a signed sample event to one of your subscriptions now. */
  test(request: TestRequest): Promise<TestResponse>;
  /** `GET /subscriptions/{id}/deliveries`: one page of the delivery log, newest first. */
  deliveries(id: string, page?: { limit?: number; cursor?: string }): Promise<DeliveriesResponse>;
  /** `GET /subscriptions/{id}/stats?window=`: attempts per hour by outcome and their times, over `"24h"` (the default) or `"7d"`. */
  stats(id: string, window?: "24h" | "7d"): Promise<StatsResponse>;
  /** `POST /subscriptions/{id}/deliveries/{eventId}/redeliver`. */
  redeliver(id: string, eventId: string): Promise<RedeliverResponse>;
  /** `POST /subscriptions/{id}/recover`: delivers again every event not delivered since `since` (unix seconds). */
  recover(id: string, since: number): Promise<RecoverResponse>;
  /** Holds nothing to free; kept for code that disposes of the client. */
  free(): void;
  [Symbol.dispose](): void;
}
export interface DispatcherOptions {
  /** Needed by receive(), not by dispatch(). */
  secretKey?: string;
  /** Also fire a CustomEvent on this target (e.g. window) with detail {event, callId, status, data}. */
  target?: EventTarget;
  /** The CustomEvent's name; default "callStatusChanged". */
  eventName?: string;
  toleranceSeconds?: number | null;
}
export type CallEventHandler = (event: WebhookEvent) => void;

/** Where the stream remembers its cursor across reloads, e.g. sessionStorage. */
export interface CursorStore { getItem(key: string): string | null; setItem(key: string, value: string): void }
export interface CallEventStreamOptions {
  /** Where the API is; default: the page's origin. */
  baseUrl?: string;
  /** A Firebase ID token, or a function returning one (e.g. () => auth.currentUser.getIdToken()). */
  token: string | (() => string | Promise<string>);
  /** Every event goes through it: duplicates and stale updates are dropped, as for webhook deliveries. */
  dispatcher: CallEventDispatcher;
  /** Event types to receive; default all. */
  events?: CallEventType[];
  cursorStore?: CursorStore;
  /** The key in cursorStore; default "ringhook:stream-cursor". */
  cursorKey?: string;
  /** A WebSocket constructor where the runtime has none (Node.js 20: the "ws" package). */
  WebSocket?: unknown;
  /** How often to ping a live socket; default 30000, 0 for never. */
  pingIntervalMs?: number;
}
export type CallStreamState = "connecting" | "live" | "reconnecting" | "closed";
/**
 * The signed-in user's call events, live from the edge over a WebSocket, with resume after a disconnect.
 * Fires `state` when `state` changes, `gap` when events were missed (refetch state), and `error`.
 */
export declare class CallEventStream extends EventTarget {
  constructor(options: CallEventStreamOptions);
  readonly state: CallStreamState;
  /** The last cursor received: where the next connection resumes. */
  readonly cursor: number | null;
  /** Opens the stream (resuming from the last cursor); resolves once it is live. */
  connect(): Promise<void>;
  /** Closes it; connect() opens it again where it left off. */
  close(): void;
}
export interface CallState { callId: string; event: CallEventType; status: CallStatus; data: Record<string, unknown>; timestamp: number }
/** Every call's current state from a dispatcher, for useSyncExternalStore, Vue and Svelte stores. */
export declare class CallStore {
  constructor(dispatcher: CallEventDispatcher);
  /** Every call's latest state by call id: the same object until something changes. */
  getSnapshot: () => Readonly<Record<string, CallState>>;
  /** Calls listener after each change; returns the unsubscribe function. */
  subscribe: (listener: () => void) => () => void;
  /** Stops following the dispatcher. */
  dispose(): void;
}
"#;

/// How long `CallEventStream` waits before its `attempt`-th reconnection (`random` in 0..1): the core's
/// backoff with jitter.
#[wasm_bindgen(js_name = reconnectDelayMs)]
pub fn reconnect_delay_ms(attempt: u32, random: f64) -> f64 {
    crate::service::stream::reconnect_delay_ms(attempt, random) as f64
}

#[wasm_bindgen]
extern "C" {
    /// The platform's `TextEncoder` (browsers, Node.js, Workers).
    type TextEncoder;
    #[wasm_bindgen(constructor)]
    fn new() -> TextEncoder;
    /// Writes `text` as UTF-8 straight into wasm memory.
    #[wasm_bindgen(method, js_name = encodeInto)]
    fn encode_into(this: &TextEncoder, text: &JsString, into: &mut [u8]) -> EncodeProgress;

    /// What `encodeInto` returns.
    type EncodeProgress;
    #[wasm_bindgen(method, getter)]
    fn written(this: &EncodeProgress) -> u32;
}

thread_local! {
    static ENCODER: TextEncoder = TextEncoder::new();
}

/// A JS string's UTF-8 bytes, written by the engine's `TextEncoder.encodeInto`: for a request body this is many
/// times faster than wasm-bindgen's own string passing, which copies ASCII one character at a time in JS.
pub(crate) fn utf8_bytes(text: &JsString) -> Vec<u8> {
    // A UTF-16 code unit never takes more than three UTF-8 bytes.
    let mut bytes = vec![0; text.length() as usize * 3];
    let written = ENCODER.with(|encoder| encoder.encode_into(text, &mut bytes).written());
    bytes.truncate(written as usize);
    bytes
}

/// An `Error` named `name` with extra properties.
pub(crate) fn error_with(name: &str, message: &str, properties: &[(&str, JsValue)]) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name(name);
    for (key, value) in properties {
        let _ = Reflect::set(&error, &(*key).into(), value);
    }
    error.into()
}

pub(crate) fn type_error(message: &str) -> JsValue {
    js_sys::TypeError::new(message).into()
}

pub(crate) fn now_seconds() -> i64 {
    (js_sys::Date::now() / 1000.0).floor() as i64
}
