//! What the Worker asks a user's object, the single writer of that user's state, and what it answers; and the
//! decisions the object applies. The object loads the user's rows, calls these pure functions and writes the
//! result, all without waiting on anything in between, so each command is applied atomically.

use serde::{Deserialize, Serialize};

use crate::delivery::{self, AttemptKey, AttemptState, DeliveryRecord, Done, FanOut, Report, RetryPolicy, Target};
use crate::model::api::{ErrorResponse, Subscription};
use crate::model::store::{StoredSubscription, UserDocument};
use crate::protocol::event::EventType;
use crate::service::http::{ApiError, Reply};
use crate::service::routes::SubscriptionOp;

/// A request to a user's object. Every command names the user, so the object can move an old KV document in
/// on first touch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The user the object belongs to.
    pub uid: String,
    /// What to do.
    pub command: Command,
}

/// What a user's object is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// A subscription API operation; answered with its status and JSON body as they go to the client.
    Api {
        /// The operation.
        op: SubscriptionOp,
        /// The request body.
        body: String,
    },
    /// Events published for this user, published in one step: each new one (an exact check; a repeated id is a
    /// duplicate) has its first attempts queued by the object, and once they are on the queue it is published:
    /// its body kept for redelivery, its skips logged, appended to the user's live stream exactly once, and its
    /// first attempts to make at once claimed. Answered with [`Publication`]; if the queue refuses, the new ids are
    /// released (the same ids may be published again at once) and the object answers 503.
    Publish {
        /// The events, in the order published.
        events: Vec<Committed>,
    },
    /// These attempts, made at once, were applied and what followed them carried out: their queue messages
    /// have nothing left to do.
    Followed {
        /// The attempts.
        attempts: Vec<AttemptKey>,
    },
    /// These claimed attempts were not made (the invocation's budget ran out): their queue messages make them.
    Unclaim {
        /// The attempts.
        attempts: Vec<AttemptKey>,
    },
    /// The log records of the user's subscription `id` that the object holds and has not written to KV yet
    /// (404 if there is no such subscription), for what must see the whole log.
    Unwritten {
        /// The subscription id.
        id: String,
    },
    /// Where the bodies of these published events are (see [`crate::delivery::bodies::Kept`]).
    Kept {
        /// Their ids.
        ids: Vec<String>,
    },
    /// The user's subscription `id` (404 if there is none), for routes that only need it to exist.
    Subscription {
        /// The subscription id.
        id: String,
    },
    /// The subscription delivering to `url`, with one use of the test-send limit taken (429 when spent).
    TestTarget {
        /// A normalised webhook URL.
        url: String,
        /// Test sends allowed per minute.
        per_minute: u32,
    },
    /// Takes one use of the user's limit `name` (429 when spent).
    Take {
        /// The limit's name.
        name: String,
        /// Uses allowed per minute.
        per_minute: u32,
    },
    /// Records a stream ticket's nonce, to be used once before `expires_at`.
    IssueTicket {
        /// The ticket's nonce.
        nonce: String,
        /// Unix seconds.
        expires_at: i64,
    },
    /// Where each attempt goes now; those to make are claimed.
    Targets {
        /// One per queue message.
        attempts: Vec<AttemptKey>,
    },
    /// Apply the attempts made to the subscriptions as they are now.
    Settle {
        /// The attempts, in the order made.
        reports: Vec<Report>,
    },
    /// An attempt made outside the queue (a test send), counted in its subscription's health.
    Count {
        /// The subscription.
        subscription_id: String,
        /// How the attempt ended.
        outcome: crate::delivery::Outcome,
        /// Seconds until another attempt (none for a test send).
        retry_in: Option<u32>,
        /// How long it took.
        duration_ms: u64,
    },
    /// A subscription's delivery health over a window (see [`crate::delivery::stats`]).
    Stats {
        /// The subscription.
        id: String,
        /// `24h` or `7d`.
        window: String,
    },
}

/// A published event, as its body goes to webhooks and to the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    /// The event id.
    pub id: String,
    /// Its type (streams filter on it).
    pub event: EventType,
    /// The exact body a delivery carries.
    pub body: String,
}

