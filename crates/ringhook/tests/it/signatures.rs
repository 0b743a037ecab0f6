//! Verification outcomes, one per way a delivery can be wrong.

use ringhook::protocol::event::{CallStatus, Event, EventType};
use ringhook::protocol::signature::{self, ReceivedHeaders, Scheme, SecretKey, SignedHeaders, Verifier};

const NOW: i64 = 1_764_355_200;

fn secret(n: u8) -> SecretKey {
    SecretKey::generate([n; 32])
}

fn event(timestamp: i64) -> Event {
    Event {
        id: "evt_01JDQ6W9Z8K4V3N2M1P0Q9R8S7".into(),
        event: EventType::CallStatusChanged,
        call_id: "call_1".into(),
        status: CallStatus::Ringing,
        timestamp,
        data: serde_json::json!({"from": "+15550100"}),
    }
}

/// The event as the verifier returns it: its body's JSON object.
fn object(event: &Event) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(&event.to_body()).unwrap()
}

fn signed(secrets: &[SecretKey], body: &str, timestamp: i64) -> SignedHeaders {
    signature::sign(secrets, "evt_01JDQ6W9Z8K4V3N2M1P0Q9R8S7", timestamp, body.as_bytes())
}

fn all(h: &SignedHeaders) -> ReceivedHeaders<'_> {
    ReceivedHeaders {
        x_webhook_signature: Some(&h.x_webhook_signature),
        webhook_id: Some(&h.webhook_id),
        webhook_timestamp: Some(&h.webhook_timestamp),
        webhook_signature: Some(&h.webhook_signature),
    }
}

fn body_signature_only(h: &SignedHeaders) -> ReceivedHeaders<'_> {
    ReceivedHeaders {
        x_webhook_signature: Some(&h.x_webhook_signature),
        ..Default::default()
    }
}

fn standard_only(h: &SignedHeaders) -> ReceivedHeaders<'_> {
    ReceivedHeaders {
        x_webhook_signature: None,
        ..all(h)
    }
}

#[test]
fn a_signed_event_verifies_and_parses() {
    let body = event(NOW).to_body();
    let h = signed(&[secret(1)], &body, NOW);
    let verifier = Verifier::new(secret(1));
    assert_eq!(verifier.verify(&body, &all(&h), NOW + 5).unwrap(), object(&event(NOW)));
    assert_eq!(
        verifier.verify_signature(body.as_bytes(), &all(&h), NOW).unwrap(),
        Scheme::StandardWebhooks
    );
    assert_eq!(
        verifier
            .verify_signature(body.as_bytes(), &body_signature_only(&h), NOW)
            .unwrap(),
        Scheme::BodySignature
    );
    assert_eq!(
        verifier.verify(&body, &body_signature_only(&h), NOW).unwrap(),
        object(&event(NOW))
    );
}

#[test]
fn a_rewritten_body_names_the_usual_mistake() {
    let body = event(NOW).to_body();
    let h = signed(&[secret(1)], &body, NOW);
    let pretty = serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&body).unwrap()).unwrap();
    for headers in [all(&h), body_signature_only(&h)] {
        let err = Verifier::new(secret(1)).verify(&pretty, &headers, NOW).unwrap_err();
        assert_eq!(err.code(), "signature_mismatch");
        assert!(err.to_string().contains("raw request body"), "{err}");
    }
}

#[test]
fn the_wrong_secret_fails() {
    let body = event(NOW).to_body();
    let h = signed(&[secret(1)], &body, NOW);
    for headers in [all(&h), body_signature_only(&h), standard_only(&h)] {
        assert_eq!(
            Verifier::new(secret(2))
                .verify(&body, &headers, NOW)
                .unwrap_err()
                .code(),
            "signature_mismatch"
        );
    }
}

