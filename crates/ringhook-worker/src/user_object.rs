//! The per-user Durable Object: the single writer of one user's mutable state (subscriptions with their sealed
//! secrets and failure state, the ids of published events, rate-limit windows), kept in its SQLite storage.
//!
//! Each command loads the rows it needs, calls the core's decision (`ringhook::service::object`, `ringhook::delivery`,
//! `ringhook::service::subscriptions`) and writes the result with synchronous SQL, with no wait in between: nothing else
//! the object is asked runs between a command's read and its write. The only wait is the first touch, when a
//! user's document from the old KV layout is moved in.

use std::cell::Cell;

use ringhook::delivery::{self, LOG_TTL_SECS};
use ringhook::model::store::{legacy_user_key, StoreError, SubscriptionStore, UserDocument};
use ringhook::service::object::{self, Command, Notice, Settlement};
use ringhook::service::ratelimit::{self, Window};
use ringhook::service::subscriptions::{find, reply, ApiError, Reply, Service};
use ringhook::EventType;
use serde::Deserialize;
use worker::{
    console_error, durable_object, DurableObject, Env, Request, Response, SqlStorage, SqlStorageValue, State,
};

use crate::config;
use crate::http::{self, now_seconds, random_bytes, CryptoRandom};
use crate::kv_store;

