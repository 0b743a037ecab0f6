// CallStore: every call's current state from a CallEventDispatcher, with the semantics React's
// useSyncExternalStore (and Vue's and Svelte's stores) rely on: the same snapshot until something changes, and
// one notification per change. And CallEventStream's refusals of options it cannot work with.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CallEventDispatcher, CallEventStream, CallStore } from 'ringhook';

const event = (id, callId, status, timestamp, type = 'call.status.changed') => ({
  id, event: type, callId, status, timestamp, data: { n: id },
});

describe('CallStore', () => {
  it('keeps the same snapshot until a change, and notifies once per change', () => {
    const dispatcher = new CallEventDispatcher();
    const store = new CallStore(dispatcher);
    let notified = 0;
    const unsubscribe = store.subscribe(() => { notified += 1; });
    const empty = store.getSnapshot();
    assert.deepEqual(empty, {});
    assert.equal(store.getSnapshot(), empty, 'unchanged: the same object');

    dispatcher.dispatch(event('e1', 'a', 'ringing', 10));
    const first = store.getSnapshot();
    assert.notEqual(first, empty);
    assert.equal(notified, 1);
    assert.deepEqual(first.a, { callId: 'a', event: 'call.status.changed', status: 'ringing', data: { n: 'e1' }, timestamp: 10 });
    assert.equal(store.getSnapshot(), first);

    // A duplicate and a stale update change nothing and notify no one.
    dispatcher.dispatch(event('e1', 'a', 'ringing', 10));
    dispatcher.dispatch(event('e0', 'a', 'initiated', 5));
    assert.equal(store.getSnapshot(), first);
    assert.equal(notified, 1);

    dispatcher.dispatch(event('e2', 'b', 'completed', 11, 'call.completed'));
    const second = store.getSnapshot();
    assert.equal(notified, 2);
    assert.deepEqual(Object.keys(second).sort(), ['a', 'b']);
    assert.equal(second.a, first.a, 'an unchanged call keeps its object');

    unsubscribe();
    dispatcher.dispatch(event('e3', 'a', 'completed', 12, 'call.completed'));
    assert.equal(notified, 2, 'no notification after unsubscribe');
    assert.equal(store.getSnapshot().a.status, 'completed');
  });

  it('leaves out events that are not about a call', () => {
    const dispatcher = new CallEventDispatcher();
    const store = new CallStore(dispatcher);
    dispatcher.dispatch({ id: 'n1', event: 'webhook.subscription.deactivated', callId: '', status: 'failed', timestamp: 1, data: {} });
    assert.deepEqual(store.getSnapshot(), {});
  });

  it('is frozen, so a component cannot change what others see', () => {
    const dispatcher = new CallEventDispatcher();
    const store = new CallStore(dispatcher);
    dispatcher.dispatch(event('e1', 'a', 'ringing', 10));
    assert.throws(() => { 'use strict'; store.getSnapshot().a.status = 'x'; }, TypeError);
  });
});

describe('CallEventStream options', () => {
  const dispatcher = new CallEventDispatcher();
  it('needs a dispatcher, a token, and a WebSocket', () => {
    assert.throws(() => new CallEventStream({ token: 't', WebSocket: class {} }), /dispatcher/);
    assert.throws(() => new CallEventStream({ dispatcher, WebSocket: class {} }), /token/);
    assert.throws(() => new CallEventStream({ dispatcher, token: 't', WebSocket: null }), /WebSocket/);
  });

  it('starts closed, with the cursor kept in its cursorStore', () => {
    const kept = new Map([['ringhook:stream-cursor', '41']]);
    const cursorStore = { getItem: (k) => kept.get(k) ?? null, setItem: (k, v) => kept.set(k, v) };
    const stream = new CallEventStream({ dispatcher, token: 't', WebSocket: class {}, cursorStore });
    assert.equal(stream.state, 'closed');
    assert.equal(stream.cursor, 41);
    assert.ok(stream instanceof EventTarget);
  });
});
