//! Generated inputs for the JavaScript-compatible JSON writer. What JavaScript itself does with the output is
//! checked in Node and Chromium by the wasm tests (`tests/wasm.rs`); here: properties that hold natively.

use proptest::prelude::*;
use ringhook::protocol::event::{CallStatus, Event, EventType};
use ringhook::protocol::json;
use serde_json::Value;

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,6}",
        (0u64..5_000_000_000).prop_map(|n| n.to_string()),
        "0[0-9]{1,3}",
        "-[0-9]{1,3}",
        any::<String>(),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        (-30i32..30, 1u32..1000).prop_map(|(e, m)| Value::from(f64::from(m) * 10f64.powi(e))),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        any::<String>().prop_map(Value::String),
        "[\\u{0}-\\u{1f}\\u{2028}\\u{2029}\"\\\\/é📞]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6).prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Writing what was parsed from our own output changes nothing (JSON.stringify ∘ JSON.parse is the identity).
    #[test]
    fn output_is_a_fixed_point(v in value()) {
        let once = json::to_js_string(&v);
        prop_assert_eq!(json::normalize(&once).unwrap(), once.clone());
        prop_assert!(!once.contains(char::is_whitespace) || once.contains('"'));
    }

    /// Output parses back to the same value, up to number rounding to doubles.
    #[test]
    fn output_means_the_same(v in value()) {
        let parsed: Value = serde_json::from_str(&json::to_js_string(&v)).unwrap();
        prop_assert!(same_meaning(&v, &parsed), "{} vs {}", v, parsed);
    }

    /// Array-index keys come first in ascending order; other keys keep their order.
    #[test]
    fn keys_come_in_javascript_order(pairs in prop::collection::vec((key(), any::<u8>()), 0..12)) {
        let object = Value::Object(pairs.iter().map(|(k, v)| (k.clone(), Value::from(*v))).collect());
        let text = json::to_js_string(&object);
        let back: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
        let keys: Vec<&String> = back.keys().collect();
        let is_index = |k: &str| k == "0" || (!k.is_empty() && !k.starts_with('0') && k.len() <= 10 && k.bytes().all(|b| b.is_ascii_digit()) && k.parse::<u64>().unwrap() < 4_294_967_295);
        let split = keys.iter().position(|k| !is_index(k)).unwrap_or(keys.len());
        prop_assert!(keys[split..].iter().all(|k| !is_index(k)));
        let indices: Vec<u64> = keys[..split].iter().map(|k| k.parse().unwrap()).collect();
        prop_assert!(indices.windows(2).all(|w| w[0] < w[1]));
    }

    /// Any event body round-trips through the typed model.
    #[test]
    fn event_bodies_round_trip(call_id in any::<String>(), ts in any::<i32>(), data in value(), t in 0usize..7, s in 0usize..10) {
        let event = Event {
            id: "evt_x".into(),
            event: EventType::ALL[t],
            call_id,
            status: CallStatus::ALL[s],
            timestamp: i64::from(ts),
            data,
        };
        let body = event.to_body();
        prop_assert_eq!(json::normalize(&body).unwrap(), body.clone());
        let back = Event::from_body(&body).unwrap();
        prop_assert_eq!(back.to_body(), body);
    }
}

fn same_meaning(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x == 0.0 && y == 0.0)
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_meaning(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_meaning(v, w)))
        }
        _ => a == b,
    }
}
