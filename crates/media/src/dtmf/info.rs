//! DTMF carried in SIP INFO bodies.
//!
//! `application/dtmf-relay` (Cisco's format, what most phones send):
//! ```text
//! Signal=5
//! Duration=160
//! ```
//! `application/dtmf`: the body is the digit alone, or its event code ("11" = #).

use super::{digit_to_event, event_to_digit, DtmfError};

/// A digit from a SIP INFO body; `duration_ms` when the body gave one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoDigit {
    pub digit: char,
    pub duration_ms: Option<u32>,
}

/// A digit written as a character or as an event code (some phones send
/// `Signal=10` for `*` and `Signal=11` for `#`).
fn parse_signal(v: &str) -> Result<char, DtmfError> {
    let v = v.trim();
    let mut chars = v.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        if digit_to_event(c).is_some() {
            return Ok(c.to_ascii_uppercase());
        }
    }
    v.parse::<u8>()
        .ok()
        .and_then(event_to_digit)
        .ok_or_else(|| DtmfError::NotADigit(v.to_string()))
}

/// Parses an `application/dtmf-relay` body. Keys are case-insensitive, lines
/// may end in CRLF or LF, and unknown lines are ignored.
pub fn parse_dtmf_relay(body: &str) -> Result<InfoDigit, DtmfError> {
    let mut digit = None;
    let mut duration_ms = None;
    for line in body.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k.eq_ignore_ascii_case("signal") {
            digit = Some(parse_signal(v)?);
        } else if k.eq_ignore_ascii_case("duration") {
            let v = v.trim();
            duration_ms = Some(
                v.parse::<u32>()
                    .map_err(|_| DtmfError::BadDuration(v.to_string()))?,
            );
        }
    }
    Ok(InfoDigit {
        digit: digit.ok_or(DtmfError::NoSignal)?,
        duration_ms,
    })
}

/// Parses an `application/dtmf` body: one digit or event code.
pub fn parse_dtmf(body: &str) -> Result<InfoDigit, DtmfError> {
    Ok(InfoDigit {
        digit: parse_signal(body)?,
        duration_ms: None,
    })
}