/// How the Worker asks a user's object to open a stream socket: sent in [`STREAM_HEADER`] of the upgrade
/// request it forwards, once the ticket has been opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamOpen {
    /// The ticket's user.
    pub uid: String,
    /// The ticket's nonce: the object accepts it once.
    pub nonce: String,
    /// The event types the socket receives.
    pub events: Vec<crate::model::validate::EventSelector>,
    /// Resume after this cursor.
    pub cursor: Option<u64>,
    /// When the sign-in behind the ticket expires.
    pub token_expires_at: i64,
}

/// The header of a forwarded upgrade request that carries its [`StreamOpen`] as JSON.
pub const STREAM_HEADER: &str = "x-ringhook-stream";

/// What a user's object answers a command called as a method (the Worker's calls; see [`read_answer`]): its
/// reply or its refusal, as one string: the status, the seconds to wait before trying again if the refusal says so,
/// and the JSON body, `"{status} {retry_after}\n{body}"`.
pub fn answer_text(answer: &Result<Reply, ApiError>) -> String {
    match answer {
        Ok(reply) => format!("{} \n{}", reply.status, reply.body),
        Err(e) => {
            let retry_after = e.retry_after.map(|s| s.to_string()).unwrap_or_default();
            format!("{} {retry_after}\n{}", e.status, e.body())
        }
    }
}

/// The Worker's reading of [`answer_text`]: the object's reply, or its refusal as the same error (the object
/// logged the detail of its own failures).
pub fn read_answer(text: &str) -> Result<Reply, ApiError> {
    // Not the text itself: a reply can hold a secret.
    let unreadable = || ApiError::internal(format!("a user's object's answer is not one ({} bytes)", text.len()));
    let (head, body) = text.split_once('\n').ok_or_else(unreadable)?;
    let (status, retry_after) = head.split_once(' ').ok_or_else(unreadable)?;
    let status: u16 = status.parse().map_err(|_| unreadable())?;
    if status < 400 {
        return Ok(Reply {
            status,
            body: body.to_owned(),
        });
    }
    let refusal: ErrorResponse = serde_json::from_str(body)
        .map_err(|e| ApiError::internal(format!("a user's object answered {status}: {e}")))?;
    Err(ApiError {
        retry_after: retry_after.parse().ok(),
        ..ApiError::new(status, refusal.error.code, refusal.error.message)
    })
}

/// What became of one published event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admission {
    /// The id was published before (or earlier in the same request): nothing is delivered again.
    pub duplicate: bool,
    /// Where a new event goes; empty for a duplicate.
    pub fan_out: FanOut,
}

/// The answer to [`Command::Settle`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// One per report, in order: what the attempt came to, or nothing when nothing follows it
    /// ([`Done::ends_here`]: the object finished it as it recorded it, and its maker has nothing to carry out).
    pub settled: Vec<Option<Done>>,
    /// A notice per subscription deactivated, for the owner's other subscriptions.
    pub notices: Vec<Notice>,
}

impl Settlement {
    /// The answer for the attempts `settled` came to, in order, and `notices`.
    pub fn new(settled: Vec<Done>, notices: Vec<Notice>) -> Self {
        let settled = settled
            .into_iter()
            .map(|done| (!done.ends_here()).then_some(done))
            .collect();
        Self { settled, notices }
    }
}

/// A `webhook.subscription.deactivated` event to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The notice's event id.
    pub event_id: String,
    /// Its body.
    pub body: String,
    /// Where it goes.
    pub fan_out: FanOut,
}

/// The answer to [`Command::Publish`]: what became of each event, and the first attempts claimed for the publisher
/// to make at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Publication {
    /// One per event, in order.
    pub admissions: Vec<Admission>,
    /// The claims on the attempts made at once: those of [`delivery::first_messages`] of each new event, in order.
    pub claims: Claims,
}

/// Which of the attempts asked for were claimed, and where they go.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// One per attempt asked for: whether the asker makes it now. One not claimed is left to its queue message
    /// (its subscription changed, or another copy holds it).
    pub claimed: Vec<bool>,
    /// The subscriptions the claimed attempts go to, each once, as they are now.
    pub subscriptions: Vec<StoredSubscription>,
}

/// Claims the attempts to make at once, given what the object knows of each (`states`): those the queue would
/// send now ([`delivery::target`] is `Send`); the rest are left to their queue messages, which log a skip or
/// find the attempt made.
pub fn claims(document: &UserDocument, attempts: &[AttemptKey], states: Vec<AttemptState>, now: i64) -> Claims {
    let mut out = Claims::default();
    for target in targets(document, attempts, states, now) {
        let claimed = match target {
            Target::Send(stored) => {
                if !out.subscriptions.iter().any(|s| s.public.id == stored.public.id) {
                    out.subscriptions.push(*stored);
                }
                true
            }
            _ => false,
        };
        out.claimed.push(claimed);
    }
    out
}

