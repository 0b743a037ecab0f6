//! Delivery health per subscription: attempts per hour by outcome, and how long they took. The user's object
//! keeps these as hourly aggregates (counts, and a latency histogram per hour), each attempt's count held with its
//! log record until the record is written, then added: a window is read from the aggregates and the few records
//! held, without scanning the log. Counts are exact; a percentile is the upper bound of the histogram bucket it
//! falls in, within 5 % of the true value (exact below 10 ms).

use serde::{Deserialize, Serialize};

use crate::delivery::Outcome;
use crate::protocol::time::rfc3339;
use crate::service::http::ApiError;

/// An hour, in seconds.
pub const HOUR_SECS: i64 = 3600;
/// How long hourly aggregates are kept: the longest window, and the hour under way.
pub const KEEP_SECS: i64 = 7 * 24 * HOUR_SECS + HOUR_SECS;

/// Below this many milliseconds each bucket holds one value.
const EXACT_BELOW_MS: u64 = 10;
/// Above it, each bucket's upper bound is this much above the last one's.
const GROWTH: f64 = 1.05;

/// What one attempt (or one decision not to make it) counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A 2xx.
    Delivered,
    /// Failed, and no attempt follows (the subscription was deactivated or deleted meanwhile).
    Failed,
    /// Failed, and another attempt is scheduled.
    Retried,
    /// Failed for the last time: the message went to the dead-letter queue.
    DeadLettered,
    /// Not sent: the subscription was inactive.
    Skipped,
}

impl Kind {
    /// Every kind, in the order answers list them.
    pub const ALL: [Kind; 5] = [
        Kind::Delivered,
        Kind::Failed,
        Kind::Retried,
        Kind::DeadLettered,
        Kind::Skipped,
    ];

    /// What an applied attempt counts as: its outcome in the log, and whether another attempt follows.
    pub fn of(outcome: Outcome, retry_in: Option<u32>) -> Self {
        match outcome {
            Outcome::Delivered => Kind::Delivered,
            Outcome::Failed if retry_in.is_some() => Kind::Retried,
            Outcome::Failed => Kind::Failed,
            Outcome::DeadLettered => Kind::DeadLettered,
            Outcome::Skipped => Kind::Skipped,
        }
    }

    /// Its name in answers and its column in the object's storage.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Delivered => "delivered",
            Kind::Failed => "failed",
            Kind::Retried => "retried",
            Kind::DeadLettered => "dead_lettered",
            Kind::Skipped => "skipped",
        }
    }

    fn index(self) -> usize {
        Kind::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }
}

/// The start of the hour `at` falls in (unix seconds).
pub fn hour_of(at: i64) -> i64 {
    at.div_euclid(HOUR_SECS) * HOUR_SECS
}

/// The histogram bucket of an attempt that took `ms`.
pub fn bucket(ms: u64) -> u32 {
    if ms < EXACT_BELOW_MS {
        return ms as u32;
    }
    // The smallest k with bound(k) >= ms, found from the logarithm and corrected for rounding.
    let guess = ((ms as f64 / EXACT_BELOW_MS as f64).ln() / GROWTH.ln()).ceil().max(0.0) as u32;
    let mut k = guess.saturating_sub(1);
    while upper_ms(EXACT_BELOW_MS as u32 + k) < ms {
        k += 1;
    }
    EXACT_BELOW_MS as u32 + k
}

/// The largest duration a bucket holds, in milliseconds.
pub fn upper_ms(bucket: u32) -> u64 {
    if u64::from(bucket) < EXACT_BELOW_MS {
        return u64::from(bucket);
    }
    let k = bucket - EXACT_BELOW_MS as u32;
    (EXACT_BELOW_MS as f64 * GROWTH.powi(k as i32)).floor() as u64
}

/// The `p`-th percentile (0 < p ≤ 100) of a histogram given as `(bucket, count)` pairs in any order: the upper
/// bound of the bucket holding the value at that rank. `None` for an empty histogram.
pub fn percentile(histogram: &[(u32, u64)], p: f64) -> Option<u64> {
    let total: u64 = histogram.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let mut sorted = histogram.to_vec();
    sorted.sort_unstable();
    // Nearest rank: the smallest value with at least p % of the values at or below it.
    let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (bucket, count) in sorted {
        seen += count;
        if seen >= rank {
            return Some(upper_ms(bucket));
        }
    }
    None
}

/// The window asked for: `24h` (the default) or `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last 24 hours, by the hour.
    Day,
    /// The last 7 days, by the hour.
    Week,
}

