// The user's webhooks: registering one, the list of subscription cards, and showing a new secret once.
import { $, busy, errorText, h } from './dom.js';
import { ALL_EVENTS, CALL_EVENTS, isLocal, state } from './state.js';
import { subscriptionCard } from './subscription-card.js';

export function eventsFieldset(selected) {
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
export function secretPanel(host, secret, webhookUrl, note) {
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

/** The demo receiver's webhook URL, beside its event stream. */
export function receiverWebhookUrl(eventsUrl) {
  try {
    return new URL('/api/webhook', eventsUrl).href;
  } catch {
    return '';
  }
}

export function setUpRegister() {
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

const cards = new Map(); // id → { el, update(sub) }

export function renderSubsStatus(message, isError = false) {
  const status = $('#subs-status');
  status.classList.toggle('error', isError);
  status.textContent = message ?? (cards.size ? '' : 'No webhooks yet. Register one above.');
}

export async function loadSubscriptions() {
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

export function upsertCard(sub) {
  let card = cards.get(sub.id);
  if (!card) {
    card = subscriptionCard(sub);
    cards.set(sub.id, card);
    $('#subs').append(card.el);
  }
  card.update(sub);
}

/** Removes every card (on sign-out). */
export function clearCards() {
  cards.forEach((card) => card.el.remove());
  cards.clear();
}

/** Removes the card of a deleted subscription. */
export function forgetCard(id) {
  cards.get(id)?.el.remove();
  cards.delete(id);
}