/// How long an admitted event may stay on its way to the queue before another publish of its id is admitted
/// in its place (its publisher is gone), in seconds.
pub const PUBLISH_LEASE_SECS: i64 = 60;

/// What the object knows of a published id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishState {
    /// Never published (or released after a failed publish).
    New,
    /// Admitted at this time (unix seconds), not yet confirmed on the queue.
    Pending(i64),
    /// On the queue: published.
    Published,
}

/// Admits published events, given what the object knows of each id (`states`): an id published before, or
/// being published now, or earlier in the same request, is a duplicate and goes nowhere; one whose publish
/// failed (released) or whose publisher is gone (a pending id past the lease) is admitted again.
pub fn admit(document: &UserDocument, events: &[Committed], states: Vec<PublishState>, now: i64) -> Vec<Admission> {
    let mut admitted = std::collections::BTreeSet::new();
    events
        .iter()
        .zip(states)
        .map(|(p, state)| {
            let new = match state {
                PublishState::New => true,
                PublishState::Pending(at) => now - at >= PUBLISH_LEASE_SECS,
                PublishState::Published => false,
            };
            if new && admitted.insert(p.id.as_str()) {
                Admission {
                    duplicate: false,
                    fan_out: delivery::fan_out(document, p.event),
                }
            } else {
                Admission {
                    duplicate: true,
                    fan_out: FanOut::default(),
                }
            }
        })
        .collect()
}

/// Where each attempt goes now, given what the object knows of it (`states`, one per attempt). An attempt
/// asked for twice in one command (the queue repeated a message within a batch) is made by the first only.
pub fn targets(document: &UserDocument, attempts: &[AttemptKey], states: Vec<AttemptState>, now: i64) -> Vec<Target> {
    let mut claimed = std::collections::BTreeSet::new();
    attempts
        .iter()
        .zip(states)
        .map(|(key, state)| {
            if claimed.contains(key) {
                return Target::Busy;
            }
            let target = delivery::target(document, &key.subscription_id, state, now);
            if matches!(target, Target::Send(_)) {
                claimed.insert(key.clone());
            }
            target
        })
        .collect()
}

/// Which reports in a list repeat an attempt reported earlier in it: an attempt is counted and logged once, as
/// when its report came again in a later command and found it done.
pub fn repeated(reports: &[Report]) -> Vec<bool> {
    let mut seen = std::collections::BTreeSet::new();
    reports.iter().map(|report| !seen.insert(report.key.clone())).collect()
}

/// Applies attempt reports in order to the subscriptions as they are now; returns what each came to (its log
/// entry and next attempt) and the subscriptions they deactivated. `jitter()` gives a value in [-1, 1] per report.
pub fn settle_all(
    document: &mut UserDocument,
    reports: &[Report],
    policy: &RetryPolicy,
    now: i64,
    mut jitter: impl FnMut() -> f64,
) -> (Vec<Done>, Vec<Subscription>) {
    let mut deactivated = Vec::new();
    let settled = reports
        .iter()
        .map(|report| {
            let id = &report.key.subscription_id;
            let subscription = document
                .subscriptions
                .iter_mut()
                .find(|s| s.public.id == *id)
                .map(|s| &mut s.public);
            let settled = delivery::settle(subscription, report, policy, now, jitter());
            if settled.deactivated {
                if let Some(s) = document.subscriptions.iter().find(|s| s.public.id == *id) {
                    deactivated.push(s.public.clone());
                }
            }
            Done {
                record: DeliveryRecord::attempted(report, &settled, now),
                retry_in: settled.retry_in,
            }
        })
        .collect();
    (settled, deactivated)
}

