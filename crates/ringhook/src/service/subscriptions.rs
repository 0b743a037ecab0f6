//! The subscription API's operations: parse and check the request, read and write the user's document, answer
//! (the answers and errors themselves are in [`super::http`]).
//! Platform-free: the user's object supplies the store, the clock and the random source.

use serde::Deserialize;

use super::http::{parse_body, reply, ApiError, Reply};

use crate::model::api::{
    DeleteResponse, ListResponse, PatchRequest, RotateResponse, SubscribeRequest, SubscribeResponse, Subscription,
    SubscriptionResponse,
};
use crate::model::secret_box::StorageKey;
use crate::model::store::{PreviousSecret, StoredSubscription, SubscriptionStore, UserDocument};
use crate::model::validate::{self, UrlParser, UrlPolicy};
use crate::protocol::event::ulid;
use crate::protocol::signature::SecretKey;
use crate::protocol::time::rfc3339;
use crate::service::routes::SubscriptionOp;

/// How long a rotated-out secret keeps signing, in seconds.
pub const SECRET_OVERLAP_SECS: i64 = 24 * 60 * 60;
/// Subscriptions per user, unless configured otherwise.
pub const DEFAULT_MAX_PER_USER: usize = 25;

/// What the deployment decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where webhook URLs may point.
    pub url_policy: UrlPolicy,
    /// Subscriptions per user.
    pub max_per_user: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            url_policy: UrlPolicy::PRODUCTION,
            max_per_user: DEFAULT_MAX_PER_USER,
        }
    }
}

/// A source of secure random bytes (the platform's CSPRNG).
pub trait Random {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// The optional body of a rotation: nothing, or `{}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateRequest {}

/// One request's worth of what the operations need.
pub struct Service<'a, S, R> {
    /// Where subscriptions live.
    pub store: &'a S,
    /// The deployment's settings.
    pub config: &'a Config,
    /// The key secrets are sealed with.
    pub key: &'a StorageKey,
    /// Unix seconds.
    pub now: i64,
    /// Secure random bytes.
    pub random: R,
    /// The platform's parser of URLs (the WHATWG URL Standard's).
    pub urls: &'a dyn UrlParser,
}

