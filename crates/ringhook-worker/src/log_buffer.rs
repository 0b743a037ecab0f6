//! The delivery log's buffer inside a user's object: records of attempts and skips are added as the object applies
//! them, in the same step, and written to KV together by the object's alarm [`FLUSH_AFTER_MS`] later, one group per
//! subscription (`ringhook::delivery::log`). A record is added once, however often the queue repeats its message, and
//! stays until its group is written: a KV outage delays the log and loses none of it.

use std::cell::Cell;

use futures_util::future::join_all;
use ringhook::delivery::log::{self, Buffered, FLUSH_AFTER_MS, FLUSH_MAX_RECORDS, FLUSH_RETRY_MS};
use ringhook::delivery::DeliveryRecord;
use ringhook::service::http::ApiError;
use serde::Deserialize;
use worker::{console_error, Env, SqlStorage, State};

use crate::kv_store;
use crate::live;
use crate::pipeline;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log_buffer (seq INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL,
  subscription_id TEXT NOT NULL, record TEXT NOT NULL);
";

fn sql_error(e: worker::Error) -> ApiError {
    ApiError::internal(format!("SQL: {e}"))
}

/// Adds a record to the buffer.
pub fn add(sql: &SqlStorage, uid: &str, subscription_id: &str, record: &DeliveryRecord) -> Result<(), ApiError> {
    let text = serde_json::to_string(record).map_err(|e| ApiError::internal(e.to_string()))?;
    sql.exec(
        "INSERT INTO log_buffer (uid, subscription_id, record) VALUES (?, ?, ?)",
        vec![uid.into(), subscription_id.into(), text.into()],
    )
    .map(drop)
    .map_err(sql_error)
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

#[derive(Deserialize)]
struct RecordRow {
    record: String,
}

/// The records buffered for one subscription, oldest first.
pub fn unwritten(sql: &SqlStorage, subscription_id: &str) -> Result<Vec<DeliveryRecord>, ApiError> {
    let rows: Vec<RecordRow> = sql
        .exec(
            "SELECT record FROM log_buffer WHERE subscription_id = ? ORDER BY seq",
            vec![subscription_id.into()],
        )
        .and_then(|cursor| cursor.to_array())
        .map_err(sql_error)?;
    rows.iter()
        .map(|row| serde_json::from_str(&row.record))
        .collect::<Result<_, _>>()
        .map_err(|e| ApiError::internal(format!("a buffered log record: {e}")))
}

#[derive(Deserialize)]
struct Row {
    seq: i64,
    uid: String,
    subscription_id: String,
    record: String,
}

/// Writes the buffered records to KV, one group per subscription, and drops each group once written. Answers
/// when the next flush is due (epoch milliseconds): at once when more were buffered than one flush writes, after
/// [`FLUSH_RETRY_MS`] when a write failed, one interval on when records came in meanwhile, none when the buffer
/// is empty.
pub async fn flush(sql: &SqlStorage, env: &Env) -> Option<f64> {
    let now = js_sys::Date::now();
    match write(sql, env).await {
        Ok(true) => Some(now),
        Ok(false) => match left(sql) {
            Ok(false) => None,
            Ok(true) => Some(now + FLUSH_AFTER_MS),
            Err(e) => {
                console_error!(
                    "user object: reading the log buffer: {}",
                    e.internal.unwrap_or(e.message)
                );
                Some(now + FLUSH_RETRY_MS)
            }
        },
        Err(e) => {
            console_error!("user object: writing the log: {}", e.internal.unwrap_or(e.message));
            Some(now + FLUSH_RETRY_MS)
        }
    }
}

/// Whether any record is buffered.
fn left(sql: &SqlStorage) -> Result<bool, ApiError> {
    let rows: Vec<serde_json::Value> = sql
        .exec("SELECT seq FROM log_buffer LIMIT 1", None)
        .and_then(|cursor| cursor.to_array())
        .map_err(sql_error)?;
    Ok(!rows.is_empty())
}

/// One flush; answers whether it wrote as many records as a flush may (more may be waiting).
async fn write(sql: &SqlStorage, env: &Env) -> Result<bool, ApiError> {
    let rows: Vec<Row> = sql
        .exec(
            "SELECT seq, uid, subscription_id, record FROM log_buffer ORDER BY seq LIMIT ?",
            vec![(FLUSH_MAX_RECORDS as i64).into()],
        )
        .and_then(|cursor| cursor.to_array())
        .map_err(sql_error)?;
    if rows.is_empty() {
        return Ok(false);
    }
    let full = rows.len() == FLUSH_MAX_RECORDS;
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
    let kv = kv_store::kv(env)?;
    let groups = log::flush_groups(buffered);
    let written = join_all(
        groups
            .iter()
            .map(|g| pipeline::write_group(&kv, &g.uid, &g.subscription_id, &g.records)),
    )
    .await;
    let mut failed = None;
    for (group, result) in groups.iter().zip(written) {
        match result {
            Ok(()) => drop_seqs(sql, &group.seqs)?,
            Err(e) => failed = Some(e),
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(full),
    }
}

fn drop_seqs(sql: &SqlStorage, seqs: &[i64]) -> Result<(), ApiError> {
    let list = serde_json::to_string(seqs).map_err(|e| ApiError::internal(e.to_string()))?;
    sql.exec(
        "DELETE FROM log_buffer WHERE seq IN (SELECT value FROM json_each(?))",
        vec![list.into()],
    )
    .map(drop)
    .map_err(sql_error)
}
