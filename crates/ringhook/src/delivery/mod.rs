//! The delivery engine's decisions, as pure functions: what a delivery message holds, which headers a delivery
//! carries, what a response means, when to try again, when to give up on an endpoint, and what the log keeps.
//! The Worker does the I/O (fetch, queues, KV) around them.

use serde::{Deserialize, Serialize};

pub mod bodies;
pub mod log;
pub mod stats;

pub use crate::model::api::{DeliveryRecord, Outcome};

use crate::model::api::Subscription;
use crate::model::store::{StoredSubscription, UserDocument};
use crate::protocol::event::EventType;
use crate::protocol::signature::SignedHeaders;
use crate::protocol::time::rfc3339;

/// `User-Agent` of every delivery.
pub const USER_AGENT: &str = concat!("ringhook/", env!("CARGO_PKG_VERSION"));
/// Seconds between attempts: 11 tries over about 27 hours.
pub const DEFAULT_SCHEDULE: [u32; 10] = [5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 43_200];
/// Failed attempts in a row, at the least, before a subscription is deactivated.
pub const DEFAULT_DEACTIVATE_AFTER: u32 = 10;
/// How long deliveries must have failed, without a single success, before a subscription is deactivated.
pub const DEFAULT_DEACTIVATE_AFTER_SECS: i64 = 24 * 60 * 60;
/// How long a receiver may take to answer, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u32 = 5000;
/// The longest delay a queue message can have (Cloudflare Queues: 12 hours).
pub const MAX_DELAY_SECS: u32 = 43_200;
/// The most of a response body the log keeps, in bytes.
pub const MAX_EXCERPT_BYTES: usize = 1024;
/// How long log entries and published event bodies are kept, in seconds.
pub const LOG_TTL_SECS: u64 = 7 * 24 * 60 * 60;

/// One delivery to make: a queue message. The body is the exact text every attempt sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryMessage {
    /// The subscription's owner.
    pub uid: String,
    /// Where to deliver.
    pub subscription_id: String,
    /// The event's id (`webhook-id`), the same on every attempt.
    pub event_id: String,
    /// The event's type (`x-webhook-event`).
    pub event: EventType,
    /// The event body.
    pub body: String,
    /// 1 for the first try.
    pub attempt: u32,
    /// Which series of attempts this is: empty for the one publishing starts, a fresh id for each redelivery.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub series: String,
    /// More subscriptions the message stands for, the same attempt of the same event to each: the one message
    /// behind the first attempts a publish made at once (see [`behind`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
}

impl DeliveryMessage {
    /// The one-subscription messages this one stands for, its own subscription first.
    pub fn split(mut self) -> Vec<DeliveryMessage> {
        let also = std::mem::take(&mut self.also);
        let mut out = Vec::with_capacity(1 + also.len());
        for subscription_id in also {
            out.push(DeliveryMessage {
                subscription_id,
                ..self.clone()
            });
        }
        out.insert(0, self);
        out
    }

    /// The attempt this message asks for, as the user's object knows attempts.
    pub fn key(&self) -> AttemptKey {
        AttemptKey {
            subscription_id: self.subscription_id.clone(),
            event_id: self.event_id.clone(),
            series: self.series.clone(),
            attempt: self.attempt,
        }
    }
}

/// The queue messages behind first attempts made at once: one per event (and series and attempt) for all its
/// subscriptions, in the order given, rather than one per attempt, so a fan-out to 100 endpoints costs the queue
/// one message.
pub fn behind(messages: Vec<DeliveryMessage>) -> Vec<DeliveryMessage> {
    let mut out: Vec<DeliveryMessage> = Vec::new();
    for message in messages {
        let same = |m: &&mut DeliveryMessage| {
            m.uid == message.uid
                && m.event_id == message.event_id
                && m.series == message.series
                && m.attempt == message.attempt
        };
        match out.iter_mut().find(|m| same(m)) {
            Some(first) => {
                first.also.push(message.subscription_id);
                first.also.extend(message.also);
            }
            None => out.push(message),
        }
    }
    out
}

/// One attempt of one event to one subscription: queue messages that repeat it (a queue delivers at least
/// once) name the same attempt, which is made once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AttemptKey {
    /// The subscription.
    pub subscription_id: String,
    /// The event.
    pub event_id: String,
    /// The series (see [`DeliveryMessage::series`]).
    pub series: String,
    /// 1 for the first try.
    pub attempt: u32,
}

/// A message on the dead-letter queue. The consumer sends these itself (with the reason); a message the queue
/// gave up on after its own retries arrives there as it was, and reads as a letter without reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Why it was given up.
    pub reason: String,
    /// The queue it came from.
    pub queue: String,
    /// The message's body as it was, as JSON text (queues carry structured values, and a JSON value nested in
    /// one does not survive the trip).
    pub body: String,
    /// Whether its final attempt is in the delivery log already.
    #[serde(default)]
    pub logged: bool,
}

impl DeadLetter {
    /// Reads a dead-letter queue message: one of ours, or a message the queue dead-lettered by itself.
    pub fn read(body: serde_json::Value) -> Self {
        match serde_json::from_value::<Self>(body.clone()) {
            Ok(letter) => letter,
            Err(_) => Self {
                reason: "the queue gave up on it after its retries".into(),
                queue: String::new(),
                body: body.to_string(),
                logged: false,
            },
        }
    }

    /// The log entries this letter adds, as (user, subscription, entry), one for each delivery it names; none
    /// when there is none to add (logged already, or no delivery can be read from it).
    pub fn records(&self, now: i64) -> Vec<(String, String, DeliveryRecord)> {
        if self.logged {
            return Vec::new();
        }
        /// What can be read of a delivery message that is not whole: whose, and which event.
        #[derive(Deserialize)]
        struct Named {
            uid: String,
            subscription_id: String,
            #[serde(default)]
            event_id: String,
            event: EventType,
            #[serde(default)]
            attempt: u32,
            #[serde(default)]
            also: Vec<String>,
        }
        let Ok(named) = serde_json::from_str::<Named>(&self.body) else {
            return Vec::new();
        };
        let record = DeliveryRecord {
            outcome: Outcome::DeadLettered,
            ..DeliveryRecord::skipped(&named.event_id, named.event, named.attempt, &self.reason, now)
        };
        std::iter::once(named.subscription_id)
            .chain(named.also)
            .map(|id| (named.uid.clone(), id, record.clone()))
            .collect()
    }
}

