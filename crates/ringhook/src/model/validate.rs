//! Validation of what users send: webhook URLs and event lists.
//!
//! URLs are parsed as the WHATWG URL Standard parses them, the same way `fetch` will, so spellings such as
//! `https://2130706433/` or `https://0x7f.1/` are seen as the loopback addresses they are. The parser is the
//! platform's ([`UrlParser`]: the runtime's own `URL` in the Worker, the `url` crate natively); what a parsed URL
//! may be is decided here.
//! A host name is not resolved here: what it resolves to is the delivering platform's concern. Names that can only
//! resolve inside a private network (single labels, `.internal`, `.local` and the like) are refused as they stand.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::protocol::event::EventType;

/// The longest webhook URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// The longest a webhook URL may be once normalised: percent-encoding writes a byte as three characters, so a
/// URL within [`MAX_URL_BYTES`] never grows past this.
pub const MAX_NORMALISED_URL_CHARS: usize = 3 * MAX_URL_BYTES;

/// An input that was refused, with the field it concerns and a message that says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// The request field at fault.
    pub field: &'static str,
    /// A stable code: `invalid_url` or `invalid_events`.
    pub code: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ValidationError {
    fn url(message: impl Into<String>) -> Self {
        Self {
            field: "webhook_url",
            code: "invalid_url",
            message: message.into(),
        }
    }

    fn events(message: impl Into<String>) -> Self {
        Self {
            field: "events",
            code: "invalid_events",
            message: message.into(),
        }
    }
}

/// Where webhook URLs may point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Local development: allow `http://` and `https://` to loopback (127.0.0.0/8, `::1`, `localhost`).
    pub allow_loopback: bool,
}

impl UrlPolicy {
    /// Production: `https` to public hosts only.
    pub const PRODUCTION: Self = Self { allow_loopback: false };
    /// Local development: also loopback, over `http` or `https`.
    pub const LOCAL: Self = Self { allow_loopback: true };
}

/// A URL as the WHATWG URL Standard parses and serialises it, in the parts validation looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUrl {
    /// The whole URL, serialised (ASCII: the host in Punycode, the rest percent-encoded).
    pub href: String,
    /// The scheme, without its `:`.
    pub scheme: String,
    /// The user name, or empty.
    pub username: String,
    /// The password, or empty.
    pub password: String,
    /// The host as serialised: a domain name, an IPv4 address in dotted decimal, an IPv6 address in brackets, or
    /// empty.
    pub host: String,
}

/// A parser of URLs by the WHATWG URL Standard: the platform's own, or the `url` crate's ([`UrlCrate`]).
pub trait UrlParser {
    /// The parts of the URL `input` is, or why it is none.
    fn parse(&self, input: &str) -> Result<ParsedUrl, String>;
}

/// The `url` crate as the [`UrlParser`].
#[derive(Debug, Clone, Copy, Default)]
pub struct UrlCrate;

impl UrlParser for UrlCrate {
    fn parse(&self, input: &str) -> Result<ParsedUrl, String> {
        let url = url::Url::parse(input).map_err(|e| e.to_string())?;
        Ok(ParsedUrl {
            href: url.as_str().to_owned(),
            scheme: url.scheme().to_owned(),
            username: url.username().to_owned(),
            password: url.password().unwrap_or_default().to_owned(),
            host: url.host_str().unwrap_or_default().to_owned(),
        })
    }
}

/// A host as the WHATWG URL Standard tells them apart.
enum Host<'a> {
    Domain(&'a str),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl<'a> Host<'a> {
    /// The host a serialised one is: the standard writes every IPv4 spelling in dotted decimal, brackets IPv6
    /// addresses, and allows no domain name that ends in a number, so the form alone tells the kind.
    fn of(serialised: &'a str) -> Option<Self> {
        if serialised.is_empty() {
            None
        } else if let Some(inner) = serialised.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            inner.parse().ok().map(Host::Ipv6)
        } else if let Ok(ip) = serialised.parse() {
            Some(Host::Ipv4(ip))
        } else {
            Some(Host::Domain(serialised))
        }
    }
}

