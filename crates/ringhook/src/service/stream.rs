//! The live stream: a signed-in user's browser tabs receive the same events their webhooks do, over a WebSocket
//! to the user's object, and resume after a disconnect.
//!
//! - `POST /api/v6/call/stream/ticket` (Firebase bearer token) issues a [`Ticket`]: single-use, valid for
//!   [`TICKET_SECS`], sealed under the service's storage key so that it names its user without showing who, and
//!   so that no ID token ever goes into a URL.
//! - `GET /api/v6/call/stream?ticket=…[&events=…][&cursor=…]` upgrades to a WebSocket held by the user's object.
//! - The object keeps the user's last events (at most [`KEEP_EVENTS`], none older than [`KEEP_SECS`]), each
//!   with a cursor: a number that grows by one per event. A client that connects (or sends a `resume` frame)
//!   with a cursor gets every later event in order, then `live`; one whose cursor is older than what is kept
//!   gets `gap` (refetch state), then `live`.
//!
//! Frames from the server are JSON text: `{"type":"event","cursor":N,"event":<the exact webhook body>}`,
//! `{"type":"live","cursor":N}`, `{"type":"gap","cursor":N}`, `{"type":"error","code":…,"message":…}` and
//! [`EXPIRED_FRAME`], sent just before the object closes a socket whose sign-in expired.
//! From the client: `ping` (answered `pong` without waking the object) and `{"type":"resume","cursor":N}`.
//!
//! Everything here is pure: the Worker and the object read, call and write.

use serde::{Deserialize, Serialize};

use crate::model::secret_box::{Sealed, StorageKey};
use crate::model::validate::{self, EventSelector};
use crate::protocol::base64;
use crate::protocol::event::EventType;
use crate::service::http::ApiError;

/// How long a ticket may be used, in seconds.
pub const TICKET_SECS: i64 = 60;
/// At most this many events are kept for resume.
pub const KEEP_EVENTS: i64 = 1_000;
/// No kept event is older than this, in seconds.
pub const KEEP_SECS: i64 = 24 * 3600;
/// Sockets one user may hold open at once, unless the service's settings say otherwise.
pub const DEFAULT_SOCKETS_PER_USER: usize = 100;
/// The close code of a socket whose sign-in expired: the client fetches a fresh ticket (with a fresh token).
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;
/// What a client sends to check the connection; the object answers [`PONG`] without waking.
pub const PING: &str = "ping";
/// The answer to [`PING`].
pub const PONG: &str = "pong";

const TICKET_PREFIX: &str = "tkt_";
/// Associated data of a sealed ticket: a sealed subscription secret can never pass for a ticket.
const TICKET_AAD: &str = "ringhook stream ticket";

/// What a ticket says, once opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The user whose events the socket receives.
    #[serde(rename = "u")]
    pub uid: String,
    /// The ticket's own id: the user's object accepts it once.
    #[serde(rename = "n")]
    pub nonce: String,
    /// Unix seconds after which the ticket is refused.
    #[serde(rename = "e")]
    pub expires_at: i64,
    /// When the sign-in behind the ticket expires (the ID token's `exp`): the socket is closed then.
    #[serde(rename = "t")]
    pub token_expires_at: i64,
}

/// The answer to `POST …/stream/ticket`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketResponse {
    /// Always `true`.
    pub success: bool,
    /// The ticket, for `GET …/stream?ticket=`.
    pub ticket: String,
    /// When it stops being accepted (RFC 3339).
    pub expires_at: String,
}

fn invalid_ticket(message: &str) -> ApiError {
    ApiError::new(
        401,
        "invalid_ticket",
        format!("{message}: get a new one from POST /api/v6/call/stream/ticket"),
    )
}

impl Ticket {
    /// A ticket for `uid`, issued at `now`, with a 16-byte random nonce.
    pub fn issue(uid: &str, token_expires_at: i64, now: i64, nonce: [u8; 16]) -> Self {
        Self {
            uid: uid.to_owned(),
            nonce: base64::encode_url(&nonce),
            expires_at: now + TICKET_SECS,
            token_expires_at,
        }
    }

