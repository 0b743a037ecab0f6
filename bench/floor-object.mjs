// The per-user Durable Object of the benchmarks' JavaScript floors, as source for a Miniflare script: each request
// (to its fetch handler, or a call of its `write` method) writes one SQLite row (its body as the id), the least a
// call to ringhook's user object does, and answers `{"ok":true}`. A body that starts with `publish:` also sends one
// message to the QUEUE binding before the answer, as ringhook's object queues a publish's deliveries.
export const FLOOR_OBJECT = `
import { DurableObject } from 'cloudflare:workers';
export class FloorObject extends DurableObject {
  constructor(state, env) {
    super(state, env);
    this.sql = state.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, at INTEGER NOT NULL)');
  }
  async fetch(request) {
    await this.write(await request.text());
    return new Response('{"ok":true}', { headers: { 'content-type': 'application/json' } });
  }
  // The same called as a method (JavaScript RPC), as ringhook's Worker calls its objects: answers the body's text.
  async write(id) {
    this.sql.exec('INSERT OR REPLACE INTO seen (id, at) VALUES (?, ?)', id, Date.now());
    if (id.startsWith('publish:')) await this.env.QUEUE.send({ id });
    return '{"ok":true}';
  }
}`;
