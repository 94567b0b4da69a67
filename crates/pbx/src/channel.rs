//! Channel names in Asterisk's style, so dialplans and operators recognise them.
//!
//! `SIP/110-0000001a`: technology, endpoint, and a PBX-wide sequence number in 8 hex
//! digits. ChanSpy matches on the part before the `-`, case-insensitively, and treats
//! `SIP/`, `sip/` and `PJSIP/` alike.

use std::sync::atomic::{AtomicU32, Ordering};

/// Hands out channel sequence numbers; one per switch.
#[derive(Debug, Default)]
pub struct ChannelNamer {
    next: AtomicU32,
}

impl ChannelNamer {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh channel name for an endpoint (an extension number or a trunk name).
    pub fn name(&self, endpoint: &str) -> String {
        let seq = self.next.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        format!("SIP/{endpoint}-{seq:08x}")
    }
}

/// The endpoint part of a channel name (`SIP/110-0000001a` -> `110`), if it is one of ours.
pub fn endpoint_of(channel: &str) -> Option<&str> {
    let (tech, rest) = channel.split_once('/')?;
    if !tech.eq_ignore_ascii_case("sip") && !tech.eq_ignore_ascii_case("pjsip") {
        return None;
    }
    Some(rest.rsplit_once('-').map_or(rest, |(ep, _)| ep))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sequential_hex() {
        let n = ChannelNamer::new();
        assert_eq!(n.name("110"), "SIP/110-00000001");
        assert_eq!(n.name("carrier"), "SIP/carrier-00000002");
    }

    #[test]
    fn endpoint_parsing_accepts_asterisk_spellings() {
        assert_eq!(endpoint_of("SIP/110-0000001a"), Some("110"));
        assert_eq!(endpoint_of("sip/110-0000001a"), Some("110"));
        assert_eq!(endpoint_of("PJSIP/110"), Some("110"));
        assert_eq!(endpoint_of("IAX2/110-1"), None);
        assert_eq!(endpoint_of("nonsense"), None);
    }
}
