// The per-user Durable Object of the benchmarks' JavaScript floors, as source for a Miniflare script: each request
// writes one SQLite row (its body as the id), the least a call to ringhook's user object does, and answers
// `{"ok":true}`. A body that starts with `publish:` also sends one message to the QUEUE binding before the answer,
// as ringhook's object queues a publish's deliveries.
export const FLOOR_OBJECT = `
export class FloorObject {
  constructor(state, env) {
    this.env = env;
    this.sql = state.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, at INTEGER NOT NULL)');
  }
  async fetch(request) {
    const id = await request.text();
    this.sql.exec('INSERT OR REPLACE INTO seen (id, at) VALUES (?, ?)', id, Date.now());
    if (id.startsWith('publish:')) await this.env.QUEUE.send({ id });
    return new Response('{"ok":true}', { headers: { 'content-type': 'application/json' } });
  }
}`;
