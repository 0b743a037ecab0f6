//! Published event bodies, kept 7 days for redelivery and recovery. The user's object holds each new body from the
//! commit that publishes it until its next flush, which writes every body it holds as one KV key (more when they
//! are large, see [`groups`]) and remembers which key holds each: publishing costs no KV write of its own, and a
//! second of events costs one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The most body bytes one key holds (KV takes values up to 25 MiB).
pub const MAX_GROUP_BYTES: usize = 4 * 1024 * 1024;

/// Splits bodies, `(event id, body)` in order, into the groups a flush writes: each at most [`MAX_GROUP_BYTES`] of
/// bodies, except that a larger body is a group of its own.
pub fn groups(bodies: Vec<(String, String)>) -> Vec<Vec<(String, String)>> {
    let mut groups: Vec<Vec<(String, String)>> = Vec::new();
    let mut size = 0;
    for (id, body) in bodies {
        let len = body.len();
        match groups.last_mut() {
            Some(group) if size + len <= MAX_GROUP_BYTES => {
                group.push((id, body));
                size += len;
            }
            _ => {
                groups.push(vec![(id, body)]);
                size = len;
            }
        }
    }
    groups
}

/// A group as stored: a JSON object of bodies by event id.
pub fn encode(group: &[(String, String)]) -> String {
    let map: BTreeMap<&str, &str> = group.iter().map(|(id, body)| (id.as_str(), body.as_str())).collect();
    serde_json::to_string(&map).expect("strings serialise")
}

/// A stored group's bodies by event id.
pub fn decode(text: &str) -> Result<BTreeMap<String, String>, serde_json::Error> {
    serde_json::from_str(text)
}

/// Where a published event's body is, as the user's object knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kept {
    /// Still held by the object: here it is.
    Body(String),
    /// Written under this KV key (a group).
    In(String),
    /// Not known to the object: published before it kept bodies (under its own key, if not expired), or never.
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(id: &str, len: usize) -> (String, String) {
        (id.to_owned(), "x".repeat(len))
    }

    #[test]
    fn groups_fill_up_to_the_limit_and_a_large_body_stands_alone() {
        let half = MAX_GROUP_BYTES / 2;
        let split = groups(vec![
            body("a", half),
            body("b", half),
            body("c", 1),
            body("d", MAX_GROUP_BYTES + 1),
            body("e", 1),
        ]);
        let ids: Vec<Vec<&str>> = split
            .iter()
            .map(|g| g.iter().map(|(id, _)| id.as_str()).collect())
            .collect();
        assert_eq!(ids, [vec!["a", "b"], vec!["c"], vec!["d"], vec!["e"]]);
        assert!(groups(Vec::new()).is_empty());
    }

    #[test]
    fn a_group_reads_back_by_event_id() {
        let group = vec![("evt_1".to_owned(), r#"{"a":"\u00e9"}"#.to_owned()), body("evt_2", 3)];
        let read = decode(&encode(&group)).unwrap();
        assert_eq!(read["evt_1"], r#"{"a":"\u00e9"}"#);
        assert_eq!(read["evt_2"], "xxx");
        assert_eq!(read.len(), 2);
    }
}
