//! The per-user Durable Object: the single writer of one user's mutable state (subscriptions with their sealed
//! secrets and failure state, the ids of published events, rate-limit windows), kept in its SQLite storage.
//!
//! Each command loads the rows it needs, calls the core's decision (`ringhook::service::object`, `ringhook::delivery`,
//! `ringhook::service::subscriptions`) and writes the result with synchronous SQL, with no wait in between: nothing else
//! the object is asked runs between a command's read and its write. The waits are the first touch, when a user's
//! document from the old KV layout is moved in, and a publish's sending of its deliveries to the queue, while its
//! events are marked pending.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use ringhook::delivery::stats::{self, Kind};
use ringhook::delivery::{self, AttemptKey, AttemptState, DeliveryMessage, DeliveryRecord, Target, LOG_TTL_SECS};
use ringhook::model::keys;
use ringhook::model::store::{StoreError, SubscriptionStore, UserDocument};
use ringhook::service::http::{reply, ApiError, Reply};
use ringhook::service::object::{self, Command, Committed, Notice, PublishState, Settlement, StreamOpen};
use ringhook::service::ratelimit::{self, Window};
use ringhook::service::stream;
use ringhook::service::subscriptions::{find, Service};
use ringhook::EventType;
use serde::Deserialize;
use wasm_bindgen::prelude::wasm_bindgen;
use worker::worker_sys::WebSocketRequestResponsePair;
use worker::{
    console_error, durable_object, DurableObject, Env, Request, Response, SqlStorage, State, WebSocket,
    WebSocketIncomingMessage,
};

use crate::attempts::{self, Recorded};
use crate::config;
use crate::flush;
use crate::http::{self, now_seconds, random_bytes, CryptoRandom, RuntimeUrls};
use crate::kv_store;
use crate::live;
use crate::pipeline;
use crate::sql::{self, exec};

