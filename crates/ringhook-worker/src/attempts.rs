//! What a user's object records of attempts (claimed, done, followed) and counts of them, for many attempts at once:
//! a command about a hundred deliveries reads and writes them in a few statements, not a few per delivery, the keys
//! and rows going in as JSON arrays read with `json_each` ([`crate::sql::each_chunk`]).

use ringhook::delivery::stats::{self, Kind};
use ringhook::delivery::{AttemptKey, AttemptState, LOG_TTL_SECS};
use ringhook::service::http::ApiError;
use serde::Deserialize;
use worker::{SqlStorage, SqlStorageValue};

use crate::sql::{self, each_chunk};

/// A key row's four columns, as `json_each` gives its `value` (a macro, for `concat!`).
macro_rules! key_columns {
    () => {
        "value ->> 0, value ->> 1, value ->> 2, value ->> 3"
    };
}

/// An attempt's key as the bindings of `subscription_id = ? AND event_id = ? AND series = ? AND attempt = ?`.
pub fn key_values(key: &AttemptKey) -> Vec<SqlStorageValue> {
    vec![
        key.subscription_id.as_str().into(),
        key.event_id.as_str().into(),
        key.series.as_str().into(),
        i64::from(key.attempt).into(),
    ]
}

/// How a row added to `stats_hours` meets the one it matches (a macro, for `concat!`).
macro_rules! add_counts {
    () => {
        "ON CONFLICT (subscription_id, hour) DO UPDATE SET \
         delivered = delivered + excluded.delivered, failed = failed + excluded.failed, \
         retried = retried + excluded.retried, dead_lettered = dead_lettered + excluded.dead_lettered, \
         skipped = skipped + excluded.skipped"
    };
}

/// How a row added to `stats_latency` meets the one it matches (a macro, for `concat!`).
macro_rules! add_latency {
    () => {
        "ON CONFLICT (subscription_id, hour, bucket) DO UPDATE SET count = count + excluded.count"
    };
}

type KeyRow<'k> = (&'k str, &'k str, &'k str, u32);

fn key_row(key: &AttemptKey) -> KeyRow<'_> {
    (&key.subscription_id, &key.event_id, &key.series, key.attempt)
}

#[derive(Deserialize)]
struct StateRow {
    /// The key's index in the chunk.
    i: usize,
    claimed_at: i64,
    /// Read only while what follows the attempt is still to be carried out.
    done: Option<String>,
    followed: i64,
}

/// What the object knows of each attempt, in the order of `keys`.
pub fn states(sql: &SqlStorage, keys: &[AttemptKey]) -> Result<Vec<AttemptState>, ApiError> {
    let mut states = vec![AttemptState::New; keys.len()];
    for (c, chunk) in keys.chunks(sql::ROWS_PER_STATEMENT).enumerate() {
        let rows: Vec<KeyRow<'_>> = chunk.iter().map(key_row).collect();
        // json_each as the outer loop (CROSS JOIN keeps that order): one lookup by primary key per attempt.
        let found: Vec<StateRow> = sql::select(
            sql,
            "SELECT k.key AS i, a.claimed_at, a.followed, CASE WHEN a.followed = 0 THEN a.done END AS done \
                 FROM json_each(?) AS k CROSS JOIN attempts AS a \
                 WHERE a.subscription_id = k.value ->> 0 AND a.event_id = k.value ->> 1 \
                 AND a.series = k.value ->> 2 AND a.attempt = k.value ->> 3",
            vec![sql::json_rows(&rows)?],
        )?;
        for row in found {
            let state = match row {
                StateRow { followed: 1.., .. } => AttemptState::Finished,
                StateRow { done: Some(done), .. } => AttemptState::Done(
                    serde_json::from_str(&done).map_err(|e| ApiError::internal(format!("a stored attempt: {e}")))?,
                ),
                StateRow { claimed_at, .. } => AttemptState::Claimed(claimed_at),
            };
            if let Some(slot) = states.get_mut(c * sql::ROWS_PER_STATEMENT + row.i) {
                *slot = state;
            }
        }
    }
    Ok(states)
}

