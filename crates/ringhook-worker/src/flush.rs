//! What a user's object holds for KV until its alarm writes it, [`FLUSH_AFTER_MS`] after it came in: delivery log
//! records (`ringhook::delivery::log`), one group per subscription per flush, and the bodies of published events
//! (`ringhook::delivery::bodies`), one group per flush. Each is added in the same step as the change it belongs to
//! (an attempt applied, an event committed), once however often the queue repeats a message, and stays until it is
//! written: a KV outage delays the log and the kept bodies and loses none of them.

use std::cell::Cell;

use futures_util::future::join_all;
use ringhook::delivery::bodies::{self, Kept};
use ringhook::delivery::log::{
    self, Buffered, FLUSH_AFTER_MS, FLUSH_MAX_BODIES, FLUSH_MAX_RECORDS, FLUSH_MAX_TEXT, FLUSH_RETRY_MS,
};
use ringhook::delivery::stats;
use ringhook::delivery::{DeliveryRecord, LOG_TTL_SECS};
use ringhook::model::keys;
use ringhook::service::http::ApiError;
use serde::Deserialize;
use worker::{console_error, Env, SqlStorage, State};

use crate::attempts::{self, Counted};
use crate::kv_store;
use crate::live;
use crate::pipeline;
use crate::sql::{self, select};

/// The log's buffer, each record with what it counts as in its subscription's health (`hour`, `kind`, `bucket`:
/// see [`add_records`]); the bodies held (in commit order) and, once written, the group that holds each.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log_buffer (seq INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL,
  subscription_id TEXT NOT NULL, record TEXT NOT NULL, hour INTEGER, kind INTEGER, bucket INTEGER);
