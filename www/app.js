// The ringhook dashboard: webhooks of the signed-in user (WebhookClient) and a live call board fed by the demo
// receiver's event stream through CallEventDispatcher. Plain ES module, no build step.
import { emulatorToken } from './emulator-token.js';

const CALL_EVENTS = ['call.initiated', 'call.scheduled', 'call.status.changed', 'call.completed', 'call.failed'];
const ALL_EVENTS = [...CALL_EVENTS, 'webhook.test', 'webhook.subscription.deactivated'];
const FIREBASE_PROJECT = 'demo-ringhook'; // the local Worker's FIREBASE_PROJECT_ID
const LOCAL_PUBLISH_TOKEN = 'local-call-events-token'; // the local Worker's CALL_EVENTS_TOKEN (.dev.vars)
const DEFAULT_EVENTS_URL = 'http://127.0.0.1:8788/events';
const SIM_STEP_MS = 400;
const LOG_PAGE = 10;

const $ = (selector, root = document) => root.querySelector(selector);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A tiny element builder: h('button', { class: 'x', onclick }, 'text', child). */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  el.append(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

const state = {
  uid: localStorage.getItem('ringhook.uid') || null,
  apiBase: localStorage.getItem('ringhook.apiBase') || '',
  eventsUrl: new URLSearchParams(location.search).get('events') || localStorage.getItem('ringhook.eventsUrl') || DEFAULT_EVENTS_URL,
  client: null,
  dispatcher: null,
  source: null,
  stats: { received: 0, applied: 0, dropped: 0 },
};
let WebhookClient;
let CallEventDispatcher;

// ---------------------------------------------------------------- helpers

function errorText(err) {
  if (err?.name === 'RingHookApiError') {
    return err.status ? `${err.message} (${err.code}, HTTP ${err.status})` : `${err.message} (${err.code})`;
  }
  return err?.message ?? String(err);
}

/** Runs `work` with `button` disabled and marked busy. */
async function busy(button, work) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

function when(iso) {
  if (!iso) return '—';
  return h('time', { datetime: iso, title: iso }, new Date(iso).toLocaleString());
}

function showNotification(message, type = 'info') {
  const toast = h('div', { class: `toast toast-${type}` }, message);
  $('#toasts').append(toast);
  setTimeout(() => toast.remove(), 6000);
}

function apiUrl(path) {
  return state.apiBase.replace(/\/+$/, '') + path;
}

/** Local mode: the API is on this machine, so emulator sign-in and simulated calls work. */
function isLocal() {
  const { hostname } = new URL(state.apiBase || location.href);
  return ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
}

// ---------------------------------------------------------------- sign-in

/** An unsigned Firebase Auth emulator ID token for the local Worker (see emulator-token.js). */
export const mintEmulatorToken = (uid) => emulatorToken(uid, { project: FIREBASE_PROJECT });

function makeClient() {
  state.client = state.uid
    ? new WebhookClient({ baseUrl: state.apiBase, token: () => mintEmulatorToken(state.uid) })
    : null;
}

function renderAuth() {
  const signedIn = Boolean(state.uid);
  document.querySelectorAll('[data-auth="in"]').forEach((el) => { el.hidden = !signedIn; });
  document.querySelectorAll('[data-auth="out"]').forEach((el) => { el.hidden = signedIn; });
  $('#simulate').hidden = !signedIn || !isLocal();
  $('#whoami').textContent = signedIn ? `Signed in as ${state.uid}` : 'Not signed in';
  $('#uid-label').textContent = state.uid ?? '';
}

function signIn(uid) {
  state.uid = uid;
  localStorage.setItem('ringhook.uid', uid);
  makeClient();
  renderAuth();
  loadSubscriptions();
  $('#webhook-url').focus();
}

function signOut() {
  state.uid = null;
  localStorage.removeItem('ringhook.uid');
  makeClient();
  cards.forEach((card) => card.el.remove());
  cards.clear();
  $('#register-secret').replaceChildren();
  renderAuth();
  $('#uid').focus();
}

// ---------------------------------------------------------------- event checkboxes

function eventsFieldset(selected) {
  const star = h('input', { type: 'checkbox', value: '*', checked: selected.includes('*') });
  const boxes = ALL_EVENTS.map((name) => h('input', { type: 'checkbox', value: name, checked: selected.includes(name) }));
  const sync = () => boxes.forEach((box) => { box.disabled = star.checked; });
  star.addEventListener('change', sync);
  sync();
  const fieldset = h('fieldset', { class: 'events' },
    h('legend', {}, 'Events'),
    h('label', { class: 'check' }, star, ' All events ', h('code', {}, '*')),
    boxes.map((box) => h('label', { class: 'check' }, box, ' ', h('code', {}, box.value))));
  fieldset.selected = () => (star.checked ? ['*'] : boxes.filter((b) => b.checked).map((b) => b.value));
  return fieldset;
}

// ---------------------------------------------------------------- secrets

/** Hands a secret to the demo receiver when the webhook points at it. A local demo shortcut: real secrets stay
 * server-side (e.g. the receiver's WEBHOOK_SECRET), never in a page. */
async function handToReceiver(secret, webhookUrl) {
  let receiver;
  try {
    receiver = new URL(state.eventsUrl);
    if (!isLocal() || new URL(webhookUrl).origin !== receiver.origin) return null;
  } catch {
    return null;
  }
  try {
    const response = await fetch(new URL('/secret', receiver), {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ secret }),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return { ok: true, text: `Handed to the demo receiver at ${receiver.origin} (local demo shortcut; real secrets stay server-side).` };
  } catch (err) {
    return { ok: false, text: `Could not hand it to the demo receiver at ${receiver.origin}: ${err.message}.` };
  }
}

/** Shows a secret once, copyable, with a warning; `note` says more (e.g. the previous secret's expiry). */
function secretPanel(host, secret, webhookUrl, note) {
  const input = h('input', { class: 'secret-value', readOnly: true, value: secret, spellcheck: 'false', 'aria-label': 'Signing secret' });
  const copied = h('span', { class: 'hint', role: 'status' });
  const receiverNote = h('p', { class: 'receiver-note hint' });
  const copy = h('button', {
    type: 'button', class: 'secondary',
    onclick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(secret);
      } catch {
        document.execCommand('copy');
      }
      copied.textContent = 'Copied.';
    },
  }, 'Copy');
  const done = h('button', { type: 'button', class: 'secondary', onclick: () => panel.remove() }, 'Done, hide it');
  const panel = h('div', { class: 'secret', role: 'group', 'aria-label': 'New signing secret' },
    h('p', { class: 'warn' }, h('strong', {}, 'Copy this secret now: it is shown only once. '),
      'Keep it where your receiver runs (e.g. its WEBHOOK_SECRET), never in client-side code.'),
    note && h('p', { class: 'hint' }, note),
    h('div', { class: 'row' }, input, copy, copied),
    receiverNote, done);
  host.replaceChildren(panel);
  input.focus();
  input.select();
  handToReceiver(secret, webhookUrl).then((result) => {
    if (!result) return;
    receiverNote.textContent = result.text;
    receiverNote.classList.toggle('error', !result.ok);
  });
}

