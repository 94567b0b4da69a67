//! DTMF in every form a phone may send it: RFC 4733 telephone-events in RTP
//! (receive and send), SIP INFO bodies, and in-band tones (fallback detector).

pub mod inband;
pub mod info;
pub mod rfc4733;
#[cfg(test)]
mod tests;

pub use inband::InbandDetector;
pub use info::{parse_dtmf, parse_dtmf_relay, InfoDigit};
pub use rfc4733::{DtmfSender, EventPacket, Rfc4733Receiver};

use thiserror::Error;

/// A digit starting or ending, from whichever source detected it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfEvent {
    Begin {
        digit: char,
    },
    /// `duration_ms` is what the source reported (RFC 4733 duration, or the
    /// detected tone length).
    End {
        digit: char,
        duration_ms: u32,
    },
}

impl DtmfEvent {
    pub fn digit(&self) -> char {
        match *self {
            DtmfEvent::Begin { digit } | DtmfEvent::End { digit, .. } => digit,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DtmfError {
    #[error("'{0}' is not a DTMF digit (0-9, *, #, A-D)")]
    NotADigit(String),
    #[error("DTMF body has no Signal= line")]
    NoSignal,
    #[error("bad Duration= value '{0}' in DTMF body")]
    BadDuration(String),
}

/// RFC 4733 section 3.2 event codes 0-15 as the characters dialplans use.
pub fn event_to_digit(event: u8) -> Option<char> {
    Some(match event {
        0..=9 => char::from(b'0' + event),
        10 => '*',
        11 => '#',
        12..=15 => char::from(b'A' + event - 12),
        _ => return None,
    })
}

/// The RFC 4733 event code of a digit (case-insensitive for A-D).
pub fn digit_to_event(digit: char) -> Option<u8> {
    Some(match digit.to_ascii_uppercase() {
        d @ '0'..='9' => d as u8 - b'0',
        '*' => 10,
        '#' => 11,
        d @ 'A'..='D' => d as u8 - b'A' + 12,
        _ => return None,
    })
}