#[test]
fn during_rotation_either_secret_verifies_the_standard_headers() {
    let body = event(NOW).to_body();
    let h = signed(&[secret(2), secret(1)], &body, NOW);
    assert_eq!(h.webhook_signature.split(' ').count(), 2);
    for s in [secret(1), secret(2)] {
        Verifier::new(s).verify(&body, &standard_only(&h), NOW).unwrap();
    }
    // The body signature holds one value: the current secret's.
    Verifier::new(secret(2))
        .verify(&body, &body_signature_only(&h), NOW)
        .unwrap();
    assert!(Verifier::new(secret(1))
        .verify(&body, &body_signature_only(&h), NOW)
        .is_err());
}

#[test]
fn stale_and_future_timestamps_fail_by_either_header_set() {
    let old = NOW - 301;
    let body = event(old).to_body();
    let h = signed(&[secret(1)], &body, old);
    for headers in [all(&h), body_signature_only(&h)] {
        assert_eq!(
            Verifier::new(secret(1))
                .verify(&body, &headers, NOW)
                .unwrap_err()
                .code(),
            "timestamp_too_old"
        );
    }
    let ahead = NOW + 301;
    let body = event(ahead).to_body();
    let h = signed(&[secret(1)], &body, ahead);
    for headers in [all(&h), body_signature_only(&h)] {
        assert_eq!(
            Verifier::new(secret(1))
                .verify(&body, &headers, NOW)
                .unwrap_err()
                .code(),
            "timestamp_in_future"
        );
    }
    // A wider tolerance lets them through.
    Verifier::new(secret(1))
        .with_tolerance(Some(3600))
        .verify(&body, &all(&h), NOW)
        .unwrap();
}

#[test]
fn a_replayed_header_timestamp_cannot_refresh_a_body_signature() {
    // The body's own timestamp is what the body signature covers; a fresh header does not help an old body.
    let old = NOW - 3600;
    let body = event(old).to_body();
    let h = signed(&[secret(1)], &body, NOW);
    let err = Verifier::new(secret(1))
        .verify(&body, &body_signature_only(&h), NOW)
        .unwrap_err();
    assert_eq!(err.code(), "timestamp_too_old");
}

#[test]
fn missing_and_malformed_headers_are_named() {
    let body = event(NOW).to_body();
    let h = signed(&[secret(1)], &body, NOW);
    let v = Verifier::new(secret(1));
    let code = |headers: ReceivedHeaders<'_>| v.verify(&body, &headers, NOW).unwrap_err().code();

    assert_eq!(code(ReceivedHeaders::default()), "missing_signature");
    assert_eq!(
        code(ReceivedHeaders {
            webhook_id: None,
            ..standard_only(&h)
        }),
        "missing_header"
    );
    assert_eq!(
        code(ReceivedHeaders {
            webhook_timestamp: None,
            ..standard_only(&h)
        }),
        "missing_header"
    );
    assert_eq!(
        code(ReceivedHeaders {
            webhook_timestamp: Some("soon"),
            ..standard_only(&h)
        }),
        "invalid_timestamp"
    );
    assert_eq!(
        code(ReceivedHeaders {
            webhook_signature: Some("v2,abc"),
            ..standard_only(&h)
        }),
        "malformed_signature"
    );
    assert_eq!(
        code(ReceivedHeaders {
            x_webhook_signature: Some("sha256=zz"),
            ..Default::default()
        }),
        "malformed_signature"
    );
    assert_eq!(
        code(ReceivedHeaders {
            x_webhook_signature: Some("sha256=abcd"),
            ..Default::default()
        }),
        "malformed_signature"
    );
    // A wrong id is a mismatch: the id is signed.
    assert_eq!(
        code(ReceivedHeaders {
            webhook_id: Some("evt_other"),
            ..standard_only(&h)
        }),
        "signature_mismatch"
    );
}

#[test]
fn any_listed_signature_may_match() {
    let body = event(NOW).to_body();
    let h = signed(&[secret(1)], &body, NOW);
    let list = format!("v1,AAAA v2,whatever {} v1,not-base64!", h.webhook_signature);
    let headers = ReceivedHeaders {
        webhook_signature: Some(&list),
        ..standard_only(&h)
    };
    Verifier::new(secret(1)).verify(&body, &headers, NOW).unwrap();
}