// ---------------------------------------------------------------- register

/** The demo receiver's webhook URL, beside its event stream. */
function receiverWebhookUrl(eventsUrl) {
  try {
    return new URL('/api/webhook', eventsUrl).href;
  } catch {
    return '';
  }
}

function setUpRegister() {
  const events = eventsFieldset(CALL_EVENTS);
  $('#register-events').replaceChildren(events);
  $('#webhook-url').value = receiverWebhookUrl(state.eventsUrl);
  $('#register-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const error = $('#register-error');
    error.textContent = '';
    const selected = events.selected();
    if (!selected.length) {
      error.textContent = 'Choose at least one event.';
      return;
    }
    const webhookUrl = $('#webhook-url').value.trim();
    await busy(e.submitter ?? $('#register-form button[type=submit]'), async () => {
      try {
        const { subscription, secret_key: secret } = await state.client.subscribe({ webhook_url: webhookUrl, events: selected });
        upsertCard(subscription);
        renderSubsStatus();
        secretPanel($('#register-secret'), secret, subscription.webhook_url, `Registered ${subscription.id}.`);
      } catch (err) {
        error.textContent = errorText(err);
      }
    });
  });
}

// ---------------------------------------------------------------- subscriptions

const cards = new Map(); // id → { el, update(sub) }

function renderSubsStatus(message, isError = false) {
  const status = $('#subs-status');
  status.classList.toggle('error', isError);
  status.textContent = message ?? (cards.size ? '' : 'No webhooks yet. Register one above.');
}

