//! The queue consumer. A batch is read by the queue it came from: `DELIVERIES` messages are attempts to make,
//! `EVENTS` messages are publish items from call systems on Workers, `DEAD_LETTERS` messages are deliveries that
//! were given up. Each message is acked or retried on its own; one that cannot be read is dead-lettered with the
//! reason, never dropped.
//!
//! Nothing here writes back state it read: the user's object says where each attempt goes at the moment of
//! sending, and applies each attempt's outcome to the subscription as it is when the outcome arrives. Each
//! attempt is made once: the object claims it before it is made and keeps what came of it (and logs it, once),
//! so a message the queue delivers again, or retries because something after the attempt failed (an enqueue),
//! only carries out what followed the attempt again. The log is append-only on KV.

use std::collections::{BTreeMap, HashMap};

use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use ringhook::delivery::{
    self, AttemptKey, DeadLetter, DeliveryMessage, DeliveryRecord, Done, Outcome, Report, Target,
};
use ringhook::model::keys;
use ringhook::protocol::signature::SecretKey;
use ringhook::service::http::ApiError;
use ringhook::service::object::{Command, Settlement};
use ringhook::service::publish::{self, PublishItem};
use ringhook::EventType;
use serde_json::Value;
use worker::{console_error, Env, Message, MessageBatch, MessageExt, QueueRetryOptionsBuilder};

use crate::config::{self, Settings};
use crate::http::{now_seconds, random_bytes};
use crate::kv_store;
use crate::pipeline::{self, Batch, LogEntry, DELIVERIES};
use crate::send::{send, signing_secrets};
use crate::users;

/// The queues this Worker consumes, by name (as in wrangler.toml).
pub mod queues {
    /// Deliveries to make.
    pub const DELIVERIES: &str = "ringhook-deliveries";
    /// Publish items from call systems on Workers.
    pub const EVENTS: &str = "ringhook-events";
    /// Deliveries given up.
    pub const DEAD_LETTERS: &str = "ringhook-dead-letters";
}

/// Requests in flight at once per invocation (Workers allow six open connections).
const MAX_IN_FLIGHT: usize = 6;
/// Seconds before a message whose attempt another copy is making is looked at again.
const BUSY_RETRY_SECS: u32 = 10;
/// Seconds before a message is tried again after storage or a queue failed.
const FAILURE_RETRY_SECS: u32 = 5;

/// What becomes of one message.
#[derive(Clone, Copy)]
enum Fate {
    Ack,
    Retry(u32),
}

fn settle_message(message: &Message<Value>, fate: Fate) {
    match fate {
        Fate::Ack => message.ack(),
        Fate::Retry(delay) => {
            message.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(delay).build())
        }
    }
}

pub async fn consume(batch: MessageBatch<Value>, env: &Env) -> worker::Result<()> {
    let settings = config::settings(env).map_err(|e| worker::Error::RustError(e.internal.unwrap_or(e.message)))?;
    let queue = batch.queue();
    let messages = batch.messages()?;
    match queue.as_str() {
        queues::DELIVERIES => deliveries(env, &settings, messages).await,
        queues::EVENTS => {
            let mut claimed = Vec::new();
            for message in messages {
                let fate = publish_from_queue(env, &message, &mut claimed).await;
                settle_message(&message, fate);
            }
            at_once(env, &settings, claimed).await;
        }
        queues::DEAD_LETTERS => dead_letters(env, messages).await,
        other => {
            console_error!("a batch from an unknown queue {other}: retried; check the consumers in wrangler.toml");
            batch.retry_all();
        }
    }
    Ok(())
}

/// Dead-letters a message that cannot be read, with the reason; acked once the letter is sent.
async fn unreadable(env: &Env, message: &Message<Value>, queue: &str, reason: String) -> Fate {
    console_error!("{queue} message dead-lettered: {reason}");
    let letter = DeadLetter {
        reason,
        queue: queue.to_owned(),
        body: message.body().to_string(),
        logged: false,
    };
    match pipeline::send_letters(env, vec![letter]).await {
        Ok(()) => Fate::Ack,
        Err(e) => {
            console_error!("dead-lettering failed: {}", e.internal.unwrap_or(e.message));
            Fate::Retry(FAILURE_RETRY_SECS)
        }
    }
}

