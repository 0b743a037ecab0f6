//! ringhook on Cloudflare Workers: the subscription API, with subscriptions in KV and users signed in with
//! Firebase. The logic lives in the core crate; this crate is the glue to the platform: requests, KV, the
//! clock, random bytes, WebCrypto and the JWKS fetch.

mod auth;
mod config;
mod http;
mod kv_store;

use ringhook::routes::{self, Route, RouteError};
use ringhook::subscriptions::{ApiError, Reply, Service, MAX_BODY_BYTES};
use worker::{console_error, event, Context, Env, Request, Response, Result};

use crate::config::Settings;
use crate::kv_store::KvSubscriptions;

/// The OpenAPI document of the routes, kept beside the core's models and tested to match the route table.
const OPENAPI: &str = include_str!("../../ringhook/openapi.json");

#[event(fetch)]
async fn fetch(request: Request, env: Env, _ctx: Context) -> Result<Response> {
    let origin = request.headers().get("origin")?;
    let settings = match Settings::from_env(&env) {
        Ok(settings) => settings,
        Err(e) => return http::error(&ApiError::internal(e), None),
    };
    let cors = settings.cors.allow(origin.as_deref());
    let outcome = answer(request, &env, &settings).await;
    let response = match outcome {
        Ok(Answer::Json(reply)) => http::json(reply.status, &reply.body, cors.as_deref()),
        Ok(Answer::OpenApi) => http::json(200, OPENAPI, cors.as_deref()),
        Ok(Answer::Preflight) => http::preflight(cors.as_deref()),
        Err(e) => {
            if let Some(detail) = &e.internal {
                console_error!("{} {}: {detail}", e.status, e.code);
            }
            http::error(&e, cors.as_deref())
        }
    };
    response
}

enum Answer {
    Json(Reply),
    OpenApi,
    Preflight,
}

async fn answer(
    mut request: Request,
    env: &Env,
    settings: &Settings,
) -> std::result::Result<Answer, ApiError> {
    let route = routes::route(request.method().as_ref(), &request.path()).map_err(|e| match e {
        RouteError::NotFound => ApiError::new(
            404,
            "not_found",
            "no such route: see /api/v6/call/webhook/openapi.json",
        ),
        RouteError::MethodNotAllowed(allowed) => ApiError::new(
            405,
            "method_not_allowed",
            format!("this route takes {}", allowed.join(", ")),
        ),
    })?;
    match route {
        Route::Preflight => return Ok(Answer::Preflight),
        Route::OpenApi => return Ok(Answer::OpenApi),
        Route::Health => {
            let body = serde_json::json!({ "success": true, "status": "ok", "version": env!("CARGO_PKG_VERSION") });
            return Ok(Answer::Json(Reply {
                status: 200,
                body: body.to_string(),
            }));
        }
        _ => {}
    }

    let authorization = request.headers().get("authorization").ok().flatten();
    let now = http::now_seconds();
    let uid = auth::user_id(authorization.as_deref(), &settings.auth, now).await?;

    let declared = request
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(ApiError::new(
            413,
            "payload_too_large",
            format!("the request body is over {MAX_BODY_BYTES} bytes"),
        ));
    }
    let body = request
        .bytes()
        .await
        .map_err(|e| ApiError::new(400, "invalid_request", format!("unreadable body: {e}")))?;

    let kv = env
        .kv(kv_store::BINDING)
        .map_err(|e| ApiError::internal(format!("KV binding {}: {e}", kv_store::BINDING)))?;
    let store = KvSubscriptions::new(kv);
    let mut service = Service {
        store: &store,
        config: &settings.api,
        key: &settings.storage_key,
        now,
        random: http::CryptoRandom,
    };
    service.handle(&route, &uid, &body).await.map(Answer::Json)
}
