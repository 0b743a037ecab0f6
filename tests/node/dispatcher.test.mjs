// CallEventDispatcher through import and require: duplicates and stale updates dropped by the core's decision,
// handlers by type, the bounded memory of ids, positions at every timestamp's size, the setup guide's
// CustomEvent, receive() verifying first, and the refusals of options and events it cannot work with.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as esm from 'ringhook';

const cjs = createRequire(import.meta.url)('ringhook');
const SECRET = 'whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
/** The core's number of remembered ids (frontend::dispatch::REMEMBERED_IDS). */
const REMEMBERED_IDS = 10_000;

const event = (id, callId, timestamp, type, status) => ({ id, event: type, callId, status, timestamp, data: { n: 1 } });

for (const [entry, { CallEventDispatcher, signWebhook }] of Object.entries({ import: esm, require: cjs })) {
  describe(`CallEventDispatcher via ${entry}`, () => {
    it('drops duplicates and stale updates, and routes by type', () => {
      const d = new CallEventDispatcher();
      const all = [];
      const completed = [];
      const record = (log) => (e) => log.push(`${e.callId}:${e.status}`);
      d.on('*', record(all));
      d.on('call.completed', record(completed));
      assert.equal(d.dispatch(event('e1', 'c1', 10, 'call.initiated', 'initiated')), true);
      assert.equal(d.dispatch(event('e3', 'c1', 12, 'call.status.changed', 'in-progress')), true);
      assert.equal(d.dispatch(event('e2', 'c1', 11, 'call.status.changed', 'ringing')), false, 'older: stale');
      assert.equal(d.dispatch(event('e3', 'c1', 12, 'call.status.changed', 'in-progress')), false, 'duplicate id');
      assert.equal(d.dispatch(event('e4', 'c1', 12, 'call.completed', 'completed')), true, 'same second, later status');
      assert.equal(d.dispatch(event('e5', 'c2', 1, 'call.failed', 'failed')), true, 'another call');
      assert.deepEqual(all, ['c1:initiated', 'c1:in-progress', 'c1:completed', 'c2:failed']);
      assert.deepEqual(completed, ['c1:completed']);
      const extra = record(all);
      d.on('call.failed', extra);
      d.off('call.failed', extra);
      d.dispatch(event('e6', 'c3', 1, 'call.failed', 'failed'));
      assert.equal(all.length, 5, 'off() removed the extra handler');
    });

    it('remembers a bounded number of ids, and each call position at any timestamp', () => {
      const d = new CallEventDispatcher();
      for (let i = 0; i <= REMEMBERED_IDS; i += 1) {
        assert.equal(d.dispatch(event(`e${i}`, '', 0, 'webhook.test', 'completed')), true);
      }
      assert.equal(d.dispatch(event('e0', '', 0, 'webhook.test', 'completed')), true, 'the oldest id was forgotten');
      assert.equal(d.dispatch(event(`e${REMEMBERED_IDS}`, '', 0, 'webhook.test', 'completed')), false, 'the newest is remembered');
      for (const [n, ts] of [[0, -5], [1, 1_764_355_200], [2, 2 ** 48]]) {
        const call = `call${n}`;
        assert.equal(d.dispatch(event(`a${n}`, call, ts, 'call.status.changed', 'ringing')), true);
        assert.equal(d.dispatch(event(`b${n}`, call, ts, 'call.status.changed', 'initiated')), false, `${ts}: same second, earlier status`);
        assert.equal(d.dispatch(event(`c${n}`, call, ts - 1, 'call.completed', 'completed')), false, `${ts}: a second earlier`);
        assert.equal(d.dispatch(event(`d${n}`, call, ts, 'call.completed', 'completed')), true, `${ts}: same second, later status`);
      }
    });

    it('orders an update without a timestamp or status first, and one without a call only by its id', () => {
      const d = new CallEventDispatcher();
      assert.equal(d.dispatch(event('e1', 'c1', 5, 'call.status.changed', 'queued')), true);
      assert.equal(d.dispatch({ id: 'e2', event: 'call.status.changed', callId: 'c1', status: 'ringing' }), false, 'no timestamp: stale');
      assert.equal(d.dispatch({ id: 'e3', event: 'call.status.changed', callId: 'c1', timestamp: 5 }), false, 'no status: stale at the same second');
      assert.equal(d.dispatch({ id: 'e4', event: 'webhook.test', timestamp: 1 }), true, 'no call');
      assert.equal(d.dispatch({ id: 'e4', event: 'webhook.test', timestamp: 1 }), false, 'no call, same id');
    });

    it("fires the setup guide's CustomEvent on a target", () => {
      const target = new EventTarget();
      const seen = [];
      target.addEventListener('callStatusChanged', (e) => seen.push(e.detail));
      const d = new CallEventDispatcher({ target });
      d.dispatch(event('e1', 'c9', 5, 'call.completed', 'completed'));
      assert.deepEqual(seen, [{ event: 'call.completed', callId: 'c9', status: 'completed', data: { n: 1 } }]);
    });

    it('receive() verifies before dispatching', () => {
      const d = new CallEventDispatcher({ secretKey: SECRET });
      const body = JSON.stringify(event('evt_r', 'c1', Math.floor(Date.now() / 1000), 'call.completed', 'completed'));
      const headers = signWebhook(body, SECRET);
      assert.equal(d.receive(body, headers), true);
      assert.equal(d.receive(body, headers), false, 'a redelivery is a duplicate');
      assert.throws(() => d.receive(body.replace('"completed"', '"failed"'), headers),
        { name: 'WebhookVerificationError', code: 'signature_mismatch' });
      const strict = new CallEventDispatcher({ secretKey: SECRET, toleranceSeconds: 10 });
      const old = JSON.stringify(event('evt_o', 'c2', 1000, 'call.completed', 'completed'));
      assert.throws(() => strict.receive(old, signWebhook(old, SECRET, { timestamp: 1000 })), { code: 'timestamp_too_old' });
    });

    it('refuses options and events it cannot work with, with a TypeError that says why', () => {
      assert.throws(() => new CallEventDispatcher({ eventName: 5 }), { name: 'TypeError', message: 'eventName must be a string' });
      assert.throws(() => new CallEventDispatcher({ target: {} }), { name: 'TypeError', message: /EventTarget/ });
      assert.throws(() => new CallEventDispatcher({ target: null }), { name: 'TypeError', message: /EventTarget/ });
      const d = new CallEventDispatcher();
      assert.throws(() => d.receive('{}', {}), { name: 'TypeError', message: /secretKey/ });
      assert.throws(() => d.dispatch({ event: 'call.completed' }), { name: 'TypeError', message: /no id/ });
      assert.throws(() => d.dispatch(null), { name: 'TypeError', message: /no id/ });
      assert.throws(() => d.dispatch({ id: 'e1' }), { name: 'TypeError', message: /no event type/ });
    });

    it('keeps free() and Symbol.dispose for code that disposed of the wasm object', () => {
      const d = new CallEventDispatcher();
      d.free();
      if (Symbol.dispose) d[Symbol.dispose]();
      assert.equal(d.dispatch(event('e1', 'c1', 1, 'call.completed', 'completed')), true);
    });
  });
}
