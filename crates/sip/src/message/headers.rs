//! An ordered header list. Names are stored in canonical form (compact forms expanded,
//! well-known names in their RFC spelling) so that serialisation is uniform and lookups
//! only need a case-insensitive compare.

use std::borrow::Cow;

use super::params::split_top_level;

/// Compact forms (RFC 3261 7.3.3 and extensions) and their long names.
const COMPACT: &[(&str, &str)] = &[
    ("v", "Via"),
    ("f", "From"),
    ("t", "To"),
    ("i", "Call-ID"),
    ("m", "Contact"),
    ("l", "Content-Length"),
    ("c", "Content-Type"),
    ("k", "Supported"),
    ("s", "Subject"),
    ("e", "Content-Encoding"),
    ("o", "Event"),
    ("u", "Allow-Events"),
    ("r", "Refer-To"),
    ("b", "Referred-By"),
];

/// Well-known header names whose canonical spelling is not simple title case.
const KNOWN: &[&str] = &[
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Allow-Events",
    "Authentication-Info",
    "Authorization",
    "Call-ID",
    "Call-Info",
    "Contact",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Type",
    "CSeq",
    "Date",
    "Error-Info",
    "Event",
    "Expires",
    "From",
    "In-Reply-To",
    "Max-Forwards",
    "MIME-Version",
    "Min-Expires",
    "Min-SE",
    "Organization",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "Priority",
    "Privacy",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "RAck",
    "Reason",
    "Record-Route",
    "Refer-To",
    "Referred-By",
    "Remote-Party-ID",
    "Reply-To",
    "Replaces",
    "Require",
    "Retry-After",
    "Route",
    "RSeq",
    "Server",
    "Session-Expires",
    "SIP-ETag",
    "SIP-If-Match",
    "Subject",
    "Subscription-State",
    "Supported",
    "Timestamp",
    "To",
    "Unsupported",
    "User-Agent",
    "Via",
    "Warning",
    "WWW-Authenticate",
];

/// Headers whose comma-separated values are split into one entry each when parsed, so
/// that `get_all("Via")` yields every hop regardless of how the sender packed them.
const MULTI_VALUE: &[&str] = &["Via", "Route", "Record-Route", "Contact"];

/// Canonical spelling of a header name: compact forms expanded, known names in RFC
/// spelling, anything else returned unchanged.
pub fn canonical_name(name: &str) -> Cow<'_, str> {
    if name.len() == 1 {
        if let Some((_, long)) = COMPACT.iter().find(|(c, _)| c.eq_ignore_ascii_case(name)) {
            return Cow::Borrowed(long);
        }
    }
    match KNOWN.iter().find(|k| k.eq_ignore_ascii_case(name)) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Borrowed(name),
    }
}

fn same_name(stored: &str, wanted: &str) -> bool {
    stored.eq_ignore_ascii_case(wanted)
}

/// Ordered list of `(name, value)` pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    pub fn new() -> Self {
        Headers::default()
    }

    /// Add a header as parsed from the wire: the name is canonicalised and values of
    /// multi-value headers are split at top-level commas.
    pub(crate) fn push_parsed(&mut self, name: &str, value: &str) {
        let name = canonical_name(name).into_owned();
        if MULTI_VALUE.iter().any(|m| same_name(m, &name)) {
            for part in split_top_level(value, b',') {
                let part = part.trim();
                if !part.is_empty() {
                    self.entries.push((name.clone(), part.to_string()));
                }
            }
        } else {
            self.entries.push((name, value.trim().to_string()));
        }
    }

    /// First value of the header (any spelling, compact forms included).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }

    /// Every value of the header, in message order.
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let wanted = canonical_name(name).into_owned();
        self.entries
            .iter()
            .filter(move |(n, _)| same_name(n, &wanted))
            .map(|(_, v)| v.as_str())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Append a header at the end.
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.entries
            .push((canonical_name(name).into_owned(), value.into()));
    }

    /// Replace all headers of that name by one value, placed where the first one was
    /// (or at the end if there was none).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let canon = canonical_name(name).into_owned();
        match self.entries.iter().position(|(n, _)| same_name(n, &canon)) {
            Some(first) => {
                self.entries[first].1 = value.into();
                let mut i = 0;
                self.entries.retain(|(n, _)| {
                    let keep = i <= first || !same_name(n, &canon);
                    i += 1;
                    keep
                });
            }
            None => self.entries.push((canon, value.into())),
        }
    }

    /// Remove every header of that name.
    pub fn remove(&mut self, name: &str) {
        let canon = canonical_name(name).into_owned();
        self.entries.retain(|(n, _)| !same_name(n, &canon));
    }

    /// Remove only the first header of that name and return its value (used to pop
    /// the top Via or Route).
    pub fn remove_first(&mut self, name: &str) -> Option<String> {
        let canon = canonical_name(name).into_owned();
        let pos = self
            .entries
            .iter()
            .position(|(n, _)| same_name(n, &canon))?;
        Some(self.entries.remove(pos).1)
    }

    /// Insert before the first header of that name, or at the very top if there is
    /// none (what a proxy does with its Via).
    pub fn insert_first(&mut self, name: &str, value: impl Into<String>) {
        let canon = canonical_name(name).into_owned();
        let pos = self
            .entries
            .iter()
            .position(|(n, _)| same_name(n, &canon))
            .unwrap_or(0);
        self.entries.insert(pos, (canon, value.into()));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names() {
        assert_eq!(canonical_name("v"), "Via");
        assert_eq!(canonical_name("I"), "Call-ID");
        assert_eq!(canonical_name("call-id"), "Call-ID");
        assert_eq!(canonical_name("cseq"), "CSeq");
        assert_eq!(canonical_name("www-authenticate"), "WWW-Authenticate");
        assert_eq!(canonical_name("X-Custom"), "X-Custom");
        assert_eq!(canonical_name("x"), "x");
    }

    #[test]
    fn parsed_multi_values_are_split() {
        let mut h = Headers::new();
        h.push_parsed(
            "v",
            "SIP/2.0/UDP a;branch=z9hG4bK1 , SIP/2.0/TCP b;branch=z9hG4bK2",
        );
        h.push_parsed("Contact", "\"A, B\" <sip:a@h>, <sip:b@h;x=1,2>");
        h.push_parsed("Subject", "hello, world");
        assert_eq!(h.get_all("via").count(), 2);
        assert_eq!(
            h.get_all("Via").nth(1),
            Some("SIP/2.0/TCP b;branch=z9hG4bK2")
        );
        let c: Vec<_> = h.get_all("m").collect();
        assert_eq!(c, vec!["\"A, B\" <sip:a@h>", "<sip:b@h;x=1,2>"]);
        assert_eq!(h.get("s"), Some("hello, world"));
    }

    #[test]
    fn set_remove_insert_keep_order() {
        let mut h = Headers::new();
        h.push("Via", "1");
        h.push("To", "t");
        h.push("via", "2");
        h.push("From", "f");
        h.set("VIA", "x");
        let all: Vec<_> = h.iter().collect();
        assert_eq!(all, vec![("Via", "x"), ("To", "t"), ("From", "f")]);
        h.insert_first("Via", "top");
        h.insert_first("Route", "r");
        let names: Vec<_> = h.iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["Route", "Via", "Via", "To", "From"]);
        assert_eq!(h.get("via"), Some("top"));
        assert_eq!(h.remove_first("Via").as_deref(), Some("top"));
        h.remove("t");
        assert!(!h.contains("To"));
        assert_eq!(h.len(), 3);
        h.set("Expires", "60");
        assert_eq!(h.iter().last(), Some(("Expires", "60")));
    }
}