/// The tables, created when an object first runs (see [`SCHEMA_VERSION`]). Rows of `subscriptions` hold a
/// `StoredSubscription` as JSON.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS subscriptions (id TEXT PRIMARY KEY, position INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS published (event_id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS publishing (event_id TEXT PRIMARY KEY, admitted_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS published_by_expiry ON published (expires_at);
CREATE TABLE IF NOT EXISTS limits (name TEXT PRIMARY KEY, start INTEGER NOT NULL, used INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (subscription_id TEXT NOT NULL, event_id TEXT NOT NULL, series TEXT NOT NULL,
  attempt INTEGER NOT NULL, claimed_at INTEGER NOT NULL, done TEXT, expires_at INTEGER NOT NULL,
  followed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (subscription_id, event_id, series, attempt));
CREATE INDEX IF NOT EXISTS attempts_by_expiry ON attempts (expires_at);
CREATE TABLE IF NOT EXISTS stats_hours (subscription_id TEXT NOT NULL, hour INTEGER NOT NULL,
  delivered INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0, retried INTEGER NOT NULL DEFAULT 0,
  dead_lettered INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (subscription_id, hour));
CREATE TABLE IF NOT EXISTS stats_latency (subscription_id TEXT NOT NULL, hour INTEGER NOT NULL, bucket INTEGER NOT NULL,
  count INTEGER NOT NULL, PRIMARY KEY (subscription_id, hour, bucket));
CREATE TABLE IF NOT EXISTS stats_skips (subscription_id TEXT NOT NULL, event_id TEXT NOT NULL, series TEXT NOT NULL,
  attempt INTEGER NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (subscription_id, event_id, series, attempt));
";

/// The version of the tables this build lays out ([`SCHEMA`], [`live::SCHEMA`], [`flush::SCHEMA`], and what
/// [`attempts::upgrade`] and [`flush::upgrade`] change), kept in `meta` once they are in place: an object that has
/// them starts without creating or upgrading anything, one stored by an earlier version (no version, or another)
/// has them created and upgraded first. Raise it with any change to them.
const SCHEMA_VERSION: &str = "2";

/// What an object keeps in `meta` about itself: its tables' version, its user, and whether an old KV document
/// was looked for.
const STARTING: &str = "SELECT name, value FROM meta WHERE name IN ('schema', 'uid', 'moved_in')";

/// The limit behind `POST /test`.
const TEST_LIMIT: &str = "test";

#[durable_object]
pub struct UserState {
    state: State,
    env: Env,
    /// Whether the old KV document has been looked for (remembered in `meta` too).
    moved_in: Cell<bool>,
    /// When the alarm that writes the log buffer is due, if one is known to be set.
    flush_due: Cell<Option<f64>>,
    /// The user's subscriptions as last read or written (see [`Rows`]).
    document: RefCell<Option<Rc<UserDocument>>>,
    /// When expired rows were last deleted (unix seconds; see [`UserState::sweep`]), while in memory.
    swept_at: Cell<i64>,
    /// The live stream's last cursor as last written, while in memory (see [`live::append`]).
    stream_last: Cell<Option<u64>>,
    /// Commits of published events begun while in memory: a publish that waited for the queue reads its events'
    /// state again only if another began meanwhile (see [`UserState::commit`]).
    commits: Cell<u64>,
}

/// How often an object deletes its expired rows (see [`UserState::sweep`]).
const SWEEP_EVERY_SECS: i64 = 60;

impl DurableObject for UserState {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        // A new object has no `meta` table yet: nothing read.
        let meta: Vec<MetaRow> = sql::select(&sql, STARTING, None).unwrap_or_default();
        let kept = |name: &str| meta.iter().find(|row| row.name == name).map(|row| row.value.as_str());
        if kept("schema") != Some(SCHEMA_VERSION) {
            lay_out(&sql);
        }
        // Pings are answered without waking the object.
        match WebSocketRequestResponsePair::new(stream::PING, stream::PONG) {
            Ok(pair) => state.set_websocket_auto_response(&pair),
            Err(e) => console_error!("user object: the ping auto-response: {e:?}"),
        }
        Self {
            state,
            env,
            // Its user is known and an old document was looked for when it first ran (objects stored before the
            // user was kept have it written on their first command).
            moved_in: Cell::new(kept("uid").is_some() && kept("moved_in").is_some()),
            flush_due: Cell::new(None),
            document: RefCell::new(None),
            swept_at: Cell::new(i64::MIN),
            stream_last: Cell::new(None),
            commits: Cell::new(0),
        }
    }

    async fn fetch(&self, mut request: Request) -> worker::Result<Response> {
        if let Some(open) = request.headers().get(object::STREAM_HEADER)? {
            let opened = match (serde_json::from_str::<StreamOpen>(&open), config::settings(&self.env)) {
                (Ok(open), Ok(settings)) => {
                    let limit = settings.stream_sockets_per_user;
                    live::open(&self.state, &self.sql(), &open, limit, now_seconds()).await
                }
                (Err(e), _) => Err(ApiError::internal(format!(
                    "user object: unreadable stream request: {e}"
                ))),
                (_, Err(e)) => Err(e),
            };
            return opened.or_else(|e| http::error(&e, None));
        }
        // Read as text and parsed here: workers-rs's `Request::json` parses in JavaScript and then walks the
        // resulting object from Rust, one call into the runtime per field, which cost a command carrying a hundred
        // attempts more than applying it.
        match request.text().await {
            Ok(text) => match self.command(&text).await {
                Ok(reply) => http::json(reply.status, &reply.body, None),
                Err(e) => http::error(&e, None),
            },
            Err(e) => http::error(&logged(unreadable(e.to_string())), None),
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> worker::Result<()> {
        let text = match &message {
            WebSocketIncomingMessage::String(text) => Some(text.as_str()),
            WebSocketIncomingMessage::Binary(_) => None,
        };
        live::message(&self.sql(), &ws, text, now_seconds());
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _was_clean: bool,
    ) -> worker::Result<()> {
        live::closed(&ws, code, &reason);
        Ok(())
    }

    async fn websocket_error(&self, _ws: WebSocket, error: worker::Error) -> worker::Result<()> {
        console_error!("user object: a socket failed: {error}");
        Ok(())
    }

    async fn alarm(&self) -> worker::Result<Response> {
        live::expire(&self.state, now_seconds()).await;
        self.flush_due.set(None);
        let sql = self.sql();
        let uid = match sql::select::<ValueRow>(&sql, "SELECT value FROM meta WHERE name = 'uid'", None) {
            Ok(rows) => rows.into_iter().next().map(|row| row.value),
            Err(e) => {
                console_error!("user object: reading its user: {}", e.internal.unwrap_or(e.message));
                None
            }
        };
        if let Some(next) = flush::run(&sql, &self.env, uid.as_deref()).await {
            live::alarm_by(&self.state, next).await;
            self.flush_due.set(Some(next));
        }
        Response::empty()
    }
}

/// Creates the tables an object lacks and upgrades those an earlier version laid out, then records their version
/// (only when every step succeeded, so that a failed one is tried again when the object next starts).
fn lay_out(sql: &SqlStorage) {
    let mut failed = false;
    for schema in [SCHEMA, live::SCHEMA, flush::SCHEMA] {
        if let Err(e) = sql.exec(schema, None) {
            console_error!("user object: creating tables: {e}");
            failed = true;
        }
    }
    if let Err(e) = attempts::upgrade(sql) {
        console_error!(
            "user object: upgrading its attempts: {}",
            e.internal.unwrap_or(e.message)
        );
        failed = true;
    }
    if let Err(e) = flush::upgrade(sql) {
        console_error!(
            "user object: upgrading its log buffer: {}",
            e.internal.unwrap_or(e.message)
        );
        failed = true;
    }
    if failed {
        return;
    }
    let recorded = exec(
        sql,
        "INSERT INTO meta (name, value) VALUES ('schema', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        vec![SCHEMA_VERSION.into()],
    );
    if let Err(e) = recorded {
        console_error!(
            "user object: recording its tables' version: {}",
            e.internal.unwrap_or(e.message)
        );
    }
}

#[derive(Deserialize)]
struct MetaRow {
    name: String,
    value: String,
}

/// Commands called as a method (JavaScript RPC) rather than through `fetch`: the Worker's way (see `users::call`),
/// with no request and response to build and read on either side. `fetch` still takes them, from a Worker of the
/// previous version while a new one is deployed.
#[wasm_bindgen]
impl UserState {
    /// Applies a command ([`object::Request`] as JSON); its answer as [`object::answer_text`] writes it.
    #[wasm_bindgen(js_name = command)]
    pub async fn command_method(&self, text: String) -> String {
        object::answer_text(&self.command(&text).await)
    }
}

fn unreadable(e: String) -> ApiError {
    ApiError::internal(format!("user object: unreadable command: {e}"))
}

/// A command's failure, its detail logged: the answer carries none.
fn logged(e: ApiError) -> ApiError {
    if let Some(detail) = &e.internal {
        console_error!("user object: {} {}: {detail}", e.status, e.code);
    }
    e
}

impl UserState {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    /// Applies a command sent as JSON text; a failure is logged here, with its detail, and answered without it.
    async fn command(&self, text: &str) -> Result<Reply, ApiError> {
        let answer = match serde_json::from_str::<object::Request>(text) {
            Ok(request) => self.answer(request).await,
            Err(e) => Err(unreadable(e.to_string())),
        };
        answer.map_err(logged)
    }

    async fn answer(&self, request: object::Request) -> Result<Reply, ApiError> {
        let logs = matches!(request.command, Command::Publish { .. } | Command::Settle { .. });
        let reply = self.apply(request).await;
        // Records the command added to the log buffer are written by the alarm.
        if logs && reply.is_ok() {
            flush::schedule(&self.state, &self.flush_due).await;
        }
        reply
    }

    async fn apply(&self, request: object::Request) -> Result<Reply, ApiError> {
        self.move_in(&request.uid).await?;
        let uid = request.uid.as_str();
        let settings = config::settings(&self.env)?;
        let sql = self.sql();
        let rows = Rows {
            sql: &sql,
            cache: &self.document,
        };
        let now = now_seconds();
        if settings.storage_key.previous_id().is_some() {
            reseal(&rows, &settings.storage_key)?;
        }
        match request.command {
            Command::Api { op, body } => Service {
                store: &rows,
                config: &settings.api,
                key: &settings.storage_key,
                now,
                random: CryptoRandom,
                urls: &RuntimeUrls,
            }
            .handle(&op, body.as_bytes()),
            Command::Publish { events } => {
                let document = rows.read()?;
                self.sweep(&sql, now)?;
                let states = events
                    .iter()
                    .map(|e| publish_state(&sql, &e.id, now))
                    .collect::<Result<Vec<_>, _>>()?;
                let admissions = object::admit(&document, &events, states, now);
                let mut new = Vec::new();
                let (mut at_once, mut queued) = (Vec::new(), Vec::new());
                for (event, admission) in events.iter().zip(&admissions) {
                    if admission.duplicate {
                        continue;
                    }
                    let (first, rest) =
                        delivery::first_messages(uid, &admission.fan_out, &event.id, event.event, &event.body);
                    at_once.extend(first);
                    queued.extend(rest);
                    new.push(event);
                }
                // An event is published once its deliveries are on the queue: until then its id is only pending,
                // and a refusal releases it, so that the publisher's retry with the same id goes through. Should the
                // object stop between the queue and the commit, the id reads as a duplicate for the lease, then as
                // new, and nothing was claimed: the queue messages make every attempt, each once. Events with no
                // delivery to queue (a user who only has the live stream) are published in this same step, with
                // no wait in which another command could see them pending: they are not marked.
                let claim: Vec<AttemptKey> = at_once.iter().map(DeliveryMessage::key).collect();
                let mut marked = Marked::No;
                if !(queued.is_empty() && at_once.is_empty()) {
                    let commits = self.commits.get();
                    for event in &new {
                        exec(
                            &sql,
                            "INSERT INTO publishing (event_id, admitted_at) VALUES (?, ?) \
                             ON CONFLICT (event_id) DO UPDATE SET admitted_at = excluded.admitted_at",
                            vec![event.id.as_str().into(), now.into()],
                        )?;
                    }
                    if let Err(e) = pipeline::queue_first(&self.env, &settings, queued, at_once).await {
                        for event in &new {
                            forget_pending(&sql, &event.id)?;
                        }
                        return Err(ApiError::unavailable(e.internal.unwrap_or(e.message)));
                    }
                    marked = Marked::Pending {
                        others_committed: self.commits.get() != commits,
                    };
                }
                let claims = self.commit(&rows, uid, &new, &claim, marked, now)?;
                reply(200, &object::Publication { admissions, claims })
            }
            Command::Followed { attempts: keys } => {
                let states = attempts::states(&sql, &keys)?;
                let done: Vec<_> = keys
                    .iter()
                    .zip(&states)
                    .filter(|(_, state)| matches!(state, AttemptState::Done(_)))
                    .map(|(key, _)| key)
                    .collect();
                attempts::mark_followed(&sql, &done)?;
                reply(200, &keys.len())
            }
            Command::Unclaim { attempts } => {
                for key in &attempts {
                    exec(
                        &sql,
                        "DELETE FROM attempts WHERE subscription_id = ? AND event_id = ? AND series = ? \
                         AND attempt = ? AND done IS NULL",
                        attempts::key_values(key),
                    )?;
                }
                reply(200, &attempts.len())
            }
            Command::IssueTicket { nonce, expires_at } => {
                live::issue_ticket(&sql, &nonce, expires_at, now)?;
                reply(200, &true)
            }
            Command::Subscription { id } => reply(200, &find(&*rows.read()?, &id)?.public),
            Command::Kept { ids } => reply(200, &flush::kept(&sql, &ids)?),
            Command::Unwritten { id } => {
                find(&*rows.read()?, &id)?;
                reply(200, &flush::unwritten_records(&sql, &id)?)
            }
            Command::TestTarget { url, per_minute } => {
                let document = rows.read()?;
                let stored = object::by_url(&document, &url)?;
                self.take(TEST_LIMIT, per_minute, now, "test sends a minute are used up")?;
                reply(200, stored)
            }
            Command::Take { name, per_minute } => {
                self.take(&name, per_minute, now, &format!("{name} requests a minute are used up"))?;
                reply(200, &true)
            }
            Command::Targets { attempts: keys } => {
                let document = rows.read()?;
                self.sweep(&sql, now)?;
                let targets = object::targets(&document, &keys, attempts::states(&sql, &keys)?, now);
                let mut sends = Vec::new();
                for (key, target) in keys.iter().zip(&targets) {
                    match target {
                        Target::Send(_) => sends.push(Recorded::Claimed(key)),
                        Target::Skip(_) => attempts::count_skip(&sql, key, now)?,
                        _ => {}
                    }
                }
                attempts::record(&sql, &sends, now)?;
                reply(200, &targets)
            }
            Command::Settle { reports } => {
                let before = rows.read()?;
                let mut document = UserDocument::clone(&before);
                let policy = &settings.delivery.policy;
                let (settled, deactivated) = object::settle_all(&mut document, &reports, policy, now, jitter);
                if document != *before {
                    rows.save(&document)?;
                }
                self.sweep(&sql, now)?;
                let keys: Vec<AttemptKey> = reports.iter().map(|report| report.key.clone()).collect();
                let states = attempts::states(&sql, &keys)?;
                let repeats = object::repeated(&reports);
                let (mut logged, mut made) = (Vec::new(), Vec::new());
                for (i, (report, done)) in reports.iter().zip(&settled).enumerate() {
                    // An attempt applied before (its message came again) is counted, logged and recorded once: the
                    // first record stands, and what follows from it is what its maker carries out.
                    if repeats[i] || matches!(states[i], AttemptState::Done(_) | AttemptState::Finished) {
                        continue;
                    }
                    logged.push(flush::Logged {
                        counted: attempts::Counted {
                            subscription_id: &report.key.subscription_id,
                            kind: Kind::of(done.record.outcome, done.retry_in),
                            duration_ms: Some(report.sent.duration_ms),
                        },
                        record: &done.record,
                    });
                    // A delivered attempt, which nothing follows, is finished as it is recorded.
                    made.push(match done.ends_here() {
                        true => Recorded::Finished(&report.key),
                        false => {
                            let text = serde_json::to_string(done).map_err(|e| ApiError::internal(e.to_string()))?;
                            Recorded::Done(&report.key, text)
                        }
                    });
                }
                flush::add_records(&sql, uid, &logged, now)?;
                attempts::record(&sql, &made, now)?;
                let mut notices = Vec::with_capacity(deactivated.len());
                for subscription in &deactivated {
                    let notice = delivery::deactivation_notice(subscription, http::new_event_id(), now);
                    let event = EventType::SubscriptionDeactivated;
                    let fan_out = delivery::fan_out(&document, event);
                    let skipped = delivery::skipped_records(&fan_out, &notice.id, event, now);
                    log_skips(&sql, uid, &skipped, now)?;
                    notices.push(Notice {
                        body: notice.to_body(),
                        event_id: notice.id,
                        fan_out,
                    });
                }
                reply(200, &Settlement::new(settled, notices))
            }
            Command::Count {
                subscription_id,
                outcome,
                retry_in,
                duration_ms,
            } => {
                self.sweep(&sql, now)?;
                let counted = attempts::Counted {
                    subscription_id: &subscription_id,
                    kind: Kind::of(outcome, retry_in),
                    duration_ms: Some(duration_ms),
                };
                attempts::count(&sql, &[counted], now)?;
                reply(200, &true)
            }
            Command::Stats { id, window } => {
                let window = stats::Window::parse(Some(&window))?;
                let document = rows.read()?;
                let failure_streak = find(&document, &id)?.public.failure_count;
                let stored = read_stats(&sql, &id, window.start(now))?;
                reply(200, &stats::summarize(&id, window, now, &stored, failure_streak))
            }
        }
    }

    /// Takes one use of the limit `name`, or answers 429 with the wait.
    fn take(&self, name: &str, per_minute: u32, now: i64, what: &str) -> Result<(), ApiError> {
        let sql = self.sql();
        let stored: Vec<Window> =
            sql::select(&sql, "SELECT start, used FROM limits WHERE name = ?", vec![name.into()])?;
        let window = ratelimit::take(stored.first().copied(), per_minute, now)
            .map_err(|wait| ApiError::rate_limited(what, wait))?;
        exec(
            &sql,
            "INSERT INTO limits (name, start, used) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET start = excluded.start, used = excluded.used",
            vec![name.into(), window.start.into(), i64::from(window.used).into()],
        )?;
        Ok(())
    }

    /// Publishes admitted events whose deliveries are on the queue: each not published before has its body kept
    /// for redelivery, its skips of inactive subscriptions logged (and counted in their health), and is appended
    /// to the live stream, in the same step, so exactly once. Then claims the first attempts to make at once.
    /// Only another commit publishes an id (the sweep only forgets expired ones), so events are read again only if
    /// one began while they waited; otherwise each is as admitted, new.
    fn commit(
        &self,
        rows: &Rows<'_>,
        uid: &str,
        events: &[&Committed],
        claim: &[AttemptKey],
        marked: Marked,
        now: i64,
    ) -> Result<object::Claims, ApiError> {
        // Counted before any write, so that a publish waiting meanwhile reads its events again even if this one fails.
        self.commits.set(self.commits.get().wrapping_add(1));
        let sql = rows.sql;
        let expires_at = now + LOG_TTL_SECS as i64;
        let recheck = matches!(marked, Marked::Pending { others_committed: true });
        let mut new = Vec::with_capacity(events.len());
        for &committed in events {
            if !recheck || publish_state(sql, &committed.id, now)? != PublishState::Published {
                flush::add_body(sql, &committed.id, &committed.body)?;
                new.push(committed);
            }
            exec(
                sql,
                "INSERT INTO published (event_id, expires_at) VALUES (?, ?) \
                 ON CONFLICT (event_id) DO UPDATE SET expires_at = excluded.expires_at WHERE expires_at <= ?",
                vec![committed.id.as_str().into(), expires_at.into(), now.into()],
            )?;
            if matches!(marked, Marked::Pending { .. }) {
                forget_pending(sql, &committed.id)?;
            }
        }
        if !new.is_empty() {
            let document = rows.read()?;
            let skipped: Vec<_> = new
                .iter()
                .flat_map(|committed| {
                    let fan_out = delivery::fan_out(&document, committed.event);
                    delivery::skipped_records(&fan_out, &committed.id, committed.event, now)
                })
                .collect();
            log_skips(sql, uid, &skipped, now)?;
        }
        live::append(&self.state, sql, &self.stream_last, &new, now)?;
        if claim.is_empty() {
            return Ok(object::Claims::default());
        }
        let document = rows.read()?;
        let claims = object::claims(&document, claim, attempts::states(sql, claim)?, now);
        let claimed: Vec<_> = claim
            .iter()
            .zip(&claims.claimed)
            .filter(|(_, claimed)| **claimed)
            .map(|(key, _)| Recorded::Claimed(key))
            .collect();
        attempts::record(sql, &claimed, now)?;
        Ok(claims)
    }

    /// Deletes the rows whose time has passed (published ids, written bodies' keys, attempts, stats out of the
    /// window), at most once a [`SWEEP_EVERY_SECS`] while the object stays in memory: the reads skip them or
    /// outlast them meanwhile (each lives for hours or days), so this is housekeeping kept off most commands.
    fn sweep(&self, sql: &SqlStorage, now: i64) -> Result<(), ApiError> {
        if now < self.swept_at.get().saturating_add(SWEEP_EVERY_SECS) {
            return Ok(());
        }
        let before = stats::hour_of(now - stats::KEEP_SECS);
        for (query, at) in [
            ("DELETE FROM published WHERE expires_at <= ?", now),
            ("DELETE FROM attempts WHERE expires_at <= ?", now),
            ("DELETE FROM stats_hours WHERE hour < ?", before),
            ("DELETE FROM stats_latency WHERE hour < ?", before),
            ("DELETE FROM stats_skips WHERE expires_at <= ?", now),
        ] {
            exec(sql, query, vec![at.into()])?;
        }
        flush::expire_bodies(sql, now)?;
        self.swept_at.set(now);
        Ok(())
    }

    /// On the first command, moves a document of the old KV layout into the object, once.
    async fn move_in(&self, uid: &str) -> Result<(), ApiError> {
        const MOVED: &str = "SELECT value FROM meta WHERE name = 'moved_in'";
        if self.moved_in.get() {
            return Ok(());
        }
        let sql = self.sql();
        // The alarm, which no request starts, needs to know whose object this is.
        exec(
            &sql,
            "INSERT INTO meta (name, value) VALUES ('uid', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            vec![uid.into()],
        )?;
        let moved = |sql: &SqlStorage| -> Result<bool, ApiError> {
            let rows: Vec<ValueRow> = sql::select(sql, MOVED, None)?;
            Ok(!rows.is_empty())
        };
        if !moved(&sql)? {
            let kv = kv_store::kv(&self.env)?;
            let key = keys::legacy_user(uid);
            let old = kv
                .get(&key)
                .text()
                .await
                .map_err(|e| ApiError::unavailable(format!("KV get {key}: {e}")))?;
            // Another command may have moved it in while this one waited for KV.
            if !moved(&sql)? {
                if let Some(text) = &old {
                    let document: UserDocument = serde_json::from_str(text)
                        .map_err(|e| ApiError::internal(format!("old document of a user: {e}")))?;
                    let rows = Rows {
                        sql: &sql,
                        cache: &self.document,
                    };
                    rows.save(&document)?;
                }
                exec(&sql, "INSERT INTO meta (name, value) VALUES ('moved_in', '1')", None)?;
                if old.is_some() {
                    // The object now holds the only copy; a failed delete leaves an unread key behind.
                    if let Err(e) = kv.delete(&key).await {
                        console_error!("user object: deleting the old document: {e}");
                    }
                }
            }
        }
        self.moved_in.set(true);
        Ok(())
    }
}

/// Whether a publish's events were marked pending while their deliveries were queued, and if so, whether another
/// commit began during that wait.
#[derive(Clone, Copy)]
enum Marked {
    No,
    Pending { others_committed: bool },
}

/// Logs the records of attempts skipped (their subscriptions inactive), each counted as a skip.
fn log_skips(sql: &SqlStorage, uid: &str, skipped: &[(String, DeliveryRecord)], now: i64) -> Result<(), ApiError> {
    let logged: Vec<_> = skipped
        .iter()
        .map(|(id, record)| flush::Logged {
            counted: attempts::Counted {
                subscription_id: id,
                kind: Kind::Skipped,
                duration_ms: None,
            },
            record,
        })
        .collect();
    flush::add_records(sql, uid, &logged, now)
}

/// Drops an id from those being published (committed, or released after a failed publish).
fn forget_pending(sql: &SqlStorage, id: &str) -> Result<(), ApiError> {
    exec(sql, "DELETE FROM publishing WHERE event_id = ?", vec![id.into()]).map(drop)
}

/// What the object knows of a published id (one whose row has expired is new again), in one statement.
fn publish_state(sql: &SqlStorage, id: &str, now: i64) -> Result<PublishState, ApiError> {
    let rows: Vec<PublishRow> = sql::select(
        sql,
        "SELECT EXISTS (SELECT 1 FROM published WHERE event_id = ? AND expires_at > ?) AS published, \
         (SELECT admitted_at FROM publishing WHERE event_id = ?) AS admitted_at",
        vec![id.into(), now.into(), id.into()],
    )?;
    Ok(match rows.first() {
        Some(row) if row.published != 0 => PublishState::Published,
        Some(PublishRow {
            admitted_at: Some(at), ..
        }) => PublishState::Pending(*at),
        _ => PublishState::New,
    })
}

#[derive(Deserialize)]
struct PublishRow {
    published: i64,
    admitted_at: Option<i64>,
}

#[derive(Deserialize)]
struct ValueRow {
    value: String,
}

#[derive(Deserialize)]
struct BodyRow {
    body: String,
}

#[derive(Deserialize)]
struct HourRow {
    hour: i64,
    delivered: i64,
    failed: i64,
    retried: i64,
    dead_lettered: i64,
    skipped: i64,
}

#[derive(Deserialize)]
struct LatencyRow {
    hour: i64,
    bucket: i64,
    count: i64,
}

/// A subscription's hourly aggregates from `start` on, with the counts still held with its log records.
fn read_stats(sql: &SqlStorage, id: &str, start: i64) -> Result<stats::Stored, ApiError> {
    let read_error = |e: worker::Error| ApiError::internal(format!("reading stats: {e}"));
    let hours: Vec<HourRow> = sql
        .exec(attempts::READ_COUNTS, vec![id.into(), start.into()])
        .and_then(|cursor| cursor.to_array())
        .map_err(read_error)?;
    let latency: Vec<LatencyRow> = sql
        .exec(attempts::READ_LATENCY, vec![id.into(), start.into()])
        .and_then(|cursor| cursor.to_array())
        .map_err(read_error)?;
    let n = |v: i64| v.max(0) as u64;
    Ok(stats::Stored {
        counts: hours
            .iter()
            .map(|r| {
                let counts = [r.delivered, r.failed, r.retried, r.dead_lettered, r.skipped].map(n);
                (r.hour, stats::Counts(counts))
            })
            .collect(),
        latency: latency
            .iter()
            .map(|r| (r.hour, r.bucket.max(0) as u32, n(r.count)))
            .collect(),
    })
}

/// During a rotation of the storage key, re-seals the user's secrets that are not yet under the current key,
/// before the request reads or writes them.
fn reseal(rows: &Rows<'_>, key: &ringhook::model::secret_box::StorageKey) -> Result<(), ApiError> {
    let mut document = rows.load()?;
    let count = document.reseal(key, random_bytes);
    if count > 0 {
        rows.save(&document)?;
        worker::console_log!("re-sealed {count} secrets under storage key {}", key.id());
    }
    Ok(())
}

/// A value in [-1, 1] from the platform's CSPRNG, to spread retries.
fn jitter() -> f64 {
    f64::from(u32::from_le_bytes(random_bytes())) / f64::from(u32::MAX) * 2.0 - 1.0
}

/// The user's subscriptions as rows of the object's SQLite storage, in the order they were made. The object is their
/// only writer, and every write goes through here, so the document last read or written is kept in `cache` and
/// read again from storage only when the object starts.
struct Rows<'a> {
    sql: &'a SqlStorage,
    cache: &'a RefCell<Option<Rc<UserDocument>>>,
}

impl Rows<'_> {
    /// The document to read, shared with the cache: the object's own commands only read it, so copying every
    /// subscription for each of them was work thrown away.
    fn read(&self) -> Result<Rc<UserDocument>, StoreError> {
        if let Some(document) = self.cache.borrow().as_ref() {
            return Ok(Rc::clone(document));
        }
        let rows: Vec<BodyRow> = self
            .sql
            .exec("SELECT body FROM subscriptions ORDER BY position", None)
            .and_then(|cursor| cursor.to_array())
            .map_err(|e| StoreError(e.to_string()))?;
        let subscriptions = rows
            .iter()
            .map(|row| serde_json::from_str(&row.body))
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError(format!("a stored subscription: {e}")))?;
        let document = Rc::new(UserDocument { subscriptions });
        *self.cache.borrow_mut() = Some(Rc::clone(&document));
        Ok(document)
    }
}