/// What is recorded of an attempt.
pub enum Recorded<'a> {
    /// Claimed by a maker (at the time the record is made).
    Claimed(&'a AttemptKey),
    /// Made, with its `Done` as JSON, kept while what follows it (a next attempt, a dead letter) is still to be
    /// carried out.
    Done(&'a AttemptKey, String),
    /// Made, with nothing left to follow from it: only that is kept (its log entry has the rest).
    Finished(&'a AttemptKey),
}

/// Records attempts as claimed at `now`, done, or finished; kept as long as event bodies are. A finished attempt's
/// `done` is empty: nothing reads it again, and a delivered attempt is recorded finished at once.
pub fn record(sql: &SqlStorage, attempts: &[Recorded<'_>], now: i64) -> Result<(), ApiError> {
    let rows: Vec<_> = attempts
        .iter()
        .map(|recorded| {
            let (key, done, followed) = match recorded {
                Recorded::Claimed(key) => (*key, None, false),
                Recorded::Done(key, done) => (*key, Some(done.as_str()), false),
                Recorded::Finished(key) => (*key, Some(""), true),
            };
            let (s, e, series, a) = key_row(key);
            (s, e, series, a, done, followed)
        })
        .collect();
    each_chunk(
        sql,
        concat!(
            "INSERT INTO attempts (subscription_id, event_id, series, attempt, done, followed, claimed_at, expires_at) \
             SELECT ",
            key_columns!(),
            ", value ->> 4, value ->> 5, ?2, ?3 FROM json_each(?1) WHERE true \
             ON CONFLICT (subscription_id, event_id, series, attempt) \
             DO UPDATE SET claimed_at = excluded.claimed_at, done = excluded.done, \
             followed = max(followed, excluded.followed)"
        ),
        &rows,
        &[now.into(), (now + LOG_TTL_SECS as i64).into()],
    )
}

/// Records that what followed made attempts (their next attempts, dead letters or notices) is carried out: they are
/// finished, and their `Done` is no longer kept.
pub fn mark_followed(sql: &SqlStorage, keys: &[&AttemptKey]) -> Result<(), ApiError> {
    let rows: Vec<_> = keys.iter().map(|key| key_row(key)).collect();
    each_chunk(
        sql,
        concat!(
            "UPDATE attempts SET followed = 1, done = '' WHERE done IS NOT NULL \
             AND (subscription_id, event_id, series, attempt) IN (SELECT ",
            key_columns!(),
            " FROM json_each(?1))"
        ),
        &rows,
        &[],
    )
}

/// An object stored before attempts carried `followed` kept it in a table of its own, `attempts_followed`: when such
/// an object starts, the column is added and that table's rows moved into it, once.
pub fn upgrade(sql: &SqlStorage) -> Result<(), ApiError> {
    if sql.exec("SELECT followed FROM attempts LIMIT 0", None).is_ok() {
        return Ok(());
    }
    for statement in [
        "ALTER TABLE attempts ADD COLUMN followed INTEGER NOT NULL DEFAULT 0",
        "UPDATE attempts SET followed = 1, done = '' WHERE (subscription_id, event_id, series, attempt) IN \
         (SELECT subscription_id, event_id, series, attempt FROM attempts_followed)",
        "DROP TABLE attempts_followed",
    ] {
        sql::exec(sql, statement, None)?;
    }
    Ok(())
}

/// One counted attempt (or skip): its subscription, what it counts as, and how long it took if it was made.
pub struct Counted<'a> {
    pub subscription_id: &'a str,
    pub kind: Kind,
    pub duration_ms: Option<u64>,
}

/// Adds each to its subscription's counts for the hour of `now`, and its time to the histogram. A row that meets
/// one added before it (the same subscription, in the same statement too) adds to it.
pub fn count(sql: &SqlStorage, counted: &[Counted<'_>], now: i64) -> Result<(), ApiError> {
    let hour = stats::hour_of(now);
    let kinds: Vec<_> = counted
        .iter()
        .map(|c| {
            let [delivered, failed, retried, dead_lettered, skipped] = Kind::ALL.map(|k| u8::from(k == c.kind));
            (c.subscription_id, delivered, failed, retried, dead_lettered, skipped)
        })
        .collect();
    each_chunk(
        sql,
        concat!(
            "INSERT INTO stats_hours (subscription_id, hour, delivered, failed, retried, dead_lettered, skipped) \
             SELECT value ->> 0, ?2, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 \
             FROM json_each(?1) WHERE true ",
            add_counts!()
        ),
        &kinds,
        &[hour.into()],
    )?;
    let timed: Vec<_> = counted
        .iter()
        .filter_map(|c| Some((c.subscription_id, stats::bucket(c.duration_ms?))))
        .collect();
    each_chunk(
        sql,
        concat!(
            "INSERT INTO stats_latency (subscription_id, hour, bucket, count) \
             SELECT value ->> 0, ?2, value ->> 1, 1 FROM json_each(?1) WHERE true ",
            add_latency!()
        ),
        &timed,
        &[hour.into()],
    )
}

/// What a count held with a log record ([`crate::flush::add_records`]) stores: the index of its kind in
/// [`Kind::ALL`] (the order of `stats_hours`' columns), and its time's histogram bucket if it was made.
pub fn held_count(counted: &Counted<'_>) -> (usize, Option<u32>) {
    let kind = Kind::ALL.iter().position(|k| *k == counted.kind).unwrap_or_default();
    (kind, counted.duration_ms.map(stats::bucket))
}

/// Adds the counts held with the log records `seqs` (a JSON array) to their subscriptions' hours, in two
/// statements however many there are: the flush does so as it drops the records written.
pub fn count_held(sql: &SqlStorage, seqs: &str) -> Result<(), ApiError> {
    sql::exec(
        sql,
        concat!(
            "INSERT INTO stats_hours (subscription_id, hour, delivered, failed, retried, dead_lettered, skipped) \
             SELECT subscription_id, hour, sum(kind = 0), sum(kind = 1), sum(kind = 2), sum(kind = 3), sum(kind = 4) \
             FROM log_buffer WHERE kind IS NOT NULL AND seq IN (SELECT value FROM json_each(?1)) \
             GROUP BY subscription_id, hour ",
            add_counts!()
        ),
        vec![seqs.into()],
    )?;
    sql::exec(
        sql,
        concat!(
            "INSERT INTO stats_latency (subscription_id, hour, bucket, count) \
             SELECT subscription_id, hour, bucket, count(*) FROM log_buffer \
             WHERE bucket IS NOT NULL AND seq IN (SELECT value FROM json_each(?1)) \
             GROUP BY subscription_id, hour, bucket ",
            add_latency!()
        ),
        vec![seqs.into()],
    )
    .map(drop)
}

/// An hour's counts, as stored and with those still held with log records, since `start`.
pub const READ_COUNTS: &str = "SELECT hour, sum(delivered) AS delivered, sum(failed) AS failed, \
     sum(retried) AS retried, sum(dead_lettered) AS dead_lettered, sum(skipped) AS skipped FROM ( \
     SELECT hour, delivered, failed, retried, dead_lettered, skipped FROM stats_hours \
     WHERE subscription_id = ?1 AND hour >= ?2 UNION ALL \
     SELECT hour, kind = 0, kind = 1, kind = 2, kind = 3, kind = 4 FROM log_buffer \
     WHERE subscription_id = ?1 AND hour >= ?2 AND kind IS NOT NULL) GROUP BY hour";

/// An hour's latency histogram, as stored and with the times still held with log records, since `start`.
pub const READ_LATENCY: &str = "SELECT hour, bucket, sum(count) AS count FROM ( \
     SELECT hour, bucket, count FROM stats_latency WHERE subscription_id = ?1 AND hour >= ?2 UNION ALL \
     SELECT hour, bucket, 1 FROM log_buffer WHERE subscription_id = ?1 AND hour >= ?2 AND bucket IS NOT NULL) \
     GROUP BY hour, bucket";

/// A skipped attempt, counted once however often the queue delivers its message.
pub fn count_skip(sql: &SqlStorage, key: &AttemptKey, now: i64) -> Result<(), ApiError> {
    let seen: Vec<serde_json::Value> = sql::select(
        sql,
        "SELECT 1 AS seen FROM stats_skips WHERE subscription_id = ? AND event_id = ? AND series = ? AND attempt = ?",
        key_values(key),
    )?;
    if !seen.is_empty() {
        return Ok(());
    }
    let mut row = key_values(key);
    row.push((now + LOG_TTL_SECS as i64).into());
    sql::exec(
        sql,
        "INSERT INTO stats_skips (subscription_id, event_id, series, attempt, expires_at) VALUES (?, ?, ?, ?, ?)",
        row,
    )?;
    let counted = Counted {
        subscription_id: &key.subscription_id,
        kind: Kind::Skipped,
        duration_ms: None,
    };
    count(sql, &[counted], now)
}