/// How often and how long to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Seconds to wait before each further attempt; its length is the number of retries.
    pub schedule: Vec<u32>,
    /// Failed attempts in a row, at the least, that deactivate a subscription...
    pub deactivate_after: u32,
    /// ...once its deliveries have also failed for this many seconds without a success.
    pub deactivate_after_secs: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            schedule: DEFAULT_SCHEDULE.to_vec(),
            deactivate_after: DEFAULT_DEACTIVATE_AFTER,
            deactivate_after_secs: DEFAULT_DEACTIVATE_AFTER_SECS,
        }
    }
}

/// Why a subscription was deactivated (its `deactivation_reason`).
pub mod deactivation {
    /// The receiver answered 410 Gone.
    pub const GONE: &str = "gone";
    /// Deliveries failed for the whole window, and at least the minimum number of attempts.
    pub const FAILING: &str = "failing";
    /// Its owner set it inactive.
    pub const MANUAL: &str = "manual";
}

/// Parses a schedule such as `5,30,120`: whole seconds from 1 to 43,200, at least one.
pub fn parse_schedule(text: &str) -> Result<Vec<u32>, String> {
    let schedule: Vec<u32> = text
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|d| (1..=MAX_DELAY_SECS).contains(d))
        })
        .collect::<Option<_>>()
        .ok_or_else(|| format!("RETRY_SCHEDULE must be comma-separated seconds from 1 to {MAX_DELAY_SECS}"))?;
    if schedule.is_empty() {
        return Err("RETRY_SCHEDULE needs at least one delay".into());
    }
    Ok(schedule)
}

/// What one attempt came to, as the fetch saw it. Redirects are never followed: a 3xx is the attempt's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The HTTP status, if an answer came.
    pub status: Option<u16>,
    /// The network error or timeout, if no answer came.
    pub error: Option<String>,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// The `Location` header of a 3xx answer, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// At most this many characters of a redirect's `Location` are recorded.
pub const MAX_LOCATION_CHARS: usize = 200;

/// What an attempt means for the subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A 2xx.
    Delivered,
    /// 410 Gone: the receiver asks never to be called again.
    Gone,
    /// Anything else; `reason` is what the log and the subscription show.
    Failed {
        /// E.g. `HTTP 500`, `timeout after 5000 ms`.
        reason: String,
        /// The receiver's own wait, in seconds, if it sent one.
        retry_after: Option<u32>,
    },
}

impl Verdict {
    /// What the log and the subscription show for a failed attempt; `None` for a delivered one.
    pub fn failure_reason(&self) -> Option<String> {
        match self {
            Self::Delivered => None,
            Self::Gone => Some("HTTP 410 Gone: the receiver asked to be removed".to_owned()),
            Self::Failed { reason, .. } => Some(reason.clone()),
        }
    }
}

/// Judges an attempt.
pub fn judge(attempt: &Attempt) -> Verdict {
    match attempt.status {
        Some(200..=299) => Verdict::Delivered,
        Some(410) => Verdict::Gone,
        Some(status @ 300..=399) => Verdict::Failed {
            reason: redirect_reason(status, attempt.location.as_deref()),
            retry_after: None,
        },
        Some(status) => Verdict::Failed {
            reason: format!("HTTP {status}"),
            retry_after: attempt.retry_after.as_deref().and_then(|v| v.trim().parse().ok()),
        },
        None => Verdict::Failed {
            reason: attempt.error.clone().unwrap_or_else(|| "no answer".into()),
            retry_after: None,
        },
    }
}

/// Why a 3xx answer failed: it is not followed, since following would send the signed body (and its headers) to
/// wherever the receiver points, past every check a webhook URL passes when it is subscribed.
fn redirect_reason(status: u16, location: Option<&str>) -> String {
    match location.map(str::trim).filter(|l| !l.is_empty()) {
        Some(location) => {
            let shown: String = location.chars().take(MAX_LOCATION_CHARS).collect();
            let cut = if shown.len() < location.len() { "…" } else { "" };
            format!("HTTP {status}: redirect to {shown}{cut} not followed (subscribe the final URL)")
        }
        None => format!("HTTP {status}: redirects are not followed (subscribe the final URL)"),
    }
}

impl RetryPolicy {
    /// Seconds before the attempt after `attempt`, or `None` when the schedule is spent. `jitter` in [-1, 1]
    /// moves the delay by up to ±10 %; a receiver's `Retry-After` replaces the delay, bounded to 1 s .. 12 h.
    pub fn next_delay(&self, attempt: u32, retry_after: Option<u32>, jitter: f64) -> Option<u32> {
        let scheduled = *self.schedule.get(attempt.checked_sub(1)? as usize)?;
        let delay = match retry_after {
            Some(seconds) => seconds,
            None => (f64::from(scheduled) * (1.0 + 0.1 * jitter.clamp(-1.0, 1.0))).round() as u32,
        };
        Some(delay.clamp(1, MAX_DELAY_SECS))
    }
}

/// Records an attempt's verdict on the subscription; returns whether this attempt deactivated it.
///
/// A 410 Gone deactivates at once. Other failures deactivate only when deliveries have failed, without a single
/// success, for the policy's window *and* at least its number of attempts: a brief outage, however many events
/// it spans, deactivates nothing. A success ends the failure streak.
pub fn apply(subscription: &mut Subscription, verdict: &Verdict, policy: &RetryPolicy, now: i64) -> bool {
    match verdict {
        Verdict::Delivered => {
            subscription.failure_count = 0;
            subscription.failing_since = None;
            false
        }
        Verdict::Gone | Verdict::Failed { .. } => {
            subscription.failure_count = subscription.failure_count.saturating_add(1);
            subscription.last_failure_at = Some(rfc3339(now));
            subscription.last_failure_reason = verdict.failure_reason();
            let since = subscription
                .failing_since
                .as_deref()
                .and_then(crate::protocol::time::parse_rfc3339)
                .unwrap_or(now);
            subscription.failing_since = Some(rfc3339(since));
            let reason = match verdict {
                Verdict::Gone => Some(deactivation::GONE),
                _ if subscription.failure_count >= policy.deactivate_after
                    && now - since >= policy.deactivate_after_secs =>
                {
                    Some(deactivation::FAILING)
                }
                _ => None,
            };
            match reason {
                Some(reason) if subscription.active => {
                    subscription.active = false;
                    subscription.deactivated_at = Some(rfc3339(now));
                    subscription.deactivation_reason = Some(reason.to_owned());
                    subscription.updated_at = rfc3339(now);
                    true
                }
                _ => false,
            }
        }
    }
}

