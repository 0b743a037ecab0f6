//! The live stream's two routes: issuing a ticket to a signed-in user, and handing a WebSocket upgrade with a
//! valid ticket to that user's object (see `live` for the object's side).

use ringhook::protocol::time::rfc3339;
use ringhook::service::http::{reply, ApiError, Reply};
use ringhook::service::object::{Command, StreamOpen, STREAM_HEADER};
use ringhook::service::stream::{self, AllowedOrigins, StreamQuery, Ticket, TicketResponse};
use worker::{Env, Headers, Request, RequestInit, Response};

use crate::auth::SignedIn;
use crate::config::Settings;
use crate::http::{query_pairs, random_bytes, Cors};
use crate::users;

/// `POST /api/v6/call/stream/ticket`: the user's object records the ticket's nonce, to accept it once.
pub async fn ticket(env: &Env, settings: &Settings, user: &SignedIn, now: i64) -> Result<Reply, ApiError> {
    let ticket = Ticket::issue(&user.uid, user.expires_at, now, random_bytes());
    users::call(
        env,
        &user.uid,
        Command::IssueTicket {
            nonce: ticket.nonce.clone(),
            expires_at: ticket.expires_at,
        },
    )
    .await?;
    reply(
        201,
        &TicketResponse {
            success: true,
            ticket: ticket.seal(&settings.storage_key, random_bytes()),
            expires_at: rfc3339(ticket.expires_at),
        },
    )
}

/// `GET /api/v6/call/stream`: checks the request and its ticket, then forwards the upgrade to the ticket's
/// user's object, whose answer (the socket, or a refusal) goes back as it is.
pub async fn open(request: &Request, env: &Env, settings: &Settings, now: i64) -> Result<Response, ApiError> {
    let headers = request.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    let allowed = match &settings.cors {
        Cors::Any => AllowedOrigins::Any,
        Cors::Origins(list) => AllowedOrigins::Only(list.clone()),
    };
    stream::check_upgrade(header("upgrade").as_deref(), header("origin").as_deref(), &allowed)?;
    let pairs = query_pairs(request);
    let query = StreamQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let ticket = Ticket::open(query.ticket.as_deref(), &settings.storage_key, now)?;

    let open = StreamOpen {
        uid: ticket.uid.clone(),
        nonce: ticket.nonce,
        events: query.events,
        cursor: query.cursor,
        token_expires_at: ticket.token_expires_at,
    };
    let forwarded = Headers::new();
    let set = |name: &str, value: &str| {
        forwarded
            .set(name, value)
            .map_err(|e| ApiError::internal(format!("header {name}: {e}")))
    };
    set("upgrade", "websocket")?;
    set(
        STREAM_HEADER,
        &serde_json::to_string(&open).map_err(|e| ApiError::internal(e.to_string()))?,
    )?;
    let mut init = RequestInit::new();
    init.with_headers(forwarded);
    let forward = Request::new_with_init("https://user-object/stream", &init)
        .map_err(|e| ApiError::internal(format!("a request to a user's object: {e}")))?;
    users::stub(env, &ticket.uid)?
        .fetch_with_request(forward)
        .await
        .map_err(|e| ApiError::unavailable(format!("a user's object did not answer: {e}")))
}