/// Checks a webhook URL, parsed by `parser`, and returns it normalised.
pub fn webhook_url(input: &str, policy: UrlPolicy, parser: &dyn UrlParser) -> Result<String, ValidationError> {
    if input.len() > MAX_URL_BYTES {
        return Err(ValidationError::url(format!(
            "webhook_url is longer than {MAX_URL_BYTES} bytes"
        )));
    }
    let url = parser
        .parse(input)
        .map_err(|e| ValidationError::url(format!("webhook_url is not a valid URL: {e}")))?;
    if url.href.len() > MAX_NORMALISED_URL_CHARS {
        return Err(ValidationError::url(format!(
            "webhook_url is longer than {MAX_NORMALISED_URL_CHARS} characters once normalised (percent-encoded)"
        )));
    }
    if !url.username.is_empty() || !url.password.is_empty() {
        return Err(ValidationError::url(
            "webhook_url must not contain a user name or password",
        ));
    }
    if !matches!(url.scheme.as_str(), "https" | "http") {
        return Err(ValidationError::url(format!(
            "webhook_url must use https, not {}:",
            url.scheme
        )));
    }
    let host = Host::of(&url.host).ok_or_else(|| ValidationError::url("webhook_url must have a host"))?;
    let loopback = is_loopback(&host);
    match url.scheme.as_str() {
        "https" => {}
        "http" if policy.allow_loopback && loopback => {}
        "http" if policy.allow_loopback => {
            return Err(ValidationError::url(
                "webhook_url must use https (http is allowed only to localhost and 127.0.0.1 in local development)",
            ));
        }
        _ => return Err(ValidationError::url("webhook_url must use https")),
    }
    if loopback {
        if !policy.allow_loopback {
            return Err(ValidationError::url("webhook_url must not point at a loopback address"));
        }
    } else if let Some(range) = non_public_range(&host) {
        return Err(ValidationError::url(format!(
            "webhook_url must not point at a {range} address"
        )));
    } else if let Host::Domain(name) = &host {
        if let Some(rule) = private_name(name) {
            return Err(ValidationError::url(format!(
                "webhook_url's host {name} {rule}: use the receiver's public DNS name"
            )));
        }
    }
    Ok(url.href)
}

fn is_loopback(host: &Host) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.');
            name.eq_ignore_ascii_case("localhost") || name.to_ascii_lowercase().ends_with(".localhost")
        }
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback() || embedded_ipv4(ip).is_some_and(|v4| v4.is_loopback()),
    }
}

/// Name suffixes that only ever resolve inside a private network, with the rule each falls under.
const PRIVATE_SUFFIXES: &[(&str, &str)] = &[
    ("internal", "ends in .internal, a name reserved for private networks"),
    ("local", "ends in .local, a multicast-DNS name of the local network"),
    (
        "localdomain",
        "ends in .localdomain, a name of the local machine or network",
    ),
    ("home.arpa", "ends in .home.arpa, a name reserved for home networks"),
    ("svc", "ends in .svc, a cluster-internal service name"),
    ("intranet", "ends in .intranet, a name of a private network"),
    ("lan", "ends in .lan, a name of a local network"),
];

/// Why a host name can never belong to a public receiver, or `None`. Loopback names are judged before this.
fn private_name(name: &str) -> Option<&'static str> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if !name.contains('.') {
        return Some("is a single-label name, which resolves only inside a private network");
    }
    PRIVATE_SUFFIXES
        .iter()
        .find(|(suffix, _)| {
            name.strip_suffix(suffix)
                .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
        })
        .map(|(_, rule)| *rule)
}

/// The kind of non-public range an IP literal falls in, or `None` for a public address or a domain name.
fn non_public_range(host: &Host) -> Option<&'static str> {
    match host {
        Host::Domain(_) => None,
        Host::Ipv4(ip) => ipv4_range(*ip),
        Host::Ipv6(ip) => match embedded_ipv4(ip) {
            Some(v4) => ipv4_range(v4),
            None => ipv6_range(ip),
        },
    }
}

fn ipv4_range(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("unspecified (0.0.0.0/8)")
    } else if ip.is_loopback() {
        Some("loopback (127.0.0.0/8)")
    } else if ip.is_private() {
        Some("private (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)")
    } else if ip.is_link_local() {
        Some("link-local (169.254.0.0/16)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (CGNAT, 100.64.0.0/10)")
    } else if a == 192 && b == 0 && c == 0 {
        Some("IETF protocol assignment (192.0.0.0/24)")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("benchmarking (198.18.0.0/15)")
    } else if (a, b, c) == (192, 0, 2) || (a, b, c) == (198, 51, 100) || (a, b, c) == (203, 0, 113) {
        Some("documentation (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24)")
    } else if ip.is_multicast() {
        Some("multicast (224.0.0.0/4)")
    } else if a >= 240 {
        Some("reserved (240.0.0.0/4)")
    } else {
        None
    }
}

