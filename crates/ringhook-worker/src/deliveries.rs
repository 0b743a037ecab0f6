//! The user's side of delivery: the test endpoint, the delivery log, redelivery.

use futures_util::future::join_all;
use std::collections::{BTreeMap, BTreeSet};

use ringhook::delivery::bodies::{self as body_groups, Kept};
use ringhook::delivery::log as delivery_log;
use ringhook::delivery::{self, AttemptKey, DeliveryMessage, DeliveryRecord, Report};
use ringhook::model::api::{
    DeliveriesResponse, RecoverRequest, RecoverResponse, RedeliverResponse, TestRequest, TestResponse,
};
use ringhook::model::keys;
use ringhook::model::store::StoredSubscription;
use ringhook::model::validate::UrlParser;
use ringhook::service::http::{parse_body, reply, ApiError, Reply};
use ringhook::service::object::Command;
use ringhook::{Event, EventType};
use worker::Env;

use crate::config::Settings;
use crate::http::{new_event_id, RuntimeUrls};
use crate::kv_store;
use crate::pipeline::{self, DELIVERIES};
use crate::users;

/// `POST /test`: a signed sample event to one of the user's subscriptions, now.
pub async fn test(env: &Env, settings: &Settings, uid: &str, body: &[u8], now: i64) -> Result<Reply, ApiError> {
    let request: TestRequest = parse_body(body)?;
    let event_type: EventType =
        request
            .event_type
            .parse()
            .map_err(|e: ringhook::protocol::event::UnknownEventType| {
                ApiError::new(400, "invalid_request", format!("event_type: {e}"))
            })?;
    let url = RuntimeUrls
        .parse(&request.webhook_url)
        .map_err(|e| ApiError::new(400, "invalid_url", format!("webhook_url is not a valid URL: {e}")))?;
    let command = Command::TestTarget {
        url: url.href,
        per_minute: settings.delivery.test_per_minute,
    };
    let stored: StoredSubscription = users::ask(env, uid, command).await?;

    let event = Event::sample(event_type, new_event_id(), now);
    let secrets = crate::send::signing_secrets(&stored, &settings.storage_key, now)?;
    let (attempt, sent) = crate::send::send(
        &stored.public.webhook_url,
        &event.to_body(),
        &event.id,
        event_type,
        &secrets,
        settings.delivery.timeout_ms,
    )
    .await;
    // A test send is logged, and changes nothing of the subscription: no failure counted, no retry.
    let report = Report {
        key: AttemptKey {
            subscription_id: stored.public.id.clone(),
            event_id: event.id.clone(),
            series: String::new(),
            attempt: 1,
        },
        event: event_type,
        url: stored.public.webhook_url.clone(),
        result: attempt,
        sent: sent.clone(),
    };
    let settled = delivery::settle(None, &report, &settings.delivery.policy, now, 0.0);
    let record = DeliveryRecord::attempted(&report, &settled, now);
    pipeline::write_group(&kv_store::kv(env)?, uid, &stored.public.id, &[record]).await?;
    let count = Command::Count {
        subscription_id: stored.public.id.clone(),
        outcome: settled.outcome,
        retry_in: settled.retry_in,
        duration_ms: sent.duration_ms,
    };
    // The send and its log entry stand whatever happens here; a missed count is only a gap in the chart.
    if let Err(e) = users::call(env, uid, count).await {
        worker::console_error!("counting a test send of {}: {} {}", stored.public.id, e.code, e.message);
    }
    let error = settled.error;
    reply(
        200,
        &TestResponse {
            success: error.is_none(),
            status_code: report.result.status,
            response_time_ms: sent.duration_ms,
            response_excerpt: sent.excerpt,
            error,
        },
    )
}

/// Keys listed per KV list call while paging the log.
const LIST_KEYS: u64 = 100;

