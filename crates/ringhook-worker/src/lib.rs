//! ringhook on Cloudflare Workers: the subscription API (users signed in with Firebase), publishing, and the
//! delivery pipeline on Queues. Each user's mutable state has one writer, that user's Durable Object
//! (`user_object`); KV keeps what is written once (event bodies, the delivery log). The logic lives in the core
//! crate; this crate is the glue to the platform: requests, the objects, KV, Queues, outbound fetch, the clock,
//! random bytes, WebCrypto and the JWKS.

mod attempts;
mod auth;
mod config;
mod consumer;
mod deliveries;
mod flush;
mod http;
mod kv_store;
mod live;
mod pipeline;
mod send;
mod sql;
mod stream;
mod user_object;
mod users;

use std::rc::Rc;

use futures_util::StreamExt;
use ringhook::model::api::HealthResponse;
use ringhook::service::http::{check_size, reply, ApiError, Reply};
use ringhook::service::object::Command;
use ringhook::service::publish::{self, PublishResponse};
use ringhook::service::routes::{self, Route, UserRoute};
use worker::{console_error, event, Context, Env, MessageBatch, Request, Response, Result};

use crate::config::Settings;

/// The static assets (www/), where `make worker` puts the OpenAPI document of the routes (kept beside the core's
/// models as crates/ringhook/openapi.json and tested to match the route table): served from there, it costs the
/// Worker's bundle nothing.
const ASSETS: &str = "ASSETS";

#[event(fetch)]
async fn fetch(request: Request, env: Env, ctx: Context) -> Result<Response> {
    let origin = request.headers().get("origin")?;
    let settings = match config::settings(&env) {
        Ok(settings) => settings,
        Err(e) => {
            console_error!("settings: {}", e.internal.as_deref().unwrap_or_default());
            return http::error(&e, None);
        }
    };
    let cors = settings.cors.allow(origin.as_deref());
    match answer(request, &env, &settings, &ctx).await {
        Ok(Answer::Json(reply)) => http::json(reply.status, &reply.body, cors.as_deref()),
        Ok(Answer::Preflight) => http::preflight(cors.as_deref()),
        Ok(Answer::Upgrade(response)) => Ok(response),
        Err(e) => {
            if let Some(detail) = &e.internal {
                console_error!("{} {}: {detail}", e.status, e.code);
            }
            http::error(&e, cors.as_deref())
        }
    }
}

#[event(queue)]
async fn queue(batch: MessageBatch<serde_json::Value>, env: Env, _ctx: Context) -> Result<()> {
    consumer::consume(batch, &env).await
}

enum Answer {
    Json(Reply),
    /// A stream socket (or the user's object's refusal), as the object answered.
    Upgrade(Response),
    Preflight,
}