    /// The ticket as the client carries it: `tkt_` and the sealed ticket, URL-safe.
    pub fn seal(&self, key: &StorageKey, random: [u8; 12]) -> String {
        let plain = serde_json::to_string(self).expect("a ticket serialises");
        let sealed = key.seal(&plain, TICKET_AAD, random);
        format!(
            "{TICKET_PREFIX}{}.{}",
            to_url(&sealed.nonce),
            to_url(&sealed.ciphertext)
        )
    }

    /// Opens a ticket sealed by [`Ticket::seal`] (under the current storage key or, during a rotation of it, the
    /// previous one) and checks that it is still valid at `now`. Whether it was
    /// used before is the user's object's to say.
    pub fn open(text: Option<&str>, key: &StorageKey, now: i64) -> Result<Self, ApiError> {
        let text = text
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid_ticket("the ticket parameter is missing"))?;
        let unreadable = || invalid_ticket("the ticket is not one this service issued");
        let (nonce, ciphertext) = text
            .strip_prefix(TICKET_PREFIX)
            .and_then(|rest| rest.split_once('.'))
            .ok_or_else(unreadable)?;
        let sealed = Sealed {
            nonce: from_url(nonce),
            ciphertext: from_url(ciphertext),
            key_id: None,
        };
        let plain = key.open(&sealed, TICKET_AAD).map_err(|_| unreadable())?;
        let ticket: Self = serde_json::from_str(&plain).map_err(|_| unreadable())?;
        if ticket.expires_at <= now {
            return Err(invalid_ticket("the ticket has expired (tickets last 60 s)"));
        }
        Ok(ticket)
    }
}

fn to_url(standard: &str) -> String {
    standard.trim_end_matches('=').replace('+', "-").replace('/', "_")
}

fn from_url(url_safe: &str) -> String {
    let mut s = url_safe.replace('-', "+").replace('_', "/");
    while s.len() % 4 != 0 {
        s.push('=');
    }
    s
}

/// A stream's parameters, from the query string of `GET …/stream`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamQuery {
    /// `ticket=`.
    pub ticket: Option<String>,
    /// `events=`: comma-separated event names, or `*` (the default).
    pub events: Vec<EventSelector>,
    /// `cursor=`: the last cursor the client saw.
    pub cursor: Option<u64>,
}

impl StreamQuery {
    /// Reads the query pairs; a bad `events` or `cursor` is a 400 that says what to fix.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, ApiError> {
        let mut query = Self {
            events: vec![EventSelector::All],
            ..Self::default()
        };
        for (name, value) in pairs {
            match name {
                "ticket" => query.ticket = Some(value.to_owned()),
                "events" => {
                    // A filter, not a stored list: a name given twice means what it means once.
                    let mut names: Vec<String> = Vec::new();
                    for name in value.split(',').map(str::trim) {
                        if !names.iter().any(|n| n == name) {
                            names.push(name.to_owned());
                        }
                    }
                    query.events = validate::events(&names)
                        .map_err(|e| ApiError::new(400, e.code, format!("events: {}", e.message)))?;
                }
                "cursor" if !value.is_empty() => {
                    query.cursor = Some(value.parse().map_err(|_| {
                        ApiError::new(
                            400,
                            "invalid_request",
                            "cursor must be the number of the last event received",
                        )
                    })?);
                }
                _ => {}
            }
        }
        Ok(query)
    }
}

/// Why a WebSocket is not opened, before the ticket is looked at.
pub fn check_upgrade(upgrade: Option<&str>, origin: Option<&str>, allowed: &AllowedOrigins) -> Result<(), ApiError> {
    if !upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        // RFC 6455 §4.2.1: a request that is not a WebSocket handshake is answered 400.
        return Err(ApiError::new(
            400,
            "upgrade_required",
            "this route is a WebSocket: connect with new WebSocket(url), or use CallEventStream",
        ));
    }
    if let (AllowedOrigins::Only(list), Some(origin)) = (allowed, origin) {
        if !list.iter().any(|o| o == origin) {
            return Err(ApiError::new(
                403,
                "forbidden_origin",
                format!("the origin {origin} is not in ALLOWED_ORIGINS"),
            ));
        }
    }
    Ok(())
}

/// The browser origins that may open a stream. A request without `Origin` is not a browser's, so no page can
/// make it on a user's behalf; it is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Any origin (`ALLOWED_ORIGINS="*"`, local development).
    Any,
    /// Only these.
    Only(Vec<String>),
}

