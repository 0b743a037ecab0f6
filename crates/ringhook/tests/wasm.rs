//! The package's functions inside a JavaScript engine: `wasm-pack test --node` and `--headless --chrome`.
#![cfg(all(target_arch = "wasm32", feature = "wasm"))]

use js_sys::{Function, Object, Reflect, JSON};
use ringhook::protocol::json;
use ringhook::wasm::{sign_webhook, verify_webhook, verify_webhook_signature};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const VECTORS: &str = include_str!("../../../../shared/vectors/signatures.json");

fn js(expr: &str) -> JsValue {
    Function::new_no_args(&format!("return ({expr});"))
        .call0(&JsValue::NULL)
        .unwrap()
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

fn options(pairs: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o
}

#[wasm_bindgen_test]
fn every_shared_vector_is_reproduced_and_verified() {
    let vectors = JSON::parse(VECTORS).unwrap();
    let cases: js_sys::Array = get(&vectors, "cases").unchecked_into();
    assert!(cases.length() >= 4);
    let make_headers: Function = js("(init) => new Headers(init)").unchecked_into();
    for case in cases.iter() {
        let s = |k: &str| get(&case, k).as_string();
        let (body, secret, id) = (s("body").unwrap(), s("secret_key").unwrap(), s("webhook_id").unwrap());
        let ts = get(&case, "webhook_timestamp").as_f64().unwrap();

        let signed = sign_webhook(
            body.clone().into(),
            secret.clone().into(),
            Some(options(&[("id", id.clone().into()), ("timestamp", ts.into())])),
        )
        .unwrap();
        assert_eq!(
            get(&signed, "x-webhook-signature").as_string(),
            s("x_webhook_signature")
        );
        assert_eq!(
            get(&signed, "webhook-signature").as_string().filter(|v| !v.is_empty()),
            s("webhook_signature")
        );

        assert!(verify_webhook_signature(
            body.clone().into(),
            s("x_webhook_signature").into(),
            secret.clone().into()
        )
        .unwrap());
        let bytes = js_sys::Uint8Array::from(body.as_bytes());
        assert!(
            verify_webhook_signature(bytes.into(), s("x_webhook_signature").into(), secret.clone().into()).unwrap()
        );
        assert!(!verify_webhook_signature(
            format!("{body} ").into(),
            s("x_webhook_signature").into(),
            secret.clone().into()
        )
        .unwrap());

        if body.is_empty() {
            continue;
        }
        // Both header shapes: a Headers object and a plain object with mixed-case names.
        let plain = options(&[
            ("X-Webhook-Signature", get(&signed, "x-webhook-signature")),
            ("Webhook-Id", id.clone().into()),
            ("Webhook-Timestamp", ts.to_string().into()),
            ("Webhook-Signature", get(&signed, "webhook-signature")),
        ]);
        let headers = make_headers.call1(&JsValue::NULL, &signed).unwrap();
        for h in [headers, plain.into()] {
            let opts = options(&[("now", (ts + 10.0).into()), ("toleranceSeconds", JsValue::NULL)]);
            let event = verify_webhook(body.clone().into(), h, secret.clone().into(), Some(opts)).unwrap();
            assert_eq!(
                get(&event, "event").as_string(),
                JSON::parse(&body).ok().map(|b| get(&b, "event").as_string()).unwrap()
            );
        }
    }
}

#[wasm_bindgen_test]
fn verification_errors_are_errors_with_a_code() {
    let secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let body =
        r#"{"id":"evt_1","event":"call.completed","callId":"c","status":"completed","timestamp":1000,"data":{}}"#;
    let signed = sign_webhook(
        body.into(),
        secret.into(),
        Some(options(&[("id", "evt_1".into()), ("timestamp", 1000.into())])),
    )
    .unwrap();
    let cases: [(&str, JsValue, f64); 4] = [
        ("signature_mismatch", format!("{body} ").into(), 1000.0),
        ("timestamp_too_old", body.into(), 2000.0),
        ("timestamp_in_future", body.into(), 10.0),
        ("missing_signature", body.into(), 1000.0),
    ];
    for (code, payload, now) in cases {
        let headers = if code == "missing_signature" {
            Object::new().into()
        } else {
            signed.clone()
        };
        let err = verify_webhook(payload, headers, secret.into(), Some(options(&[("now", now.into())]))).unwrap_err();
        assert!(err.is_instance_of::<js_sys::Error>());
        assert_eq!(
            get(&err, "name").as_string().as_deref(),
            Some("WebhookVerificationError")
        );
        assert_eq!(get(&err, "code").as_string().as_deref(), Some(code));
        assert!(get(&err, "message").as_string().unwrap().len() > 30);
    }
}

/// A small deterministic generator (xorshift) of JSON texts that exercise every corner of JSON.stringify.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    fn number(&mut self) -> String {
        match self.next() % 6 {
            0 => self
                .pick(&[
                    "1.0",
                    "-0",
                    "0.0",
                    "1e21",
                    "1E-7",
                    "1e+300",
                    "123456789012345678901",
                    "9007199254740993",
                    "-1.5e-5",
                    "0.1",
                    "5e-324",
                    "1.7976931348623157e308",
                    "100",
                    "2.50",
                ])
                .to_owned(),
            1 => (self.next() as i64).to_string(),
            2 => format!("{}e{}", self.next() % 100_000, (self.next() % 60) as i64 - 30),
            3 => format!("{}.{}", self.next() % 1000, self.next() % 1_000_000),
            4 => f64::from_bits(self.next() >> 2).to_string(),
            _ => (self.next() % 1000).to_string(),
        }
    }

    fn string(&mut self) -> String {
        let pieces = [
            "a",
            "é",
            "\\u2028",
            "\\u2029",
            "\\u0000",
            "\\u001f",
            "\\u007f",
            "\\n",
            "\\t",
            "\\b",
            "\\f",
            "\\r",
            "\\\"",
            "\\\\",
            "\\/",
            "📞",
            "\\ud83d\\ude00",
            "\\u00e9",
            " ",
            "\u{7f}",
            "ü",
        ];
        let n = self.next() % 6;
        let body: String = (0..n).map(|_| self.pick(&pieces)).collect();
        format!("\"{body}\"")
    }

    fn key(&mut self) -> String {
        match self.next() % 4 {
            0 => format!("\"{}\"", self.next() % 20),
            1 => format!(
                "\"{}\"",
                self.pick(&[
                    "01",
                    "-1",
                    "4294967294",
                    "4294967295",
                    "1.5",
                    "__proto__",
                    "b",
                    "a",
                    "",
                    "0"
                ])
            ),
            _ => self.string(),
        }
    }

    fn value(&mut self, depth: u32) -> String {
        let ws = |g: &mut Gen| g.pick(&["", " ", "\n  "]).to_owned();
        match if depth == 0 { self.next() % 4 } else { self.next() % 6 } {
            0 => self.number(),
            1 => self.string(),
            2 => self.pick(&["null", "true", "false"]).to_owned(),
            3 => self.number(),
            4 => {
                let n = self.next() % 5;
                let items: Vec<String> = (0..n)
                    .map(|_| format!("{}{}", ws(self), self.value(depth - 1)))
                    .collect();
                format!("[{}]", items.join(","))
            }
            _ => {
                let n = self.next() % 6;
                let items: Vec<String> = (0..n)
                    .map(|_| format!("{}{} :{}", ws(self), self.key(), self.value(depth - 1)))
                    .collect();
                format!("{{{}}}", items.join(","))
            }
        }
    }
}