async function loadSubscriptions() {
  if (!state.client) return;
  const list = $('#subs');
  list.setAttribute('aria-busy', 'true');
  renderSubsStatus('Loading webhooks…');
  try {
    const subs = await state.client.list();
    const ids = new Set(subs.map((s) => s.id));
    for (const [id, card] of cards) if (!ids.has(id)) { card.el.remove(); cards.delete(id); }
    subs.forEach(upsertCard);
    renderSubsStatus();
  } catch (err) {
    renderSubsStatus(`Could not load webhooks: ${errorText(err)}`, true);
  } finally {
    list.removeAttribute('aria-busy');
  }
}

function upsertCard(sub) {
  let card = cards.get(sub.id);
  if (!card) {
    card = subscriptionCard(sub);
    cards.set(sub.id, card);
    $('#subs').append(card.el);
  }
  card.update(sub);
}

function subscriptionCard(initial) {
  let sub = initial;
  const id = sub.id;
  const badge = h('span', { class: 'badge' });
  const url = h('code', { class: 'url' });
  const meta = h('dl', { class: 'meta' });
  const toggle = h('button', { type: 'button', class: 'toggle-active' });
  const panel = h('div', { class: 'panel' }); // edit form or secret, one at a time
  const testResult = h('output', { class: 'test-result' });
  const logPanel = h('div', { class: 'log-panel', hidden: true });
  const el = h('li', { class: 'sub', 'data-sub-id': id });

  const refresh = async () => {
    try { update(await state.client.get(id)); } catch { /* the list's Refresh shows errors */ }
  };

  toggle.addEventListener('click', () => busy(toggle, async () => {
    try {
      update(sub.active ? await state.client.update(id, { active: false }) : await state.client.reactivate(id));
      showNotification(sub.active ? 'Webhook reactivated.' : 'Webhook deactivated.', 'success');
    } catch (err) {
      showNotification(errorText(err), 'error');
    }
  }));

  const editButton = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false' }, 'Edit events');
  editButton.addEventListener('click', () => {
    const events = eventsFieldset(sub.events);
    const error = h('p', { class: 'error', role: 'alert' });
    const close = () => { panel.replaceChildren(); editButton.setAttribute('aria-expanded', 'false'); editButton.focus(); };
    const form = h('form', { class: 'edit-events' }, events,
      h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save events'),
        h('button', { type: 'button', class: 'secondary', onclick: close }, 'Cancel')), error);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!events.selected().length) { error.textContent = 'Choose at least one event.'; return; }
      await busy(e.submitter, async () => {
        try {
          update(await state.client.update(id, { events: events.selected() }));
          close();
          showNotification('Events saved.', 'success');
        } catch (err) {
          error.textContent = errorText(err);
        }
      });
    });
    panel.replaceChildren(form);
    editButton.setAttribute('aria-expanded', 'true');
    form.querySelector('input').focus();
  });

  const rotateButton = h('button', { type: 'button', class: 'secondary' }, 'Rotate secret');
  rotateButton.addEventListener('click', () => {
    if (!confirm(`Rotate the signing secret of ${sub.webhook_url}? The previous secret keeps signing for 24 hours.`)) return;
    busy(rotateButton, async () => {
      try {
        const r = await state.client.rotateSecret(id);
        update(r.subscription);
        secretPanel(panel, r.secret_key, r.subscription.webhook_url,
          `The previous secret also signs until ${new Date(r.previous_secret_expires_at).toLocaleString()}.`);
      } catch (err) {
        showNotification(errorText(err), 'error');
      }
    });
  });

  const deleteButton = h('button', { type: 'button', class: 'danger' }, 'Delete');
  deleteButton.addEventListener('click', () => {
    if (!confirm(`Delete the webhook to ${sub.webhook_url}? Its deliveries stop at once.`)) return;
    busy(deleteButton, async () => {
      try {
        await state.client.delete(id);
        el.remove();
        cards.delete(id);
        renderSubsStatus();
        showNotification('Webhook deleted.', 'success');
        $('#subs-refresh').focus();
      } catch (err) {
        showNotification(errorText(err), 'error');
      }
    });
  });

  // Test event
  const testType = h('select', { 'aria-label': 'Test event type' }, ALL_EVENTS.map((t) => h('option', { value: t, selected: t === 'call.completed' }, t)));
  const testForm = h('form', { class: 'test-form row' },
    h('label', {}, 'Test event ', testType), h('button', { type: 'submit', class: 'secondary' }, 'Send test'));
  testForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    testResult.className = 'test-result';
    testResult.textContent = 'Sending…';
    await busy(e.submitter, async () => {
      try {
        const r = await state.client.test({ webhook_url: sub.webhook_url, event_type: testType.value });
        testResult.className = `test-result ${r.success ? 'ok' : 'error'}`;
        testResult.replaceChildren(h('div', {},
          h('strong', {}, r.success ? 'Delivered' : 'Not delivered'),
          ` · ${r.status_code == null ? 'no response' : `HTTP ${r.status_code}`} · ${r.response_time_ms} ms`,
          r.error && ` · ${r.error}`,
          r.response_excerpt && h('pre', { class: 'excerpt' }, r.response_excerpt)));
      } catch (err) {
        testResult.className = 'test-result error';
        testResult.textContent = errorText(err);
      }
      refresh();
      if (!logPanel.hidden) loadLog(true);
    });
  });

  // Delivery log
  let cursor = null;
  const logList = h('ol', { class: 'log' });
  const logStatus = h('p', { class: 'state', role: 'status' });
  const more = h('button', { type: 'button', class: 'secondary more', hidden: true }, 'More');
  const logButton = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false' }, 'Delivery log');
  const reload = h('button', { type: 'button', class: 'secondary', onclick: () => loadLog(true) }, 'Reload log');
  logPanel.append(h('div', { class: 'row spread' }, h('h3', {}, 'Deliveries, newest first'), reload), logStatus, logList, more);

  async function loadLog(fresh) {
    if (fresh) cursor = null;
    logStatus.classList.remove('error');
    logStatus.textContent = 'Loading deliveries…';
    try {
      const page = await state.client.deliveries(id, { limit: LOG_PAGE, ...(cursor ? { cursor } : {}) });
      if (fresh) logList.replaceChildren();
      logList.append(...page.deliveries.map(deliveryItem));
      cursor = page.cursor;
      more.hidden = !cursor;
      logStatus.textContent = logList.children.length ? '' : 'No deliveries yet (the log keeps 7 days).';
    } catch (err) {
      logStatus.classList.add('error');
      logStatus.textContent = `Could not load deliveries: ${errorText(err)}`;
    }
  }
  more.addEventListener('click', () => busy(more, () => loadLog(false)));
  logButton.addEventListener('click', () => {
    logPanel.hidden = !logPanel.hidden;
    logButton.setAttribute('aria-expanded', String(!logPanel.hidden));
    if (!logPanel.hidden) loadLog(true);
  });

  function deliveryItem(d) {
    const redeliver = h('button', { type: 'button', class: 'secondary small' }, 'Redeliver');
    redeliver.addEventListener('click', () => busy(redeliver, async () => {
      try {
        await state.client.redeliver(id, d.event_id);
        showNotification(`Redelivering ${d.event_id}.`, 'success');
      } catch (err) {
        showNotification(errorText(err), 'error');
      }
    }));
    return h('li', { class: `delivery outcome-${d.outcome}` },
      h('div', { class: 'row' },
        h('span', { class: `badge outcome` }, d.outcome), h('code', {}, d.event), h('span', {}, `try ${d.attempt}`),
        h('span', {}, d.status_code == null ? 'no response' : `HTTP ${d.status_code}`),
        d.duration_ms != null && h('span', {}, `${d.duration_ms} ms`), when(d.at), redeliver),
      h('div', { class: 'hint' }, h('code', {}, d.event_id),
        d.next_retry_at && h('span', {}, ' · next try ', when(d.next_retry_at))),
      d.error && h('p', { class: 'error' }, d.error),
      d.response_excerpt && h('pre', { class: 'excerpt' }, d.response_excerpt));
  }

  el.append(
    h('div', { class: 'row sub-head' }, badge, url),
    meta,
    h('div', { class: 'row actions' }, toggle, editButton, rotateButton, logButton, deleteButton),
    testForm, testResult, panel, logPanel);

  function update(next) {
    sub = next;
    el.classList.toggle('inactive', !sub.active);
    badge.className = `badge ${sub.active ? 'active' : 'deactivated'}`;
    badge.textContent = sub.active ? 'active' : 'deactivated';
    url.textContent = sub.webhook_url;
    toggle.textContent = sub.active ? 'Deactivate' : 'Reactivate';
    toggle.className = `toggle-active${sub.active ? ' secondary' : ''}`;
    const row = (term, ...value) => [h('dt', {}, term), h('dd', {}, ...value)];
    meta.replaceChildren(
      ...row('Id', h('code', {}, sub.id)),
      ...row('Events', sub.events.join(', ')),
      ...row('Failures', String(sub.failure_count)),
      ...row('Last error', sub.last_failure_reason ? [sub.last_failure_reason, ' (', when(sub.last_failure_at), ')'] : '—'),
      ...(sub.deactivated_at ? row('Deactivated', when(sub.deactivated_at)) : []),
      ...row('Created', when(sub.created_at)),
      ...row('Updated', when(sub.updated_at)));
  }
  return { el, update };
}

