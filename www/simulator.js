// Simulated calls (local only): publishes a call's life as the call system would, with the local publishing token.
import { $, showNotification, sleep } from './dom.js';
import { LOCAL_PUBLISH_TOKEN, apiUrl, state } from './state.js';

const SIM_STEP_MS = 400;

const LIFE = [['call.initiated', 'initiated'], ['call.status.changed', 'ringing'], ['call.status.changed', 'in-progress']];

/** Publishes a call's life (a few hundred ms apart, increasing occurred_at) as the call system would. */
export async function simulateCall(outcome, extraData = {}) {
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
