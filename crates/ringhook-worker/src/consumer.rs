//! The queue consumer. `DELIVERIES` messages are attempts to make; `EVENTS` messages are publish items from
//! call systems on Workers. A batch's deliveries are grouped by user: the attempts run concurrently, then their
//! outcomes go into the user's document in one write.
//!
//! What is exact and what is not: a batch's log entries for a subscription are one new KV key, never rewritten
//! (append-only; see `ringhook::delivery_log`), so the log is exact. A subscription's failure count lives in its
//! user's document, read and written once per batch; two batches for the same user running at the same time can
//! overwrite each other's count (KV has no atomic update), so the count, and thus the moment of deactivation, can
//! lag by the attempts of a concurrent batch.

use std::collections::{BTreeMap, HashMap};

use futures_util::future::join_all;
use ringhook::delivery::{self, DeliveryMessage, DeliveryRecord, Outcome, Verdict};
use ringhook::publish::{self, PublishItem};
use ringhook::signature::SecretKey;
use ringhook::store::{SubscriptionStore, UserDocument};
use ringhook::subscriptions::ApiError;
use ringhook::time::rfc3339;
use serde_json::Value;
use worker::{console_error, Env, Message, MessageBatch, MessageExt};

use crate::config::Settings;
use crate::http::{new_event_id, now_seconds, random_bytes};
use crate::kv_store::{self, KvSubscriptions};
use crate::pipeline::{self, LogEntry, DEAD_LETTERS, DELIVERIES};
use crate::send::{send, Sent};

pub async fn consume(batch: MessageBatch<Value>, env: &Env) -> worker::Result<()> {
    let settings = Settings::from_env(env).map_err(worker::Error::RustError)?;
    let mut deliveries: BTreeMap<String, Vec<(Message<Value>, DeliveryMessage)>> = BTreeMap::new();
    let mut publishes = Vec::new();
    for message in batch.messages()? {
        if let Ok(delivery) = serde_json::from_value::<DeliveryMessage>(message.body().clone()) {
            deliveries
                .entry(delivery.uid.clone())
                .or_default()
                .push((message, delivery));
        } else {
            publishes.push(message);
        }
    }

    for message in publishes {
        match publish_from_queue(env, message.body()).await {
            Ok(()) => message.ack(),
            // A malformed item never becomes valid: drop it, loudly. A platform failure is retried.
            Err(e) if e.status < 500 => {
                console_error!("EVENTS message dropped: {} {}", e.code, e.message);
                message.ack();
            }
            Err(e) => {
                console_error!("EVENTS message retried: {}", e.internal.unwrap_or(e.message));
                message.retry();
            }
        }
    }

    for (uid, group) in deliveries {
        let (messages, deliveries): (Vec<_>, Vec<_>) = group.into_iter().unzip();
        match deliver_for_user(env, &settings, &uid, deliveries).await {
            Ok(()) => messages.iter().for_each(MessageExt::ack),
            Err(e) => {
                console_error!("deliveries of a user retried: {}", e.internal.unwrap_or(e.message));
                messages.iter().for_each(MessageExt::retry);
            }
        }
    }
    Ok(())
}

async fn publish_from_queue(env: &Env, body: &Value) -> Result<(), ApiError> {
    let item: PublishItem = serde_json::from_value(body.clone())
        .map_err(|e| ApiError::new(400, "invalid_request", format!("EVENTS message: {e}")))?;
    let now = now_seconds();
    let ready = publish::prepare(vec![item], now, random_bytes)?;
    pipeline::publish(env, ready, now).await.map(drop)
}

