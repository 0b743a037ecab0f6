//! Webhook URL and events validation tables.

use ringhook::model::validate::{self, EventSelector, UrlCrate, UrlPolicy};
use ringhook::EventType;

#[test]
fn public_https_urls_are_accepted_and_normalised() {
    for (input, normalised) in [
        ("https://example.com/hook", "https://example.com/hook"),
        ("https://EXAMPLE.com:8443/a?b=1", "https://example.com:8443/a?b=1"),
        ("https://93.184.216.34/hook", "https://93.184.216.34/hook"),
        (
            "https://[2606:2800:220:1:248:1893:25c8:1946]/",
            "https://[2606:2800:220:1:248:1893:25c8:1946]/",
        ),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        // Public names that merely contain a private suffix's letters.
        (
            "https://hooks.internalize.example/",
            "https://hooks.internalize.example/",
        ),
        ("https://svc.example.com/", "https://svc.example.com/"),
        ("https://local.example.com/", "https://local.example.com/"),
        ("https://example.com./hook", "https://example.com./hook"),
        ("https://[::ffff:93.184.216.34]/", "https://[::ffff:5db8:d822]/"),
    ] {
        for policy in [UrlPolicy::PRODUCTION, UrlPolicy::LOCAL] {
            assert_eq!(
                validate::webhook_url(input, policy, &UrlCrate).unwrap().as_str(),
                normalised,
                "{input}"
            );
        }
    }
}

#[test]
fn unsafe_urls_are_refused_in_production() {
    let long = format!("https://example.com/{}", "a".repeat(2048));
    let refused: &[(&str, &str)] = &[
        ("http://example.com/hook", "https"),
        ("ftp://example.com/hook", "https"),
        ("javascript:alert(1)", "https"),
        ("not a url", "not a valid URL"),
        ("https://user:pw@example.com/", "user name or password"),
        ("https://user@example.com/", "user name or password"),
        ("https://10.0.0.1/", "private"),
        ("https://172.16.5.4/", "private"),
        ("https://192.168.1.1/", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://100.64.0.1/", "CGNAT"),
        ("https://224.0.0.1/", "multicast"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://240.0.0.1/", "reserved"),
        ("https://127.0.0.1/", "loopback"),
        ("https://2130706433/", "loopback"),
        ("https://0x7f.1/", "loopback"),
        ("https://localhost/", "loopback"),
        ("https://app.localhost/", "loopback"),
        ("https://[::1]/", "loopback"),
        ("https://[::]/", "unspecified"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://[::ffff:10.1.2.3]/", "private"),
        ("https://[::ffff:169.254.169.254]/", "link-local"),
        ("https://[64:ff9b::a00:1]/", "private"),
        ("https://[fd00::1]/", "unique local"),
        ("https://[fe80::1]/", "link-local"),
        ("https://[ff02::1]/", "multicast"),
        // Ranges that wrap or stand in for other addresses, and ranges no receiver is in.
        ("https://[::ffff:0:7f00:1]/", "IPv4-translated (::ffff:0:0:0/96)"),
        ("https://[::ffff:0:5db8:d822]/", "IPv4-translated"),
        ("https://[::5db8:d822]/", "IPv4-compatible"),
        ("https://[2002:7f00:1::]/", "6to4 (2002::/16"),
        ("https://[2002:5db8:d822::1]/", "6to4"),
        ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo"),
        ("https://[2001:db8::1]/", "documentation"),
        ("https://[64:ff9b:1::a00:1]/", "local-use NAT64 (64:ff9b:1::/48)"),
        ("https://[fec0::1]/", "site-local (fec0::/10)"),
        ("https://[100::1]/", "discard-only (100::/64)"),
        ("https://198.18.0.1/", "benchmarking (198.18.0.0/15)"),
        ("https://198.19.255.254/", "benchmarking"),
        ("https://192.0.0.8/", "IETF protocol assignment (192.0.0.0/24)"),
        ("https://192.0.2.1/", "documentation"),
        ("https://203.0.113.9/", "documentation"),
        // Names that only resolve inside a private network.
        ("https://intranet/", "single-label"),
        ("https:///hook", "single-label"),
        ("https://ip6-localhost/", "single-label"),
        ("https://ip6-loopback/", "single-label"),
        ("https://metadata.google.internal/computeMetadata/v1/", ".internal"),
        ("https://printer.local/", ".local"),
        ("https://box.localdomain/", ".localdomain"),
        ("https://api.default.svc/", ".svc"),
        ("https://api.default.svc./", ".svc"),
        ("https://router.home.arpa/", ".home.arpa"),
        ("https://nas.lan/", ".lan"),
    ];
    for (input, reason) in refused {
        let err = validate::webhook_url(input, UrlPolicy::PRODUCTION, &UrlCrate).unwrap_err();
        assert_eq!(err.code, "invalid_url", "{input}");
        assert_eq!(err.field, "webhook_url");
        assert!(err.message.contains(reason), "{input}: {}", err.message);
    }
    assert!(validate::webhook_url(&long, UrlPolicy::PRODUCTION, &UrlCrate)
        .unwrap_err()
        .message
        .contains("2048"));
}

#[test]
fn local_development_allows_loopback_over_http_only() {
    for ok in [
        "http://127.0.0.1:9000/hook",
        "http://localhost:3000/api/webhook",
        "http://[::1]:8080/",
        "https://127.0.0.1/",
        "http://127.1.2.3/",
    ] {
        validate::webhook_url(ok, UrlPolicy::LOCAL, &UrlCrate).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in [
        "http://example.com/",
        "http://10.0.0.1/",
        "https://10.0.0.1/",
        "https://169.254.169.254/",
        "http://user@127.0.0.1/",
        "http://intranet/",
        "https://intranet/",
        "https://printer.local/",
        "http://ip6-localhost/",
    ] {
        assert!(
            validate::webhook_url(bad, UrlPolicy::LOCAL, &UrlCrate).is_err(),
            "{bad}"
        );
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn events_lists_are_checked() {
    assert_eq!(
        validate::events(&names(&["call.status.changed", "call.completed", "call.failed"])).unwrap(),
        vec![
            EventSelector::One(EventType::CallStatusChanged),
            EventSelector::One(EventType::CallCompleted),
            EventSelector::One(EventType::CallFailed)
        ]
    );
    assert_eq!(validate::events(&names(&["*"])).unwrap(), vec![EventSelector::All]);
    for (bad, reason) in [
        (names(&[]), "at least one"),
        (names(&["call.answered"]), "unknown event type"),
        (names(&["call.failed", "call.failed"]), "twice"),
        (names(&["*", "call.failed"]), "alone"),
        (names(&["*", "*"]), "twice"),
        (names(&["Call.Failed"]), "unknown event type"),
    ] {
        let err = validate::events(&bad).unwrap_err();
        assert_eq!((err.code, err.field), ("invalid_events", "events"));
        assert!(err.message.contains(reason), "{bad:?}: {}", err.message);
    }
}
