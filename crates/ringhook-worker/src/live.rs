//! The live stream inside a user's object: the kept events in its SQLite storage, the sockets it holds with the
//! hibernation API, and what it sends them. The decisions (tickets, resume or gap, what is kept, frames) are the
//! core's `ringhook::service::stream`; nothing here panics, since a panic would end every socket of the isolate.

use std::cell::Cell;

use ringhook::service::http::ApiError;
use ringhook::service::object::{Committed, StreamOpen};
use ringhook::service::stream::{self, ClientFrame, Kept, Resume, SocketState};
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{console_error, Response, ScheduledTime, SqlStorage, State, WebSocket, WebSocketPair};

use crate::sql;

/// The stream's tables: the kept events by cursor, and the tickets issued and not yet used.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS stream (cursor INTEGER PRIMARY KEY, event TEXT NOT NULL, body TEXT NOT NULL,
  at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS stream_by_time ON stream (at);
CREATE TABLE IF NOT EXISTS tickets (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
";

/// Where objects laid out by earlier versions kept the last cursor given, in `meta`: their kept events may all
/// have expired since. The stream's rows now keep it themselves (the newest row is never deleted: see
/// [`append`]), so the last cursor is the larger of the two.
const LAST_CURSOR: &str = "stream_last";

#[derive(Deserialize)]
struct Number {
    n: i64,
}

#[derive(Deserialize)]
struct Range {
    first: Option<i64>,
    last: Option<i64>,
}

#[derive(Deserialize)]
struct KeptRow {
    cursor: i64,
    event: String,
    body: String,
}

fn last_cursor(sql: &SqlStorage) -> Result<u64, ApiError> {
    let rows: Vec<Number> = sql::select(
        sql,
        "SELECT COALESCE(MAX(n), 0) AS n FROM (SELECT CAST(value AS INTEGER) AS n FROM meta WHERE name = ? \
         UNION ALL SELECT MAX(cursor) FROM stream)",
        vec![LAST_CURSOR.into()],
    )?;
    Ok(rows.first().map_or(0, |r| r.n.max(0) as u64))
}

/// The events kept at `now`: rows no longer kept may still be stored (see [`stream::trims`]), and are passed over.
fn kept(sql: &SqlStorage, now: i64) -> Result<Kept, ApiError> {
    let last = last_cursor(sql)?;
    let (keep_cursor, keep_at) = stream::keep_from(last, now);
    let rows: Vec<Range> = sql::select(
        sql,
        "SELECT MIN(cursor) AS first, MAX(cursor) AS last FROM stream WHERE cursor >= ? AND at >= ?",
        vec![(keep_cursor as i64).into(), keep_at.into()],
    )?;
    let range = rows
        .first()
        .and_then(|r| Some((r.first?.max(0) as u64, r.last?.max(0) as u64)));
    Ok(Kept { range, last })
}

/// Records a ticket's nonce (and forgets expired ones).
pub fn issue_ticket(sql: &SqlStorage, nonce: &str, expires_at: i64, now: i64) -> Result<(), ApiError> {
    sql::exec(sql, "DELETE FROM tickets WHERE expires_at <= ?", vec![now.into()])?;
    sql::exec(
        sql,
        "INSERT INTO tickets (nonce, expires_at) VALUES (?, ?)",
        vec![nonce.into(), expires_at.into()],
    )?;
    Ok(())
}

/// Uses up a ticket: `false` when it was never issued here, has expired, or was used before.
fn use_ticket(sql: &SqlStorage, nonce: &str, now: i64) -> Result<bool, ApiError> {
    let rows: Vec<Number> = sql::select(
        sql,
        "SELECT expires_at AS n FROM tickets WHERE nonce = ?",
        vec![nonce.into()],
    )?;
    sql::exec(sql, "DELETE FROM tickets WHERE nonce = ?", vec![nonce.into()])?;
    Ok(rows.first().is_some_and(|r| r.n > now))
}

/// Appends committed events to the stream (cursors one apart), deletes the rows no longer kept when
/// [`stream::trims`] says so, and sends each event to the sockets that want it. Sockets whose sign-in has expired
/// are closed instead. `last` is the last cursor as this object last wrote it, if known (it is the only writer):
/// read from storage otherwise, and forgotten unless every write goes through. The newest row, which records the
/// last cursor, is always kept: it was added at `now`.
pub fn append(
    state: &State,
    sql: &SqlStorage,
    last: &Cell<Option<u64>>,
    events: &[&Committed],
    now: i64,
) -> Result<(), ApiError> {
    if events.is_empty() {
        return Ok(());
    }
    let before = match last.take() {
        Some(cursor) => cursor,
        None => last_cursor(sql)?,
    };
    let mut cursor = before;
    let mut frames = Vec::with_capacity(events.len());
    for committed in events {
        cursor += 1;
        sql::exec(
            sql,
            "INSERT INTO stream (cursor, event, body, at) VALUES (?, ?, ?, ?)",
            vec![
                (cursor as i64).into(),
                committed.event.as_str().into(),
                committed.body.as_str().into(),
                now.into(),
            ],
        )?;
        frames.push((committed.event, stream::event_frame(cursor, &committed.body)));
    }
    if stream::trims(before, cursor) {
        let (keep_cursor, keep_at) = stream::keep_from(cursor, now);
        sql::exec(
            sql,
            "DELETE FROM stream WHERE cursor < ? OR at < ?",
            vec![(keep_cursor as i64).into(), keep_at.into()],
        )?;
    }
    last.set(Some(cursor));

    for socket in state.get_websockets() {
        let Some(wanted) = socket_state(&socket) else {
            continue;
        };
        if wanted.expired(now) {
            close_expired(&socket);
            continue;
        }
        for (event, frame) in &frames {
            if wanted.wants(*event) {
                send(&socket, frame);
            }
        }
    }
    Ok(())
}

fn socket_state(socket: &WebSocket) -> Option<SocketState> {
    match socket.deserialize_attachment::<SocketState>() {
        Ok(found) => found,
        Err(e) => {
            console_error!("stream: a socket's attachment: {e}");
            None
        }
    }
}

fn send(socket: &WebSocket, frame: &str) {
    // A socket that is closing refuses frames; it is gone soon, and the others go on.
    if let Err(e) = socket.send_with_str(frame) {
        console_error!("stream: sending a frame: {e}");
    }
}

fn close_expired(socket: &WebSocket) {
    send(socket, stream::EXPIRED_FRAME);
    let _ = socket.close(
        Some(stream::CLOSE_TOKEN_EXPIRED),
        Some("sign-in expired: reconnect with a fresh ticket"),
    );
}

/// Sends what a socket resuming after `cursor` gets: the kept events it wants, in order, or `gap`; then `live`.
fn replay(
    sql: &SqlStorage,
    socket: &WebSocket,
    wanted: &SocketState,
    cursor: Option<u64>,
    now: i64,
) -> Result<(), ApiError> {
    let kept = kept(sql, now)?;
    match stream::resume(cursor, kept) {
        Resume::Gap => send(socket, &stream::gap_frame(kept.last)),
        Resume::After(after) if after < kept.last => {
            let (_, keep_at) = stream::keep_from(kept.last, now);
            let rows: Vec<KeptRow> = sql::select(
                sql,
                "SELECT cursor, event, body FROM stream WHERE cursor > ? AND at >= ? ORDER BY cursor",
                vec![(after as i64).into(), keep_at.into()],
            )?;
            for row in rows {
                let wants = row.event.parse().is_ok_and(|event| wanted.wants(event));
                if wants {
                    send(socket, &stream::event_frame(row.cursor as u64, &row.body));
                }
            }
        }
        Resume::After(_) => {}
    }
    send(socket, &stream::live_frame(kept.last));
    Ok(())
}

/// Opens a socket for a forwarded upgrade request: the ticket is used up, the socket accepted with the
/// hibernation API when the user has fewer than `sockets_per_user` open (its filter and sign-in expiry in its attachment), the replay sent, and an alarm set for
/// the sign-in's expiry. All of it runs without a wait, so no event is committed in between.
pub async fn open(
    state: &State,
    sql: &SqlStorage,
    open: &StreamOpen,
    sockets_per_user: usize,
    now: i64,
) -> Result<Response, ApiError> {
    if !use_ticket(sql, &open.nonce, now)? {
        return Err(ApiError::new(
            401,
            "invalid_ticket",
            "the ticket was used before or has expired: get a new one from POST /api/v6/call/stream/ticket",
        ));
    }
    stream::admit(state.get_websockets().len(), sockets_per_user)?;
    let pair = WebSocketPair::new().map_err(|e| ApiError::internal(format!("WebSocketPair: {e}")))?;
    let wanted = SocketState {
        events: open.events.clone(),
        token_expires_at: open.token_expires_at,
    };
    state.accept_web_socket(&pair.server);
    pair.server
        .serialize_attachment(&wanted)
        .map_err(|e| ApiError::internal(format!("a socket's attachment: {e}")))?;
    replay(sql, &pair.server, &wanted, open.cursor, now)?;
    schedule_expiry(state, open.token_expires_at).await;
    Response::from_websocket(pair.client).map_err(|e| ApiError::internal(format!("the upgrade answer: {e}")))
}

/// Makes sure an alarm fires by `at` (unix seconds) to close sockets whose sign-in has expired.
async fn schedule_expiry(state: &State, at: i64) {
    alarm_by(state, at.saturating_mul(1000) as f64).await;
}

/// Makes sure the object's one alarm fires by `at_ms` (epoch milliseconds): it is set unless it is due sooner.
/// The alarm does every timed job of the object (expiring sockets, writing the log).
pub async fn alarm_by(state: &State, at_ms: f64) {
    let storage = state.storage();
    let current = storage.get_alarm().await.unwrap_or(None);
    if current.is_none_or(|current| current as f64 > at_ms) {
        // An absolute time: an `i64` would be taken as an offset from now.
        let when = ScheduledTime::new(js_sys::Date::new(&JsValue::from_f64(at_ms)));
        if let Err(e) = storage.set_alarm(when).await {
            console_error!("user object: setting the alarm: {e}");
        }
    }
}

/// The alarm: closes the sockets whose sign-in has expired, and sets the next alarm for the others.
pub async fn expire(state: &State, now: i64) {
    let mut next: Option<i64> = None;
    for socket in state.get_websockets() {
        let Some(wanted) = socket_state(&socket) else {
            continue;
        };
        if wanted.expired(now) {
            close_expired(&socket);
        } else {
            next = Some(next.map_or(wanted.token_expires_at, |n| n.min(wanted.token_expires_at)));
        }
    }
    if let Some(at) = next {
        schedule_expiry(state, at).await;
    }
}

/// A frame from a client: `resume` replays; anything else is answered with an error frame, and the socket
/// (and every other) stays open.
pub fn message(sql: &SqlStorage, socket: &WebSocket, text: Option<&str>, now: i64) {
    let Some(text) = text else {
        send(socket, &stream::error_frame("invalid_frame", "frames are text"));
        return;
    };
    match ClientFrame::parse(text) {
        Ok(ClientFrame::Resume { cursor }) => {
            let Some(wanted) = socket_state(socket) else {
                return;
            };
            if let Err(e) = replay(sql, socket, &wanted, Some(cursor), now) {
                console_error!("stream: replaying: {}", e.internal.as_deref().unwrap_or_default());
                send(socket, &stream::error_frame("internal", "the replay failed: reconnect"));
            }
        }
        Err(refusal) => send(socket, &refusal),
    }
}

/// Answers a client's close (needed before compatibility date 2026-04-07) with the same code, where that code
/// may be sent.
pub fn closed(socket: &WebSocket, code: usize, reason: &str) {
    let code = match code {
        1000 | 3000..=4999 => code as u16,
        _ => 1000,
    };
    let _ = socket.close(Some(code), Some(reason));
}
