//! `DIALSTATUS`, and how it maps to and from SIP final responses.

/// Asterisk's `DIALSTATUS` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialStatus {
    Answer,
    Busy,
    NoAnswer,
    /// Nothing to ring: unknown or unregistered endpoint, or it refused.
    ChanUnavail,
    Congestion,
    /// The caller hung up while ringing.
    Cancel,
}

impl DialStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DialStatus::Answer => "ANSWER",
            DialStatus::Busy => "BUSY",
            DialStatus::NoAnswer => "NOANSWER",
            DialStatus::ChanUnavail => "CHANUNAVAIL",
            DialStatus::Congestion => "CONGESTION",
            DialStatus::Cancel => "CANCEL",
        }
    }

    /// What a callee's final failure means for the dial.
    pub fn from_sip(status: u16) -> DialStatus {
        match status {
            486 | 600 | 603 => DialStatus::Busy,
            408 | 480 | 487 => DialStatus::NoAnswer,
            404 | 410 | 484 | 604 => DialStatus::ChanUnavail,
            _ => DialStatus::Congestion,
        }
    }

    /// The final response a caller gets when its call ends after this outcome without
    /// being answered.
    pub fn sip_status(self) -> u16 {
        match self {
            DialStatus::Answer => 200,
            DialStatus::Busy => 486,
            DialStatus::NoAnswer => 408,
            DialStatus::ChanUnavail => 480,
            DialStatus::Congestion => 503,
            DialStatus::Cancel => 487,
        }
    }
}

/// What `Dial` returns to the channel task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialOutcome {
    pub status: DialStatus,
}

#[cfg(test)]
mod tests {
    use super::DialStatus;

    #[test]
    fn sip_mapping_round_trips_the_common_failures() {
        for (sip, status) in [
            (486, DialStatus::Busy),
            (408, DialStatus::NoAnswer),
            (503, DialStatus::Congestion),
        ] {
            assert_eq!(DialStatus::from_sip(sip), status);
            assert_eq!(status.sip_status(), sip);
        }
        assert_eq!(DialStatus::from_sip(404), DialStatus::ChanUnavail);
        assert_eq!(DialStatus::ChanUnavail.sip_status(), 480);
    }
}
