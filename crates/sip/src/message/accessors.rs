//! Typed header accessors shared by `Request` and `Response`. Each returns a precise
//! `ParseError` so the caller can answer 400 with the reason.

use super::cseq::CSeq;
use super::error::ParseError;
use super::headers::Headers;
use super::name_addr::{ContactValue, NameAddr};
use super::via::Via;

pub(crate) fn required<'a>(h: &'a Headers, name: &'static str) -> Result<&'a str, ParseError> {
    match h.get(name) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim()),
        _ => Err(ParseError::MissingHeader(name)),
    }
}

pub(crate) fn call_id(h: &Headers) -> Result<&str, ParseError> {
    let v = required(h, "Call-ID")?;
    if v.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::header("Call-ID", v, "contains whitespace"));
    }
    Ok(v)
}

pub(crate) fn name_addr(h: &Headers, name: &'static str) -> Result<NameAddr, ParseError> {
    let v = required(h, name)?;
    v.parse().map_err(|e| match e {
        ParseError::InvalidHeader { value, reason, .. } => ParseError::InvalidHeader {
            header: name,
            value,
            reason,
        },
        other => other,
    })
}

pub(crate) fn cseq(h: &Headers) -> Result<CSeq, ParseError> {
    required(h, "CSeq")?.parse()
}

pub(crate) fn top_via(h: &Headers) -> Result<Via, ParseError> {
    required(h, "Via")?.parse()
}

pub(crate) fn vias(h: &Headers) -> Result<Vec<Via>, ParseError> {
    h.get_all("Via").map(str::parse).collect()
}

pub(crate) fn contacts(h: &Headers) -> Result<Vec<ContactValue>, ParseError> {
    h.get_all("Contact").map(str::parse).collect()
}

pub(crate) fn number(h: &Headers, name: &'static str) -> Result<Option<u32>, ParseError> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => {
            let v = v.trim();
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseError::header(name, v, "not a number"));
            }
            // Over-long values saturate: RFC 3261 20.19 treats huge Expires as large.
            Ok(Some(v.parse().unwrap_or(u32::MAX)))
        }
    }
}

/// Expands to the accessor methods on a type with a `headers: Headers` field.
macro_rules! header_accessors {
    () => {
        /// The Call-ID (required, no whitespace).
        pub fn call_id(&self) -> Result<&str, ParseError> {
            accessors::call_id(&self.headers)
        }

        pub fn from(&self) -> Result<NameAddr, ParseError> {
            accessors::name_addr(&self.headers, "From")
        }

        pub fn to(&self) -> Result<NameAddr, ParseError> {
            accessors::name_addr(&self.headers, "To")
        }

        pub fn cseq(&self) -> Result<CSeq, ParseError> {
            accessors::cseq(&self.headers)
        }

        /// The first (topmost) Via.
        pub fn top_via(&self) -> Result<Via, ParseError> {
            accessors::top_via(&self.headers)
        }

        /// All Vias, top first.
        pub fn vias(&self) -> Result<Vec<Via>, ParseError> {
            accessors::vias(&self.headers)
        }

        /// All Contact values in order (empty if none).
        pub fn contacts(&self) -> Result<Vec<ContactValue>, ParseError> {
            accessors::contacts(&self.headers)
        }

        /// The Expires header as seconds; `Ok(None)` when absent.
        pub fn expires(&self) -> Result<Option<u32>, ParseError> {
            accessors::number(&self.headers, "Expires")
        }

        pub fn content_type(&self) -> Option<&str> {
            self.headers.get("Content-Type")
        }
    };
}

pub(crate) use header_accessors;