impl<S: SubscriptionStore, R: Random> Service<'_, S, R> {
    /// Answers a route that reads or changes the user's subscriptions. It loads, decides and saves without
    /// waiting on anything: run in the user's object, nothing can come between its read and its write.
    pub fn handle(&mut self, op: &SubscriptionOp, body: &[u8]) -> Result<Reply, ApiError> {
        match op {
            SubscriptionOp::Subscribe => self.subscribe(parse_body(body)?),
            SubscriptionOp::List => {
                let document = self.store.load()?;
                let subscriptions = document.subscriptions.into_iter().map(|s| s.public).collect();
                reply(
                    200,
                    &ListResponse {
                        success: true,
                        subscriptions,
                    },
                )
            }
            SubscriptionOp::Get(id) => {
                let document = self.store.load()?;
                let stored = find(&document, id)?;
                reply(
                    200,
                    &SubscriptionResponse {
                        success: true,
                        subscription: stored.public.clone(),
                    },
                )
            }
            SubscriptionOp::Update(id) => self.update(id, parse_body(body)?),
            SubscriptionOp::Delete(id) => {
                let mut document = self.store.load()?;
                let before = document.subscriptions.len();
                document.subscriptions.retain(|s| s.public.id != *id);
                if document.subscriptions.len() == before {
                    return Err(ApiError::no_subscription(id));
                }
                self.store.save(&document)?;
                reply(
                    200,
                    &DeleteResponse {
                        success: true,
                        id: id.clone(),
                    },
                )
            }
            SubscriptionOp::RotateSecret(id) => {
                if !body.iter().all(u8::is_ascii_whitespace) {
                    parse_body::<RotateRequest>(body)?;
                }
                self.rotate(id)
            }
        }
    }

    fn subscribe(&mut self, request: SubscribeRequest) -> Result<Reply, ApiError> {
        let url = validate::webhook_url(&request.webhook_url, self.config.url_policy, self.urls)?;
        let events = validate::events(&request.events)?;
        let mut document = self.store.load()?;
        if let Some(existing) = document.with_url(&url, None) {
            return Err(ApiError::new(
                409,
                "subscription_exists",
                format!(
                    "{} already has this webhook_url: update it with PATCH instead",
                    existing.public.id
                ),
            ));
        }
        if document.subscriptions.len() >= self.config.max_per_user {
            return Err(ApiError::new(
                409,
                "subscription_limit_reached",
                format!(
                    "a user may have {} subscriptions: delete one first",
                    self.config.max_per_user
                ),
            ));
        }

        let id = format!("sub_{}", ulid(self.now.max(0) as u64 * 1000, self.bytes()));
        let secret = SecretKey::generate(self.bytes());
        let public = Subscription::new(id.clone(), url, events, rfc3339(self.now));
        let sealed = self.key.seal(secret.expose(), &id, self.bytes());
        document.subscriptions.push(StoredSubscription {
            public: public.clone(),
            secret: sealed,
            previous_secret: None,
        });
        self.store.save(&document)?;
        reply(
            201,
            &SubscribeResponse {
                success: true,
                subscription: public,
                secret_key: secret.expose().to_owned(),
            },
        )
    }

    fn update(&mut self, id: &str, patch: PatchRequest) -> Result<Reply, ApiError> {
        if patch == PatchRequest::default() {
            return Err(ApiError::new(
                400,
                "invalid_request",
                "PATCH needs at least one of active, events, webhook_url",
            ));
        }
        let url = patch
            .webhook_url
            .as_deref()
            .map(|u| validate::webhook_url(u, self.config.url_policy, self.urls))
            .transpose()?;
        let events = patch.events.as_deref().map(validate::events).transpose()?;
        let mut document = self.store.load()?;
        if let Some(url) = &url {
            if let Some(other) = document.with_url(url, Some(id)) {
                let message = format!("{} already has this webhook_url", other.public.id);
                return Err(ApiError::new(409, "subscription_exists", message));
            }
        }
        let now = rfc3339(self.now);
        let stored = find_mut(&mut document, id)?;
        let public = &mut stored.public;
        if let Some(url) = url {
            public.webhook_url = url;
        }
        if let Some(events) = events {
            public.events = events;
        }
        match patch.active {
            Some(true) => {
                public.active = true;
                public.failure_count = 0;
                public.failing_since = None;
                public.deactivated_at = None;
                public.deactivation_reason = None;
            }
            Some(false) if public.active => {
                public.active = false;
                public.deactivated_at = Some(now.clone());
                public.deactivation_reason = Some(crate::delivery::deactivation::MANUAL.to_owned());
            }
            _ => {}
        }
        public.updated_at = now;
        let subscription = public.clone();
        self.store.save(&document)?;
        reply(
            200,
            &SubscriptionResponse {
                success: true,
                subscription,
            },
        )
    }

    fn rotate(&mut self, id: &str) -> Result<Reply, ApiError> {
        let mut document = self.store.load()?;
        let secret = SecretKey::generate(self.bytes());
        let nonce = self.bytes();
        let expires_at = self.now + SECRET_OVERLAP_SECS;
        let stored = find_mut(&mut document, id)?;
        let sealed = self.key.seal(secret.expose(), id, nonce);
        let previous = std::mem::replace(&mut stored.secret, sealed);
        stored.previous_secret = Some(PreviousSecret {
            sealed: previous,
            expires_at,
        });
        stored.public.updated_at = rfc3339(self.now);
        let subscription = stored.public.clone();
        self.store.save(&document)?;
        reply(
            200,
            &RotateResponse {
                success: true,
                subscription,
                secret_key: secret.expose().to_owned(),
                previous_secret_expires_at: rfc3339(expires_at),
            },
        )
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut buf = [0u8; N];
        self.random.fill(&mut buf);
        buf
    }
}

/// The user's subscription `id`, to change, or `404 not_found` (also for another user's id).
fn find_mut<'d>(document: &'d mut UserDocument, id: &str) -> Result<&'d mut StoredSubscription, ApiError> {
    document
        .subscriptions
        .iter_mut()
        .find(|s| s.public.id == id)
        .ok_or_else(|| ApiError::no_subscription(id))
}

/// The user's subscription `id`, or `404 not_found` (also for another user's id).
pub fn find<'d>(document: &'d UserDocument, id: &str) -> Result<&'d StoredSubscription, ApiError> {
    document
        .subscriptions
        .iter()
        .find(|s| s.public.id == id)
        .ok_or_else(|| ApiError::no_subscription(id))
}
