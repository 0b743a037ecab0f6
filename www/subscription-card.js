// One subscription's card: state, actions (activate, edit events, rotate, delete), test sends and the delivery log.
import { $, busy, errorText, h, showNotification, when } from './dom.js';
import { ALL_EVENTS, state } from './state.js';
import { eventsFieldset, forgetCard, renderSubsStatus, secretPanel } from './subscriptions.js';
import { healthPanel, percent } from './health.js';

const LOG_PAGE = 10;

export function subscriptionCard(initial) {
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
  // The last window of delivery health loaded: the card's success rate and failure streak come from it.
  let health = null;
  const healthView = healthPanel(id, (stats) => { health = stats; update(sub); });

  const refresh = async () => {
    try { update(await state.client.get(id)); } catch { /* the list's Refresh shows errors */ }
    healthView.load();
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
        forgetCard(id);
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
  // Recover: every event not delivered since a time (dead-lettered, skipped while inactive, given up), again.
  const dayAgo = new Date(Date.now() - 24 * 3600 * 1000);
  const localValue = new Date(dayAgo.getTime() - dayAgo.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const since = h('input', { type: 'datetime-local', value: localValue, 'aria-label': 'Recover events not delivered since' });
  const recoverResult = h('p', { class: 'hint', role: 'status' });
  const recoverForm = h('form', { class: 'recover-form row' },
    h('label', {}, 'Not delivered since ', since),
    h('button', { type: 'submit', class: 'secondary' }, 'Recover failed deliveries'), recoverResult);
  recoverForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const at = Math.floor(new Date(since.value).getTime() / 1000);
    if (!Number.isFinite(at)) { recoverResult.textContent = 'Choose a date and time.'; return; }
    await busy(e.submitter, async () => {
      try {
        const r = await state.client.recover(id, at);
        recoverResult.classList.remove('error');
        recoverResult.textContent = r.events.length
          ? `Delivering ${r.events.length} event${r.events.length === 1 ? '' : 's'} again, oldest first.`
          : 'Nothing to recover: every event since then was delivered or is still being retried.';
        loadLog(true);
      } catch (err) {
        recoverResult.classList.add('error');
        recoverResult.textContent = errorText(err);
      }
    });
  });
  logPanel.append(h('div', { class: 'row spread' }, h('h3', {}, 'Deliveries, newest first'), reload), recoverForm, logStatus, logList, more);

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
    testForm, testResult, panel, healthView.el, logPanel);
  healthView.load();

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
      ...row('Success rate', health?.totals.success_rate == null ? '—'
        : `${percent(health.totals.success_rate)} (${health.window === '7d' ? '7 days' : '24 h'})`),
      ...row('Failure streak', String(health?.failure_streak ?? sub.failure_count)),
      ...row('Last error', sub.last_failure_reason ? [sub.last_failure_reason, ' (', when(sub.last_failure_at), ')'] : '—'),
      ...(sub.failing_since ? row('Failing since', when(sub.failing_since)) : []),
      ...(sub.deactivated_at ? row('Deactivated', when(sub.deactivated_at), sub.deactivation_reason ? ` (${sub.deactivation_reason})` : '') : []),
      ...row('Created', when(sub.created_at)),
      ...row('Updated', when(sub.updated_at)));
  }
  return { el, update };
}