/// Publishes one item; the first attempts it claimed are added to `claimed`, to be made once every item is in.
async fn publish_from_queue(env: &Env, message: &Message<Value>, claimed: &mut Vec<Batch>) -> Fate {
    let item = match serde_json::from_value::<PublishItem>(message.body().clone()) {
        Ok(item) => item,
        Err(e) => return unreadable(env, message, queues::EVENTS, format!("not a publish item: {e}")).await,
    };
    let now = now_seconds();
    let ready = match publish::prepare(vec![item], now, random_bytes) {
        Ok(ready) => ready,
        Err(e) => return unreadable(env, message, queues::EVENTS, format!("{}: {}", e.code, e.message)).await,
    };
    let (published, batches) = pipeline::publish(env, ready).await;
    claimed.extend(batches);
    match published {
        Ok(_) => Fate::Ack,
        Err(e) => {
            console_error!("EVENTS message retried: {}", e.internal.unwrap_or(e.message));
            Fate::Retry(FAILURE_RETRY_SECS)
        }
    }
}

/// Delivers a batch in three steps: each user's object says where that user's attempts go now (claiming those
/// to make); the attempts of every user are made, at most six at a time for the whole invocation; each user's
/// object applies its attempts, and what it decided is carried out (next attempts, dead letters, deactivation
/// notices). A queue message stands for one attempt, or for several (the message behind a publish's attempts
/// made at once); each is acked or retried on its own, as the worst of its attempts requires. A failure retries
/// only the messages of that user, and an attempt already made is not made again.
async fn deliveries(env: &Env, settings: &Settings, messages: Vec<Message<Value>>) {
    let mut fates: Vec<Option<Fate>> = vec![Some(Fate::Ack); messages.len()];
    let mut by_user: BTreeMap<String, Vec<(usize, DeliveryMessage)>> = BTreeMap::new();
    for (m, message) in messages.iter().enumerate() {
        match serde_json::from_value::<DeliveryMessage>(message.body().clone()) {
            Ok(delivery) => {
                for one in delivery.split() {
                    by_user.entry(one.uid.clone()).or_default().push((m, one));
                }
            }
            Err(e) => {
                let fate = unreadable(env, message, queues::DELIVERIES, format!("not a delivery: {e}")).await;
                settle_message(message, fate);
                fates[m] = None;
            }
        }
    }
    let asked = join_all(by_user.into_iter().map(|(uid, group)| async move {
        let (owners, deliveries): (Vec<usize>, Vec<DeliveryMessage>) = group.into_iter().unzip();
        let attempts = deliveries.iter().map(DeliveryMessage::key).collect();
        let targets = users::ask::<Vec<Target>>(env, &uid, Command::Targets { attempts }).await;
        let batch = targets.map(|targets| Batch {
            uid,
            messages: deliveries,
            targets,
        });
        (owners, batch)
    }))
    .await;
    let mut answered = Vec::new();
    for (owners, batch) in asked {
        match batch {
            Ok(batch) => answered.push((owners, batch)),
            Err(e) => {
                console_error!("deliveries of a user retried: {}", e.internal.unwrap_or(e.message));
                for m in owners {
                    worsen(&mut fates[m], Fate::Retry(FAILURE_RETRY_SECS));
                }
            }
        }
    }
    let (owners, batches): (Vec<Vec<usize>>, Vec<Batch>) = answered.into_iter().unzip();
    let reports = attempt(settings, &batches, None).await;
    let finished = join_all(batches.iter().zip(reports).map(|(batch, reports)| async move {
        finish(env, batch, reports).await.map(|f| f.fates).unwrap_or_else(|e| {
            console_error!("deliveries of a user retried: {}", e.internal.unwrap_or(e.message));
            vec![Fate::Retry(FAILURE_RETRY_SECS); batch.messages.len()]
        })
    }))
    .await;
    for (owners, attempt_fates) in owners.iter().zip(finished) {
        for (&m, fate) in owners.iter().zip(attempt_fates) {
            worsen(&mut fates[m], fate);
        }
    }
    for (message, fate) in messages.iter().zip(fates) {
        if let Some(fate) = fate {
            settle_message(message, fate);
        }
    }
}

/// Combines the fate of one more attempt into its message's: retried (after the longest delay asked) if any of
/// its attempts must be.
fn worsen(fate: &mut Option<Fate>, other: Fate) {
    if let Some(current) = fate {
        *current = match (*current, other) {
            (Fate::Retry(a), Fate::Retry(b)) => Fate::Retry(a.max(b)),
            (Fate::Retry(a), Fate::Ack) | (Fate::Ack, Fate::Retry(a)) => Fate::Retry(a),
            (Fate::Ack, Fate::Ack) => Fate::Ack,
        };
    }
}