/// What a socket remembers across hibernation (its attachment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketState {
    /// The event types it receives.
    #[serde(rename = "e")]
    pub events: Vec<EventSelector>,
    /// When its sign-in expires (unix seconds): the socket is closed then.
    #[serde(rename = "t")]
    pub token_expires_at: i64,
}

impl SocketState {
    /// Whether the socket receives events of type `event`.
    pub fn wants(&self, event: EventType) -> bool {
        self.events.iter().any(|s| s.matches(event))
    }

    /// Whether the socket must be closed at `now`.
    pub fn expired(&self, now: i64) -> bool {
        self.token_expires_at <= now
    }
}

/// The events the user's object keeps, by cursor: `first..=last` (`None` when none is kept), and the last
/// cursor ever given (kept or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    /// The oldest and newest kept cursors.
    pub range: Option<(u64, u64)>,
    /// The newest cursor ever given; 0 before the first event.
    pub last: u64,
}

/// What a client resuming from a cursor gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// The kept events after this cursor (possibly none), then `live`.
    After(u64),
    /// Some events after the client's cursor are no longer kept (or the cursor is not one this object gave):
    /// `gap`, then `live` from now on.
    Gap,
}

/// Where a client resumes. Without a cursor it starts live, with nothing replayed.
pub fn resume(cursor: Option<u64>, kept: Kept) -> Resume {
    let Some(cursor) = cursor else {
        return Resume::After(kept.last);
    };
    if cursor > kept.last {
        return Resume::Gap;
    }
    match kept.range {
        // Every event after the cursor is kept when the oldest kept one is at most the next.
        Some((first, _)) if cursor + 1 >= first => Resume::After(cursor),
        None if cursor == kept.last => Resume::After(cursor),
        _ => Resume::Gap,
    }
}

/// The oldest cursor and time kept at `now` when the newest cursor given is `newest`: a replay sends nothing
/// older than either, and [`trims`] says when the rows older than either are deleted.
pub fn keep_from(newest: u64, now: i64) -> (u64, i64) {
    (newest.saturating_sub(KEEP_EVENTS as u64 - 1), now - KEEP_SECS)
}

/// The rows no longer kept are deleted once every this many cursors, not with every event: until then a
/// replay passes over them (see [`keep_from`]): fewer than this many beyond the last [`KEEP_EVENTS`], and those
/// that grew older than [`KEEP_SECS`] meanwhile.
pub const TRIM_EVERY: u64 = 64;

/// Whether appending the events after cursor `before` up to cursor `after` deletes the rows no longer kept:
/// when the cursors pass a multiple of [`TRIM_EVERY`].
pub fn trims(before: u64, after: u64) -> bool {
    before / TRIM_EVERY != after / TRIM_EVERY
}

