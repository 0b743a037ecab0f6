#!/usr/bin/env node
// Prints an unsigned Firebase Auth emulator ID token (alg "none", empty signature) for the local Worker of
// `make dev`, which accepts such tokens only while FIREBASE_AUTH_EMULATOR_HOST is set. Never valid in production.
//
//   node scripts/token.mjs alice                  # user id "alice", project $FIREBASE_PROJECT_ID or demo-ringhook
//   TOKEN=$(node scripts/token.mjs alice)
//   curl -s -H "Authorization: Bearer $TOKEN" http://localhost:8787/api/v6/call/webhook/subscriptions
//   curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
//     -d '{"webhook_url":"http://localhost:3000/api/webhook","events":["call.completed"]}' \
//     http://localhost:8787/api/v6/call/webhook/subscribe
//
// The token is valid for one hour.
const uid = process.argv[2] ?? 'alice';
if (process.argv.length > 3 || uid === '' || uid.length > 128 || uid === '-h' || uid === '--help') {
  console.error('usage: node scripts/token.mjs [uid]   (uid: 1-128 characters, default alice)');
  process.exit(2);
}
const project = process.env.FIREBASE_PROJECT_ID || 'demo-ringhook';
const now = Math.floor(Date.now() / 1000);
const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

const header = { alg: 'none', typ: 'JWT' };
const payload = {
  iss: `https://securetoken.google.com/${project}`,
  aud: project,
  auth_time: now - 10,
  user_id: uid,
  sub: uid,
  iat: now - 10,
  exp: now + 3600,
  firebase: { identities: {}, sign_in_provider: 'custom' },
};
console.log(`${b64url(header)}.${b64url(payload)}.`);
