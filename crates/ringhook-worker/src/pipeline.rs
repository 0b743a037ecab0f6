//! Publishing: an event becomes one queue message per matching active subscription, and a `skipped` log entry
//! per inactive one (which the user's object adds as it commits the event), as the object decides. The HTTP publish route and the `EVENTS` queue come through
//! here. Also the queues, and the append-only delivery log on KV.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::Serialize;

use ringhook::delivery::log as delivery_log;
use ringhook::delivery::{self, DeadLetter, DeliveryMessage, DeliveryRecord, Target, LOG_TTL_SECS};
use ringhook::service::http::ApiError;
use ringhook::service::object::{self, Claims, Command, Committed};
use ringhook::service::publish::{Published, Ready};
use worker::kv::KvStore;
use worker::{Env, Queue};

use crate::config::Settings;
use crate::users;

/// The queue of deliveries to make.
pub const DELIVERIES: &str = "DELIVERIES";
/// The queue of deliveries that used up every attempt.
pub const DEAD_LETTERS: &str = "DEAD_LETTERS";
/// Cloudflare Queues' `sendBatch` limit.
const SEND_BATCH_MAX: usize = 100;

pub fn queue(env: &Env, binding: &str) -> Result<Queue, ApiError> {
    env.queue(binding)
        .map_err(|e| ApiError::internal(format!("queue binding {binding}: {e}")))
}

/// Sends messages to a queue, 100 at a time, each after `delay_seconds`.
pub async fn enqueue<T: Serialize + Clone>(
    env: &Env,
    binding: &str,
    messages: Vec<T>,
    delay_seconds: u32,
) -> Result<(), ApiError> {
    let queue = queue(env, binding)?;
    for chunk in messages.chunks(SEND_BATCH_MAX) {
        let batch = worker::BatchMessageBuilder::new()
            .messages(chunk.iter().cloned().map(worker::SendMessage::from))
            .delay_seconds(delay_seconds)
            .build();
        queue
            .send_batch(batch)
            .await
            .map_err(|e| ApiError::internal(format!("sending to {binding}: {e}")))?;
    }
    Ok(())
}

/// Sends letters to the dead-letter queue.
pub async fn send_letters(env: &Env, letters: Vec<DeadLetter>) -> Result<(), ApiError> {
    enqueue(env, DEAD_LETTERS, letters, 0).await
}

/// Publishes checked events: each user's object, asked once for that user's events, admits the ids (a repeated
/// id is a duplicate), queues the new events' deliveries, and only then publishes them (commits: it keeps each
/// new body for redelivery and logs inactive subscriptions' skips), claiming the first attempts to healthy
/// endpoints. The users' objects are asked together. Answers what became of each event, or the refusal of an
/// object that could not publish (the others' events are published: publishing them again finds duplicates);
/// and, either way, the claimed attempts, for the caller to make at once ([`crate::consumer::at_once`]); their
/// queue messages, delayed past that, fall back on them.
pub async fn publish(env: &Env, ready: Vec<Ready>) -> (Result<Vec<Published>, ApiError>, Vec<Batch>) {
    let mut by_user: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in ready.iter().enumerate() {
        by_user.entry(r.uid.as_str()).or_default().push(i);
    }
    let asked = join_all(by_user.iter().map(|(uid, indexes)| {
        let events: Vec<Committed> = indexes
            .iter()
            .map(|&i| Committed {
                id: ready[i].event.id.clone(),
                event: ready[i].event.event,
                body: ready[i].event.to_body(),
            })
            .collect();
        async move {
            let command = Command::Publish { events: events.clone() };
            (events, users::ask::<object::Publication>(env, uid, command).await)
        }
    }))
    .await;
    let mut published: Vec<Option<Published>> = vec![None; ready.len()];
    let mut refused = None;
    let mut batches = Vec::new();
    for ((uid, indexes), (events, answer)) in by_user.iter().zip(asked) {
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                refused = Some(e);
                continue;
            }
        };
        let mut at_once = Vec::new();
        for ((&i, event), admission) in indexes.iter().zip(&events).zip(answer.admissions) {
            published[i] = Some(Published {
                id: event.id.clone(),
                deliveries: admission.fan_out.deliver.len(),
                duplicate: admission.duplicate,
            });
            if !admission.duplicate {
                let (first, _) = delivery::first_messages(uid, &admission.fan_out, &event.id, event.event, &event.body);
                at_once.extend(first);
            }
        }
        batches.push(Batch::claimed(uid, at_once, answer.claims));
    }
    let published = match refused {
        Some(e) => Err(e),
        None => published
            .into_iter()
            .map(|p| p.ok_or_else(|| ApiError::internal("an event without an admission")))
            .collect(),
    };
    (published, batches)
}