#[wasm_bindgen_test]
fn json_writer_matches_javascript_on_generated_inputs() {
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let input = g.value(4);
        let ours = json::normalize(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
        let theirs = JSON::stringify(&JSON::parse(&input).unwrap())
            .unwrap()
            .as_string()
            .unwrap();
        assert_eq!(ours, theirs, "input: {input}");
        // And the property the setup guide's receivers rely on.
        let again = JSON::stringify(&JSON::parse(&ours).unwrap())
            .unwrap()
            .as_string()
            .unwrap();
        assert_eq!(again, ours);
    }
}

mod dispatcher {
    use js_sys::{Function, Object, Reflect, JSON};
    use ringhook::wasm::CallEventDispatcher;
    use wasm_bindgen::JsValue;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn event(id: &str, call: &str, ts: i64, event: &str, status: &str) -> JsValue {
        JSON::parse(&format!(
            r#"{{"id":"{id}","event":"{event}","callId":"{call}","status":"{status}","timestamp":{ts},"data":{{"n":1}}}}"#
        ))
        .unwrap()
    }

    /// A handler that pushes `callId:status` of each event it gets onto `log`.
    fn recorder(log: &js_sys::Array) -> Function {
        Function::new_with_args("log", "return (e) => log.push(e.callId + ':' + e.status);")
            .call1(&JsValue::NULL, log)
            .unwrap()
            .into()
    }