// ---------------------------------------------------------------- call board (the setup guide's section 3)

function callRow(callId) {
  const existing = document.querySelector(`[data-call-id="${CSS.escape(callId)}"]`);
  if (existing) return existing;
  const row = h('li', { class: 'call-item', 'data-call-id': callId },
    h('code', { class: 'call-id' }, callId),
    h('span', { class: 'status' }, '…'),
    h('ol', { class: 'trail', 'aria-label': 'Statuses so far' }),
    h('span', { class: 'detail hint' }),
    h('button', { type: 'button', class: 'retry secondary', hidden: true, onclick: () => retryCall(callId) }, 'Retry'));
  $('#calls').prepend(row);
  $('#calls-empty').hidden = true;
  return row;
}

function updateCallStatus(callId, status) {
  if (!callId) return; // service events (e.g. a deactivation notice) are not calls
  const callElement = callRow(callId);
  callElement.querySelector('.status').textContent = status;
  callElement.className = `call-item status-${status}`;
  callElement.querySelector('.trail').append(h('li', {}, status));
  if (status === 'completed') {
    showNotification(`Call ${callId} completed successfully!`, 'success');
  } else if (status === 'failed') {
    showNotification(`Call ${callId} failed`, 'error');
  }
}

function handleCallCompletion(callId, data) {
  if (data?.duration_seconds != null) $('.detail', callRow(callId)).textContent = `${data.duration_seconds} s`;
}