impl SubscriptionStore for Rows<'_> {
    fn load(&self) -> Result<UserDocument, StoreError> {
        self.read().map(|document| UserDocument::clone(&document))
    }

    fn save(&self, document: &UserDocument) -> Result<(), StoreError> {
        // Until the write is through, the cache no longer says what storage holds.
        let before = self.cache.borrow_mut().take();
        let store_error = |e: worker::Error| StoreError(e.to_string());
        for (position, stored) in document.subscriptions.iter().enumerate() {
            let unchanged = before
                .as_ref()
                .and_then(|b| b.subscriptions.get(position))
                .is_some_and(|old| old == stored);
            if unchanged {
                continue;
            }
            let body = serde_json::to_string(stored).map_err(|e| StoreError(e.to_string()))?;
            self.sql
                .exec(
                    "INSERT INTO subscriptions (id, position, body) VALUES (?, ?, ?) \
                     ON CONFLICT (id) DO UPDATE SET position = excluded.position, body = excluded.body \
                     WHERE body != excluded.body OR position != excluded.position",
                    vec![stored.public.id.as_str().into(), (position as i64).into(), body.into()],
                )
                .map_err(store_error)?;
        }
        // Rows go only when a subscription did: a subscribe or an update leaves every earlier id where it was, so
        // the ids compare position by position (a change of order with none gone would delete nothing).
        let ids_in_place = |b: &UserDocument| {
            b.subscriptions.len() <= document.subscriptions.len()
                && b.subscriptions
                    .iter()
                    .zip(&document.subscriptions)
                    .all(|(old, new)| old.public.id == new.public.id)
        };
        if !before.as_deref().is_some_and(ids_in_place) {
            let kept: Vec<&str> = document.subscriptions.iter().map(|s| s.public.id.as_str()).collect();
            let ids = serde_json::to_string(&kept).map_err(|e| StoreError(e.to_string()))?;
            self.sql
                .exec(
                    "DELETE FROM subscriptions WHERE id NOT IN (SELECT value FROM json_each(?))",
                    vec![ids.into()],
                )
                .map_err(store_error)?;
        }
        *self.cache.borrow_mut() = Some(Rc::new(document.clone()));
        Ok(())
    }
}
