//! Publishing: an event becomes one queue message per matching active subscription, and a `skipped` log entry
//! per inactive one (which the user's object adds as it commits the event), as the object decides. The HTTP publish route and the `EVENTS` queue come through
//! here. Also the queues, and the append-only delivery log on KV.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::Serialize;

use ringhook::delivery::log as delivery_log;
use ringhook::delivery::{self, DeadLetter, DeliveryMessage, DeliveryRecord, Target, LOG_TTL_SECS};
use ringhook::service::http::ApiError;
use ringhook::service::object::{Admission, Claims, Command, Committed, Publication};
use ringhook::service::publish::{Published, Ready};
use worker::kv::KvStore;
use worker::{console_error, Env, Queue};

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

/// Publishes checked events: each user's object admits the ids (a repeated id is a duplicate) and gives each
/// new event's fan-out; the deliveries are queued, and only then are the events published (committed: the object
/// keeps each new body for redelivery and logs inactive subscriptions' skips). The users' objects are asked
/// together. The first attempts to healthy endpoints are claimed as the events are committed: the caller makes
/// them at once ([`crate::consumer::at_once`]), and their queue messages, delayed past that, fall back on them.
pub async fn publish(
    env: &Env,
    settings: &Settings,
    ready: Vec<Ready>,
) -> Result<(Vec<Published>, Vec<Batch>), ApiError> {
    let mut by_user: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in ready.iter().enumerate() {
        by_user.entry(r.uid.as_str()).or_default().push(i);
    }
    let answers = join_all(by_user.iter().map(|(uid, indexes)| {
        let events = indexes
            .iter()
            .map(|&i| Publication {
                id: ready[i].event.id.clone(),
                event: ready[i].event.event,
            })
            .collect();
        users::ask::<Vec<Admission>>(env, uid, Command::Publish { events })
    }))
    .await;
    let mut admissions: Vec<Option<Admission>> = vec![None; ready.len()];
    let mut refused = None;
    for (indexes, answer) in by_user.values().zip(answers) {
        match answer {
            Ok(answer) => {
                for (&i, admission) in indexes.iter().zip(answer) {
                    admissions[i] = Some(admission);
                }
            }
            Err(e) => refused = Some(e),
        }
    }
    // The ids each user's object admitted (pending until committed or released).
    let mut admitted: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (r, admission) in ready.iter().zip(&admissions) {
        if admission.as_ref().is_some_and(|a| !a.duplicate) {
            admitted.entry(r.uid.as_str()).or_default().push(r.event.id.clone());
        }
    }
    if let Some(e) = refused {
        release(env, &admitted).await;
        return Err(e);
    }

    let mut queued = Vec::new();
    let mut at_once: BTreeMap<&str, Vec<DeliveryMessage>> = BTreeMap::new();
    let mut committed: BTreeMap<&str, Vec<Committed>> = BTreeMap::new();
    let mut published = Vec::with_capacity(ready.len());
    for (Ready { uid, event }, admission) in ready.iter().zip(admissions) {
        let admission = admission.ok_or_else(|| ApiError::internal("an event without an admission"))?;
        published.push(Published {
            id: event.id.clone(),
            deliveries: admission.fan_out.deliver.len(),
            duplicate: admission.duplicate,
        });
        if admission.duplicate {
            continue;
        }
        let body = event.to_body();
        for message in delivery::messages(uid, &admission.fan_out, &event.id, event.event, &body) {
            if admission.fan_out.is_at_once(&message.subscription_id) {
                at_once.entry(uid.as_str()).or_default().push(message);
            } else {
                queued.push(message);
            }
        }
        committed.entry(uid.as_str()).or_default().push(Committed {
            id: event.id.clone(),
            event: event.event,
            body,
        });
    }

    // An event is published once it is on the queue: until then its id is only pending, and a failure
    // releases it, so that the caller's retry with the same id goes through. The messages behind attempts made
    // at once wait past them.
    let fallback = delivery::fallback_delay(settings.delivery.timeout_ms);
    let behind = delivery::behind(at_once.values().flatten().cloned().collect());
    let enqueued = match enqueue(env, DELIVERIES, queued, 0).await {
        Ok(()) => enqueue(env, DELIVERIES, behind, fallback).await,
        Err(e) => Err(e),
    };
    if let Err(e) = enqueued {
        release(env, &admitted).await;
        return Err(ApiError::unavailable(e.internal.unwrap_or(e.message)));
    }
    // Left pending after a failed commit, the ids read as duplicates for the lease, then as new: a second publish
    // then queues the same attempts, which the objects make once. A failed commit claims nothing: the queue
    // messages make those attempts.
    let commits = join_all(committed.into_iter().map(|(uid, events)| {
        let messages = at_once.remove(uid).unwrap_or_default();
        async move {
            let claim = messages.iter().map(DeliveryMessage::key).collect();
            let answer = users::ask::<Claims>(env, uid, Command::Commit { events, claim }).await;
            (uid, messages, answer)
        }
    }));
    let commits = commits.await;
    let mut batches = Vec::new();
    for (uid, messages, answer) in commits {
        match answer {
            Ok(claims) => batches.push(Batch::claimed(uid, messages, claims)),
            Err(e) => console_error!("publish: committing: {}", e.internal.unwrap_or(e.message)),
        }
    }
    Ok((published, batches))
}

/// Releases admitted ids after a failed publish (best effort: an id left pending is admitted again after the
/// lease).
async fn release(env: &Env, admitted: &BTreeMap<&str, Vec<String>>) {
    let releases = admitted
        .iter()
        .map(|(uid, ids)| (*uid, Command::Release { ids: ids.clone() }));
    tell(env, releases, "releasing").await;
}

/// Tells users' objects about their admitted events, together (best effort: a failure is logged).
async fn tell<'a>(env: &Env, commands: impl Iterator<Item = (&'a str, Command)>, what: &str) {
    let told = join_all(commands.map(|(uid, command)| users::call(env, uid, command))).await;
    for e in told.into_iter().filter_map(Result::err) {
        console_error!("publish: {what}: {}", e.internal.unwrap_or(e.message));
    }
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
