//! One fetch handler reading one KV key: what every Rust Worker pays before doing anything of its own.
use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(_request: Request, env: Env, _ctx: Context) -> Result<Response> {
    let value = env.kv("SUBSCRIPTIONS")?.get("hello").text().await?;
    Response::ok(value.unwrap_or_else(|| "hello".into()))
}
