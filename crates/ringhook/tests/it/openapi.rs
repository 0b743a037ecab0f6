//! The OpenAPI document served at `…/openapi.json` lists exactly the routes the router serves.

use std::collections::BTreeSet;

use ringhook::service::routes::ROUTES;
use serde_json::Value;

#[test]
fn openapi_paths_match_the_route_table() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete", "options", "head"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, served);
}

#[test]
fn every_error_code_the_api_uses_is_documented() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap();
    for code in [
        "invalid_json",
        "invalid_request",
        "invalid_url",
        "invalid_events",
        "payload_too_large",
        "unauthorized",
        "not_found",
        "method_not_allowed",
        "subscription_exists",
        "subscription_limit_reached",
        "rate_limited",
        "unavailable",
        "internal_error",
        "auth_unavailable",
        "invalid_ticket",
        "forbidden_origin",
        "upgrade_required",
        "too_many_streams",
    ] {
        assert!(text.contains(&format!("\"{code}\"")), "{code} is not in openapi.json");
    }
}