async fn answer(
    mut request: Request,
    env: &Env,
    settings: &Rc<Settings>,
    ctx: &Context,
) -> std::result::Result<Answer, ApiError> {
    // The method as sent: workers-rs reads a method it has no name for (QUERY, PROPFIND) as GET.
    let route = routes::route(&request.inner().method(), &request.path()).map_err(ApiError::from)?;
    let user_route = match route {
        Route::Preflight => return Ok(Answer::Preflight),
        Route::OpenApi => {
            return Ok(Answer::Json(Reply {
                status: 200,
                body: openapi(env).await?,
            }))
        }
        Route::Health => {
            let health = HealthResponse {
                success: true,
                status: "ok".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            };
            return reply(200, &health).map(Answer::Json);
        }
        Route::Stream => {
            return stream::open(&request, env, settings, http::now_seconds())
                .await
                .map(Answer::Upgrade)
        }
        Route::Publish => None,
        Route::User(user_route) => Some(user_route),
    };

    let authorization = request.headers().get("authorization").ok().flatten();
    let now = http::now_seconds();
    let declared = request
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok());
    check_size(declared.unwrap_or(0))?;

    let Some(user_route) = user_route else {
        check_call_system(authorization.as_deref(), settings)?;
        let body = read_body(&mut request, declared).await?;
        let ready = publish::prepare(publish::parse_request(&body)?, now, http::random_bytes)?;
        let (events, claimed) = pipeline::publish(env, ready).await;
        // The publisher has its answer while the first attempts are made (those of the users whose events were
        // published, even if another user's object refused).
        let (env, settings) = (env.clone(), Rc::clone(settings));
        ctx.wait_until(async move { consumer::at_once(&env, &settings, claimed).await });
        return reply(
            202,
            &PublishResponse {
                success: true,
                events: events?,
            },
        )
        .map(Answer::Json);
    };

    let user = auth::user(authorization.as_deref(), &settings.auth, now).await?;
    let uid = user.uid.clone();
    let body = read_body(&mut request, declared).await?;
    let reply = match user_route {
        UserRoute::Subscriptions(op) => {
            let body = String::from_utf8(body)
                .map_err(|_| ApiError::new(400, "invalid_json", "the request body is not UTF-8 JSON"))?;
            users::call(env, &uid, Command::Api { op, body }).await?
        }
        UserRoute::Test => deliveries::test(env, settings, &uid, &body, now).await?,
        UserRoute::Deliveries(id) => deliveries::log(env, &uid, &id, &http::query_pairs(&request)).await?,
        UserRoute::Redeliver(id, event_id) => deliveries::redeliver(env, settings, &uid, &id, &event_id).await?,
        UserRoute::Recover(id) => deliveries::recover(env, &uid, &id, &body).await?,
        UserRoute::Stats(id) => {
            let pairs = http::query_pairs(&request);
            let window = pairs.iter().find(|(name, _)| name == "window").map(|(_, v)| v.as_str());
            let window = ringhook::delivery::stats::Window::parse(window)?.name().to_owned();
            users::call(env, &uid, Command::Stats { id, window }).await?
        }
        UserRoute::StreamTicket => stream::ticket(env, settings, &user, now).await?,
    };
    Ok(Answer::Json(reply))
}

/// The OpenAPI document, from the static assets.
async fn openapi(env: &Env) -> std::result::Result<String, ApiError> {
    let unavailable = |detail: String| ApiError::unavailable(format!("{ASSETS} openapi.json: {detail}"));
    let assets = env.assets(ASSETS).map_err(|e| unavailable(e.to_string()))?;
    let mut response = assets
        .fetch("https://assets.local/openapi.json", None)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if response.status_code() != 200 {
        return Err(unavailable(format!("status {}", response.status_code())));
    }
    response.text().await.map_err(|e| unavailable(e.to_string()))
}

/// Reads the body. One of a declared length (checked against the limit already, and held to it by the runtime)
/// is read at once; one without `Content-Length` (chunked) as it streams in, never past
/// [`ringhook::service::http::MAX_BODY_BYTES`] plus one chunk.
async fn read_body(request: &mut Request, declared: Option<usize>) -> std::result::Result<Vec<u8>, ApiError> {
    let unreadable = |e: worker::Error| ApiError::new(400, "invalid_request", format!("unreadable body: {e}"));
    if request.inner().body().is_none() {
        return Ok(Vec::new());
    }
    if declared.is_some() {
        return request.bytes().await.map_err(unreadable);
    }
    let mut chunks = request.stream().map_err(unreadable)?;
    let mut body = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(unreadable)?;
        check_size(body.len() + chunk.len())?;
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The call system authenticates with CALL_EVENTS_TOKEN, compared in constant time.
fn check_call_system(authorization: Option<&str>, settings: &Settings) -> std::result::Result<(), ApiError> {
    let unauthorized = |m: &str| ApiError::new(401, "unauthorized", m);
    let expected = settings
        .delivery
        .call_events_token
        .as_deref()
        .ok_or_else(|| unauthorized("publishing is not enabled: set CALL_EVENTS_TOKEN"))?;
    let presented = ringhook::service::firebase::bearer(authorization)
        .map_err(|_| unauthorized("send Authorization: Bearer <CALL_EVENTS_TOKEN>"))?;
    if publish::token_matches(presented, expected) {
        Ok(())
    } else {
        Err(unauthorized("the publishing token is not CALL_EVENTS_TOKEN"))
    }
}