function handleCallFailure(callId, data) {
  if (data?.reason) $('.detail', callRow(callId)).textContent = String(data.reason);
  enableRetryButton(callId);
}

function enableRetryButton(callId) {
  const button = $('.retry', callRow(callId));
  button.hidden = false;
  button.disabled = false;
}

function retryCall(callId) {
  const button = $('.retry', callRow(callId));
  button.disabled = true;
  button.textContent = 'Retried';
  simulateCall('completed', { retry_of: callId });
}

function renderStats() {
  const { received, applied, dropped } = state.stats;
  $('#board-stats').textContent = `${received} events received · ${applied} applied · ${dropped} dropped (duplicate or stale)`;
}

function setUpDispatcher() {
  state.dispatcher = new CallEventDispatcher({ target: window });
  state.dispatcher.on('call.completed', (e) => handleCallCompletion(e.callId, e.data));
  state.dispatcher.on('call.failed', (e) => handleCallFailure(e.callId, e.data));
  state.dispatcher.on('webhook.subscription.deactivated', (e) => {
    showNotification(`A webhook was deactivated: ${e.data?.webhook_url ?? ''} (${e.data?.reason ?? 'failures'})`, 'error');
    loadSubscriptions();
  });
  // Exactly as the setup guide's components listen.
  window.addEventListener('callStatusChanged', (event) => {
    const { callId, status, data } = event.detail;
    updateCallStatus(callId, status);
  });
}

function onRelayed(message) {
  let event;
  try {
    event = JSON.parse(message.data);
  } catch {
    return;
  }
  state.stats.received += 1;
  let applied = false;
  try {
    applied = state.dispatcher.dispatch(event);
  } catch (err) {
    console.warn('ringhook: event not dispatched', err);
  }
  state.stats[applied ? 'applied' : 'dropped'] += 1;
  renderStats();
}

function setStreamState(name, text) {
  const el = $('#stream-state');
  el.dataset.state = name;
  el.textContent = text;
  $('#stream-toggle').textContent = name === 'closed' ? 'Connect' : 'Disconnect';
}

function connectStream() {
  state.source?.close();
  const url = state.eventsUrl;
  const source = new EventSource(url);
  state.source = source;
  setStreamState('connecting', `Connecting to ${url}…`);
  source.addEventListener('open', () => setStreamState('open', `Live: receiving from ${url}`));
  source.addEventListener('error', () => {
    if (state.source !== source) return;
    if (source.readyState === EventSource.CLOSED) setStreamState('closed', `Disconnected: ${url} refused the stream.`);
    else setStreamState('connecting', `Cannot reach ${url}; retrying… (is the demo receiver running?)`);
  });
  source.addEventListener('message', onRelayed);
}

