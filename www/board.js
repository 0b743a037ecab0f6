// The live call board (the setup guide's section 3): events from the demo receiver's stream go through
// CallEventDispatcher, and the page listens to callStatusChanged as the guide's components do.
import { $, busy, h, showNotification } from './dom.js';
import { pkg, state } from './state.js';
import { simulateCall } from './simulator.js';
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

export function setUpBoard() {
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
