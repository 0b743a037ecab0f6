//! The queue consumer. `DELIVERIES` messages are attempts to make; `EVENTS` messages are publish items from
//! call systems on Workers. A batch's deliveries are grouped by user, and the users' groups run together.
//!
//! Nothing here writes back state it read: the user's object says where each attempt goes at the moment of
//! sending, and applies each attempt's outcome to the subscription as it is when the outcome arrives (a
//! subscription deleted, moved to another URL or given a new secret meanwhile stays so). The log is
//! append-only on KV: each batch's entries for a subscription are one new key.

use std::collections::{BTreeMap, HashMap};

use futures_util::future::join_all;
use ringhook::delivery::{self, DeliveryMessage, DeliveryRecord, Outcome, Report, Sent, Target};
use ringhook::protocol::signature::SecretKey;
use ringhook::service::object::{Command, Settlement};
use ringhook::service::publish::{self, PublishItem};
use ringhook::service::subscriptions::ApiError;
use ringhook::EventType;
use serde_json::Value;
use worker::{console_error, Env, Message, MessageBatch, MessageExt};

use crate::config::{self, Settings};
use crate::http::{now_seconds, random_bytes};
use crate::kv_store;
use crate::pipeline::{self, LogEntry, DEAD_LETTERS, DELIVERIES};
use crate::send::send;
use crate::users;

pub async fn consume(batch: MessageBatch<Value>, env: &Env) -> worker::Result<()> {
    let settings = config::settings(env).map_err(|e| worker::Error::RustError(e.internal.unwrap_or(e.message)))?;
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

    let groups = deliveries.into_iter().map(|(uid, group)| {
        let settings = &settings;
        async move {
            let (messages, deliveries): (Vec<_>, Vec<_>) = group.into_iter().unzip();
            match deliver_for_user(env, settings, &uid, deliveries).await {
                Ok(()) => messages.iter().for_each(MessageExt::ack),
                Err(e) => {
                    console_error!("deliveries of a user retried: {}", e.internal.unwrap_or(e.message));
                    messages.iter().for_each(MessageExt::retry);
                }
            }
        }
    });
    join_all(groups).await;
    Ok(())
}

async fn publish_from_queue(env: &Env, body: &Value) -> Result<(), ApiError> {
    let item: PublishItem = serde_json::from_value(body.clone())
        .map_err(|e| ApiError::new(400, "invalid_request", format!("EVENTS message: {e}")))?;
    let now = now_seconds();
    let ready = publish::prepare(vec![item], now, random_bytes)?;
    pipeline::publish(env, ready, now).await.map(drop)
}

/// Delivers a batch's messages for one user: asks the user's object where each goes now, makes the attempts
/// together, reports them to the object (which applies each to the subscription as it is then), and carries out
/// what it decided: log entries, retries, dead letters and deactivation notices.
async fn deliver_for_user(
    env: &Env,
    settings: &Settings,
    uid: &str,
    messages: Vec<DeliveryMessage>,
) -> Result<(), ApiError> {
    let subscription_ids = messages.iter().map(|m| m.subscription_id.clone()).collect();
    let targets: Vec<Target> = users::ask(env, uid, Command::Targets { subscription_ids }).await?;
    let now = now_seconds();

    // Each subscription's secrets are opened once for the batch, however many of its messages it holds.
    let mut keys: HashMap<&str, Vec<SecretKey>> = HashMap::new();
    for target in &targets {
        if let Target::Send(stored) = target {
            if !keys.contains_key(stored.public.id.as_str()) {
                keys.insert(&stored.public.id, stored.signing_secrets(&settings.storage_key, now)?);
            }
        }
    }
    let timeout_ms = settings.delivery.timeout_ms;
    let keys = &keys;
    let attempts = messages
        .iter()
        .zip(&targets)
        .filter_map(|(message, target)| match target {
            Target::Send(stored) => Some(async move {
                let url = &stored.public.webhook_url;
                let secrets = &keys[stored.public.id.as_str()];
                let (result, sent) = send(
                    url,
                    &message.body,
                    &message.event_id,
                    message.event,
                    secrets,
                    timeout_ms,
                )
                .await;
                let report = Report {
                    subscription_id: message.subscription_id.clone(),
                    url: url.clone(),
                    attempt: message.attempt,
                    result,
                };
                (message, report, sent)
            }),
            Target::Skip(_) => None,
        });
    let attempted: Vec<(&DeliveryMessage, Report, Sent)> = join_all(attempts).await;

    let reports = attempted.iter().map(|(_, report, _)| report.clone()).collect();
    let settlement: Settlement = users::ask(env, uid, Command::Settle { reports }).await?;
    let now = now_seconds();

    let mut records = Vec::with_capacity(messages.len());
    for (message, target) in messages.iter().zip(&targets) {
        if let Target::Skip(why) = target {
            let record = DeliveryRecord::skipped(&message.event_id, message.event, message.attempt, why, now);
            records.push(entry(uid, &message.subscription_id, record));
        }
    }
    let mut retries: BTreeMap<u32, Vec<DeliveryMessage>> = BTreeMap::new();
    let mut dead = Vec::new();
    for ((message, report, sent), settled) in attempted.iter().zip(&settlement.settled) {
        let record = DeliveryRecord::attempted(&message.event_id, message.event, report, settled, sent, now);
        records.push(entry(uid, &message.subscription_id, record));
        if let Some(delay) = settled.retry_in {
            retries.entry(delay).or_default().push(DeliveryMessage {
                attempt: message.attempt + 1,
                ..(*message).clone()
            });
        } else if settled.outcome == Outcome::DeadLettered {
            dead.push((*message).clone());
        }
    }

    let mut notices = Vec::new();
    for notice in &settlement.notices {
        let event = EventType::SubscriptionDeactivated;
        notices.extend(delivery::messages(
            uid,
            &notice.fan_out,
            &notice.event_id,
            event,
            &notice.body,
        ));
        records.extend(pipeline::skips(uid, &notice.fan_out, &notice.event_id, event, now));
    }

    let kv = kv_store::kv(env)?;
    pipeline::write_logs(&kv, records).await?;
    for (delay, messages) in retries {
        pipeline::enqueue(env, DELIVERIES, messages, delay).await?;
    }
    pipeline::enqueue(env, DEAD_LETTERS, dead, 0).await?;
    pipeline::enqueue(env, DELIVERIES, notices, 0).await
}

fn entry(uid: &str, subscription_id: &str, record: DeliveryRecord) -> LogEntry {
    LogEntry {
        uid: uid.to_owned(),
        subscription_id: subscription_id.to_owned(),
        record,
    }
}
