// The live call board (the setup guide's section 3): the signed-in user's events arrive straight from ringhook
// through CallEventStream (no receiver of the page's own in the path), go through CallEventDispatcher, and the
// page listens to callStatusChanged as the guide's components do.
import { $, busy, h, showNotification } from './dom.js';
import { pkg, state } from './state.js';
import { simulateCall } from './simulator.js';
import { mintEmulatorToken } from './signin.js';
import { loadSubscriptions, receiverWebhookUrl } from './subscriptions.js';

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

export function setUpDispatcher() {
  state.dispatcher = new pkg.CallEventDispatcher({ target: window });
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

/** The dispatcher as the stream sees it, counting what arrives and what is applied. */
const countingDispatcher = () => ({
  dispatch(event) {
    state.stats.received += 1;
    const applied = state.dispatcher.dispatch(event);
    state.stats[applied ? 'applied' : 'dropped'] += 1;
    renderStats();
    return applied;
  },
});

const STATE_TEXT = {
  connecting: 'Connecting to ringhook…',
  live: 'Live: events arrive straight from ringhook.',
  reconnecting: 'Connection lost; reconnecting…',
  closed: 'Not connected.',
};

function setStreamState(name, text = STATE_TEXT[name]) {
  const el = $('#stream-state');
  el.dataset.state = name;
  el.textContent = text;
  $('#stream-toggle').textContent = name === 'closed' ? 'Connect' : 'Disconnect';
}

/** Opens the signed-in user's stream (closing any other first); it resumes where the tab's last one stopped. */
export function connectStream() {
  disconnectStream();
  if (!state.uid) return;
  const uid = state.uid;
  const stream = new pkg.CallEventStream({
    baseUrl: apiBase(),
    token: () => mintEmulatorToken(uid),
    dispatcher: countingDispatcher(),
    cursorStore: sessionStorage,
    cursorKey: `ringhook.cursor.${uid}`,
  });
  state.stream = stream;
  stream.addEventListener('state', () => setStreamState(stream.state));
  stream.addEventListener('gap', () => {
    setStreamState('gap', 'Live, after a gap: some events were missed while away; the board may be behind.');
    showNotification('Some events were missed while disconnected.', 'error');
  });
  stream.connect().catch(() => {}); // a close() before it was live
}

export function disconnectStream() {
  state.stream?.close();
  state.stream = null;
  setStreamState('closed');
}

function apiBase() {
  return state.apiBase || location.origin;
}

export function setUpBoard() {
  $('#events-url').value = state.eventsUrl;
  $('#receiver-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.eventsUrl = $('#events-url').value.trim();
    localStorage.setItem('ringhook.eventsUrl', state.eventsUrl);
    $('#webhook-url').value = receiverWebhookUrl(state.eventsUrl);
  });
  $('#stream-toggle').addEventListener('click', () => (state.stream ? disconnectStream() : connectStream()));
  $('#sim-completed').addEventListener('click', (e) => busy(e.currentTarget, () => simulateCall('completed')));
  $('#sim-failed').addEventListener('click', (e) => busy(e.currentTarget, () => simulateCall('failed')));
  connectStream();
}
