//! JSON text exactly as JavaScript's `JSON.stringify` writes it.
//!
//! The setup guide's receivers verify `JSON.stringify(req.body)` rather than the raw bytes, so a delivered body is
//! only verifiable there if `JSON.stringify(JSON.parse(body)) === body`. This writer guarantees that:
//!
//! - compact output, no whitespace;
//! - object keys in the order JavaScript enumerates them: array-index keys (`"0"` … `"4294967294"`) first in
//!   ascending numeric order, then the other keys in insertion order;
//! - numbers as `Number.prototype.toString` writes them (`1.0` → `1`, `1e21` → `1e+21`, `-0` → `0`), after
//!   rounding to the nearest double as `JSON.parse` does;
//! - strings escaped as JavaScript escapes them (`"`, `\\`, `\b\f\n\r\t`, other controls as `\u00XX`;
//!   U+2028, U+2029 and everything else written as is).

use serde_json::{Map, Value};

/// Writes `value` as JavaScript's `JSON.stringify` would.
pub fn to_js_string(value: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_value(&mut out, value);
    out
}

/// Parses JSON text and writes it back as JavaScript's `JSON.stringify(JSON.parse(text))` would.
pub fn normalize(text: &str) -> Result<String, serde_json::Error> {
    let value: Value = serde_json::from_str(text)?;
    Ok(to_js_string(&value))
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut String, map: &Map<String, Value>) {
    let mut index_keys: Vec<(u32, &String, &Value)> = map
        .iter()
        .filter_map(|(k, v)| array_index(k).map(|i| (i, k, v)))
        .collect();
    index_keys.sort_unstable_by_key(|(i, _, _)| *i);
    let named = map.iter().filter(|(k, _)| array_index(k).is_none());

    out.push('{');
    let entries = index_keys.into_iter().map(|(_, k, v)| (k, v)).chain(named);
    for (n, (key, value)) in entries.enumerate() {
        if n > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        write_value(out, value);
    }
    out.push('}');
}

/// The key's value if it is an ECMAScript array index: the canonical decimal form of an integer below 2³² − 1.
fn array_index(key: &str) -> Option<u32> {
    let bytes = key.as_bytes();
    if bytes.is_empty() || bytes.len() > 10 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return None;
    }
    let n: u64 = key.parse().ok()?;
    (n < u64::from(u32::MAX)).then_some(n as u32)
}

fn write_number(out: &mut String, n: &serde_json::Number) {
    // JSON.parse turns every number into a double; integers beyond 2^53 lose their low digits exactly so.
    let f = match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => u as f64,
        (None, Some(i)) => i as f64,
        _ => n.as_f64().unwrap_or(f64::NAN),
    };
    if !f.is_finite() {
        // JSON.stringify writes non-finite numbers as null.
        out.push_str("null");
    } else if f == 0.0 {
        out.push('0');
    } else {
        let mut buf = ryu_js::Buffer::new();
        out.push_str(buf.format_finite(f));
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(text: &str) -> String {
        normalize(text).unwrap()
    }

    #[test]
    fn numbers_are_written_as_javascript_writes_them() {
        assert_eq!(
            norm("[1.0,1e21,1E-7,-0,0.1,100,1e300,123456789012345678901]"),
            "[1,1e+21,1e-7,0,0.1,100,1e+300,123456789012345680000]"
        );
        assert_eq!(
            norm("[9007199254740993,-9007199254740993,18446744073709551615]"),
            "[9007199254740992,-9007199254740992,18446744073709552000]"
        );
        assert_eq!(
            norm("[1.5e-5,0.000001,123e-20,5e-324]"),
            "[0.000015,0.000001,1.23e-18,5e-324]"
        );
    }

    #[test]
    fn array_index_keys_come_first_in_numeric_order() {
        assert_eq!(
            norm(r#"{"b":1,"10":2,"a":3,"2":4,"01":5,"4294967295":6,"4294967294":7,"-1":8}"#),
            r#"{"2":4,"10":2,"4294967294":7,"b":1,"a":3,"01":5,"4294967295":6,"-1":8}"#
        );
    }

    #[test]
    fn duplicate_keys_keep_the_first_position_and_the_last_value() {
        assert_eq!(norm(r#"{"a":1,"b":2,"a":3}"#), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn strings_are_escaped_as_javascript_escapes_them() {
        assert_eq!(
            norm(r#"["\u2028\u2029","\/","\u0001\u001f\u007f","\b\f\n\r\t\"\\","\ud83d\udcde","é"]"#),
            "[\"\u{2028}\u{2029}\",\"/\",\"\\u0001\\u001f\u{7f}\",\"\\b\\f\\n\\r\\t\\\"\\\\\",\"📞\",\"é\"]"
        );
    }

    #[test]
    fn output_is_compact() {
        assert_eq!(
            norm(" { \"a\" : [ 1 , { } , [ ] , null , true , false ] } "),
            r#"{"a":[1,{},[],null,true,false]}"#
        );
    }
}