/// Makes the first attempts a publish claimed, at once, at most six at a time, starting none after the budget
/// ([`delivery::at_once_budget_ms`]); then, per user, has the object apply them, carries out what followed, and
/// tells the object so, which leaves their queue messages nothing to do. An attempt not started is released to
/// its queue message; anything that fails after an attempt is left to the message too, which finds the attempt
/// made and carries out what followed it.
pub async fn at_once(env: &Env, settings: &Settings, batches: Vec<Batch>) {
    let batches: Vec<Batch> = batches.into_iter().filter(|b| !b.messages.is_empty()).collect();
    if batches.is_empty() {
        return;
    }
    let deadline = js_sys::Date::now() + f64::from(delivery::at_once_budget_ms(settings.delivery.timeout_ms));
    let reports = attempt(settings, &batches, Some(deadline)).await;
    join_all(batches.into_iter().zip(reports).map(|(batch, reports)| async move {
        let mut made = Batch {
            uid: batch.uid.clone(),
            messages: Vec::with_capacity(reports.len()),
            targets: Vec::with_capacity(reports.len()),
        };
        let mut made_reports = Vec::with_capacity(reports.len());
        let mut started = vec![false; batch.messages.len()];
        for (i, report) in reports {
            started[i] = true;
            made_reports.push((made.messages.len(), report));
            made.messages.push(batch.messages[i].clone());
            made.targets.push(batch.targets[i].clone());
        }
        let unmade: Vec<AttemptKey> = batch
            .messages
            .iter()
            .zip(&started)
            .filter(|(_, started)| !**started)
            .map(|(m, _)| m.key())
            .collect();
        let uid = batch.uid.as_str();
        if !unmade.is_empty() {
            if let Err(e) = users::call(env, uid, Command::Unclaim { attempts: unmade }).await {
                console_error!("releasing attempts: {}", e.internal.unwrap_or(e.message));
            }
        }
        if made.messages.is_empty() {
            return;
        }
        // A delivered attempt was finished as the object applied it; the others' follow-ups are now carried out.
        let followed = match finish(env, &made, made_reports).await {
            Ok(Finished { followed, .. }) if followed.is_empty() => Ok(()),
            Ok(Finished { followed, .. }) => {
                let attempts = followed;
                users::call(env, uid, Command::Followed { attempts }).await.map(drop)
            }
            Err(e) => Err(e),
        };
        if let Err(e) = followed {
            console_error!(
                "attempts made at once, left to their queue messages: {}",
                e.internal.unwrap_or(e.message)
            );
        }
    }))
    .await;
}

/// Makes the attempts of `batches` whose target is `Send`, at most six at a time for the whole invocation, and
/// none started after `deadline` (epoch milliseconds). Returns each batch's reports, by message index.
async fn attempt(settings: &Settings, batches: &[Batch], deadline: Option<f64>) -> Vec<Vec<(usize, Report)>> {
    // Each subscription's secrets are taken once, however many of the messages it holds (and opened once per isolate).
    let now = now_seconds();
    let mut keys: HashMap<&str, Result<Vec<SecretKey>, ApiError>> = HashMap::new();
    for target in batches.iter().flat_map(|b| &b.targets) {
        if let Target::Send(stored) = target {
            keys.entry(&stored.public.id)
                .or_insert_with(|| signing_secrets(stored, &settings.storage_key, now).map_err(ApiError::from));
        }
    }
    let timeout_ms = settings.delivery.timeout_ms;
    let keys = &keys;
    let mut sends = Vec::new();
    for (g, batch) in batches.iter().enumerate() {
        for (i, (message, target)) in batch.messages.iter().zip(&batch.targets).enumerate() {
            let Target::Send(stored) = target else { continue };
            let Ok(secrets) = &keys[stored.public.id.as_str()] else {
                continue;
            };
            sends.push(async move {
                if deadline.is_some_and(|at| js_sys::Date::now() > at) {
                    return None;
                }
                let url = &stored.public.webhook_url;
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
                    key: message.key(),
                    event: message.event,
                    url: url.clone(),
                    result,
                    sent,
                };
                Some((g, i, report))
            });
        }
    }
    let made: Vec<Option<(usize, usize, Report)>> = stream::iter(sends).buffer_unordered(MAX_IN_FLIGHT).collect().await;
    let mut reports: Vec<Vec<(usize, Report)>> = vec![Vec::new(); batches.len()];
    for (g, i, report) in made.into_iter().flatten() {
        reports[g].push((i, report));
    }
    reports
}