/// `GET /subscriptions/{id}/deliveries?limit=&cursor=`: the log, newest first.
pub async fn log(env: &Env, uid: &str, id: &str, query: &[(String, String)]) -> Result<Reply, ApiError> {
    let mut limit = 20u64;
    let mut cursor = None;
    for (name, value) in query {
        match name.as_str() {
            "limit" => {
                limit = value.parse().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| {
                    ApiError::new(400, "invalid_request", "limit must be a whole number from 1 to 100")
                })?;
            }
            "cursor" if !value.is_empty() => cursor = Some(value.clone()),
            _ => {}
        }
    }
    exists(env, uid, id).await?;
    let kv = kv_store::kv(env)?;
    let prefix = keys::log_prefix(uid, id);
    let cursor = match cursor {
        Some(text) => Some(delivery_log::Cursor::parse(&text, &prefix).ok_or_else(|| {
            ApiError::new(
                400,
                "invalid_request",
                "cursor is not one this API returned for this subscription",
            )
        })?),
        None => None,
    };

    // Groups are listed in key order and read only as far as the page needs: each holds at least one record.
    let mut page = delivery_log::Page::new(limit as usize, cursor.as_ref());
    let mut list_cursor = cursor.and_then(|c| c.list_cursor);
    // The first list call may use a KV cursor the client sent back; KV refusing it is the client's error.
    let mut client_cursor = list_cursor.is_some();
    let (deliveries, cursor) = loop {
        let mut list = kv.list().prefix(prefix.clone()).limit(LIST_KEYS);
        if let Some(at) = &list_cursor {
            list = list.cursor(at.clone());
        }
        let listed = list.execute().await.map_err(|e| {
            if client_cursor {
                ApiError::new(
                    400,
                    "invalid_request",
                    "cursor is no longer valid: start again without one",
                )
            } else {
                ApiError::internal(format!("KV list: {e}"))
            }
        })?;
        client_cursor = false;
        let keys: Vec<&str> = listed
            .keys
            .iter()
            .map(|k| k.name.as_str())
            .filter(|k| page.wants(k))
            .collect();
        let next_list = listed.cursor.clone().filter(|c| !c.is_empty() && !listed.list_complete);
        let mut read = 0;
        while read < keys.len() && !page.is_full() {
            let chunk = &keys[read..(read + page.room()).min(keys.len())];
            let values = join_all(chunk.iter().map(|key| pipeline::get_text(&kv, key))).await;
            for (key, value) in chunk.iter().zip(values) {
                read += 1;
                // A group that expired between the list and the read is simply gone.
                if let Some(text) = value? {
                    let group = delivery_log::decode_group(&text)
                        .map_err(|e| ApiError::internal(format!("log group {key}: {e}")))?;
                    page.take(key, group);
                }
                if page.is_full() {
                    break;
                }
            }
        }
        if page.is_full() || next_list.is_none() {
            break page.finish(list_cursor, read < keys.len() || next_list.is_some());
        }
        list_cursor = next_list;
    };
    reply(
        200,
        &DeliveriesResponse {
            success: true,
            deliveries,
            cursor: cursor.map(|c| c.encode()),
        },
    )
}

/// `POST /subscriptions/{id}/deliveries/{event_id}/redeliver`: a new series of attempts of a kept event.
pub async fn redeliver(env: &Env, settings: &Settings, uid: &str, id: &str, event_id: &str) -> Result<Reply, ApiError> {
    exists(env, uid, id).await?;
    let limit = Command::Take {
        name: "redeliver".into(),
        per_minute: settings.delivery.redeliver_per_minute,
    };
    users::call(env, uid, limit).await?;
    let body = bodies(env, uid, &[event_id.to_owned()])
        .await?
        .pop()
        .flatten()
        .ok_or_else(|| {
            ApiError::new(
                404,
                "not_found",
                format!("no event {event_id} kept for you (events are kept 7 days)"),
            )
        })?;
    let event = Event::from_body(&body).map_err(|e| ApiError::internal(format!("kept event {event_id}: {e}")))?;
    let message = DeliveryMessage {
        uid: uid.to_owned(),
        subscription_id: id.to_owned(),
        event_id: event.id.clone(),
        event: event.event,
        body,
        attempt: 1,
        // A series of its own, so its attempts are new ones rather than those made already.
        series: new_event_id(),
        also: Vec::new(),
    };
    pipeline::enqueue(env, DELIVERIES, vec![message], 0).await?;
    reply(
        202,
        &RedeliverResponse {
            success: true,
            event_id: event.id,
        },
    )
}

/// The user's subscription `id` exists (or `404 not_found`).
async fn exists(env: &Env, uid: &str, id: &str) -> Result<(), ApiError> {
    users::call(env, uid, Command::Subscription { id: id.to_owned() })
        .await
        .map(drop)
}

