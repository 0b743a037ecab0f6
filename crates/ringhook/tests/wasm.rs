//! The core's JSON writer inside JavaScript engines, against their own `JSON.stringify`: `wasm-pack test --node`
//! and `--headless --chrome`. (The package's exports are tested from JavaScript, in tests/node and tests/browser.)
#![cfg(target_arch = "wasm32")]

use js_sys::JSON;
use ringhook::protocol::json;
use wasm_bindgen_test::wasm_bindgen_test;

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
