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

// The floor of a publish for a user with no subscription, as source for a Miniflare script (with a KV namespace bound
// as KV): called as a method (`publish(id, event, body)`), the object runs the statements ringhook's object runs for
// such a publish (the id's state read; the body held, the id published, the live stream's row, and once every 64
// cursors its trim) and answers; an alarm FLUSH_AFTER_MS later writes the bodies held to KV as one group, as
// ringhook's flush does, and records where they went.
export const PUBLISH_FLOOR_OBJECT = `
import { DurableObject as PublishFloorBase } from 'cloudflare:workers';
const FLUSH_AFTER_MS = 3000; // ringhook's delivery::log::FLUSH_AFTER_MS
export class PublishFloor extends PublishFloorBase {
  constructor(state, env) {
    super(state, env);
    this.sql = state.storage.sql;
    this.sql.exec(\`CREATE TABLE IF NOT EXISTS published (event_id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS publishing (event_id TEXT PRIMARY KEY, admitted_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS stream (cursor INTEGER PRIMARY KEY, event TEXT NOT NULL, body TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS bodies_held (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS bodies_written (event_id TEXT PRIMARY KEY, body_key TEXT NOT NULL, expires_at INTEGER NOT NULL)\`);
    this.last = 0;
    this.due = false;
  }
  async publish(id, event, body) {
    const now = Math.floor(Date.now() / 1000);
    const [state] = this.sql.exec('SELECT EXISTS (SELECT 1 FROM published WHERE event_id = ? AND expires_at > ?) AS published, (SELECT admitted_at FROM publishing WHERE event_id = ?) AS admitted_at', id, now, id).toArray();
    if (state.published) return JSON.stringify({ id, duplicate: true });
    this.sql.exec('INSERT INTO bodies_held (event_id, body) SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM bodies_written WHERE event_id = ?) ON CONFLICT (event_id) DO NOTHING', id, body, id);
    this.sql.exec('INSERT INTO published (event_id, expires_at) VALUES (?, ?) ON CONFLICT (event_id) DO UPDATE SET expires_at = excluded.expires_at WHERE expires_at <= ?', id, now + 604800, now);
    const cursor = ++this.last;
    this.sql.exec('INSERT INTO stream (cursor, event, body, at) VALUES (?, ?, ?, ?)', cursor, event, body, now);
    // ringhook's stream::trims: the rows no longer kept go once every 64 cursors.
    if (cursor % 64 === 0) this.sql.exec('DELETE FROM stream WHERE cursor < ? OR at < ?', cursor - 999, now - 86400);
    if (!this.due) {
      this.due = true;
      await this.ctx.storage.setAlarm(Date.now() + FLUSH_AFTER_MS);
    }
    return JSON.stringify({ id, duplicate: false });
  }
  async alarm() {
    this.due = false;
    const held = this.sql.exec('SELECT seq, event_id, body FROM bodies_held ORDER BY seq LIMIT 500').toArray();
    if (held.length === 0) return;
    const key = 'bodies:' + held[0].event_id;
    await this.env.KV.put(key, JSON.stringify(held.map((row) => [row.event_id, row.body])));
    for (const row of held) this.sql.exec('INSERT INTO bodies_written (event_id, body_key, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', row.event_id, key, 0);
    this.sql.exec('DELETE FROM bodies_held WHERE seq <= ?', held.at(-1).seq);
  }
}`;
