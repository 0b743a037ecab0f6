//! The shared signature vectors (`../shared/vectors/signatures.json`) and RFC 4231.

use hmac::{Hmac, Mac};
use ringhook::protocol::signature::{self, ReceivedHeaders, SecretKey, Verifier};
use serde::Deserialize;
use sha2::Sha256;

#[derive(Deserialize)]
struct Vectors {
    cases: Vec<Case>,
    rfc4231: Vec<Rfc4231>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    secret_key: String,
    webhook_id: String,
    webhook_timestamp: i64,
    body: String,
    x_webhook_signature: String,
    webhook_signature: Option<String>,
}

#[derive(Deserialize)]
struct Rfc4231 {
    key_utf8: String,
    data_utf8: String,
    hmac_sha256_hex: String,
}

fn vectors() -> Vectors {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors/signatures.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).expect("vectors parse")
}

#[test]
fn there_are_vectors() {
    let v = vectors();
    assert!(v.cases.len() >= 4, "expected the shared cases");
    assert!(!v.rfc4231.is_empty());
}

#[test]
fn signing_reproduces_every_vector() {
    for case in vectors().cases {
        let secret = SecretKey::parse(&case.secret_key).unwrap();
        let signed = signature::sign(
            &[secret],
            &case.webhook_id,
            case.webhook_timestamp,
            case.body.as_bytes(),
        );
        assert_eq!(signed.x_webhook_signature, case.x_webhook_signature, "{}", case.name);
        assert_eq!(
            signed.webhook_signature,
            case.webhook_signature.clone().unwrap_or_default(),
            "{}",
            case.name
        );
        assert_eq!(signed.webhook_timestamp, case.webhook_timestamp.to_string());
    }
}

#[test]
fn every_vector_verifies_by_each_header_set() {
    for case in vectors().cases {
        let secret = SecretKey::parse(&case.secret_key).unwrap();
        let body = case.body.as_bytes();
        assert!(
            signature::verify_body_signature(body, &case.x_webhook_signature, &secret),
            "{}",
            case.name
        );

        let verifier = Verifier::new(secret).with_tolerance(None);
        let body_signature_only = ReceivedHeaders {
            x_webhook_signature: Some(&case.x_webhook_signature),
            ..Default::default()
        };
        verifier
            .verify_signature(body, &body_signature_only, 0)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));

        if let Some(sig) = &case.webhook_signature {
            let ts = case.webhook_timestamp.to_string();
            let standard = ReceivedHeaders {
                webhook_id: Some(&case.webhook_id),
                webhook_timestamp: Some(&ts),
                webhook_signature: Some(sig),
                ..Default::default()
            };
            let verifier = verifier.clone().with_tolerance(Some(300));
            assert_eq!(
                verifier
                    .verify_signature(body, &standard, case.webhook_timestamp + 10)
                    .unwrap(),
                signature::Scheme::StandardWebhooks,
                "{}",
                case.name
            );
        }
    }
}

/// The one verification contract, as the package's `verifyWebhook` tests hold it for the same vectors: a signed
/// JSON object verifies by the Standard Webhooks headers; by the body signature alone only with its own
/// timestamp or with the check turned off; a signed empty body is not a payload.
#[test]
fn every_vector_meets_the_verification_contract() {
    for case in vectors().cases {
        let secret = SecretKey::parse(&case.secret_key).unwrap();
        let verifier = Verifier::new(secret);
        let now = case.webhook_timestamp;
        let body_only = ReceivedHeaders {
            x_webhook_signature: Some(&case.x_webhook_signature),
            ..Default::default()
        };
        let ts = case.webhook_timestamp.to_string();
        let standard = ReceivedHeaders {
            webhook_id: Some(&case.webhook_id),
            webhook_timestamp: Some(&ts),
            webhook_signature: case.webhook_signature.as_deref(),
            ..Default::default()
        };
        let result = match &case.webhook_signature {
            None => {
                let code = verifier.verify(&case.body, &body_only, now).unwrap_err().code();
                assert_eq!(code, "missing_timestamp", "{}", case.name);
                verifier
                    .clone()
                    .with_tolerance(None)
                    .verify(&case.body, &body_only, now)
            }
            Some(_) => verifier.verify(&case.body, &standard, now),
        };
        if case.body.is_empty() {
            assert_eq!(result.unwrap_err().code(), "invalid_payload", "{}", case.name);
        } else {
            let object = result.unwrap_or_else(|e| panic!("{}: {e}", case.name));
            let expected: serde_json::Value = serde_json::from_str(&case.body).unwrap();
            assert_eq!(serde_json::Value::Object(object), expected, "{}", case.name);
        }
    }
}

#[test]
fn a_changed_byte_fails_every_vector() {
    for case in vectors().cases {
        let secret = SecretKey::parse(&case.secret_key).unwrap();
        let mut body = case.body.clone().into_bytes();
        body.push(b' ');
        assert!(
            !signature::verify_body_signature(&body, &case.x_webhook_signature, &secret),
            "{}",
            case.name
        );
    }
}

#[test]
fn hmac_matches_rfc_4231() {
    for case in vectors().rfc4231 {
        let mut mac = Hmac::<Sha256>::new_from_slice(case.key_utf8.as_bytes()).unwrap();
        mac.update(case.data_utf8.as_bytes());
        assert_eq!(hex::encode(mac.finalize().into_bytes()), case.hmac_sha256_hex);
        // The same through the body signature, whose key is the secret's UTF-8 bytes.
        let secret = SecretKey::parse(&case.key_utf8).unwrap();
        assert_eq!(
            secret.body_signature(case.data_utf8.as_bytes()),
            format!("sha256={}", case.hmac_sha256_hex)
        );
    }
}

/// RFC 4231 test cases 1, 3, 4, 6 and 7 (binary keys), through the same HMAC the signer uses.
#[test]
fn hmac_matches_more_rfc_4231_cases() {
    let cases: [(&[u8], &[u8], &str); 5] = [
        (&[0x0b; 20], b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (&[0xaa; 20], &[0xdd; 50], "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25],
            &[0xcd; 50],
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
        (&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First", "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (
            &[0xaa; 131],
            b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ];
    for (key, data, expected) in cases {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data);
        assert_eq!(hex::encode(mac.finalize().into_bytes()), expected);
    }
}
