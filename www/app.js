// The ringhook dashboard: webhooks of the signed-in user (WebhookClient) and a live call board fed by
// CallEventStream through CallEventDispatcher. Plain ES modules, no build step, one per screen:
// signin.js, subscriptions.js with subscription-card.js, board.js and simulator.js; dom.js and state.js are shared.
import { setUpBoard, setUpDispatcher } from './board.js';
import { $, busy, showNotification } from './dom.js';
import { makeClient, renderAuth, signIn, signOut } from './signin.js';
import { pkg, state } from './state.js';
import { loadSubscriptions, setUpRegister } from './subscriptions.js';

async function start() {
  const boot = $('#boot');
  try {
    Object.assign(pkg, await import('/pkg/index.js'));
    if (!pkg.WebhookClient || !pkg.CallEventDispatcher || !pkg.CallEventStream) {
      throw new Error('this build lacks WebhookClient, CallEventDispatcher or CallEventStream');
    }
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
