//! One fetch handler reading one KV key: what every Rust Worker pays before doing anything of its own; with the
//! `object` feature, also a Durable Object class that answers `{}`, what one with an object pays.
use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(_request: Request, env: Env, _ctx: Context) -> Result<Response> {
    let value = env.kv("SUBSCRIPTIONS")?.get("hello").text().await?;
    Response::ok(value.unwrap_or_else(|| "hello".into()))
}

/// The least Durable Object: what a Worker with one pays for the class and its binding.
#[cfg(feature = "object")]
#[worker::durable_object]
pub struct Floor {
    _state: worker::State,
}

#[cfg(feature = "object")]
impl worker::DurableObject for Floor {
    fn new(state: worker::State, _env: Env) -> Self {
        Self { _state: state }
    }

    async fn fetch(&self, _request: Request) -> Result<Response> {
        Response::ok("{}")
    }
}
