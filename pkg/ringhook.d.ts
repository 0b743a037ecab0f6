// The package's types, for every runtime's entry (ringhook/verify re-exports its part from here).

/** What happened: the `event` field of a delivery. */
export type CallEventType =
  | "call.initiated" | "call.scheduled" | "call.status.changed" | "call.completed" | "call.failed"
  | "webhook.test" | "webhook.subscription.deactivated";

/** Where a call stands: the `status` field of a delivery. */
export type CallStatus =
  | "scheduled" | "queued" | "initiated" | "ringing" | "in-progress"
  | "completed" | "busy" | "no-answer" | "canceled" | "failed";

/** A verified delivery's body. */
export interface WebhookEvent<Data = Record<string, unknown>> {
  /** `evt_…`: the same on every retry; use it to drop duplicates. */
  id: string;
  event: CallEventType;
  callId: string;
  status: CallStatus;
  /** When the event happened, in unix seconds. */
  timestamp: number;
  data: Data;
}

/** A `Headers` object, or a plain object such as Node's `req.headers` (names in any case). */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined | null>;

export interface VerifyOptions {
  /** Seconds a signature may be old (or ahead); default 300. `null` skips the check (not recommended). */
  toleranceSeconds?: number | null;
  /** The verifier's clock in unix seconds; default `Date.now() / 1000`. */
  now?: number;
}

export interface SignOptions {
  /** The event id for `webhook-id`; default a new `evt_…` id. */
  id?: string;
  /** Unix seconds for `webhook-timestamp`; default now. */
  timestamp?: number;
}

/** The signature headers of one delivery, lower-case names (a plain object: usable as WebhookHeaders). */
export type SignedHeaders = {
  "x-webhook-signature": string;
  "webhook-id": string;
  "webhook-timestamp": string;
  /** Space-separated `v1,<base64>` signatures; empty for a secret without the `whsec_` prefix. */
  "webhook-signature": string;
  /** With two secrets (a rotation's overlap): `sha256=<hex>` under the second, the previous secret. */
  "x-webhook-signature-previous"?: string;
};

export type VerificationErrorCode =
  | "missing_signature" | "missing_header" | "malformed_signature" | "invalid_timestamp" | "missing_timestamp"
  | "timestamp_too_old" | "timestamp_in_future" | "signature_mismatch" | "invalid_secret" | "invalid_payload";

/** Thrown by `verifyWebhook`: an `Error` whose `name` is `"WebhookVerificationError"`. */
export interface WebhookVerificationError extends Error {
  name: "WebhookVerificationError";
  code: VerificationErrorCode;
}

/**
 * For Fetch-API receivers (Workers, Node 18+, Deno, Bun): reads the request's raw body once, verifies it as
 * `verifyWebhook` does, and resolves to the event (or rejects with a `WebhookVerificationError`).
 */
export function verifyRequest(request: Request, secretKey: string, options?: VerifyOptions): Promise<WebhookEvent>;

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

/** Verifies (optionally), deduplicates, orders and dispatches call events. */
export declare class CallEventDispatcher {
  /** `new CallEventDispatcher({ secretKey, target, eventName, toleranceSeconds })`. */
  constructor(options?: DispatcherOptions);
  /** Calls `handler` for every dispatched event of `type` (an event type, or `"*"` for all). */
  on(type: CallEventType | "*", handler: CallEventHandler): void;
  /** Removes a handler added with `on`. */
  off(type: CallEventType | "*", handler: CallEventHandler): void;
  /**
   * Verifies a delivery with the dispatcher's `secretKey` (throwing a `WebhookVerificationError`), then
   * dispatches it. Returns whether it was dispatched (false for a duplicate or a stale update).
   */
  receive(rawBody: string | Uint8Array | ArrayBuffer, headers: WebhookHeaders): boolean;
  /**
   * Dispatches an already-verified event. Returns whether handlers ran: `false` for an id seen before, or an
   * update older than the last one applied for its call (deliveries are not ordered).
   */
  dispatch(event: WebhookEvent): boolean;
  /** Holds nothing to free; kept for code that disposes of the dispatcher. */
  free(): void;
  [Symbol.dispose](): void;
}

/**
 * Signs `payload` as ringhook signs a delivery, for receivers' own tests. `secretKeys` is one secret or a list
 * (current first, as during a rotation). Returns the four signature headers.
 */
export function signWebhook(payload: string | Uint8Array | ArrayBuffer, secretKeys: string | string[], options?: SignOptions): SignedHeaders;

/**
 * Verifies a delivery by either header set (Standard Webhooks `webhook-*`, or `X-Webhook-Signature`) and its
 * timestamp, and returns the parsed event. Throws a `WebhookVerificationError` that says what to fix.
 */
export function verifyWebhook(rawBody: string | Uint8Array | ArrayBuffer, headers: WebhookHeaders, secretKey: string, options?: VerifyOptions): WebhookEvent;

/**
 * The setup guide's `verifyWebhookSignature(payload, signature, secretKey)`: `true` when `signature`
 * (`sha256=<hex>`, the `X-Webhook-Signature` header) is the HMAC-SHA256 of `payload` under `secretKey`.
 * Compares in constant time; returns `false` rather than throwing for a missing or malformed signature.
 */
export function verifyWebhookSignature(payload: string | Uint8Array | ArrayBuffer, signature: string | string[] | null | undefined, secretKey: string): boolean;
