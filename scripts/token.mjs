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
// The token is valid for one hour. It is made by www/emulator-token.js, as the dashboard makes its own.
import { emulatorToken } from '../www/emulator-token.js';

const uid = process.argv[2] ?? 'alice';
if (process.argv.length > 3 || uid === '' || uid.length > 128 || uid === '-h' || uid === '--help') {
  console.error('usage: node scripts/token.mjs [uid]   (uid: 1-128 characters, default alice)');
  process.exit(2);
}
console.log(emulatorToken(uid, { project: process.env.FIREBASE_PROJECT_ID || 'demo-ringhook' }));