/// Parses `DEACTIVATE_AFTER_SECONDS`: whole seconds, 0 or more.
pub fn parse_window(text: &str) -> Result<i64, String> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|s| *s >= 0)
        .ok_or_else(|| "DEACTIVATE_AFTER_SECONDS must be a whole number of seconds, 0 or more".to_owned())
}

/// The headers a delivery shares with every delivery of its event signed in the same second (its id, its time, its
/// type, the body's type and the sender), lower-case: the same for a hundred subscriptions, built once for them.
pub fn shared_headers(signed: &SignedHeaders, event: EventType) -> [(&'static str, String); 7] {
    [
        ("content-type", "application/json".to_owned()),
        ("user-agent", USER_AGENT.to_owned()),
        ("x-webhook-id", signed.webhook_id.clone()),
        ("x-webhook-timestamp", signed.webhook_timestamp.clone()),
        ("x-webhook-event", event.as_str().to_owned()),
        ("webhook-id", signed.webhook_id.clone()),
        ("webhook-timestamp", signed.webhook_timestamp.clone()),
    ]
}

/// The headers that sign one delivery, lower-case: `X-Webhook-Signature`, `webhook-signature` when a secret is of
/// the Standard Webhooks kind, and `X-Webhook-Signature-Previous` while there is a previous secret.
pub fn signature_headers(signed: SignedHeaders) -> Vec<(&'static str, String)> {
    let mut headers = vec![("x-webhook-signature", signed.x_webhook_signature)];
    if !signed.webhook_signature.is_empty() {
        headers.push(("webhook-signature", signed.webhook_signature));
    }
    if let Some(previous) = signed.x_webhook_signature_previous {
        headers.push(("x-webhook-signature-previous", previous));
    }
    headers
}

/// At most [`MAX_EXCERPT_BYTES`] of a response body, cut at a character boundary.
pub fn excerpt(body: &str) -> String {
    let mut end = body.len().min(MAX_EXCERPT_BYTES);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    body[..end].to_owned()
}

/// The notice to an owner that `subscription` was deactivated, sent to their other subscriptions.
pub fn deactivation_notice(subscription: &Subscription, id: String, now: i64) -> crate::Event {
    crate::Event {
        id,
        event: EventType::SubscriptionDeactivated,
        call_id: String::new(),
        status: crate::CallStatus::Failed,
        timestamp: now,
        data: serde_json::json!({
            "subscription_id": subscription.id,
            "webhook_url": subscription.webhook_url,
            "reason": subscription.last_failure_reason,
        }),
    }
}

/// Which of a user's subscriptions an event goes to: active ones to deliver, inactive ones to log as skipped.
pub fn targets(document: &UserDocument, event: EventType) -> (Vec<&StoredSubscription>, Vec<&StoredSubscription>) {
    document
        .subscriptions
        .iter()
        .filter(|s| s.public.events.iter().any(|selector| selector.matches(event)))
        .partition(|s| s.public.active)
}

/// An event's fan-out: the ids of the subscriptions to deliver it to, and of those that skip it (inactive).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanOut {
    /// Active subscriptions listening to the event.
    pub deliver: Vec<String>,
    /// Inactive subscriptions listening to the event: logged as `skipped`.
    pub skipped: Vec<String>,
    /// Those of `deliver` whose first attempt is made at once, by the publishing invocation (see
    /// [`at_once`]); the others' first attempts come from the queue.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at_once: Vec<String>,
}

impl FanOut {
    /// Whether the first attempt to `subscription_id` is made at once.
    pub fn is_at_once(&self, subscription_id: &str) -> bool {
        self.at_once.iter().any(|id| id == subscription_id)
    }
}

/// The fan-out of an event of type `event` over the user's subscriptions as they are now.
pub fn fan_out(document: &UserDocument, event: EventType) -> FanOut {
    let (active, inactive) = targets(document, event);
    let ids = |list: &[&StoredSubscription]| list.iter().map(|s| s.public.id.clone()).collect();
    FanOut {
        deliver: ids(&active),
        skipped: ids(&inactive),
        at_once: active
            .iter()
            .filter(|s| at_once(&s.public))
            .map(|s| s.public.id.clone())
            .collect(),
    }
}

/// The `skipped` log record of each inactive subscription of a fan-out, by subscription id.
pub fn skipped_records(fan_out: &FanOut, event_id: &str, event: EventType, now: i64) -> Vec<(String, DeliveryRecord)> {
    fan_out
        .skipped
        .iter()
        .map(|id| {
            let record = DeliveryRecord::skipped(event_id, event, 1, "subscription is inactive", now);
            (id.clone(), record)
        })
        .collect()
}

/// Whether a new event's first attempt to `subscription` is made at once, by the invocation that published it,
/// rather than by the queue: when the subscription's last attempt succeeded (or it has had none). An endpoint
/// that is failing gets its attempts from the queue, so a slow or broken receiver never holds up the publishing
/// invocation's budget for healthy ones.
pub fn at_once(subscription: &Subscription) -> bool {
    subscription.active && subscription.failure_count == 0
}

/// How long the publishing invocation starts attempts made at once, in milliseconds from its first: twice the
/// receivers' timeout, at most 10 s. An attempt not started by then is released to its queue message.
pub fn at_once_budget_ms(timeout_ms: u32) -> u32 {
    timeout_ms.saturating_mul(2).min(10_000)
}