/// The user's subscription delivering to `url`, or `404 not_found`.
pub fn by_url<'d>(
    document: &'d UserDocument,
    url: &str,
) -> Result<&'d StoredSubscription, crate::service::http::ApiError> {
    document.with_url(url, None).ok_or_else(|| {
        crate::service::http::ApiError::new(
            404,
            "not_found",
            "no subscription of yours has this webhook_url: subscribe it first",
        )
    })
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::delivery::{Attempt, Outcome};
    use crate::model::secret_box::Sealed;
    use crate::model::validate::EventSelector;

    #[test]
    fn a_reply_reads_as_it_was_answered() {
        let reply = Reply {
            status: 201,
            body: "{\"success\":true,\"note\":\"two\\nlines\"}".into(),
        };
        assert_eq!(read_answer(&answer_text(&Ok(reply.clone()))), Ok(reply));
    }

    #[test]
    fn a_refusal_reads_as_the_same_error_with_its_wait() {
        let refused = ApiError {
            retry_after: Some(7),
            ..ApiError::new(429, "rate_limited", "too many tests: wait")
        };
        let read = read_answer(&answer_text(&Err(refused))).unwrap_err();
        assert_eq!(
            (read.status, read.code.as_ref(), read.message.as_str(), read.retry_after),
            (429, "rate_limited", "too many tests: wait", Some(7))
        );
    }

    #[test]
    fn a_failure_reads_without_its_detail() {
        let failed = ApiError::internal("the table is missing");
        let read = read_answer(&answer_text(&Err(failed))).unwrap_err();
        assert_eq!((read.status, read.internal, read.retry_after), (500, None, None));
    }

    #[test]
    fn what_is_not_an_answer_is_an_internal_error() {
        for text in ["", "201", "abc \n{}", "500 \nnot json"] {
            assert_eq!(read_answer(text).unwrap_err().status, 500, "{text:?}");
        }
    }

    #[test]
    fn an_answer_that_is_not_one_is_not_logged() {
        let failed = read_answer("{\"secret_key\":\"whsec_abc\"}").unwrap_err();
        assert!(!failed.internal.unwrap_or_default().contains("whsec_abc"));
    }

    fn stored(id: &str) -> StoredSubscription {
        StoredSubscription {
            public: Subscription::new(
                id.into(),
                format!("https://example.com/{id}"),
                vec![EventSelector::All],
                String::new(),
            ),
            secret: Sealed {
                nonce: String::new(),
                ciphertext: String::new(),
                key_id: None,
            },
            previous_secret: None,
        }
    }

    fn publication(id: &str) -> Committed {
        Committed {
            id: id.into(),
            event: EventType::CallCompleted,
            body: "{}".into(),
        }
    }

    #[test]
    fn a_repeated_id_is_admitted_once_whether_earlier_or_in_the_same_request() {
        let document = UserDocument {
            subscriptions: vec![stored("sub_a")],
        };
        let events = [publication("evt_new"), publication("evt_old"), publication("evt_new")];
        let states = vec![PublishState::New, PublishState::Published, PublishState::New];
        let admitted = admit(&document, &events, states, 100);
        let duplicates: Vec<bool> = admitted.iter().map(|a| a.duplicate).collect();
        assert_eq!(duplicates, [false, true, true]);
        assert_eq!(admitted[0].fan_out.deliver, ["sub_a"]);
        assert!(admitted[1].fan_out.deliver.is_empty());
    }

    #[test]
    fn an_id_being_published_is_a_duplicate_until_its_lease_ends() {
        let document = UserDocument::default();
        let events = [publication("evt_1")];
        let at = |now| admit(&document, &events, vec![PublishState::Pending(100)], now)[0].duplicate;
        assert!(at(100 + PUBLISH_LEASE_SECS - 1), "another publish of it is under way");
        assert!(!at(100 + PUBLISH_LEASE_SECS), "its publisher is gone: admitted again");
    }

    fn key(id: &str) -> AttemptKey {
        AttemptKey {
            subscription_id: id.into(),
            event_id: "evt_1".into(),
            series: String::new(),
            attempt: 1,
        }
    }

    fn failed(id: &str, url: &str) -> Report {
        Report {
            key: key(id),
            event: EventType::CallCompleted,
            url: url.into(),
            sent: crate::delivery::Sent::default(),
            result: Attempt {
                status: Some(500),
                ..Attempt::default()
            },
        }
    }

    #[test]
    fn a_report_of_an_attempt_reported_earlier_in_the_list_is_a_repeat() {
        let mut again = failed("sub_a", "https://example.com/sub_a");
        again.key.attempt = 2;
        let reports = [
            failed("sub_a", "https://example.com/sub_a"),
            failed("sub_b", "https://example.com/sub_b"),
            again.clone(),
            failed("sub_a", "https://example.com/sub_a"),
            again,
        ];
        assert_eq!(repeated(&reports), [false, false, false, true, true]);
    }

    /// Two subscriptions, and a policy that retries once, a second later, and deactivates at the third failure.
    fn two_subscriptions() -> (UserDocument, RetryPolicy) {
        let document = UserDocument {
            subscriptions: vec![stored("sub_a"), stored("sub_b")],
        };
        let policy = RetryPolicy {
            schedule: vec![1],
            deactivate_after: 3,
            deactivate_after_secs: 0,
        };
        (document, policy)
    }

    #[test]
    fn every_report_of_a_batch_is_counted_on_the_subscription_as_it_is_now() {
        let (mut document, policy) = two_subscriptions();
        let url = document.subscriptions[0].public.webhook_url.clone();
        let reports = vec![
            failed("sub_a", &url),
            failed("sub_a", &url),
            failed("sub_gone", "https://x/"),
        ];
        let (settled, deactivated) = settle_all(&mut document, &reports, &policy, 10, || 0.0);
        assert_eq!(document.subscriptions[0].public.failure_count, 2);
        assert_eq!(document.subscriptions[1].public.failure_count, 0);
        assert_eq!(settled[2].retry_in, None, "a deleted subscription is not tried again");
        assert!(deactivated.is_empty());

        let (settled, deactivated) = settle_all(&mut document, &[failed("sub_a", &url)], &policy, 11, || 0.0);
        assert_eq!(settled[0].record.outcome, Outcome::Failed);
        assert_eq!(deactivated.len(), 1, "the third failure in a row deactivates");
        assert_eq!(deactivated[0].id, "sub_a");
        assert!(!deactivated[0].active);
    }

    #[test]
    fn a_settlement_carries_only_the_attempts_that_something_follows() {
        let (mut document, policy) = two_subscriptions();
        let mut delivered = failed("sub_b", &document.subscriptions[1].public.webhook_url);
        delivered.result.status = Some(200);
        let reports = [
            failed("sub_a", &document.subscriptions[0].public.webhook_url),
            delivered,
        ];
        let (settled, _) = settle_all(&mut document, &reports, &policy, 10, || 0.0);
        let settlement = Settlement::new(settled, Vec::new());
        assert_eq!(
            settlement.settled[0].as_ref().and_then(|done| done.retry_in),
            Some(1),
            "a failure is retried"
        );
        assert_eq!(settlement.settled[1], None, "nothing follows a delivery");
    }

    #[test]
    fn claims_are_the_attempts_to_send_now_with_each_subscription_once() {
        let mut inactive = stored("sub_off");
        inactive.public.active = false;
        let document = UserDocument {
            subscriptions: vec![stored("sub_a"), inactive],
        };
        let mut second = key("sub_a");
        second.event_id = "evt_2".into();
        let attempts = [key("sub_a"), second, key("sub_off"), key("sub_gone"), key("sub_a")];
        let states = vec![
            AttemptState::New,
            AttemptState::New,
            AttemptState::New,
            AttemptState::New,
            AttemptState::New,
        ];
        let claims = claims(&document, &attempts, states, 0);
        assert_eq!(claims.claimed, [true, true, false, false, false]);
        assert_eq!(claims.subscriptions.len(), 1);
        assert_eq!(claims.subscriptions[0].public.id, "sub_a");

        let held = super::claims(&document, &[key("sub_a")], vec![AttemptState::Claimed(0)], 1);
        assert_eq!(held.claimed, [false], "another maker holds it");
        assert!(held.subscriptions.is_empty());
    }

    #[test]
    fn targets_follow_the_document() {
        let document = UserDocument {
            subscriptions: vec![stored("sub_a")],
        };
        let found = targets(
            &document,
            &[key("sub_a"), key("sub_z"), key("sub_a")],
            vec![AttemptState::New, AttemptState::New, AttemptState::New],
            0,
        );
        assert!(matches!(&found[0], Target::Send(s) if s.public.id == "sub_a"));
        assert_eq!(found[1], Target::Skip("subscription was deleted".into()));
        assert_eq!(
            found[2],
            Target::Busy,
            "the same attempt twice in one batch is made once"
        );
        assert_eq!(
            by_url(&document, "https://example.com/sub_a").unwrap().public.id,
            "sub_a"
        );
        assert_eq!(by_url(&document, "https://example.com/none").unwrap_err().status, 404);
    }
}