function disconnectStream() {
  state.source?.close();
  state.source = null;
  setStreamState('closed', 'Not connected.');
}

function setUpBoard() {
  $('#events-url').value = state.eventsUrl;
  $('#stream-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const value = $('#events-url').value.trim();
    if (state.source && value === state.eventsUrl) return disconnectStream();
    state.eventsUrl = value;
    localStorage.setItem('ringhook.eventsUrl', value);
    $('#webhook-url').value = receiverWebhookUrl(value);
    connectStream();
  });
  $('#events-url').addEventListener('input', () => {
    if (state.source) $('#stream-toggle').textContent = $('#events-url').value.trim() === state.eventsUrl ? 'Disconnect' : 'Connect';
  });
  $('#sim-completed').addEventListener('click', (e) => busy(e.currentTarget, () => simulateCall('completed')));
  $('#sim-failed').addEventListener('click', (e) => busy(e.currentTarget, () => simulateCall('failed')));
  connectStream();
}

// ---------------------------------------------------------------- simulated calls (local only)

const LIFE = [['call.initiated', 'initiated'], ['call.status.changed', 'ringing'], ['call.status.changed', 'in-progress']];

/** Publishes a call's life (a few hundred ms apart, increasing occurred_at) as the call system would. */
async function simulateCall(outcome, extraData = {}) {
  const status = $('#sim-status');
  if (!state.uid) return;
  const callId = `call_${crypto.randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const steps = [...LIFE, outcome === 'failed' ? ['call.failed', 'failed'] : ['call.completed', 'completed']];
  const start = Math.floor(Date.now() / 1000);
  status.classList.remove('error');
  try {
    for (const [i, [event, callStatus]] of steps.entries()) {
      if (i) await sleep(SIM_STEP_MS);
      status.textContent = `Publishing ${callId}: ${callStatus}…`;
      const data = { ...extraData, simulated: true,
        ...(callStatus === 'completed' ? { duration_seconds: 30 + Math.floor(Math.random() * 90) } : {}),
        ...(callStatus === 'failed' ? { reason: 'carrier_error' } : {}) };
      const response = await fetch(apiUrl('/api/v6/call/events'), {
        method: 'POST',
        headers: { authorization: `Bearer ${LOCAL_PUBLISH_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: `${callId}_${i}`, event, callId, status: callStatus, uid: state.uid, data, occurred_at: start + i }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`);
      if (i === 0 && body.events?.[0]?.deliveries === 0) {
        showNotification('No active webhook listens to call events: nothing will be delivered.', 'error');
      }
    }
    status.textContent = `Published ${callId}: ${steps.map((s) => s[1]).join(' → ')}.`;
  } catch (err) {
    status.classList.add('error');
    status.textContent = `Could not publish ${callId}: ${err.message}`;
  }
}

// ---------------------------------------------------------------- start

async function start() {
  const boot = $('#boot');
  try {
    ({ WebhookClient, CallEventDispatcher } = await import('/pkg/index.js'));
    if (!WebhookClient || !CallEventDispatcher) throw new Error('this build lacks WebhookClient or CallEventDispatcher');
  } catch (err) {
    boot.classList.add('error');
    boot.textContent = `Could not load the ringhook package from /pkg/index.js (${err.message}). Run make pkg, then reload.`;
    document.querySelectorAll('main > section').forEach((section) => { section.hidden = true; });
    return;
  }
  boot.hidden = true;

  $('#api-base').value = state.apiBase;
  $('#settings-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.apiBase = $('#api-base').value.trim();
    localStorage.setItem('ringhook.apiBase', state.apiBase);
    makeClient();
    renderAuth();
    loadSubscriptions();
    showNotification('Settings saved.', 'success');
  });
  $('#signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const uid = $('#uid').value.trim();
    if (uid) signIn(uid);
  });
  $('#signout').addEventListener('click', signOut);
  $('#subs-refresh').addEventListener('click', (e) => busy(e.currentTarget, loadSubscriptions));

  setUpDispatcher();
  setUpRegister();
  setUpBoard();
  makeClient();
  renderAuth();
  if (state.uid) loadSubscriptions();
  document.documentElement.dataset.ready = 'true';
}

start();