fn ipv6_range(ip: &Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        Some("unspecified (::)")
    } else if ip.is_loopback() {
        Some("loopback (::1)")
    } else if s[0] & 0xfe00 == 0xfc00 {
        Some("private (unique local, fc00::/7)")
    } else if s[0] & 0xffc0 == 0xfe80 {
        Some("link-local (fe80::/10)")
    } else if s[0] & 0xffc0 == 0xfec0 {
        Some("site-local (fec0::/10)")
    } else if ip.is_multicast() {
        Some("multicast (ff00::/8)")
    } else if s[0] == 0x2002 {
        Some("6to4 (2002::/16, which wraps an IPv4 address)")
    } else if s[..2] == [0x2001, 0] {
        Some("Teredo (2001::/32, which wraps an IPv4 address)")
    } else if s[..2] == [0x2001, 0xdb8] {
        Some("documentation (2001:db8::/32)")
    } else if s[..3] == [0x64, 0xff9b, 1] {
        Some("local-use NAT64 (64:ff9b:1::/48)")
    } else if s[..4] == [0x100, 0, 0, 0] {
        Some("discard-only (100::/64)")
    } else if s[..6] == [0; 6] {
        Some("IPv4-compatible (::/96)")
    } else if s[..4] == [0; 4] && s[4] == 0xffff && s[5] == 0 {
        Some("IPv4-translated (::ffff:0:0:0/96)")
    } else {
        None
    }
}

/// The IPv4 address inside a v4-mapped (`::ffff:a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) IPv6 address: these
/// reach that IPv4 address, and are judged as it is. Other forms that wrap one (v4-compatible, v4-translated,
/// 6to4, Teredo) are refused whatever they wrap.
fn embedded_ipv4(ip: &Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped = s[..5] == [0; 5] && s[5] == 0xffff;
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    (mapped || nat64).then_some(tail)
}

/// What a subscription listens to: one event type, or `*` for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventSelector {
    /// `*`: every event type.
    All,
    /// One event type.
    One(EventType),
}

impl EventSelector {
    /// Whether an event of type `event` is selected.
    pub fn matches(self, event: EventType) -> bool {
        match self {
            Self::All => true,
            Self::One(t) => t == event,
        }
    }

    /// `*` or the event type's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "*",
            Self::One(t) => t.as_str(),
        }
    }
}

impl serde::Serialize for EventSelector {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EventSelector {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        if s == "*" {
            Ok(Self::All)
        } else {
            s.parse().map(Self::One).map_err(serde::de::Error::custom)
        }
    }
}

/// Checks an events list: not empty, known names or `*` (alone), no duplicates.
pub fn events(names: &[String]) -> Result<Vec<EventSelector>, ValidationError> {
    if names.is_empty() {
        return Err(ValidationError::events(
            "events must list at least one event type, or \"*\" for all",
        ));
    }
    let mut selected: Vec<EventSelector> = Vec::with_capacity(names.len());
    for name in names {
        let selector = if name == "*" {
            EventSelector::All
        } else {
            EventSelector::One(
                name.parse()
                    .map_err(|e: crate::protocol::event::UnknownEventType| ValidationError::events(e.to_string()))?,
            )
        };
        if selected.contains(&selector) {
            return Err(ValidationError::events(format!("events lists {name:?} twice")));
        }
        selected.push(selector);
    }
    if selected.len() > 1 && selected.contains(&EventSelector::All) {
        return Err(ValidationError::events(
            "\"*\" already selects every event type: list it alone",
        ));
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_within_the_byte_limit_stays_within_the_normalised_limit() {
        // The worst growth: every byte percent-encoded.
        let path = "\u{10FFFF}".repeat((MAX_URL_BYTES - "https://example.com/".len()) / 4);
        let input = format!("https://example.com/{path}");
        assert!(input.len() <= MAX_URL_BYTES);
        let url = webhook_url(&input, UrlPolicy::PRODUCTION, &UrlCrate).unwrap();
        assert!(url.len() > MAX_URL_BYTES && url.len() <= MAX_NORMALISED_URL_CHARS);
        let spaces = format!("https://example.com/{}", " ".repeat(MAX_URL_BYTES - 20));
        assert!(webhook_url(&spaces, UrlPolicy::PRODUCTION, &UrlCrate).unwrap().len() <= MAX_NORMALISED_URL_CHARS);
    }

    #[test]
    fn selectors_match() {
        assert!(EventSelector::All.matches(EventType::CallFailed));
        assert!(EventSelector::One(EventType::CallFailed).matches(EventType::CallFailed));
        assert!(!EventSelector::One(EventType::CallFailed).matches(EventType::CallCompleted));
    }
}