/// Queues the first attempts of the events a user's object admitted: now those the queue makes, and, delayed
/// past the publisher's attempts, the message behind those made at once.
pub async fn queue_first(
    env: &Env,
    settings: &Settings,
    queued: Vec<DeliveryMessage>,
    at_once: Vec<DeliveryMessage>,
) -> Result<(), ApiError> {
    enqueue(env, DELIVERIES, queued, 0).await?;
    let fallback = delivery::fallback_delay(settings.delivery.timeout_ms);
    enqueue(env, DELIVERIES, delivery::behind(at_once), fallback).await
}

/// One user's attempts to make: each message with where it goes, as the user's object answered.
pub struct Batch {
    pub uid: String,
    pub messages: Vec<DeliveryMessage>,
    pub targets: Vec<Target>,
}

impl Batch {
    /// The attempts a commit claimed, of those asked for (`messages`).
    fn claimed(uid: &str, messages: Vec<DeliveryMessage>, claims: Claims) -> Self {
        let mut batch = Batch {
            uid: uid.to_owned(),
            messages: Vec::new(),
            targets: Vec::new(),
        };
        for (message, claimed) in messages.into_iter().zip(claims.claimed) {
            let stored = claims
                .subscriptions
                .iter()
                .find(|s| s.public.id == message.subscription_id);
            if let (true, Some(stored)) = (claimed, stored) {
                batch.targets.push(Target::Send(Box::new(stored.clone())));
                batch.messages.push(message);
            }
        }
        batch
    }
}

/// A log entry to append.
pub struct LogEntry {
    pub uid: String,
    pub subscription_id: String,
    pub record: DeliveryRecord,
}

/// Appends log entries: one group (one KV key) per subscription, newest first, the groups written together.
/// `entries` are in the order they happened.
pub async fn write_logs(kv: &KvStore, entries: Vec<LogEntry>) -> Result<(), ApiError> {
    let mut groups: BTreeMap<(String, String), Vec<DeliveryRecord>> = BTreeMap::new();
    for e in entries.into_iter().rev() {
        groups.entry((e.uid, e.subscription_id)).or_default().push(e.record);
    }
    let writes = join_all(
        groups
            .iter()
            .map(|((uid, subscription_id), records)| write_group(kv, uid, subscription_id, records)),
    )
    .await;
    writes.into_iter().collect::<Result<Vec<()>, _>>().map(drop)
}

/// Appends a group of log records, newest first, as one KV key (kept 7 days).
pub async fn write_group(
    kv: &KvStore,
    uid: &str,
    subscription_id: &str,
    records: &[DeliveryRecord],
) -> Result<(), ApiError> {
    let Some(first) = records.first() else {
        return Ok(());
    };
    let key = delivery_log::group_key(uid, subscription_id, js_sys::Date::now() as u64, first);
    put_text(kv, &key, &delivery_log::encode_group(records)).await
}

pub async fn get_text(kv: &KvStore, key: &str) -> Result<Option<String>, ApiError> {
    kv.get(key)
        .text()
        .await
        .map_err(|e| ApiError::internal(format!("KV get: {e}")))
}

/// Writes `text` under `key` for [`LOG_TTL_SECS`]. As its UTF-8 bytes: workers-rs's `put` converts a `&str` as
/// any serializable value, which carries float formatting into the Worker's code for nothing.
pub async fn put_text(kv: &KvStore, key: &str, text: &str) -> Result<(), ApiError> {
    let put = kv
        .put_bytes(key, text.as_bytes())
        .map_err(|e| ApiError::internal(format!("KV put: {e}")))?;
    put.expiration_ttl(LOG_TTL_SECS)
        .execute()
        .await
        .map_err(|e| ApiError::internal(format!("KV put: {e}")))
}