/// The delay of the queue message behind an attempt made at once, in seconds: past the budget, the attempt's
/// timeout and a margin for applying it, so that the message normally finds the attempt finished and does
/// nothing. Had the publishing invocation stopped short, the message makes the attempt (or, while another
/// maker's claim holds, waits for it).
pub fn fallback_delay(timeout_ms: u32) -> u32 {
    let ms = u64::from(at_once_budget_ms(timeout_ms)) + u64::from(timeout_ms);
    let secs = u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX);
    secs.saturating_add(FALLBACK_MARGIN_SECS).min(MAX_DELAY_SECS)
}

/// Seconds, in [`fallback_delay`], for applying an attempt made at once and carrying out what follows it.
pub const FALLBACK_MARGIN_SECS: u32 = 5;

/// The first attempt's queue message for each subscription of a fan-out.
pub fn messages(uid: &str, fan_out: &FanOut, event_id: &str, event: EventType, body: &str) -> Vec<DeliveryMessage> {
    fan_out
        .deliver
        .iter()
        .map(|subscription_id| DeliveryMessage {
            uid: uid.to_owned(),
            subscription_id: subscription_id.clone(),
            event_id: event_id.to_owned(),
            event,
            body: body.to_owned(),
            attempt: 1,
            series: String::new(),
            also: Vec::new(),
        })
        .collect()
}

/// The first attempts' queue messages of a new event, as its fan-out splits them: those made at once by the
/// publisher (their queue message waits behind them, see [`behind`]), then those the queue makes.
pub fn first_messages(
    uid: &str,
    fan_out: &FanOut,
    event_id: &str,
    event: EventType,
    body: &str,
) -> (Vec<DeliveryMessage>, Vec<DeliveryMessage>) {
    messages(uid, fan_out, event_id, event, body)
        .into_iter()
        .partition(|m| fan_out.is_at_once(&m.subscription_id))
}

/// Where an attempt goes now: the subscription as it is at the moment of sending, or why nothing is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Send to this subscription's URL, signed with its secrets (the attempt is now claimed).
    Send(Box<StoredSubscription>),
    /// Nothing is sent; the reason goes into the log.
    Skip(String),
    /// Another copy of the message is making this attempt now: try the message again later.
    Busy,
    /// The attempt was made and applied already (the queue delivered the message again, or what followed the
    /// attempt failed): carry out what followed it again, never the attempt.
    Done(Box<Done>),
    /// The attempt was made, applied, and what followed it carried out (by the invocation that made it at
    /// once): nothing is left to do.
    Finished,
}

/// How long a claimed attempt stays claimed before another copy of its message may make it, in seconds: longer
/// than any attempt takes.
pub const CLAIM_SECS: i64 = 120;

/// What the user's object knows of an attempt before it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptState {
    /// Not claimed, or claimed so long ago that its maker is gone.
    New,
    /// Claimed at this time (unix seconds) by a consumer making it.
    Claimed(i64),
    /// Made and applied.
    Done(Done),
    /// Made and applied, and what followed it (log entry, next attempt) carried out.
    Finished,
}

/// An attempt once made and applied: its log entry and when the next one comes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    /// What the log keeps of it.
    pub record: DeliveryRecord,
    /// Seconds until the next attempt, if there is one.
    pub retry_in: Option<u32>,
}

impl Done {
    /// Whether nothing follows the attempt (it was delivered: no next attempt, no dead letter, no notice), so
    /// applying it finishes it.
    pub fn ends_here(&self) -> bool {
        self.record.outcome == Outcome::Delivered && self.retry_in.is_none()
    }
}

/// The target of an attempt to subscription `id` in `state`: an attempt made already is not made again, one
/// being made is busy, and deleted and inactive subscriptions are skipped.
pub fn target(document: &UserDocument, id: &str, state: AttemptState, now: i64) -> Target {
    match state {
        AttemptState::Done(done) => return Target::Done(Box::new(done)),
        AttemptState::Finished => return Target::Finished,
        AttemptState::Claimed(at) if now - at < CLAIM_SECS => return Target::Busy,
        AttemptState::New | AttemptState::Claimed(_) => {}
    }
    match document.subscriptions.iter().find(|s| s.public.id == id) {
        None => Target::Skip("subscription was deleted".into()),
        Some(s) if !s.public.active => Target::Skip("subscription is inactive".into()),
        Some(s) => Target::Send(Box::new(s.clone())),
    }
}

/// One attempt as made, reported back to the owner's object to be applied to the subscription as it is then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Which attempt.
    pub key: AttemptKey,
    /// The event's type.
    pub event: EventType,
    /// The URL the attempt went to.
    pub url: String,
    /// What the fetch saw.
    pub result: Attempt,
    /// How long it took, and the start of the answer.
    pub sent: Sent,
}

/// What an attempt's report came to once applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settled {
    /// How the attempt ends in the log.
    pub outcome: Outcome,
    /// Why it failed.
    pub error: Option<String>,
    /// Seconds until the next attempt, if there is one.
    pub retry_in: Option<u32>,
    /// Whether this attempt deactivated the subscription.
    pub deactivated: bool,
}

/// Applies an attempt's report to the subscription as it is now (`None`: deleted meanwhile) and decides what
/// follows: another attempt after a delay, the dead-letter queue, or nothing.
///
/// An attempt counts towards the subscription's failures only if it went to the subscription's current URL: a
/// failure of the URL the user has since left says nothing of the new one (whose next attempt still comes). A
/// deleted or inactive subscription gets no further attempt. `jitter` in [-1, 1] spreads the retries.
pub fn settle(
    subscription: Option<&mut Subscription>,
    report: &Report,
    policy: &RetryPolicy,
    now: i64,
    jitter: f64,
) -> Settled {
    let verdict = judge(&report.result);
    let error = verdict.failure_reason();
    let Some(subscription) = subscription else {
        let outcome = if error.is_none() {
            Outcome::Delivered
        } else {
            Outcome::Failed
        };
        return Settled {
            outcome,
            error,
            retry_in: None,
            deactivated: false,
        };
    };
    let counted = subscription.webhook_url == report.url;
    let deactivated = counted && apply(subscription, &verdict, policy, now);
    let (outcome, retry_in) = match &verdict {
        Verdict::Delivered => (Outcome::Delivered, None),
        _ if !subscription.active => (Outcome::Failed, None),
        Verdict::Gone => match policy.next_delay(report.key.attempt, None, jitter) {
            Some(delay) => (Outcome::Failed, Some(delay)),
            None => (Outcome::DeadLettered, None),
        },
        Verdict::Failed { retry_after, .. } => match policy.next_delay(report.key.attempt, *retry_after, jitter) {
            Some(delay) => (Outcome::Failed, Some(delay)),
            None => (Outcome::DeadLettered, None),
        },
    };
    Settled {
        outcome,
        error,
        retry_in,
        deactivated,
    }
}