impl Window {
    /// Reads `window=` from the query; anything else is a 400 that says what is allowed.
    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("") | Some("24h") => Ok(Window::Day),
            Some("7d") => Ok(Window::Week),
            Some(other) => Err(ApiError::new(
                400,
                "invalid_request",
                format!("window must be 24h or 7d, not {other:?}"),
            )),
        }
    }

    /// How it is written.
    pub fn name(self) -> &'static str {
        match self {
            Window::Day => "24h",
            Window::Week => "7d",
        }
    }

    /// How many hours it covers, the hour under way included.
    pub fn hours(self) -> i64 {
        match self {
            Window::Day => 24,
            Window::Week => 7 * 24,
        }
    }

    /// The start of its first hour, at `now`.
    pub fn start(self, now: i64) -> i64 {
        hour_of(now) - (self.hours() - 1) * HOUR_SECS
    }
}

/// One hour's counts as stored: by kind, in [`Kind::ALL`] order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts(pub [u64; 5]);

impl Counts {
    /// One more of `kind`.
    pub fn add(&mut self, kind: Kind) {
        self.0[kind.index()] += 1;
    }

    /// How many of `kind`.
    pub fn of(&self, kind: Kind) -> u64 {
        self.0[kind.index()]
    }
}

/// Attempts of an hour, or of a whole window, by outcome, with their times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryCounts {
    /// Attempts answered 2xx.
    pub delivered: u64,
    /// Failed attempts with no attempt after them.
    pub failed: u64,
    /// Failed attempts with another one scheduled.
    pub retried: u64,
    /// Failed last attempts, sent to the dead-letter queue.
    pub dead_lettered: u64,
    /// Events not sent because the subscription was inactive.
    pub skipped: u64,
    /// Median time of the attempts made, in milliseconds (`null` without attempts).
    pub p50_ms: Option<u64>,
    /// 95th percentile, in milliseconds.
    pub p95_ms: Option<u64>,
}

impl DeliveryCounts {
    fn new(counts: &Counts, histogram: &[(u32, u64)]) -> Self {
        Self {
            delivered: counts.of(Kind::Delivered),
            failed: counts.of(Kind::Failed),
            retried: counts.of(Kind::Retried),
            dead_lettered: counts.of(Kind::DeadLettered),
            skipped: counts.of(Kind::Skipped),
            p50_ms: percentile(histogram, 50.0),
            p95_ms: percentile(histogram, 95.0),
        }
    }
}

/// One hour of a subscription's deliveries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourStats {
    /// The hour's start, RFC 3339 UTC.
    pub hour: String,
    /// Its attempts.
    #[serde(flatten)]
    pub counts: DeliveryCounts,
}

/// The window's totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Its attempts.
    #[serde(flatten)]
    pub counts: DeliveryCounts,
    /// Delivered attempts over all attempts made (skipped ones are not attempts); `null` without attempts.
    pub success_rate: Option<f64>,
}

/// `GET /subscriptions/{id}/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsResponse {
    /// Always `true`.
    pub success: bool,
    /// The subscription.
    pub subscription_id: String,
    /// `24h` or `7d`.
    pub window: String,
    /// Every hour of the window, oldest first, the hour under way last.
    pub hours: Vec<HourStats>,
    /// The window's totals.
    pub totals: Totals,
    /// Failed attempts since the last success: the subscription's `failure_count`.
    pub failure_streak: u32,
}

/// What the object read for a window: per hour (start, unix seconds), the counts and the latency histogram.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// `(hour, counts)`, any order.
    pub counts: Vec<(i64, Counts)>,
    /// `(hour, bucket, count)`, any order.
    pub latency: Vec<(i64, u32, u64)>,
}