#[test]
fn the_sha256_prefix_may_be_left_out_as_the_setup_guide_allows() {
    let h = signed(&[secret(1)], "{}", NOW);
    let bare = h.x_webhook_signature.trim_start_matches("sha256=");
    assert!(signature::verify_body_signature(b"{}", bare, &secret(1)));
    assert!(signature::verify_body_signature(
        b"{}",
        &h.x_webhook_signature.to_uppercase().replace("SHA256=", "sha256="),
        &secret(1)
    ));
}

#[test]
fn a_body_without_timestamp_is_refused_only_when_freshness_is_checked() {
    let body = r#"{"event":"call.failed","callId":"c","status":"failed","data":{}}"#;
    let plain = SecretKey::parse("my-plain-secret").unwrap();
    let h = signed(std::slice::from_ref(&plain), body, NOW);
    assert!(
        h.webhook_signature.is_empty(),
        "a plain secret makes no Standard Webhooks signature"
    );
    let v = Verifier::new(plain);
    assert_eq!(
        v.verify_signature(body.as_bytes(), &body_signature_only(&h), NOW)
            .unwrap(),
        Scheme::BodySignature
    );
    // The setup guide's payload has no timestamp for the body signature to vouch for: refused while a tolerance
    // is set, accepted as it is without one.
    assert_eq!(
        v.verify(body, &body_signature_only(&h), NOW).unwrap_err().code(),
        "missing_timestamp"
    );
    let accepted = v
        .clone()
        .with_tolerance(None)
        .verify(body, &body_signature_only(&h), NOW)
        .unwrap();
    assert_eq!(
        serde_json::Value::Object(accepted),
        serde_json::from_str::<serde_json::Value>(body).unwrap()
    );
}

#[test]
fn a_verified_body_must_be_a_json_object_with_whole_seconds() {
    let s = secret(3);
    let v = Verifier::new(s.clone());
    let code = |body: &str| {
        let h = signed(std::slice::from_ref(&s), body, NOW);
        match v.verify(body, &body_signature_only(&h), NOW) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    };
    assert_eq!(code("[1,2]"), "invalid_payload");
    assert_eq!(code("\"text\""), "invalid_payload");
    assert_eq!(code("null"), "invalid_payload");
    assert_eq!(code("not json"), "invalid_payload");
    assert_eq!(code(""), "invalid_payload");
    assert_eq!(code(&format!(r#"{{"timestamp":{NOW}.5}}"#)), "invalid_timestamp");
    assert_eq!(code(r#"{"timestamp":"1764355200"}"#), "invalid_timestamp");
    assert_eq!(code(r#"{"timestamp":null}"#), "invalid_timestamp");
    assert_eq!(code(r#"{"timestamp":1e300}"#), "invalid_timestamp");
    assert_eq!(code(r#"{"stamp":1}"#), "missing_timestamp");
    assert_eq!(code(&format!(r#"{{"timestamp":{NOW}}}"#)), "ok");
    // Any object, not only ringhook's event shape.
    assert_eq!(code(&format!(r#"{{"timestamp":{NOW}.0,"anything":[1]}}"#)), "ok");
}

#[test]
fn a_plain_secret_cannot_check_standard_headers() {
    let body = event(NOW).to_body();
    let h = signed(&[secret(1)], &body, NOW);
    let plain = Verifier::new(SecretKey::parse("my-plain-secret").unwrap());
    assert_eq!(
        plain.verify(&body, &standard_only(&h), NOW).unwrap_err().code(),
        "invalid_secret"
    );
}

#[test]
fn every_error_message_tells_what_to_do_and_never_shows_the_secret() {
    let s = secret(9);
    let body = event(NOW).to_body();
    let h = signed(std::slice::from_ref(&s), &body, NOW);
    let v = Verifier::new(secret(8));
    for headers in [all(&h), body_signature_only(&h), ReceivedHeaders::default()] {
        let err = v.verify(&body, &headers, NOW).unwrap_err();
        let text = err.to_string();
        assert!(text.len() > 40, "too terse: {text}");
        assert!(
            !text.contains(s.expose()) && !text.contains(secret(8).expose()),
            "{text}"
        );
    }
}
