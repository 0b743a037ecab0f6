//! The names and ids on the wire: event types, call statuses and ULID-based ids. Built without `std`, so the
//! package's wasm decides with them too.

use alloc::string::String;

/// Generates a string enum with `as_str` and `parse`; with `std`, also `FromStr` (whose error names the choices),
/// `Display` and serde as that string.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $error:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The name as it appears on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value of a name as it appears on the wire.
            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        #[cfg(feature = "std")]
        #[doc = concat!("A ", $what, " that ringhook does not know.")]
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("unknown {}: {name:?} (expected one of: {})", $what, [$($text),+].join(", "))]
        pub struct $error {
            /// The name that was given.
            pub name: String,
        }

        #[cfg(feature = "std")]
        impl std::str::FromStr for $name {
            type Err = $error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or_else(|| $error { name: s.to_owned() })
            }
        }

        #[cfg(feature = "std")]
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[cfg(feature = "std")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        #[cfg(feature = "std")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_enum! {
    /// What happened: the `event` field of a delivery.
    EventType, UnknownEventType, "event type" {
        /// A call was started.
        CallInitiated = "call.initiated",
        /// A call was scheduled for later.
        CallScheduled = "call.scheduled",
        /// A call moved to another status.
        CallStatusChanged = "call.status.changed",
        /// A call ended normally.
        CallCompleted = "call.completed",
        /// A call could not be made or ended in error.
        CallFailed = "call.failed",
        /// A sample event sent by the test endpoint.
        WebhookTest = "webhook.test",
        /// Notice to an owner that one of their subscriptions was deactivated.
        SubscriptionDeactivated = "webhook.subscription.deactivated",
    }
}

string_enum! {
    /// Where a call stands: the `status` field of a delivery.
    CallStatus, UnknownCallStatus, "call status" {
        /// Scheduled for a later time.
        Scheduled = "scheduled",
        /// Waiting for a line.
        Queued = "queued",
        /// Being placed.
        Initiated = "initiated",
        /// Ringing at the callee.
        Ringing = "ringing",
        /// Answered and going on.
        InProgress = "in-progress",
        /// Ended normally.
        Completed = "completed",
        /// The callee was busy.
        Busy = "busy",
        /// Nobody answered.
        NoAnswer = "no-answer",
        /// Canceled before it was answered.
        Canceled = "canceled",
        /// Could not be made.
        Failed = "failed",
    }
}

impl CallStatus {
    /// Whether the call is over: no later status can follow.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Busy | Self::NoAnswer | Self::Canceled | Self::Failed
        )
    }
}

/// An event id: `evt_` followed by 26 Crockford base32 characters (a ULID) made from `unix_millis` and
/// 10 random bytes that the caller supplies (the core has no clock and no random source of its own).
pub fn event_id(unix_millis: u64, random: [u8; 10]) -> String {
    let mut id = String::from("evt_");
    id.push_str(&ulid(unix_millis, random));
    id
}

/// A ULID: 48 bits of milliseconds then 80 random bits, as 26 Crockford base32 characters (sortable by time).
pub fn ulid(unix_millis: u64, random: [u8; 10]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut value: u128 = u128::from(unix_millis & 0xFFFF_FFFF_FFFF) << 80;
    for (i, b) in random.iter().enumerate() {
        value |= u128::from(*b) << (8 * (9 - i));
    }
    (0..26)
        .map(|i| ALPHABET[((value >> (5 * (25 - i))) & 0x1f) as usize] as char)
        .collect()
}