/// The answer for `window` at `now`: every hour of it, with what `stored` holds for it (zeros otherwise).
pub fn summarize(id: &str, window: Window, now: i64, stored: &Stored, failure_streak: u32) -> StatsResponse {
    let start = window.start(now);
    let mut total = Counts::default();
    let mut everything: Vec<(u32, u64)> = Vec::new();
    let hours = (0..window.hours())
        .map(|i| {
            let hour = start + i * HOUR_SECS;
            let counts = stored
                .counts
                .iter()
                .filter(|(h, _)| *h == hour)
                .fold(Counts::default(), |mut sum, (_, c)| {
                    for (s, n) in sum.0.iter_mut().zip(c.0) {
                        *s += n;
                    }
                    sum
                });
            for (s, n) in total.0.iter_mut().zip(counts.0) {
                *s += n;
            }
            let histogram: Vec<(u32, u64)> = stored
                .latency
                .iter()
                .filter(|(h, _, _)| *h == hour)
                .map(|(_, b, n)| (*b, *n))
                .collect();
            everything.extend(&histogram);
            HourStats {
                hour: rfc3339(hour),
                counts: DeliveryCounts::new(&counts, &histogram),
            }
        })
        .collect();
    let attempts = total.0.iter().sum::<u64>() - total.of(Kind::Skipped);
    StatsResponse {
        success: true,
        subscription_id: id.to_owned(),
        window: window.name().to_owned(),
        hours,
        totals: Totals {
            counts: DeliveryCounts::new(&total, &everything),
            success_rate: (attempts > 0).then(|| total.of(Kind::Delivered) as f64 / attempts as f64),
        },
        failure_streak,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_count_by_what_followed_them() {
        assert_eq!(Kind::of(Outcome::Delivered, None), Kind::Delivered);
        assert_eq!(Kind::of(Outcome::Failed, Some(30)), Kind::Retried);
        assert_eq!(Kind::of(Outcome::Failed, None), Kind::Failed);
        assert_eq!(Kind::of(Outcome::DeadLettered, None), Kind::DeadLettered);
        assert_eq!(Kind::of(Outcome::Skipped, None), Kind::Skipped);
    }

    #[test]
    fn buckets_are_exact_below_ten_ms_and_within_five_per_cent_above() {
        for ms in 0..10 {
            assert_eq!(upper_ms(bucket(ms)), ms);
        }
        let mut last = 0;
        for ms in (10..200_000).step_by(7) {
            let b = bucket(ms);
            assert!(b >= last, "buckets grow with the duration");
            last = b;
            let upper = upper_ms(b);
            assert!(upper >= ms, "{ms} ms is at most its bucket's bound {upper}");
            assert!(
                upper as f64 <= ms as f64 * 1.05 + 1.0,
                "{ms} ms: bound {upper} is within 5 %"
            );
            assert!(
                b == 10 || upper_ms(b - 1) < ms,
                "{ms} ms is in the first bucket that holds it"
            );
        }
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let histogram = [(bucket(5), 50), (bucket(1), 45), (bucket(9), 5)];
        assert_eq!(percentile(&histogram, 50.0), Some(5));
        assert_eq!(percentile(&histogram, 45.0), Some(1));
        assert_eq!(percentile(&histogram, 95.0), Some(5));
        assert_eq!(percentile(&histogram, 96.0), Some(9));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[(bucket(3), 0)], 50.0), None);
    }

    #[test]
    fn windows_are_24h_by_default_or_7d_and_nothing_else() {
        assert_eq!(Window::parse(None).unwrap(), Window::Day);
        assert_eq!(Window::parse(Some("24h")).unwrap(), Window::Day);
        assert_eq!(Window::parse(Some("7d")).unwrap(), Window::Week);
        let bad = Window::parse(Some("1y")).unwrap_err();
        assert_eq!((bad.status, &*bad.code), (400, "invalid_request"));
        assert!(bad.message.contains("24h or 7d"), "{}", bad.message);
        assert_eq!(Window::Day.start(10 * HOUR_SECS + 5), -13 * HOUR_SECS);
    }

    #[test]
    fn a_summary_has_every_hour_of_the_window_and_totals_over_attempts_made() {
        let now = 100 * HOUR_SECS + 1800;
        let mut this_hour = Counts::default();
        for kind in [
            Kind::Delivered,
            Kind::Delivered,
            Kind::Delivered,
            Kind::Retried,
            Kind::Skipped,
        ] {
            this_hour.add(kind);
        }
        let mut earlier = Counts::default();
        earlier.add(Kind::DeadLettered);
        let stored = Stored {
            counts: vec![
                (100 * HOUR_SECS, this_hour),
                (90 * HOUR_SECS, earlier),
                (50 * HOUR_SECS, earlier), // before the window
            ],
            latency: vec![(100 * HOUR_SECS, bucket(4), 3), (100 * HOUR_SECS, bucket(8), 1)],
        };
        let day = summarize("sub_1", Window::Day, now, &stored, 2);
        assert_eq!(day.hours.len(), 24);
        assert_eq!(day.hours[0].hour, rfc3339(77 * HOUR_SECS));
        let last = &day.hours.last().unwrap().counts;
        assert_eq!((last.delivered, last.retried, last.skipped, last.failed), (3, 1, 1, 0));
        assert_eq!((last.p50_ms, last.p95_ms), (Some(4), Some(8)));
        assert_eq!(day.hours[13].counts.dead_lettered, 1, "hour 90 is the window's 14th");
        assert_eq!(day.hours[12].counts.p50_ms, None);
        assert_eq!(day.totals.counts.dead_lettered, 1, "hour 50 is outside the window");
        assert_eq!(day.totals.success_rate, Some(3.0 / 5.0));
        assert_eq!(day.failure_streak, 2);
        let json = serde_json::to_value(&day).unwrap();
        assert_eq!(
            json["hours"][23]["delivered"], 3,
            "counts sit beside the hour, as the API describes them"
        );
        assert_eq!(json["totals"]["success_rate"], 0.6);
        let week = summarize("sub_1", Window::Week, now, &stored, 0);
        assert_eq!((week.hours.len(), week.totals.counts.dead_lettered), (168, 2));
        let empty = summarize("sub_1", Window::Day, now, &Stored::default(), 0);
        assert_eq!(empty.totals.success_rate, None);
    }
}