    #[wasm_bindgen_test]
    fn drops_duplicates_and_stale_updates_and_routes_by_type() {
        let d = CallEventDispatcher::new(None).unwrap();
        let (all, completed) = (js_sys::Array::new(), js_sys::Array::new());
        d.on("*".into(), recorder(&all));
        d.on("call.completed".into(), recorder(&completed));
        assert!(d
            .dispatch(event("e1", "c1", 10, "call.initiated", "initiated"))
            .unwrap());
        assert!(d
            .dispatch(event("e3", "c1", 12, "call.status.changed", "in-progress"))
            .unwrap());
        assert!(
            !d.dispatch(event("e2", "c1", 11, "call.status.changed", "ringing"))
                .unwrap(),
            "older: stale"
        );
        assert!(
            !d.dispatch(event("e3", "c1", 12, "call.status.changed", "in-progress"))
                .unwrap(),
            "duplicate id"
        );
        assert!(
            d.dispatch(event("e4", "c1", 12, "call.completed", "completed"))
                .unwrap(),
            "same second, later status"
        );
        assert!(
            d.dispatch(event("e5", "c2", 1, "call.failed", "failed")).unwrap(),
            "another call"
        );
        let text = |a: &js_sys::Array| a.join(",").as_string().unwrap();
        assert_eq!(text(&all), "c1:initiated,c1:in-progress,c1:completed,c2:failed");
        assert_eq!(text(&completed), "c1:completed");
        let handler = recorder(&all);
        d.on("call.failed".into(), handler.clone());
        d.off("call.failed".into(), handler);
        d.dispatch(event("e6", "c3", 1, "call.failed", "failed")).unwrap();
        assert_eq!(all.length(), 5, "off() removed the extra handler");
    }

    #[wasm_bindgen_test]
    fn remembers_a_bounded_number_of_ids_and_each_calls_position() {
        let d = CallEventDispatcher::new(None).unwrap();
        let limit = ringhook::frontend::dispatch::REMEMBERED_IDS;
        for i in 0..=limit {
            assert!(d
                .dispatch(event(&format!("e{i}"), "", 0, "webhook.test", "completed"))
                .unwrap());
        }
        assert!(
            d.dispatch(event("e0", "", 0, "webhook.test", "completed")).unwrap(),
            "the oldest id was forgotten"
        );
        assert!(
            !d.dispatch(event(&format!("e{limit}"), "", 0, "webhook.test", "completed"))
                .unwrap(),
            "the newest is remembered"
        );
        // Positions survive packing, for timestamps of any sign and size.
        for (n, ts) in [(0, -5i64), (1, 1_764_355_200), (2, 1 << 48)] {
            let call = format!("call{n}");
            assert!(d
                .dispatch(event(&format!("a{n}"), &call, ts, "call.status.changed", "ringing"))
                .unwrap());
            assert!(
                !d.dispatch(event(&format!("b{n}"), &call, ts, "call.status.changed", "initiated"))
                    .unwrap(),
                "{ts}: same second, earlier status"
            );
            assert!(
                !d.dispatch(event(&format!("c{n}"), &call, ts - 1, "call.completed", "completed"))
                    .unwrap(),
                "{ts}: a second earlier"
            );
            assert!(
                d.dispatch(event(&format!("d{n}"), &call, ts, "call.completed", "completed"))
                    .unwrap(),
                "{ts}: same second, later status"
            );
        }
    }

    #[wasm_bindgen_test]
    fn fires_the_setup_guides_custom_event_on_a_target() {
        let target: JsValue = Function::new_no_args("return new EventTarget();")
            .call0(&JsValue::NULL)
            .unwrap();
        let seen = js_sys::Array::new();
        let listen = Function::new_with_args(
            "t, seen",
            "t.addEventListener('callStatusChanged', (e) => seen.push(JSON.stringify(e.detail)));",
        );
        listen.call2(&JsValue::NULL, &target, &seen).unwrap();
        let options = Object::new();
        Reflect::set(&options, &"target".into(), &target).unwrap();
        let d = CallEventDispatcher::new(Some(options)).unwrap();
        d.dispatch(event("e1", "c9", 5, "call.completed", "completed")).unwrap();
        assert_eq!(
            seen.get(0).as_string().as_deref(),
            Some(r#"{"event":"call.completed","callId":"c9","status":"completed","data":{"n":1}}"#)
        );
    }

    #[wasm_bindgen_test]
    fn receive_verifies_before_dispatching() {
        let secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let options = Object::new();
        Reflect::set(&options, &"secretKey".into(), &secret.into()).unwrap();
        let d = CallEventDispatcher::new(Some(options)).unwrap();
        let now = (js_sys::Date::now() / 1000.0) as i64;
        let body = format!(
            r#"{{"id":"evt_r","event":"call.completed","callId":"c1","status":"completed","timestamp":{now},"data":{{}}}}"#
        );
        let headers = ringhook::wasm::sign_webhook(body.clone().into(), secret.into(), None).unwrap();
        assert!(d.receive(body.clone().into(), headers.clone()).unwrap());
        assert!(
            !d.receive(body.clone().into(), headers.clone()).unwrap(),
            "a redelivery is a duplicate"
        );
        let forged = d
            .receive(
                body.replace("completed\",\"timestamp", "failed\",\"timestamp").into(),
                headers,
            )
            .unwrap_err();
        assert_eq!(
            Reflect::get(&forged, &"code".into()).unwrap().as_string().as_deref(),
            Some("signature_mismatch")
        );
    }
}
