//! The user's side of delivery: the test endpoint, the delivery log, redelivery.

use futures_util::future::join_all;
use ringhook::api::{DeliveriesResponse, RedeliverResponse, TestRequest, TestResponse};
use ringhook::delivery::{self, DeliveryMessage, DeliveryRecord, Outcome};
use ringhook::delivery_log;
use ringhook::store::SubscriptionStore;
use ringhook::subscriptions::{find, parse_body, reply, ApiError, Reply};
use ringhook::time::rfc3339;
use ringhook::{Event, EventType};
use worker::kv::KvStore;
use worker::Env;

use crate::config::Settings;
use crate::http::new_event_id;
use crate::kv_store::{self, KvSubscriptions};
use crate::pipeline::{self, DELIVERIES};

/// `POST /test`: a signed sample event to one of the user's subscriptions, now.
pub async fn test(env: &Env, settings: &Settings, uid: &str, body: &[u8], now: i64) -> Result<Reply, ApiError> {
    let request: TestRequest = parse_body(body)?;
    let event_type: EventType = request
        .event_type
        .parse()
        .map_err(|e: ringhook::event::UnknownEventType| {
            ApiError::new(400, "invalid_request", format!("event_type: {e}"))
        })?;
    let url = worker::Url::parse(&request.webhook_url)
        .map_err(|e| ApiError::new(400, "invalid_url", format!("webhook_url is not a valid URL: {e}")))?;
    let kv = kv_store::kv(env)?;
    let document = KvSubscriptions::new(kv.clone()).load(uid).await?;
    let stored = document.with_url(url.as_str(), None).ok_or_else(|| {
        ApiError::new(
            404,
            "not_found",
            "no subscription of yours has this webhook_url: subscribe it first",
        )
    })?;
    limit_tests(&kv, uid, settings.delivery.test_per_minute, now).await?;

    let event = delivery::sample_event(event_type, new_event_id(), now);
    let secrets = stored.signing_secrets(&settings.storage_key, now)?;
    let sent = crate::send::send(
        &stored.public.webhook_url,
        &event.to_body(),
        &event.id,
        event_type,
        &secrets,
        settings.delivery.timeout_ms,
    )
    .await;
    let error = delivery::judge(&sent.attempt).failure_reason();
    let delivered = error.is_none();
    let record = DeliveryRecord {
        event_id: event.id.clone(),
        event: event_type,
        attempt: 1,
        outcome: if delivered { Outcome::Delivered } else { Outcome::Failed },
        status_code: sent.attempt.status,
        duration_ms: Some(sent.duration_ms),
        error: error.clone(),
        response_excerpt: sent.excerpt.clone(),
        at: rfc3339(now),
        next_retry_at: None,
    };
    pipeline::write_group(&kv, uid, &stored.public.id, &[record]).await?;
    reply(
        200,
        &TestResponse {
            success: delivered,
            status_code: sent.attempt.status,
            response_time_ms: sent.duration_ms,
            response_excerpt: sent.excerpt,
            error,
        },
    )
}

/// At most `per_minute` test sends per user per clock minute (a KV counter: approximate under concurrency).
async fn limit_tests(kv: &KvStore, uid: &str, per_minute: u32, now: i64) -> Result<(), ApiError> {
    let key = format!("ratelimit:test:{uid}:{}", now / 60);
    let used: u32 = pipeline::get_text(kv, &key)
        .await?
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    if used >= per_minute {
        return Err(ApiError::new(
            429,
            "rate_limited",
            format!("at most {per_minute} test sends a minute: try again shortly"),
        ));
    }
    let put = kv
        .put(&key, (used + 1).to_string())
        .map_err(|e| ApiError::internal(format!("KV put: {e}")))?;
    put.expiration_ttl(120)
        .execute()
        .await
        .map_err(|e| ApiError::internal(format!("KV put: {e}")))
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
    let kv = kv_store::kv(env)?;
    let document = KvSubscriptions::new(kv.clone()).load(uid).await?;
    find(&document, id)?;
    let prefix = delivery_log::prefix(uid, id);
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
pub async fn redeliver(env: &Env, uid: &str, id: &str, event_id: &str) -> Result<Reply, ApiError> {
    let kv = kv_store::kv(env)?;
    let document = KvSubscriptions::new(kv.clone()).load(uid).await?;
    find(&document, id)?;
    let body = pipeline::get_text(&kv, &delivery::event_key(uid, event_id))
        .await?
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
