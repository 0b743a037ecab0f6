// The dashboard's shared state and settings: who is signed in, where the API and the demo receiver are, and the
// ringhook package's classes once loaded.

export const CALL_EVENTS = ['call.initiated', 'call.scheduled', 'call.status.changed', 'call.completed', 'call.failed'];
export const ALL_EVENTS = [...CALL_EVENTS, 'webhook.test', 'webhook.subscription.deactivated'];
export const FIREBASE_PROJECT = 'demo-ringhook'; // the local Worker's FIREBASE_PROJECT_ID
export const LOCAL_PUBLISH_TOKEN = 'local-call-events-token'; // the local Worker's CALL_EVENTS_TOKEN (.dev.vars)
const DEFAULT_EVENTS_URL = 'http://127.0.0.1:8788/events';

export const state = {
  uid: localStorage.getItem('ringhook.uid') || null,
  apiBase: localStorage.getItem('ringhook.apiBase') || '',
  eventsUrl: new URLSearchParams(location.search).get('events') || localStorage.getItem('ringhook.eventsUrl') || DEFAULT_EVENTS_URL,
  client: null,
  dispatcher: null,
  stream: null,
  stats: { received: 0, applied: 0, dropped: 0 },
};
/** The package's classes, set once /pkg/index.js has loaded. */
export const pkg = { WebhookClient: null, CallEventDispatcher: null, CallEventStream: null };

export function apiUrl(path) {
  return state.apiBase.replace(/\/+$/, '') + path;
}

/** Local mode: the API is on this machine, so emulator sign-in and simulated calls work. */
export function isLocal() {
  const { hostname } = new URL(state.apiBase || location.href);
  return ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
}
