//! Publishing and fan-out: an event becomes one queue message per matching active subscription, and a
//! `skipped` log entry per inactive one. The HTTP publish route, the `EVENTS` queue, redelivery and the
//! deactivation notice all come through here. Also the append-only delivery log.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use futures_util::future::join_all;

use ringhook::delivery::{self, DeliveryMessage, DeliveryRecord, Outcome, LOG_TTL_SECS};
use ringhook::delivery_log;
use ringhook::publish::{Published, Ready};
use ringhook::store::{SubscriptionStore, UserDocument};
use ringhook::subscriptions::ApiError;
use ringhook::time::rfc3339;
use ringhook::Event;
use worker::kv::KvStore;
use worker::{Env, Queue};

use crate::kv_store::{kv, KvSubscriptions};

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
pub async fn enqueue(
    env: &Env,
    binding: &str,
    messages: Vec<DeliveryMessage>,
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

/// Publishes checked events: keeps each body for redelivery, recognises repeated caller ids, fans out. The KV
/// reads and writes of all the events of a request run together.
pub async fn publish(env: &Env, ready: Vec<Ready>, now: i64) -> Result<Vec<Published>, ApiError> {
    let kv = kv(env)?;
    let store = KvSubscriptions::new(kv.clone());

    // Caller ids published before, or earlier in this same request.
    let earlier = join_all(ready.iter().map(|r| async {
        match r.caller_id {
            true => get_text(&kv, &delivery::event_key(&r.uid, &r.event.id))
                .await
                .map(|t| t.is_some()),
            false => Ok(false),
        }
    }))
    .await;
    let mut in_request = HashSet::new();
    let mut duplicate = Vec::with_capacity(ready.len());
    for (r, seen) in ready.iter().zip(earlier) {
        duplicate.push(seen? || !in_request.insert((r.uid.as_str(), r.event.id.as_str())));
    }

    // Each user's document, read once.
    let uids: BTreeSet<&str> = ready
        .iter()
        .zip(&duplicate)
        .filter(|(_, d)| !**d)
        .map(|(r, _)| r.uid.as_str())
        .collect();
    let loaded = join_all(uids.iter().map(|uid| store.load(uid))).await;
    let mut documents: HashMap<&str, UserDocument> = HashMap::new();
    for (uid, document) in uids.into_iter().zip(loaded) {
        documents.insert(uid, document?);
    }

    let mut messages = Vec::new();
    let mut skipped = Vec::new();
    let mut bodies = Vec::new();
    let mut published = Vec::with_capacity(ready.len());
    for (Ready { uid, event, .. }, duplicate) in ready.iter().zip(duplicate) {
        if duplicate {
            published.push(Published {
                id: event.id.clone(),
                deliveries: 0,
                duplicate: true,
            });
            continue;
        }
        let body = event.to_body();
        let deliveries = fan_out(
            uid,
            &documents[uid.as_str()],
            event,
            &body,
            now,
            &mut messages,
            &mut skipped,
        );
        bodies.push((delivery::event_key(uid, &event.id), body));
        published.push(Published {
            id: event.id.clone(),
            deliveries,
            duplicate: false,
        });
    }
    let kept = join_all(bodies.iter().map(|(key, body)| put_text(&kv, key, body))).await;
    kept.into_iter().collect::<Result<Vec<()>, _>>()?;
    write_logs(&kv, skipped).await?;
    enqueue(env, DELIVERIES, messages, 0).await?;
    Ok(published)
}

/// Adds a message for each active subscription the event matches to `messages`, and a `skipped` log entry for
/// each inactive one to `skipped`. Returns how many deliveries it added.
pub fn fan_out(
    uid: &str,
    document: &UserDocument,
    event: &Event,
    body: &str,
    now: i64,
    messages: &mut Vec<DeliveryMessage>,
    skipped: &mut Vec<LogEntry>,
) -> usize {
    let (active, inactive) = delivery::targets(document, event.event);
    skipped.extend(inactive.iter().map(|s| LogEntry {
        uid: uid.to_owned(),
        subscription_id: s.public.id.clone(),
        record: self::skipped(event.id.clone(), event.event, 1, "subscription is inactive", now),
    }));
    messages.extend(active.iter().map(|s| DeliveryMessage {
        uid: uid.to_owned(),
        subscription_id: s.public.id.clone(),
        event_id: event.id.clone(),
        event: event.event,
        body: body.to_owned(),
        attempt: 1,
    }));
    active.len()
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

pub fn skipped(event_id: String, event: ringhook::EventType, attempt: u32, why: &str, now: i64) -> DeliveryRecord {
    DeliveryRecord {
        event_id,
        event,
        attempt,
        outcome: Outcome::Skipped,
        status_code: None,
        duration_ms: None,
        error: Some(why.to_owned()),
        response_excerpt: None,
        at: rfc3339(now),
        next_retry_at: None,
    }
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

async fn put_text(kv: &KvStore, key: &str, text: &str) -> Result<(), ApiError> {
    let put = kv
        .put(key, text)
        .map_err(|e| ApiError::internal(format!("KV put: {e}")))?;
    put.expiration_ttl(LOG_TTL_SECS)
        .execute()
        .await
        .map_err(|e| ApiError::internal(format!("KV put: {e}")))
}