/// A frame with one event: the webhook body, exactly, inside.
pub fn event_frame(cursor: u64, body: &str) -> String {
    format!(r#"{{"type":"event","cursor":{cursor},"event":{body}}}"#)
}

/// The frame that ends a replay: from here on, events arrive as they are published.
pub fn live_frame(cursor: u64) -> String {
    format!(r#"{{"type":"live","cursor":{cursor}}}"#)
}

/// The frame that says events were missed: refetch state.
pub fn gap_frame(cursor: u64) -> String {
    format!(r#"{{"type":"gap","cursor":{cursor}}}"#)
}

/// The frame sent before a socket whose sign-in expired is closed with [`CLOSE_TOKEN_EXPIRED`]: the client
/// reconnects at once with a fresh ticket, even where the close itself is slow to reach it.
pub const EXPIRED_FRAME: &str = r#"{"type":"expired","message":"sign-in expired: reconnect with a fresh ticket"}"#;

/// Whether one more socket may open when `open` sockets of the user are open already and `limit` are allowed.
pub fn admit(open: usize, limit: usize) -> Result<(), ApiError> {
    if open < limit {
        return Ok(());
    }
    Err(ApiError::new(
        429,
        "too_many_streams",
        format!("at most {limit} streams per user may be open at once: close one first"),
    ))
}

/// A frame that refuses what the client sent; the socket stays open.
pub fn error_frame(code: &str, message: &str) -> String {
    serde_json::json!({"type": "error", "code": code, "message": message}).to_string()
}

/// What a client may send (besides `ping`, answered without the object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Replay what came after `cursor`, then `live`.
    Resume {
        /// The last cursor the client saw.
        cursor: u64,
    },
}

impl ClientFrame {
    /// Reads a client frame; anything else is refused with an error frame's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == PING {
            return Err(error_frame("invalid_frame", "ping is answered with pong"));
        }
        serde_json::from_str(text).map_err(|_| {
            error_frame(
                "invalid_frame",
                r#"send "ping" or {"type":"resume","cursor":N}; other frames are ignored"#,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> StorageKey {
        StorageKey::from_base64(&base64::encode(&[n; 32])).unwrap()
    }

    #[test]
    fn a_ticket_opens_under_its_key_until_it_expires() {
        let ticket = Ticket::issue("alice", 5_000, 1_000, [7; 16]);
        let text = ticket.seal(&key(1), [3; 12]);
        assert!(text.starts_with("tkt_") && !text.contains("alice"), "{text}");
        assert!(
            text.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)),
            "URL-safe: {text}"
        );
        assert_eq!(Ticket::open(Some(&text), &key(1), 1_059).unwrap(), ticket);
        let code = |r: Result<Ticket, ApiError>| r.unwrap_err().code;
        assert_eq!(code(Ticket::open(Some(&text), &key(1), 1_060)), "invalid_ticket");
        assert_eq!(code(Ticket::open(Some(&text), &key(2), 1_000)), "invalid_ticket");
        assert_eq!(code(Ticket::open(None, &key(1), 1_000)), "invalid_ticket");
        assert_eq!(code(Ticket::open(Some("tkt_x.y"), &key(1), 1_000)), "invalid_ticket");
        let mut altered = text.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            code(Ticket::open(
                Some(std::str::from_utf8(&altered).unwrap()),
                &key(1),
                1_000
            )),
            "invalid_ticket"
        );
        // A sealed subscription secret is not a ticket.
        let secret = key(1).seal(&serde_json::to_string(&ticket).unwrap(), "sub_1", [3; 12]);
        let forged = format!("tkt_{}.{}", to_url(&secret.nonce), to_url(&secret.ciphertext));
        assert_eq!(code(Ticket::open(Some(&forged), &key(1), 1_000)), "invalid_ticket");
    }

    #[test]
    fn a_socket_opens_only_below_the_limit() {
        assert!(admit(0, 1).is_ok());
        assert!(admit(99, DEFAULT_SOCKETS_PER_USER).is_ok());
        let refused = admit(3, 3).unwrap_err();
        assert_eq!((refused.status, refused.code.as_ref()), (429, "too_many_streams"));
        assert!(refused.message.contains("at most 3"), "{}", refused.message);
        assert_eq!(admit(0, 0).unwrap_err().status, 429);
    }

    #[test]
    fn the_expired_frame_is_json_a_client_recognises() {
        let frame: serde_json::Value = serde_json::from_str(EXPIRED_FRAME).unwrap();
        assert_eq!(frame["type"], "expired");
    }

    #[test]
    fn the_query_names_events_and_a_cursor() {
        let q = StreamQuery::parse([
            ("ticket", "t"),
            ("events", "call.completed,call.failed"),
            ("cursor", "42"),
        ])
        .unwrap();
        assert_eq!(q.ticket.as_deref(), Some("t"));
        assert_eq!(q.cursor, Some(42));
        assert_eq!(q.events.len(), 2);
        assert_eq!(StreamQuery::parse([]).unwrap().events, vec![EventSelector::All]);
        let twice = StreamQuery::parse([("events", "call.failed,call.completed,call.failed")]).unwrap();
        assert_eq!(twice.events.len(), 2, "a name given twice filters as once");
        assert_eq!(
            StreamQuery::parse([("events", "call.nope")]).unwrap_err().code,
            "invalid_events"
        );
        assert_eq!(
            StreamQuery::parse([("cursor", "-1")]).unwrap_err().code,
            "invalid_request"
        );
    }

    #[test]
    fn only_websocket_requests_from_allowed_origins_upgrade() {
        let only = AllowedOrigins::Only(vec!["https://app.example".into()]);
        assert_eq!(check_upgrade(None, None, &AllowedOrigins::Any).unwrap_err().status, 400);
        assert!(check_upgrade(Some("WebSocket"), Some("https://evil.example"), &AllowedOrigins::Any).is_ok());
        assert!(check_upgrade(Some("websocket"), Some("https://app.example"), &only).is_ok());
        assert!(check_upgrade(Some("websocket"), None, &only).is_ok());
        let e = check_upgrade(Some("websocket"), Some("https://evil.example"), &only).unwrap_err();
        assert_eq!((e.status, e.code.as_ref()), (403, "forbidden_origin"));
    }

    #[test]
    fn resuming_replays_what_is_kept_or_says_gap() {
        let kept = Kept {
            range: Some((11, 20)),
            last: 20,
        };
        assert_eq!(resume(None, kept), Resume::After(20));
        assert_eq!(resume(Some(20), kept), Resume::After(20));
        assert_eq!(resume(Some(15), kept), Resume::After(15));
        assert_eq!(resume(Some(10), kept), Resume::After(10));
        assert_eq!(resume(Some(9), kept), Resume::Gap);
        assert_eq!(resume(Some(21), kept), Resume::Gap);
        let none_kept = Kept { range: None, last: 20 };
        assert_eq!(resume(Some(20), none_kept), Resume::After(20));
        assert_eq!(resume(Some(19), none_kept), Resume::Gap);
        let fresh = Kept { range: None, last: 0 };
        assert_eq!(resume(Some(0), fresh), Resume::After(0));
        assert_eq!(resume(None, fresh), Resume::After(0));
    }

    #[test]
    fn at_most_a_thousand_events_of_the_last_day_are_kept() {
        assert_eq!(keep_from(1, 100_000), (0, 100_000 - 86_400));
        assert_eq!(keep_from(1_000, 0).0, 1);
        assert_eq!(keep_from(1_500, 0).0, 501);
    }

    #[test]
    fn the_rows_no_longer_kept_are_deleted_once_every_64_cursors() {
        assert!(!trims(0, 1));
        assert!(!trims(0, 63));
        assert!(trims(63, 64));
        assert!(!trims(64, 65));
        assert!(!trims(64, 127));
        assert!(trims(100, 130));
        // Several events appended at once that pass a multiple.
        assert!(trims(60, 70));
        assert!(trims(0, 200));
        // Nothing appended.
        assert!(!trims(64, 64));
    }

    #[test]
    fn frames_carry_the_webhook_body_exactly() {
        let body = r#"{"id":"evt_1","event":"call.completed","callId":"c","status":"completed","timestamp":1,"data":{"x":1.50}}"#;
        let frame = event_frame(7, body);
        assert!(frame.ends_with(&format!(r#""event":{body}}}"#)));
        let parsed: serde_json::Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(
            (parsed["type"].as_str(), parsed["cursor"].as_u64()),
            (Some("event"), Some(7))
        );
        assert_eq!(live_frame(3), r#"{"type":"live","cursor":3}"#);
        assert_eq!(gap_frame(3), r#"{"type":"gap","cursor":3}"#);
    }

    #[test]
    fn clients_may_resume_and_nothing_else() {
        assert_eq!(
            ClientFrame::parse(r#"{"type":"resume","cursor":4}"#),
            Ok(ClientFrame::Resume { cursor: 4 })
        );
        for bad in [
            "hello",
            "{}",
            r#"{"type":"subscribe"}"#,
            r#"{"type":"resume","cursor":-1}"#,
            r#"{"type":"resume","cursor":1,"x":2}"#,
        ] {
            let refused = ClientFrame::parse(bad).unwrap_err();
            assert!(refused.contains("invalid_frame"), "{bad}: {refused}");
        }
    }

    #[test]
    fn sockets_receive_what_they_asked_for_until_their_sign_in_expires() {
        let socket = SocketState {
            events: vec![EventSelector::One(EventType::CallFailed)],
            token_expires_at: 50,
        };
        assert!(socket.wants(EventType::CallFailed) && !socket.wants(EventType::CallCompleted));
        assert!(!socket.expired(49) && socket.expired(50));
    }
}
