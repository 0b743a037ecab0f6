// Sign-in: local Firebase Auth emulator tokens for the signed-in user, and the API client made with them.
import { $ } from './dom.js';
import { emulatorToken } from './emulator-token.js';
import { FIREBASE_PROJECT, isLocal, pkg, state } from './state.js';
import { connectStream, disconnectStream } from './board.js';
import { clearCards, loadSubscriptions } from './subscriptions.js';

/** An unsigned Firebase Auth emulator ID token for the local Worker (see emulator-token.js). */
export const mintEmulatorToken = (uid) => emulatorToken(uid, { project: FIREBASE_PROJECT });

export function makeClient() {
  state.client = state.uid
    ? new pkg.WebhookClient({ baseUrl: state.apiBase, token: () => mintEmulatorToken(state.uid) })
    : null;
}

export function renderAuth() {
  const signedIn = Boolean(state.uid);
  document.querySelectorAll('[data-auth="in"]').forEach((el) => { el.hidden = !signedIn; });
  document.querySelectorAll('[data-auth="out"]').forEach((el) => { el.hidden = signedIn; });
  $('#simulate').hidden = !signedIn || !isLocal();
  $('#whoami').textContent = signedIn ? `Signed in as ${state.uid}` : 'Not signed in';
  $('#uid-label').textContent = state.uid ?? '';
}

export function signIn(uid) {
  state.uid = uid;
  localStorage.setItem('ringhook.uid', uid);
  makeClient();
  renderAuth();
  loadSubscriptions();
  connectStream();
  $('#webhook-url').focus();
}

export function signOut() {
  state.uid = null;
  localStorage.removeItem('ringhook.uid');
  makeClient();
  disconnectStream();
  clearCards();
  $('#register-secret').replaceChildren();
  renderAuth();
  $('#uid').focus();
}