CREATE TABLE IF NOT EXISTS bodies_held (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,
  body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bodies_written (event_id TEXT PRIMARY KEY, body_key TEXT NOT NULL,
  expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS bodies_written_by_expiry ON bodies_written (expires_at);
";

/// A log record to hold, and what it counts as.
pub struct Logged<'a> {
    pub counted: Counted<'a>,
    pub record: &'a DeliveryRecord,
}

/// Adds log records, in order, each with its count for the hour of `now`. The counts stay with the records until
/// they are written, and are then added to the hourly aggregates ([`attempts::count_held`]): the stats read both,
/// and an attempt applied costs one row written, not three.
pub fn add_records(sql: &SqlStorage, uid: &str, records: &[Logged<'_>], now: i64) -> Result<(), ApiError> {
    let rows = records
        .iter()
        .map(|logged| {
            let (kind, bucket) = attempts::held_count(&logged.counted);
            serde_json::to_string(logged.record).map(|text| (logged.counted.subscription_id, text, kind, bucket))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    sql::each_chunk(
        sql,
        "INSERT INTO log_buffer (uid, subscription_id, record, hour, kind, bucket) \
         SELECT ?2, value ->> 0, value ->> 1, ?3, value ->> 2, value ->> 3 FROM json_each(?1) ORDER BY key",
        &rows,
        &[uid.into(), stats::hour_of(now).into()],
    )
}

/// An object laid out before the log's buffer held counts has the columns added; the records it holds then were
/// counted as they came in, and have none.
pub fn upgrade(sql: &SqlStorage) -> Result<(), ApiError> {
    if sql.exec("SELECT kind FROM log_buffer LIMIT 0", None).is_ok() {
        return Ok(());
    }
    for column in ["hour", "kind", "bucket"] {
        sql::exec(
            sql,
            &format!("ALTER TABLE log_buffer ADD COLUMN {column} INTEGER"),
            None,
        )?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct RecordRow {
    record: String,
}

/// The log records held for one subscription, oldest first.
pub fn unwritten_records(sql: &SqlStorage, subscription_id: &str) -> Result<Vec<DeliveryRecord>, ApiError> {
    let rows: Vec<RecordRow> = select(
        sql,
        "SELECT record FROM log_buffer WHERE subscription_id = ? ORDER BY seq",
        vec![subscription_id.into()],
    )?;
    rows.iter()
        .map(|row| serde_json::from_str(&row.record))
        .collect::<Result<_, _>>()
        .map_err(|e| ApiError::internal(format!("a buffered log record: {e}")))
}

/// Holds a published event's body until the next flush (a body held or written already stays as it is).
pub fn add_body(sql: &SqlStorage, event_id: &str, body: &str) -> Result<(), ApiError> {
    sql::exec(
        sql,
        "INSERT INTO bodies_held (event_id, body) SELECT ?, ? \
         WHERE NOT EXISTS (SELECT 1 FROM bodies_written WHERE event_id = ?) ON CONFLICT (event_id) DO NOTHING",
        vec![event_id.into(), body.into(), event_id.into()],
    )
    .map(drop)
}

/// Forgets where bodies written more than 7 days ago were (their keys have expired).
pub fn expire_bodies(sql: &SqlStorage, now: i64) -> Result<(), ApiError> {
    sql::exec(
        sql,
        "DELETE FROM bodies_written WHERE expires_at <= ?",
        vec![now.into()],
    )
    .map(drop)
}

#[derive(Deserialize)]
struct HeldRow {
    body: String,
}

#[derive(Deserialize)]
struct WrittenRow {
    body_key: String,
}

/// Where the body of each published event is.
pub fn kept(sql: &SqlStorage, ids: &[String]) -> Result<Vec<Kept>, ApiError> {
    ids.iter()
        .map(|id| {
            let held: Vec<HeldRow> = select(
                sql,
                "SELECT body FROM bodies_held WHERE event_id = ?",
                vec![id.as_str().into()],
            )?;
            if let Some(row) = held.into_iter().next() {
                return Ok(Kept::Body(row.body));
            }
            let written: Vec<WrittenRow> = select(
                sql,
                "SELECT body_key FROM bodies_written WHERE event_id = ?",
                vec![id.as_str().into()],
            )?;
            Ok(written
                .into_iter()
                .next()
                .map_or(Kept::Unknown, |row| Kept::In(row.body_key)))
        })
        .collect()
}

/// Makes sure the alarm fires by one flush interval from now. `due` remembers, while the object stays in memory,
/// a flush already scheduled, so a busy object asks for its alarm once per flush.
pub async fn schedule(state: &State, due: &Cell<Option<f64>>) {
    let at = js_sys::Date::now() + FLUSH_AFTER_MS;
    if due.get().is_some_and(|scheduled| scheduled <= at) {
        return;
    }
    live::alarm_by(state, at).await;
    due.set(Some(at));
}

/// Writes what the object holds to KV and drops each part once written. Answers when the next flush is due
/// (epoch milliseconds): at once when more was held than one flush writes, after [`FLUSH_RETRY_MS`] when a write
/// failed, one interval on when more came in meanwhile, none when nothing is held.
pub async fn run(sql: &SqlStorage, env: &Env, uid: Option<&str>) -> Option<f64> {
    let now = js_sys::Date::now();
    let written = match kv_store::kv(env) {
        Ok(kv) => {
            let (records, bodies) =
                futures_util::future::join(write_records(sql, &kv), write_bodies(sql, &kv, uid)).await;
            records.and_then(|full| Ok(full || bodies?))
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(true) => Some(now),
        Ok(false) => match held(sql) {
            Ok(false) => None,
            Ok(true) => Some(now + FLUSH_AFTER_MS),
            Err(e) => {
                console_error!(
                    "user object: reading what it holds for KV: {}",
                    e.internal.unwrap_or(e.message)
                );
                Some(now + FLUSH_RETRY_MS)
            }
        },
        Err(e) => {
            console_error!("user object: writing to KV: {}", e.internal.unwrap_or(e.message));
            Some(now + FLUSH_RETRY_MS)
        }
    }
}

/// Whether any record or body is held.
fn held(sql: &SqlStorage) -> Result<bool, ApiError> {
    let rows: Vec<serde_json::Value> = select(
        sql,
        "SELECT 1 AS held FROM log_buffer UNION ALL SELECT 1 FROM bodies_held LIMIT 1",
        None,
    )?;
    Ok(!rows.is_empty())
}

#[derive(Deserialize)]
struct Row {
    seq: i64,
    uid: String,
    subscription_id: String,
    record: String,
}

/// Writes held log records, one group per subscription; answers whether it wrote as many as a flush may.
async fn write_records(sql: &SqlStorage, kv: &worker::kv::KvStore) -> Result<bool, ApiError> {
    let rows: Vec<Row> = select(
        sql,
        "SELECT seq, uid, subscription_id, record FROM (SELECT seq, uid, subscription_id, record, \
         SUM(length(record)) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) - length(record) AS taken_before \
         FROM log_buffer ORDER BY seq LIMIT ?) WHERE taken_before < ? ORDER BY seq",
        vec![(FLUSH_MAX_RECORDS as i64).into(), (FLUSH_MAX_TEXT as i64).into()],
    )?;
    if rows.is_empty() {
        return Ok(false);
    }
    let text: usize = rows.iter().map(|row| row.record.len()).sum();
    let full = rows.len() == FLUSH_MAX_RECORDS || text >= FLUSH_MAX_TEXT;
    let mut buffered = Vec::with_capacity(rows.len());
    for row in rows {
        match serde_json::from_str(&row.record) {
            Ok(record) => buffered.push(Buffered {
                seq: row.seq,
                uid: row.uid,
                subscription_id: row.subscription_id,
                record,
            }),
            // Written by this object from a record it had just made: never expected; kept out of the way.
            Err(e) => {
                console_error!("user object: an unreadable log record {}: {e}", row.seq);
                drop_seqs(sql, &[row.seq])?;
            }
        }
    }
    let groups = log::flush_groups(buffered);
    let written = join_all(
        groups
            .iter()
            .map(|g| pipeline::write_group(kv, &g.uid, &g.subscription_id, &g.records)),
    )
    .await;
    // The records of every group written go in one statement: a flush writes a group per subscription.
    let mut failed = None;
    let mut dropped = Vec::new();
    for (group, result) in groups.iter().zip(written) {
        match result {
            Ok(()) => dropped.extend_from_slice(&group.seqs),
            Err(e) => failed = Some(e),
        }
    }
    drop_seqs(sql, &dropped)?;
    failed.map_or(Ok(full), Err)
}

/// Drops records written (or unreadable), their counts added to the aggregates in the same step.
fn drop_seqs(sql: &SqlStorage, seqs: &[i64]) -> Result<(), ApiError> {
    if seqs.is_empty() {
        return Ok(());
    }
    let list = serde_json::to_string(seqs).map_err(|e| ApiError::internal(e.to_string()))?;
    attempts::count_held(sql, &list)?;
    sql::exec(
        sql,
        "DELETE FROM log_buffer WHERE seq IN (SELECT value FROM json_each(?))",
        vec![list.into()],
    )
    .map(drop)
}

#[derive(Deserialize)]
struct BodyRow {
    event_id: String,
    body: String,
}

/// Writes held bodies, as few groups as their size allows, and records each one's key; answers whether it wrote
/// as many as a flush may. `uid` is the object's user (known once the object has been asked anything).
async fn write_bodies(sql: &SqlStorage, kv: &worker::kv::KvStore, uid: Option<&str>) -> Result<bool, ApiError> {
    let rows: Vec<BodyRow> = select(
        sql,
        "SELECT event_id, body FROM bodies_held ORDER BY seq LIMIT ?",
        vec![(FLUSH_MAX_BODIES as i64).into()],
    )?;
    if rows.is_empty() {
        return Ok(false);
    }
    let Some(uid) = uid else {
        return Err(ApiError::internal(
            "bodies held by an object that does not know its user yet",
        ));
    };
    let full = rows.len() == FLUSH_MAX_BODIES;
    let groups = bodies::groups(rows.into_iter().map(|r| (r.event_id, r.body)).collect());
    let at = js_sys::Date::now() as u64;
    // Each group: its key, its text, and the ids it holds (as JSON, for the SQL below).
    let mut keyed: Vec<(String, String, String)> = Vec::with_capacity(groups.len());
    for group in &groups {
        let ids: Vec<&str> = group.iter().map(|(id, _)| id.as_str()).collect();
        let ids = serde_json::to_string(&ids).map_err(|e| ApiError::internal(e.to_string()))?;
        keyed.push((keys::events(uid, at, &group[0].0), bodies::encode(group), ids));
    }
    let written = join_all(keyed.iter().map(|(key, text, _)| pipeline::put_text(kv, key, text))).await;
    let expires_at = crate::http::now_seconds() + LOG_TTL_SECS as i64;
    let mut failed = None;
    for ((key, _, ids), result) in keyed.into_iter().zip(written) {
        match result {
            Ok(()) => {
                sql::exec(
                    sql,
                    "INSERT INTO bodies_written (event_id, body_key, expires_at) \
                     SELECT value, ?, ? FROM json_each(?) WHERE true \
                     ON CONFLICT (event_id) DO UPDATE SET body_key = excluded.body_key",
                    vec![key.into(), expires_at.into(), ids.clone().into()],
                )?;
                sql::exec(
                    sql,
                    "DELETE FROM bodies_held WHERE event_id IN (SELECT value FROM json_each(?))",
                    vec![ids.into()],
                )?;
            }
            Err(e) => failed = Some(e),
        }
    }
    failed.map_or(Ok(full), Err)
}
