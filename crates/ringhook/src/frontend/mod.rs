//! What a page receiving call events decides: which to apply, which are duplicates or stale, and how long its
//! live stream waits before reconnecting. Without `std`: the package's wasm holds it.

pub mod dispatch;

/// How long a client waits before reconnecting: exponential from 500 ms to 30 s, with full jitter (`random`
/// in `0.0..1.0`), so a fleet of tabs does not come back at once.
pub fn reconnect_delay_ms(attempt: u32, random: f64) -> u64 {
    let cap = 500u64.saturating_mul(1 << attempt.min(6)).min(30_000);
    let random = random.clamp(0.0, 1.0);
    (cap as f64 * (0.5 + random / 2.0)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnects_back_off_with_jitter_up_to_thirty_seconds() {
        assert_eq!(reconnect_delay_ms(0, 0.0), 250);
        assert_eq!(reconnect_delay_ms(0, 1.0), 500);
        assert_eq!(reconnect_delay_ms(3, 1.0), 4_000);
        assert_eq!(reconnect_delay_ms(30, 1.0), 30_000);
        assert!(reconnect_delay_ms(30, 0.0) >= 15_000);
    }
}