impl DeliveryRecord {
    /// The log entry of an attempt that was made.
    pub fn attempted(report: &Report, settled: &Settled, now: i64) -> Self {
        Self {
            event_id: report.key.event_id.clone(),
            event: report.event,
            attempt: report.key.attempt,
            outcome: settled.outcome,
            status_code: report.result.status,
            duration_ms: Some(report.sent.duration_ms),
            error: settled.error.clone(),
            response_excerpt: report.sent.excerpt.clone(),
            at: rfc3339(now),
            next_retry_at: settled.retry_in.map(|delay| rfc3339(now + i64::from(delay))),
        }
    }

    /// The log entry of an attempt not made, and why.
    pub fn skipped(event_id: &str, event: EventType, attempt: u32, why: &str, now: i64) -> Self {
        Self {
            event_id: event_id.to_owned(),
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
}

/// The log's measure of an attempt: how long it took and the start of the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// Milliseconds from sending to the end of the answer (or the failure).
    pub duration_ms: u64,
    /// The start of the answer, at most [`MAX_EXCERPT_BYTES`].
    pub excerpt: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(status: Option<u16>, error: Option<&str>, retry_after: Option<&str>) -> Attempt {
        Attempt {
            status,
            error: error.map(Into::into),
            retry_after: retry_after.map(Into::into),
            location: None,
        }
    }

    #[test]
    fn a_redirect_is_a_failure_naming_its_target() {
        for status in [301, 302, 303, 307, 308] {
            let redirect = Attempt {
                status: Some(status),
                location: Some("http://10.0.0.1/steal".into()),
                retry_after: Some("1".into()),
                ..Attempt::default()
            };
            assert_eq!(
                judge(&redirect),
                Verdict::Failed {
                    reason: format!(
                        "HTTP {status}: redirect to http://10.0.0.1/steal not followed (subscribe the final URL)"
                    ),
                    retry_after: None
                }
            );
        }
        let long = Attempt {
            status: Some(302),
            location: Some(format!("https://example.com/{}", "é".repeat(500))),
            ..Attempt::default()
        };
        let reason = judge(&long).failure_reason().unwrap();
        assert!(
            reason.chars().count() < MAX_LOCATION_CHARS + 80 && reason.contains('…'),
            "{reason}"
        );
    }

    #[test]
    fn responses_are_judged() {
        assert_eq!(judge(&attempt(Some(200), None, None)), Verdict::Delivered);
        assert_eq!(judge(&attempt(Some(204), None, None)), Verdict::Delivered);
        assert_eq!(judge(&attempt(Some(410), None, None)), Verdict::Gone);
        assert_eq!(
            judge(&attempt(Some(503), None, Some("120"))),
            Verdict::Failed {
                reason: "HTTP 503".into(),
                retry_after: Some(120)
            }
        );
        assert_eq!(
            judge(&attempt(Some(301), None, None)),
            Verdict::Failed {
                reason: "HTTP 301: redirects are not followed (subscribe the final URL)".into(),
                retry_after: None
            }
        );
        assert_eq!(
            judge(&attempt(None, Some("timeout after 5000 ms"), None)),
            Verdict::Failed {
                reason: "timeout after 5000 ms".into(),
                retry_after: None
            }
        );
    }

    #[test]
    fn the_default_schedule_spans_a_day_within_the_queue_limit() {
        let total: u32 = DEFAULT_SCHEDULE.iter().sum();
        assert!(total >= 24 * 3600, "{total}");
        assert!(DEFAULT_SCHEDULE.iter().all(|d| *d <= MAX_DELAY_SECS));
    }

    #[test]
    fn delays_follow_the_schedule_with_bounded_jitter() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.next_delay(1, None, 0.0), Some(5));
        assert_eq!(policy.next_delay(2, None, 0.0), Some(30));
        assert_eq!(policy.next_delay(2, None, 1.0), Some(33));
        assert_eq!(policy.next_delay(2, None, -1.0), Some(27));
        assert_eq!(
            policy.next_delay(10, None, 1.0),
            Some(MAX_DELAY_SECS),
            "never past the queue's limit"
        );
        assert_eq!(policy.next_delay(11, None, 0.0), None, "the schedule is spent");
        assert_eq!(policy.next_delay(0, None, 0.0), None);
        assert_eq!(policy.next_delay(1, Some(90), 0.0), Some(90), "Retry-After wins");
        assert_eq!(policy.next_delay(1, Some(0), 0.0), Some(1));
        assert_eq!(policy.next_delay(1, Some(999_999), 0.0), Some(MAX_DELAY_SECS));
        let short = RetryPolicy {
            schedule: vec![1],
            deactivate_after: 3,
            deactivate_after_secs: 0,
        };
        assert_eq!(short.next_delay(1, None, -1.0), Some(1), "never below a second");
    }

    #[test]
    fn schedules_parse_strictly() {
        assert_eq!(parse_schedule("1, 2,3").unwrap(), vec![1, 2, 3]);
        for bad in ["", "0", "1,,2", "x", "43201", "-1"] {
            assert!(parse_schedule(bad).is_err(), "{bad}");
        }
    }

    fn subscription() -> Subscription {
        Subscription::new(
            "sub_1".into(),
            "https://example.com/".into(),
            vec![crate::model::validate::EventSelector::All],
            rfc3339(0),
        )
    }

    #[test]
    fn consecutive_failures_deactivate_and_a_success_resets() {
        let policy = RetryPolicy {
            schedule: vec![1],
            deactivate_after: 3,
            deactivate_after_secs: 0,
        };
        let mut sub = subscription();
        let failed = Verdict::Failed {
            reason: "HTTP 500".into(),
            retry_after: None,
        };
        assert!(!apply(&mut sub, &failed, &policy, 10));
        assert!(!apply(&mut sub, &Verdict::Delivered, &policy, 11));
        assert_eq!(sub.failure_count, 0);
        assert_eq!(
            sub.last_failure_reason.as_deref(),
            Some("HTTP 500"),
            "the last failure stays visible"
        );
        assert!(!apply(&mut sub, &failed, &policy, 12));
        assert!(!apply(&mut sub, &failed, &policy, 13));
        assert!(apply(&mut sub, &failed, &policy, 14), "the third in a row deactivates");
        assert!(!sub.active);
        assert_eq!(sub.deactivated_at.as_deref(), Some("1970-01-01T00:00:14Z"));
        assert_eq!(sub.deactivation_reason.as_deref(), Some(deactivation::FAILING));
        assert!(!apply(&mut sub, &failed, &policy, 15), "deactivated once only");
    }

    #[test]
    fn a_brief_outage_deactivates_nothing_however_many_attempts_fail() {
        let policy = RetryPolicy {
            schedule: vec![1],
            deactivate_after: 3,
            deactivate_after_secs: 3600,
        };
        let failed = Verdict::Failed {
            reason: "HTTP 503".into(),
            retry_after: None,
        };
        let mut sub = subscription();
        for t in 1000..1030 {
            assert!(!apply(&mut sub, &failed, &policy, t), "attempt at {t}");
        }
        assert_eq!((sub.failure_count, sub.active), (30, true));
        assert_eq!(
            sub.failing_since.as_deref(),
            Some("1970-01-01T00:16:40Z"),
            "the streak's first failure"
        );
        assert!(
            !apply(&mut sub, &failed, &policy, 1000 + 3599),
            "just inside the window"
        );
        assert!(
            apply(&mut sub, &failed, &policy, 1000 + 3600),
            "the window has passed without a success"
        );
        assert_eq!(sub.deactivation_reason.as_deref(), Some(deactivation::FAILING));
    }

    #[test]
    fn the_window_needs_the_attempts_too_and_a_success_restarts_it() {
        let policy = RetryPolicy {
            schedule: vec![1],
            deactivate_after: 3,
            deactivate_after_secs: 60,
        };
        let failed = Verdict::Failed {
            reason: "HTTP 500".into(),
            retry_after: None,
        };
        let mut sub = subscription();
        assert!(!apply(&mut sub, &failed, &policy, 0));
        assert!(
            !apply(&mut sub, &failed, &policy, 500),
            "the window passed, but two attempts are not enough"
        );
        assert!(!apply(&mut sub, &Verdict::Delivered, &policy, 501));
        assert_eq!(sub.failing_since, None);
        assert!(!apply(&mut sub, &failed, &policy, 502));
        assert!(!apply(&mut sub, &failed, &policy, 503));
        assert!(
            !apply(&mut sub, &failed, &policy, 504),
            "three attempts, but the new streak is 2 s old"
        );
        assert!(apply(&mut sub, &failed, &policy, 562));
    }

    #[test]
    fn gone_deactivates_at_once() {
        let mut sub = subscription();
        assert!(apply(&mut sub, &Verdict::Gone, &RetryPolicy::default(), 5));
        assert_eq!(sub.deactivation_reason.as_deref(), Some(deactivation::GONE));
        assert!(!sub.active);
        assert!(sub.last_failure_reason.unwrap().contains("410"));
    }

    fn report(url: &str, attempt: u32, status: Option<u16>) -> Report {
        Report {
            key: AttemptKey {
                subscription_id: "sub_1".into(),
                event_id: "evt_1".into(),
                series: String::new(),
                attempt,
            },
            event: EventType::CallCompleted,
            url: url.into(),
            sent: Sent::default(),
            result: Attempt {
                status,
                error: status.is_none().then(|| "connection failed: refused".to_owned()),
                ..Attempt::default()
            },
        }
    }

    const URL: &str = "https://example.com/";

    fn short() -> RetryPolicy {
        RetryPolicy {
            schedule: vec![5, 30],
            deactivate_after: 3,
            deactivate_after_secs: 0,
        }
    }

    #[test]
    fn a_failure_is_counted_and_retried_on_the_schedule() {
        let mut sub = subscription();
        let settled = settle(Some(&mut sub), &report(URL, 1, Some(500)), &short(), 100, 0.0);
        assert_eq!(
            settled,
            Settled {
                outcome: Outcome::Failed,
                error: Some("HTTP 500".into()),
                retry_in: Some(5),
                deactivated: false
            }
        );
        assert_eq!(sub.failure_count, 1);
    }

    #[test]
    fn the_last_scheduled_failure_is_dead_lettered() {
        let mut sub = subscription();
        let settled = settle(Some(&mut sub), &report(URL, 3, None), &short(), 100, 0.0);
        assert_eq!((settled.outcome, settled.retry_in), (Outcome::DeadLettered, None));
        assert_eq!(settled.error.as_deref(), Some("connection failed: refused"));
    }

    #[test]
    fn a_success_resets_the_count_and_ends_the_series() {
        let mut sub = Subscription {
            failure_count: 2,
            ..subscription()
        };
        let settled = settle(Some(&mut sub), &report(URL, 2, Some(204)), &short(), 100, 0.0);
        assert_eq!(
            (settled.outcome, settled.retry_in, settled.error),
            (Outcome::Delivered, None, None)
        );
        assert_eq!(sub.failure_count, 0);
    }

    #[test]
    fn an_attempt_to_a_url_the_user_left_is_not_counted_but_the_new_url_is_tried() {
        let mut sub = Subscription {
            webhook_url: "https://new.example.com/".into(),
            failure_count: 2,
            ..subscription()
        };
        let settled = settle(Some(&mut sub), &report(URL, 1, Some(410)), &short(), 100, 0.0);
        assert_eq!((settled.outcome, settled.retry_in), (Outcome::Failed, Some(5)));
        assert!(!settled.deactivated);
        assert_eq!(
            (sub.failure_count, sub.active),
            (2, true),
            "the old URL's answer is not the new one's"
        );
    }

    #[test]
    fn a_deleted_subscription_gets_no_further_attempt() {
        let settled = settle(None, &report(URL, 1, Some(500)), &short(), 100, 0.0);
        assert_eq!((settled.outcome, settled.retry_in), (Outcome::Failed, None));
        assert_eq!(
            settle(None, &report(URL, 1, Some(200)), &short(), 100, 0.0).outcome,
            Outcome::Delivered
        );
    }

    #[test]
    fn a_subscription_deactivated_meanwhile_gets_no_further_attempt() {
        let mut sub = Subscription {
            active: false,
            ..subscription()
        };
        let settled = settle(Some(&mut sub), &report(URL, 1, Some(500)), &short(), 100, 0.0);
        assert_eq!(
            (settled.outcome, settled.retry_in, settled.deactivated),
            (Outcome::Failed, None, false)
        );
    }

    #[test]
    fn the_failure_that_reaches_the_limit_deactivates_and_stops() {
        let mut sub = Subscription {
            failure_count: 2,
            ..subscription()
        };
        let settled = settle(Some(&mut sub), &report(URL, 1, Some(500)), &short(), 100, 0.0);
        assert_eq!(
            (settled.outcome, settled.retry_in, settled.deactivated),
            (Outcome::Failed, None, true)
        );
        assert!(!sub.active);
    }

    fn stored(id: &str, active: bool, events: Vec<crate::model::validate::EventSelector>) -> StoredSubscription {
        StoredSubscription {
            public: Subscription {
                id: id.into(),
                active,
                events,
                ..subscription()
            },
            secret: crate::model::secret_box::Sealed {
                nonce: String::new(),
                ciphertext: String::new(),
                key_id: None,
            },
            previous_secret: None,
        }
    }

    #[test]
    fn fan_out_delivers_to_active_listeners_and_skips_inactive_ones() {
        use crate::model::validate::EventSelector;
        let document = UserDocument {
            subscriptions: vec![
                stored("sub_a", true, vec![EventSelector::All]),
                stored("sub_b", false, vec![EventSelector::All]),
                stored("sub_c", true, vec![EventSelector::One(EventType::CallFailed)]),
            ],
        };
        let out = fan_out(&document, EventType::CallCompleted);
        assert_eq!(
            out,
            FanOut {
                deliver: vec!["sub_a".into()],
                skipped: vec!["sub_b".into()],
                at_once: vec!["sub_a".into()],
            }
        );
        let event = crate::Event::sample(EventType::CallCompleted, "evt_1".into(), 5);
        let messages = messages("alice", &out, &event.id, event.event, "{}");
        assert_eq!(messages.len(), 1);
        assert_eq!(
            (messages[0].subscription_id.as_str(), messages[0].attempt),
            ("sub_a", 1)
        );
        let new = || AttemptState::New;
        assert_eq!(
            target(&document, "sub_a", new(), 0),
            Target::Send(Box::new(document.subscriptions[0].clone()))
        );
        assert_eq!(
            target(&document, "sub_b", new(), 0),
            Target::Skip("subscription is inactive".into())
        );
        assert_eq!(
            target(&document, "sub_x", new(), 0),
            Target::Skip("subscription was deleted".into())
        );
    }

    #[test]
    fn first_attempts_are_made_at_once_only_to_endpoints_that_are_not_failing() {
        use crate::model::validate::EventSelector;
        let mut failing = stored("sub_failing", true, vec![EventSelector::All]);
        failing.public.failure_count = 1;
        let document = UserDocument {
            subscriptions: vec![stored("sub_ok", true, vec![EventSelector::All]), failing],
        };
        let out = fan_out(&document, EventType::CallCompleted);
        assert_eq!(out.deliver, ["sub_ok", "sub_failing"]);
        assert_eq!(out.at_once, ["sub_ok"]);
        assert!(out.is_at_once("sub_ok") && !out.is_at_once("sub_failing"));
        let (at_once, queued) = first_messages("alice", &out, "evt_1", EventType::CallCompleted, "{}");
        let to = |messages: &[DeliveryMessage]| messages.iter().map(|m| m.subscription_id.clone()).collect::<Vec<_>>();
        assert_eq!(
            (to(&at_once), to(&queued)),
            (vec!["sub_ok".into()], vec!["sub_failing".into()])
        );
    }

    #[test]
    fn the_message_behind_an_attempt_made_at_once_comes_after_the_budget_and_the_timeout() {
        assert_eq!(at_once_budget_ms(DEFAULT_TIMEOUT_MS), 10_000);
        assert_eq!(fallback_delay(DEFAULT_TIMEOUT_MS), 10 + 5 + FALLBACK_MARGIN_SECS);
        assert_eq!(at_once_budget_ms(1000), 2000);
        assert_eq!(
            fallback_delay(1500),
            3 + 2 + FALLBACK_MARGIN_SECS,
            "rounded up to whole seconds"
        );
        assert_eq!(
            fallback_delay(u32::MAX),
            MAX_DELAY_SECS,
            "within what a queue message can wait"
        );
    }

    #[test]
    fn an_attempt_is_made_once_whatever_the_queue_repeats() {
        let document = UserDocument {
            subscriptions: vec![stored("sub_a", true, vec![crate::model::validate::EventSelector::All])],
        };
        assert_eq!(
            target(&document, "sub_a", AttemptState::Claimed(100), 100 + CLAIM_SECS - 1),
            Target::Busy
        );
        assert!(
            matches!(
                target(&document, "sub_a", AttemptState::Claimed(100), 100 + CLAIM_SECS),
                Target::Send(_)
            ),
            "a claim whose maker is gone lapses"
        );
        let done = Done {
            record: DeliveryRecord::skipped("evt_1", EventType::CallCompleted, 1, "x", 0),
            retry_in: Some(5),
        };
        assert!(
            !done.ends_here(),
            "a skip, or a failure with a retry, has what follows it to carry out"
        );
        assert_eq!(
            target(&document, "sub_a", AttemptState::Done(done.clone()), 100),
            Target::Done(Box::new(done))
        );
        assert_eq!(
            target(&document, "sub_a", AttemptState::Finished, 100),
            Target::Finished,
            "made at once and followed up: the queue message behind it does nothing"
        );
    }

    #[test]
    fn dead_letters_name_the_delivery_they_can_and_keep_the_reason() {
        let ours = serde_json::json!({
            "reason": "not a delivery: invalid type",
            "queue": "ringhook-deliveries",
            "body": r#"{"uid":"u","subscription_id":"sub_1","event_id":"evt_1","event":"call.failed","body":42,"attempt":3}"#,
        });
        let records = DeadLetter::read(ours).records(7);
        let (uid, subscription, record) = &records[0];
        assert_eq!(records.len(), 1);
        assert_eq!((uid.as_str(), subscription.as_str()), ("u", "sub_1"));
        assert_eq!(
            (record.outcome, record.attempt, record.event),
            (Outcome::DeadLettered, 3, EventType::CallFailed)
        );
        assert_eq!(record.error.as_deref(), Some("not a delivery: invalid type"));

        let raw = serde_json::json!({"uid":"u","subscription_id":"sub_1","event_id":"evt_2","event":"call.completed","body":"{}","attempt":1});
        let letter = DeadLetter::read(raw);
        assert_eq!(letter.reason, "the queue gave up on it after its retries");
        assert_eq!(letter.records(7)[0].2.event_id, "evt_2");

        let behind = serde_json::json!({"uid":"u","subscription_id":"sub_1","also":["sub_2"],"event_id":"evt_3","event":"call.completed","body":"{}","attempt":1});
        let named: Vec<String> = DeadLetter::read(behind)
            .records(7)
            .into_iter()
            .map(|(_, s, _)| s)
            .collect();
        assert_eq!(
            named,
            ["sub_1", "sub_2"],
            "a message standing for several subscriptions names each"
        );

        assert!(
            DeadLetter::read(serde_json::json!("hello")).records(7).is_empty(),
            "names no delivery"
        );
        let logged = DeadLetter {
            logged: true,
            ..DeadLetter::read(serde_json::json!({"uid":"u","subscription_id":"s","event":"call.completed"}))
        };
        assert!(logged.records(7).is_empty(), "its last attempt is in the log already");
    }

    #[test]
    fn the_message_behind_attempts_made_at_once_is_one_per_event_and_splits_back() {
        let message = |sub: &str, event: &str| DeliveryMessage {
            uid: "u".into(),
            subscription_id: sub.into(),
            event_id: event.into(),
            event: EventType::CallCompleted,
            body: "{}".into(),
            attempt: 1,
            series: String::new(),
            also: Vec::new(),
        };
        let all = vec![
            message("sub_a", "evt_1"),
            message("sub_b", "evt_1"),
            message("sub_a", "evt_2"),
        ];
        let grouped = behind(all.clone());
        assert_eq!(grouped.len(), 2);
        assert_eq!(grouped[0].also, ["sub_b"]);
        let split: Vec<DeliveryMessage> = grouped.into_iter().flat_map(DeliveryMessage::split).collect();
        assert_eq!(split, all, "each attempt once, in order");
        let json = serde_json::to_value(message("sub_a", "evt_1")).unwrap();
        assert!(json.get("also").is_none(), "a one-subscription message reads as before");
    }

    /// Every request header of a delivery: those it shares, then its signatures.
    fn request_headers(signed: &SignedHeaders, event: EventType) -> Vec<(&'static str, String)> {
        let mut headers = shared_headers(signed, event).to_vec();
        headers.extend(signature_headers(signed.clone()));
        headers
    }

    #[test]
    fn headers_carry_both_signature_schemes() {
        let secret = crate::SecretKey::generate([1; 32]);
        let signed = crate::sign(&[secret], "evt_1", 1000, b"{}");
        let headers = request_headers(&signed, EventType::CallCompleted);
        let get = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("x-webhook-event"), Some("call.completed"));
        assert_eq!(get("x-webhook-id"), Some("evt_1"));
        assert_eq!(get("webhook-timestamp"), Some("1000"));
        assert!(get("x-webhook-signature").unwrap().starts_with("sha256="));
        assert!(get("webhook-signature").unwrap().starts_with("v1,"));
        assert_eq!(get("user-agent"), Some(USER_AGENT));
        assert_eq!(
            get("x-webhook-signature-previous"),
            None,
            "no rotation, no previous signature"
        );
    }

    #[test]
    fn during_a_rotation_the_guide_header_keeps_the_current_secret_and_the_previous_one_has_its_own() {
        let (current, previous) = (crate::SecretKey::generate([1; 32]), crate::SecretKey::generate([2; 32]));
        let signed = crate::sign(&[current.clone(), previous.clone()], "evt_1", 1000, b"{}");
        let headers = request_headers(&signed, EventType::CallCompleted);
        let get = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
        assert_eq!(get("x-webhook-signature"), Some(current.body_signature(b"{}")));
        assert_eq!(
            get("x-webhook-signature-previous"),
            Some(previous.body_signature(b"{}"))
        );
        assert_eq!(get("webhook-signature").unwrap().split(' ').count(), 2);
    }

    #[test]
    fn deliveries_of_one_event_in_one_second_share_all_but_their_signatures() {
        let (a, b) = (crate::SecretKey::generate([1; 32]), crate::SecretKey::generate([2; 32]));
        let to_a = crate::sign(&[a], "evt_1", 1000, b"{}");
        let to_b = crate::sign(&[b], "evt_1", 1000, b"{}");
        let event = EventType::CallCompleted;
        assert_eq!(shared_headers(&to_a, event), shared_headers(&to_b, event));
        assert_ne!(signature_headers(to_a.clone()), signature_headers(to_b));
        let shared = shared_headers(&to_a, event);
        let signing = signature_headers(to_a);
        assert!(
            signing
                .iter()
                .all(|(name, _)| shared.iter().all(|(other, _)| other != name)),
            "no header is both shared and a delivery's own"
        );
    }

    #[test]
    fn excerpts_stop_at_a_character_boundary() {
        let long = "é".repeat(600);
        let cut = excerpt(&long);
        assert!(cut.len() <= MAX_EXCERPT_BYTES && cut.len() >= MAX_EXCERPT_BYTES - 1);
        assert_eq!(excerpt("short"), "short");
    }
}