/// For one user: has the object apply the attempts made (`reports`, by message index; the object logs them),
/// then carries out what followed each message: next attempts, dead letters, notices, and the log entries of
/// skips. Returns each message's fate, and the attempts made whose follow-ups it carried out.
async fn finish(env: &Env, batch: &Batch, reports: Vec<(usize, Report)>) -> Result<Finished, ApiError> {
    let Batch { uid, messages, targets } = batch;
    let uid = uid.as_str();
    // A Send whose secrets did not open was not made: the whole group is retried (and the error logged).
    let sent = targets.iter().filter(|t| matches!(t, Target::Send(_))).count();
    if sent != reports.len() {
        return Err(ApiError::internal("a subscription's secrets did not open"));
    }
    let (indexes, reports): (Vec<usize>, Vec<Report>) = reports.into_iter().unzip();
    let settlement: Settlement = if reports.is_empty() {
        Settlement::default()
    } else {
        users::ask(env, uid, Command::Settle { reports }).await?
    };
    let mut done: Vec<Option<Option<Done>>> = vec![None; messages.len()];
    for (i, d) in indexes.into_iter().zip(settlement.settled) {
        done[i] = Some(d);
    }

    let now = now_seconds();
    let mut fates = vec![Fate::Ack; messages.len()];
    let mut records = Vec::new();
    let mut next: BTreeMap<u32, Vec<DeliveryMessage>> = BTreeMap::new();
    let mut dead = Vec::new();
    let mut followed = Vec::new();
    for (i, (message, target)) in messages.iter().zip(targets).enumerate() {
        let done = match target {
            Target::Busy => {
                fates[i] = Fate::Retry(BUSY_RETRY_SECS);
                continue;
            }
            Target::Skip(why) => {
                let record = DeliveryRecord::skipped(&message.event_id, message.event, message.attempt, why, now);
                records.push(entry(uid, &message.subscription_id, record));
                continue;
            }
            Target::Finished => continue,
            Target::Done(done) => (**done).clone(),
            Target::Send(_) => match done[i].take() {
                Some(None) => continue,
                Some(Some(done)) => {
                    followed.push(message.key());
                    done
                }
                None => return Err(ApiError::internal("an attempt made but not settled")),
            },
        };
        if let Some(delay) = done.retry_in {
            next.entry(delay).or_default().push(DeliveryMessage {
                attempt: message.attempt + 1,
                also: Vec::new(),
                ..message.clone()
            });
        } else if done.record.outcome == Outcome::DeadLettered {
            dead.push(DeadLetter {
                reason: done.record.error.clone().unwrap_or_default(),
                queue: queues::DELIVERIES.to_owned(),
                body: serde_json::to_string(message).map_err(|e| ApiError::internal(e.to_string()))?,
                logged: true,
            });
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
    }

    if !records.is_empty() {
        pipeline::write_logs(&kv_store::kv(env)?, records).await?;
    }
    for (delay, messages) in next {
        pipeline::enqueue(env, DELIVERIES, messages, delay).await?;
    }
    pipeline::send_letters(env, dead).await?;
    pipeline::enqueue(env, DELIVERIES, notices, 0).await?;
    Ok(Finished { fates, followed })
}

/// What [`finish`] came to.
struct Finished {
    /// Each message's fate.
    fates: Vec<Fate>,
    /// The attempts made whose next attempt, dead letter or notices it queued.
    followed: Vec<AttemptKey>,
}

/// Records dead letters in the delivery log of the subscription each names (a letter our consumer sent after
/// logging its last attempt adds nothing). A letter that names no delivery is kept in KV under `dead:` for the
/// operator (7 days), and in the Worker's log.
async fn dead_letters(env: &Env, messages: Vec<Message<Value>>) {
    let now = now_seconds();
    let kv = match kv_store::kv(env) {
        Ok(kv) => kv,
        Err(e) => {
            console_error!("dead letters retried: {}", e.internal.unwrap_or(e.message));
            messages
                .iter()
                .for_each(|m| settle_message(m, Fate::Retry(FAILURE_RETRY_SECS)));
            return;
        }
    };
    for message in messages {
        let letter = DeadLetter::read(message.body().clone());
        let records = letter.records(now);
        let fate = match records.is_empty() {
            false => {
                let entries = records
                    .into_iter()
                    .map(|(uid, subscription_id, record)| entry(&uid, &subscription_id, record))
                    .collect();
                match pipeline::write_logs(&kv, entries).await {
                    Ok(()) => Fate::Ack,
                    Err(e) => {
                        console_error!("a dead letter retried: {}", e.internal.unwrap_or(e.message));
                        Fate::Retry(FAILURE_RETRY_SECS)
                    }
                }
            }
            true if letter.logged => Fate::Ack,
            true => {
                console_error!("dead letter from {}: {}", letter.queue, letter.reason);
                let key = keys::dead_letter(js_sys::Date::now() as u64, random_bytes());
                match serde_json::to_string(&letter) {
                    Ok(text) => match pipeline::put_text(&kv, &key, &text).await {
                        Ok(()) => Fate::Ack,
                        Err(_) => Fate::Retry(FAILURE_RETRY_SECS),
                    },
                    Err(_) => Fate::Ack,
                }
            }
        };
        settle_message(&message, fate);
    }
}

fn entry(uid: &str, subscription_id: &str, record: DeliveryRecord) -> LogEntry {
    LogEntry {
        uid: uid.to_owned(),
        subscription_id: subscription_id.to_owned(),
        record,
    }
}
