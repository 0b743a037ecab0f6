// The per-user Durable Object of the benchmarks' JavaScript floors, as source for a Miniflare script: each request
// writes one SQLite row (its body as the id), the least a call to ringhook's user object does, and answers
// `{"ok":true}`.
export const FLOOR_OBJECT = `
export class FloorObject {
  constructor(state) {
    this.sql = state.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, at INTEGER NOT NULL)');
  }
  async fetch(request) {
    this.sql.exec('INSERT OR REPLACE INTO seen (id, at) VALUES (?, ?)', await request.text(), Date.now());
    return new Response('{"ok":true}', { headers: { 'content-type': 'application/json' } });
  }
}`;