/// `POST /subscriptions/{id}/recover` `{since}`: queues again, oldest first and once each, every event of the
/// subscription not delivered since `since` (dead-lettered, skipped while inactive, or given up), as a new series
/// of attempts. Events whose bodies have expired (7 days) are left out.
pub async fn recover(env: &Env, uid: &str, id: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let request: RecoverRequest = parse_body(body)?;
    delivery_log::check_since(request.since)?;
    // What the user's object has not written to KV yet counts too (and the subscription must exist).
    let unwritten: Vec<DeliveryRecord> = users::ask(env, uid, Command::Unwritten { id: id.to_owned() }).await?;
    let limit = Command::Take {
        name: "recover".into(),
        per_minute: ringhook::service::ratelimit::RECOVER_PER_MINUTE,
    };
    users::call(env, uid, limit).await?;

    let kv = kv_store::kv(env)?;
    let prefix = keys::log_prefix(uid, id);
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut list = kv.list().prefix(prefix.clone()).limit(LIST_KEYS);
        if let Some(at) = &cursor {
            list = list.cursor(at.clone());
        }
        let listed = list
            .execute()
            .await
            .map_err(|e| ApiError::unavailable(format!("KV list: {e}")))?;
        names.extend(listed.keys.into_iter().map(|k| k.name));
        match listed.cursor.filter(|c| !c.is_empty() && !listed.list_complete) {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut records = unwritten;
    for chunk in names.chunks(LIST_KEYS as usize) {
        for (name, text) in chunk
            .iter()
            .zip(join_all(chunk.iter().map(|k| pipeline::get_text(&kv, k))).await)
        {
            if let Some(text) = text? {
                records.extend(
                    delivery_log::decode_group(&text)
                        .map_err(|e| ApiError::internal(format!("log group {name}: {e}")))?,
                );
            }
        }
    }

    let series = new_event_id();
    let due = delivery_log::to_recover(&records, request.since);
    let ids: Vec<String> = due.iter().map(|(event_id, _)| event_id.clone()).collect();
    let kept = bodies(env, uid, &ids).await?;
    let mut messages = Vec::new();
    for ((event_id, event), body) in due.into_iter().zip(kept) {
        if let Some(body) = body {
            messages.push(DeliveryMessage {
                uid: uid.to_owned(),
                subscription_id: id.to_owned(),
                event_id,
                event,
                body,
                attempt: 1,
                series: series.clone(),
                also: Vec::new(),
            });
        }
    }
    let events = messages.iter().map(|m| m.event_id.clone()).collect();
    pipeline::enqueue(env, DELIVERIES, messages, 0).await?;
    reply(202, &RecoverResponse { success: true, events })
}

/// The kept bodies of the user's published events `ids` (none for one expired or never published): held by the
/// user's object, or in the KV group it says, each group read once; or, for an event published before bodies were
/// grouped, under its own key.
async fn bodies(env: &Env, uid: &str, ids: &[String]) -> Result<Vec<Option<String>>, ApiError> {
    let kept: Vec<Kept> = users::ask(env, uid, Command::Kept { ids: ids.to_vec() }).await?;
    let kv = kv_store::kv(env)?;
    let mut groups: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    let wanted: Vec<&str> = kept
        .iter()
        .filter_map(|k| match k {
            Kept::In(key) => Some(key.as_str()),
            _ => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let read = join_all(wanted.iter().map(|key| pipeline::get_text(&kv, key))).await;
    for (key, text) in wanted.into_iter().zip(read) {
        // A group that has expired reads as none.
        if let Some(text) = text? {
            let group = body_groups::decode(&text).map_err(|e| ApiError::internal(format!("bodies {key}: {e}")))?;
            groups.insert(key, group);
        }
    }
    let mut out = Vec::with_capacity(ids.len());
    for (id, kept) in ids.iter().zip(&kept) {
        out.push(match kept {
            Kept::Body(body) => Some(body.clone()),
            Kept::In(key) => groups.get(key.as_str()).and_then(|g| g.get(id)).cloned(),
            Kept::Unknown => pipeline::get_text(&kv, &keys::event(uid, id)).await?,
        });
    }
    Ok(out)
}
