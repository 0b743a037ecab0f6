//! The Worker's settings, from its environment (`[vars]` and secrets in wrangler.toml), read once per isolate.

use std::rc::Rc;

use ringhook::delivery::{self, RetryPolicy, DEFAULT_TIMEOUT_MS};
use ringhook::model::secret_box::StorageKey;
use ringhook::model::validate::UrlPolicy;
use ringhook::service::firebase;
use ringhook::service::http::ApiError;
use ringhook::service::subscriptions::{Config, DEFAULT_MAX_PER_USER};
use ringhook::service::{ratelimit, stream};
use worker::Env;

use crate::auth::AuthSettings;
use crate::http::Cors;

/// Default JWKS of Firebase ID tokens.
const GOOGLE_JWKS_URL: &str =
    "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com";

/// Everything a request needs from the environment.
pub struct Settings {
    pub api: Config,
    pub auth: AuthSettings,
    pub storage_key: StorageKey,
    pub cors: Cors,
    pub delivery: DeliverySettings,
    /// Live-stream sockets one user may hold open at once.
    pub stream_sockets_per_user: usize,
}

/// How deliveries are made.
pub struct DeliverySettings {
    pub policy: RetryPolicy,
    pub timeout_ms: u32,
    /// The call system's bearer token for publishing; unset: publishing over HTTP is refused.
    pub call_events_token: Option<String>,
    pub test_per_minute: u32,
    pub redeliver_per_minute: u32,
}

fn number<T: std::str::FromStr>(env: &Env, name: &str, default: T) -> Result<T, String> {
    match text(env, name) {
        Some(v) => v.trim().parse().map_err(|_| format!("{name} must be a whole number")),
        None => Ok(default),
    }
}

/// A text binding (`[vars]` or a secret), if set and not blank.
fn text(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .ok()
        .filter(|v| !v.trim().is_empty())
}

thread_local! {
    static SETTINGS: std::cell::OnceCell<Rc<Settings>> = const { std::cell::OnceCell::new() };
}

/// The settings of this isolate: read from `env` on first use, then kept (an isolate's bindings never change).
/// A setting that does not parse is a 500 naming the binding, every time until it is fixed.
pub fn settings(env: &Env) -> Result<Rc<Settings>, ApiError> {
    if let Some(settings) = SETTINGS.with(|cell| cell.get().cloned()) {
        return Ok(settings);
    }
    let settings = Rc::new(Settings::from_env(env).map_err(ApiError::internal)?);
    SETTINGS.with(|cell| cell.set(settings.clone()).ok());
    Ok(settings)
}

impl Settings {
    /// Reads the settings; an error names the binding at fault (never its value).
    pub fn from_env(env: &Env) -> Result<Self, String> {
        let project_id = text(env, "FIREBASE_PROJECT_ID").ok_or("FIREBASE_PROJECT_ID is not set")?;
        let mut storage_key = StorageKey::from_base64(&text(env, "SECRETS_KEY").ok_or("SECRETS_KEY is not set")?)
            .map_err(|e| e.to_string())?;
        if let Some(previous) = text(env, "SECRETS_KEY_PREVIOUS") {
            storage_key = storage_key
                .with_previous(&previous)
                .map_err(|_| "SECRETS_KEY_PREVIOUS must be base64 of 32 bytes")?;
        }
        let max_per_user = number(env, "MAX_SUBSCRIPTIONS_PER_USER", DEFAULT_MAX_PER_USER)?;
        let schedule = match text(env, "RETRY_SCHEDULE") {
            Some(v) => delivery::parse_schedule(&v)?,
            None => delivery::DEFAULT_SCHEDULE.to_vec(),
        };
        let deactivate_after = number(env, "DEACTIVATE_AFTER_FAILURES", delivery::DEFAULT_DEACTIVATE_AFTER)?.max(1);
        let deactivate_after_secs = match text(env, "DEACTIVATE_AFTER_SECONDS") {
            Some(v) => delivery::parse_window(&v)?,
            None => delivery::DEFAULT_DEACTIVATE_AFTER_SECS,
        };
        let (allow_unsigned, said) =
            firebase::emulator_tokens(text(env, "FIREBASE_AUTH_EMULATOR_HOST").as_deref(), &project_id);
        if let Some(said) = said {
            worker::console_log!("{said}");
        }
        let allow_loopback = text(env, "ALLOW_LOOPBACK_WEBHOOKS").is_some_and(|v| v.trim() == "true");
        Ok(Self {
            api: Config {
                url_policy: UrlPolicy { allow_loopback },
                max_per_user,
            },
            auth: AuthSettings {
                project_id,
                jwks_url: text(env, "FIREBASE_JWKS_URL").unwrap_or_else(|| GOOGLE_JWKS_URL.to_owned()),
                allow_unsigned,
            },
            storage_key,
            cors: Cors::from_setting(text(env, "ALLOWED_ORIGINS").as_deref().unwrap_or("*")),
            delivery: DeliverySettings {
                policy: RetryPolicy {
                    schedule,
                    deactivate_after,
                    deactivate_after_secs,
                },
                timeout_ms: number(env, "DELIVERY_TIMEOUT_MS", DEFAULT_TIMEOUT_MS)?.max(1),
                call_events_token: text(env, "CALL_EVENTS_TOKEN"),
                test_per_minute: number(env, "TEST_RATE_LIMIT_PER_MINUTE", ratelimit::DEFAULT_TEST_PER_MINUTE)?,
                redeliver_per_minute: number(
                    env,
                    "REDELIVER_RATE_LIMIT_PER_MINUTE",
                    ratelimit::DEFAULT_REDELIVER_PER_MINUTE,
                )?,
            },
            stream_sockets_per_user: number(env, "STREAM_SOCKETS_PER_USER", stream::DEFAULT_SOCKETS_PER_USER)?,
        })
    }
}