/// The tables, created when an object first runs. Rows of `subscriptions` hold a `StoredSubscription` as JSON.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS subscriptions (id TEXT PRIMARY KEY, position INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS published (event_id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS published_by_expiry ON published (expires_at);
CREATE TABLE IF NOT EXISTS limits (name TEXT PRIMARY KEY, start INTEGER NOT NULL, used INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
";

/// The limit behind `POST /test`.
const TEST_LIMIT: &str = "test";

#[durable_object]
pub struct UserState {
    state: State,
    env: Env,
    /// Whether the old KV document has been looked for (remembered in `meta` too).
    moved_in: Cell<bool>,
}

impl DurableObject for UserState {
    fn new(state: State, env: Env) -> Self {
        if let Err(e) = state.storage().sql().exec(SCHEMA, None) {
            console_error!("user object: creating tables: {e}");
        }
        Self {
            state,
            env,
            moved_in: Cell::new(false),
        }
    }

    async fn fetch(&self, mut request: Request) -> worker::Result<Response> {
        let answer = match request.json::<object::Request>().await {
            Ok(request) => self.answer(request).await,
            Err(e) => Err(ApiError::internal(format!("user object: unreadable command: {e}"))),
        };
        match answer {
            Ok(reply) => http::json(reply.status, &reply.body, None),
            Err(e) => {
                if let Some(detail) = &e.internal {
                    console_error!("user object: {} {}: {detail}", e.status, e.code);
                }
                http::error(&e, None)
            }
        }
    }
}

impl UserState {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    async fn answer(&self, request: object::Request) -> Result<Reply, ApiError> {
        self.move_in(&request.uid).await?;
        let settings = config::settings(&self.env)?;
        let sql = self.sql();
        let rows = Rows(&sql);
        let now = now_seconds();
        match request.command {
            Command::Api { op, body } => Service {
                store: &rows,
                config: &settings.api,
                key: &settings.storage_key,
                now,
                random: CryptoRandom,
            }
            .handle(&op, body.as_bytes()),
            Command::Publish { events } => {
                let document = rows.load()?;
                exec(&sql, "DELETE FROM published WHERE expires_at <= ?", vec![now.into()])?;
                let expires_at = now + LOG_TTL_SECS as i64;
                let admitted = object::admit(&document, &events, |id| {
                    let inserted: Vec<IdRow> = exec(
                        &sql,
                        "INSERT INTO published (event_id, expires_at) VALUES (?, ?) \
                         ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                        vec![id.into(), expires_at.into()],
                    )?
                    .to_array()
                    .map_err(|e| ApiError::internal(format!("SQL: {e}")))?;
                    Ok::<_, ApiError>(!inserted.is_empty())
                })?;
                reply(200, &admitted)
            }
            Command::Subscription { id } => reply(200, &find(&rows.load()?, &id)?.public),
            Command::TestTarget { url, per_minute } => {
                let document = rows.load()?;
                let stored = object::by_url(&document, &url)?;
                self.take(TEST_LIMIT, per_minute, now, "test sends a minute are used up")?;
                reply(200, stored)
            }
            Command::Targets { subscription_ids } => reply(200, &object::targets(&rows.load()?, &subscription_ids)),
            Command::Settle { reports } => {
                let before = rows.load()?;
                let mut document = before.clone();
                let policy = &settings.delivery.policy;
                let (settled, deactivated) = object::settle_all(&mut document, &reports, policy, now, jitter);
                if document != before {
                    rows.save(&document)?;
                }
                let notices = deactivated
                    .iter()
                    .map(|subscription| {
                        let notice = delivery::deactivation_notice(subscription, http::new_event_id(), now);
                        Notice {
                            body: notice.to_body(),
                            event_id: notice.id,
                            fan_out: delivery::fan_out(&document, EventType::SubscriptionDeactivated),
                        }
                    })
                    .collect();
                reply(200, &Settlement { settled, notices })
            }
        }
    }

    /// Takes one use of the limit `name`, or answers 429 with the wait.
    fn take(&self, name: &str, per_minute: u32, now: i64, what: &str) -> Result<(), ApiError> {
        let sql = self.sql();
        let stored: Vec<Window> = exec(&sql, "SELECT start, used FROM limits WHERE name = ?", vec![name.into()])?
            .to_array()
            .map_err(|e| ApiError::internal(format!("SQL: {e}")))?;
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

    /// On the first command, moves a document of the old KV layout into the object, once.
    async fn move_in(&self, uid: &str) -> Result<(), ApiError> {
        const MOVED: &str = "SELECT value FROM meta WHERE name = 'moved_in'";
        if self.moved_in.get() {
            return Ok(());
        }
        let sql = self.sql();
        let moved = |sql: &SqlStorage| -> Result<bool, ApiError> {
            let rows: Vec<ValueRow> = exec(sql, MOVED, None)?
                .to_array()
                .map_err(|e| ApiError::internal(format!("SQL: {e}")))?;
            Ok(!rows.is_empty())
        };
        if !moved(&sql)? {
            let kv = kv_store::kv(&self.env)?;
            let key = legacy_user_key(uid);
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
                    Rows(&sql).save(&document)?;
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

#[derive(Deserialize)]
struct IdRow {
    #[allow(dead_code)]
    event_id: String,
}

#[derive(Deserialize)]
struct ValueRow {
    #[allow(dead_code)]
    value: String,
}

#[derive(Deserialize)]
struct BodyRow {
    body: String,
}

fn exec(
    sql: &SqlStorage,
    query: &str,
    bindings: impl Into<Option<Vec<SqlStorageValue>>>,
) -> Result<worker::SqlCursor, ApiError> {
    sql.exec(query, bindings)
        .map_err(|e| ApiError::internal(format!("SQL: {e}")))
}

/// A value in [-1, 1] from the platform's CSPRNG, to spread retries.
fn jitter() -> f64 {
    f64::from(u32::from_le_bytes(random_bytes())) / f64::from(u32::MAX) * 2.0 - 1.0
}

/// The user's subscriptions as rows of the object's SQLite storage, in the order they were made.
struct Rows<'a>(&'a SqlStorage);

impl SubscriptionStore for Rows<'_> {
    fn load(&self) -> Result<UserDocument, StoreError> {
        let rows: Vec<BodyRow> = self
            .0
            .exec("SELECT body FROM subscriptions ORDER BY position", None)
            .and_then(|cursor| cursor.to_array())
            .map_err(|e| StoreError(e.to_string()))?;
        let subscriptions = rows
            .iter()
            .map(|row| serde_json::from_str(&row.body))
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError(format!("a stored subscription: {e}")))?;
        Ok(UserDocument { subscriptions })
    }

    fn save(&self, document: &UserDocument) -> Result<(), StoreError> {
        let store_error = |e: worker::Error| StoreError(e.to_string());
        let mut kept = Vec::with_capacity(document.subscriptions.len());
        for (position, stored) in document.subscriptions.iter().enumerate() {
            let body = serde_json::to_string(stored).map_err(|e| StoreError(e.to_string()))?;
            self.0
                .exec(
                    "INSERT INTO subscriptions (id, position, body) VALUES (?, ?, ?) \
                     ON CONFLICT (id) DO UPDATE SET position = excluded.position, body = excluded.body \
                     WHERE body != excluded.body OR position != excluded.position",
                    vec![stored.public.id.as_str().into(), (position as i64).into(), body.into()],
                )
                .map_err(store_error)?;
            kept.push(stored.public.id.as_str());
        }
        let ids = serde_json::to_string(&kept).map_err(|e| StoreError(e.to_string()))?;
        self.0
            .exec(
                "DELETE FROM subscriptions WHERE id NOT IN (SELECT value FROM json_each(?))",
                vec![ids.into()],
            )
            .map_err(store_error)?;
        Ok(())
    }
}