enum Done {
    Skipped(&'static str),
    Sent(Sent),
}

async fn deliver_for_user(
    env: &Env,
    settings: &Settings,
    uid: &str,
    messages: Vec<DeliveryMessage>,
) -> Result<(), ApiError> {
    let kv = kv_store::kv(env)?;
    let store = KvSubscriptions::new(kv.clone());
    let mut document = store.load(uid).await?;
    let now = now_seconds();

    // Each subscription's secrets are opened once for the batch, however many of its messages it holds.
    let mut keys: HashMap<&str, Vec<SecretKey>> = HashMap::new();
    for stored in document.subscriptions.iter().filter(|s| s.public.active) {
        if messages.iter().any(|m| m.subscription_id == stored.public.id) {
            keys.insert(&stored.public.id, stored.signing_secrets(&settings.storage_key, now)?);
        }
    }
    let attempts = messages
        .iter()
        .map(|message| attempt(settings, &document, &keys, message));
    let done: Vec<Done> = join_all(attempts).await;

    let policy = &settings.delivery.policy;
    let mut changed = false;
    let mut deactivated = Vec::new();
    let mut retries: BTreeMap<u32, Vec<DeliveryMessage>> = BTreeMap::new();
    let mut dead = Vec::new();
    let mut records = Vec::with_capacity(messages.len());
    for (message, done) in messages.into_iter().zip(done) {
        let sent = match done {
            Done::Skipped(why) => {
                let record = pipeline::skipped(message.event_id.clone(), message.event, message.attempt, why, now);
                records.push(LogEntry {
                    uid: uid.to_owned(),
                    subscription_id: message.subscription_id,
                    record,
                });
                continue;
            }
            Done::Sent(sent) => sent,
        };
        let verdict = delivery::judge(&sent.attempt);
        let Some(stored) = document
            .subscriptions
            .iter_mut()
            .find(|s| s.public.id == message.subscription_id)
        else {
            continue;
        };
        let was = (stored.public.failure_count, stored.public.active);
        if delivery::apply(&mut stored.public, &verdict, policy, now) {
            deactivated.push(stored.public.clone());
        }
        changed |= was != (stored.public.failure_count, stored.public.active);

        let (outcome, next_retry_at) = match &verdict {
            Verdict::Delivered => (Outcome::Delivered, None),
            // 410 Gone, or a failure that deactivated the subscription: no further attempt.
            Verdict::Gone => (Outcome::Failed, None),
            Verdict::Failed { .. } if !stored.public.active => (Outcome::Failed, None),
            Verdict::Failed { retry_after, .. } => {
                let jitter = f64::from(u32::from_le_bytes(random_bytes())) / f64::from(u32::MAX) * 2.0 - 1.0;
                match policy.next_delay(message.attempt, *retry_after, jitter) {
                    Some(delay) => {
                        retries.entry(delay).or_default().push(DeliveryMessage {
                            attempt: message.attempt + 1,
                            ..message.clone()
                        });
                        (Outcome::Failed, Some(rfc3339(now + i64::from(delay))))
                    }
                    None => {
                        dead.push(message.clone());
                        (Outcome::DeadLettered, None)
                    }
                }
            }
        };
        let record = DeliveryRecord {
            event_id: message.event_id.clone(),
            event: message.event,
            attempt: message.attempt,
            outcome,
            status_code: sent.attempt.status,
            duration_ms: Some(sent.duration_ms),
            error: match verdict {
                Verdict::Delivered => None,
                _ => stored.public.last_failure_reason.clone(),
            },
            response_excerpt: sent.excerpt,
            at: rfc3339(now),
            next_retry_at,
        };
        records.push(LogEntry {
            uid: uid.to_owned(),
            subscription_id: message.subscription_id.clone(),
            record,
        });
    }

    pipeline::write_logs(&kv, records).await?;
    if changed {
        store.save(uid, &document).await?;
    }
    for (delay, messages) in retries {
        pipeline::enqueue(env, DELIVERIES, messages, delay).await?;
    }
    pipeline::enqueue(env, DEAD_LETTERS, dead, 0).await?;
    notify_deactivations(env, &kv, uid, &document, deactivated, now).await
}

async fn attempt(
    settings: &Settings,
    document: &UserDocument,
    keys: &HashMap<&str, Vec<SecretKey>>,
    message: &DeliveryMessage,
) -> Done {
    let Some(stored) = document
        .subscriptions
        .iter()
        .find(|s| s.public.id == message.subscription_id)
    else {
        return Done::Skipped("subscription was deleted");
    };
    // Only active subscriptions have their secrets opened.
    let Some(secrets) = keys.get(stored.public.id.as_str()) else {
        return Done::Skipped("subscription is inactive");
    };
    let sent = send(
        &stored.public.webhook_url,
        &message.body,
        &message.event_id,
        message.event,
        secrets,
        settings.delivery.timeout_ms,
    )
    .await;
    Done::Sent(sent)
}

/// Tells the owner, through their other active subscriptions that listen for it, that one was deactivated.
async fn notify_deactivations(
    env: &Env,
    kv: &worker::kv::KvStore,
    uid: &str,
    document: &UserDocument,
    deactivated: Vec<ringhook::api::Subscription>,
    now: i64,
) -> Result<(), ApiError> {
    let mut messages = Vec::new();
    let mut skipped = Vec::new();
    for subscription in deactivated {
        let notice = delivery::deactivation_notice(&subscription, new_event_id(), now);
        let body = notice.to_body();
        pipeline::fan_out(uid, document, &notice, &body, now, &mut messages, &mut skipped);
    }
    pipeline::write_logs(kv, skipped).await?;
    pipeline::enqueue(env, DELIVERIES, messages, 0).await
}
