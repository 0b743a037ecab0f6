// Unsigned Firebase Auth emulator ID tokens (alg "none", empty signature part), the one place they are made: the
// dashboard's local sign-in, `make token`, the Worker tests and the API benchmark all use this module. Only a
// Worker with FIREBASE_AUTH_EMULATOR_HOST set (local development) accepts them; never valid in production.
// Runs in browsers and in Node (TextEncoder and btoa are globals in both).

const base64url = (value) => {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};

/**
 * An emulator token for `uid` in Firebase project `project`, issued at `now` (Unix seconds) and valid for an hour.
 * `claims` override or add claims (e.g. an `exp` in the past, to test refusals).
 */
export function emulatorToken(uid, { project = 'demo-ringhook', now = Math.floor(Date.now() / 1000), claims = {} } = {}) {
  const payload = {
    iss: `https://securetoken.google.com/${project}`,
    aud: project,
    auth_time: now - 10,
    user_id: uid,
    sub: uid,
    iat: now - 10,
    exp: now + 3600,
    firebase: { identities: {}, sign_in_provider: 'custom' },
    ...claims,
  };
  return `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`;
}
