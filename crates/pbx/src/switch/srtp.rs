//! SRTP on a call's legs: which legs speak it, with which keys (SDES, RFC 4568).
//!
//! Each leg is negotiated on its own, because the PBX anchors the media: an SRTP
//! phone can call a plain one, and a supervisor taps either like any other call
//! (the relay decrypts what a leg receives before anything else sees it and
//! encrypts what it sends last). The key a leg's SDP gives us is the one its
//! packets are decrypted with; the key our SDP gives it is ours, fresh per leg,
//! for what we send it.
//!
//! When a leg is SRTP:
//! - the caller offered crypto (RTP/SAVP, or RTP/AVP with `a=crypto` as phones in
//!   "optional SRTP" mode send): we answer the first line we support;
//! - the callee's extension has `require_srtp`: we offer RTP/SAVP only;
//! - the callee is reached over TLS: we offer RTP/AVP with a crypto line (best
//!   effort: a phone that can takes it, one that cannot ignores it);
//! - an extension with `require_srtp` that offers no crypto is refused (488).

use media::sdp::{AudioDescription, RtpProfile, SdesCrypto};
use media::srtp::{SrtpKey, SrtpSuite};
use media::SrtpKeys;

use super::call::{CallId, LegSide};
use super::Switch;

/// One leg's SRTP as negotiated: the profile our SDP uses on it, and our line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegCrypto {
    pub profile: RtpProfile,
    pub ours: SdesCrypto,
}

impl LegCrypto {
    /// What we offer a leg: one line, tag 1, the suite every SDES phone has.
    pub fn offer(profile: RtpProfile) -> LegCrypto {
        LegCrypto {
            profile,
            ours: SdesCrypto {
                tag: 1,
                key: SrtpKey::generate(SrtpSuite::AesCm128HmacSha1_80),
            },
        }
    }

    /// Our answer to a phone's offer: None when it offered no crypto we can use.
    pub fn answer(offer: &AudioDescription) -> Option<LegCrypto> {
        let ours = media::sdp::answer_crypto(offer)?;
        Some(LegCrypto {
            profile: offer.profile,
            ours,
        })
    }

    /// Our answer to a re-offer on a leg: the line we agreed on stays (and with it
    /// our key, so the phone's decryption state survives a hold) as long as the
    /// phone offers it again; otherwise the first line we can use, or plain RTP.
    pub fn reanswer(current: Option<&LegCrypto>, offer: &AudioDescription) -> Option<LegCrypto> {
        if let Some(cur) = current {
            let same = offer
                .crypto
                .iter()
                .any(|c| c.tag == cur.ours.tag && c.key.suite == cur.ours.key.suite);
            if same {
                return Some(LegCrypto {
                    profile: offer.profile,
                    ours: cur.ours.clone(),
                });
            }
        }
        LegCrypto::answer(offer)
    }

    /// The keys for the relay once the phone's SDP is known: its line with our tag
    /// (an answer repeats the tag of the line it accepts), or failing that the
    /// first line of our suite. None: the phone gave no key for our line.
    pub fn keys(&self, theirs: &AudioDescription) -> Option<SrtpKeys> {
        let line = theirs
            .crypto
            .iter()
            .find(|c| c.tag == self.ours.tag && c.key.suite == self.ours.key.suite)
            .or_else(|| {
                theirs
                    .crypto
                    .iter()
                    .find(|c| c.key.suite == self.ours.key.suite)
            })?;
        Some(SrtpKeys {
            inbound: line.key.clone(),
            outbound: self.ours.key.clone(),
        })
    }
}

impl Switch {
    /// Whether this extension's calls must be SRTP (`require_srtp`); trunks and
    /// unknown endpoints need not.
    pub(super) fn requires_srtp(&self, endpoint: &str) -> bool {
        self.config
            .extension(endpoint)
            .is_some_and(|e| e.require_srtp)
    }

    /// A phone re-offers on a leg (hold, resume, a new key): our answer's crypto,
    /// now the leg's. None when the phone's extension requires SRTP and the offer
    /// has none (the re-offer is refused and the leg keeps what it had).
    pub(super) fn reanswer_crypto(
        &mut self,
        id: CallId,
        side: LegSide,
        offer: &AudioDescription,
    ) -> Option<Option<LegCrypto>> {
        let leg = self.calls.get(&id)?.leg(side)?;
        let new = LegCrypto::reanswer(leg.crypto.as_ref(), offer);
        let endpoint = crate::channel::endpoint_of(&leg.channel).unwrap_or_default();
        if new.is_none() && self.requires_srtp(endpoint) {
            return None;
        }
        if let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.leg_mut(side)) {
            leg.crypto = new.clone();
        }
        Some(new)
    }
}

/// What we offer a callee: SRTP only for an extension that requires it, SRTP
/// if it can over TLS, plain RTP otherwise.
pub fn offer_for(require_srtp: bool, over_tls: bool) -> Option<LegCrypto> {
    if require_srtp {
        Some(LegCrypto::offer(RtpProfile::Savp))
    } else if over_tls {
        Some(LegCrypto::offer(RtpProfile::Avp))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer_with(profile: &str, lines: &[&str]) -> AudioDescription {
        let mut sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 {profile} 0\r\n"
        );
        for l in lines {
            sdp.push_str(&format!("a=crypto:{l}\r\n"));
        }
        media::sdp::parse_audio(sdp.as_bytes()).unwrap()
    }

    fn line(tag: u32) -> String {
        let key = SrtpKey::generate(SrtpSuite::AesCm128HmacSha1_80);
        format!("{tag} AES_CM_128_HMAC_SHA1_80 inline:{}", key.inline())
    }

    #[test]
    fn an_answer_repeats_the_tag_with_our_own_key() {
        let offer = offer_with("RTP/SAVP", &[&line(3)]);
        let ans = LegCrypto::answer(&offer).unwrap();
        assert_eq!(ans.profile, RtpProfile::Savp);
        assert_eq!(ans.ours.tag, 3);
        let keys = ans.keys(&offer).unwrap();
        assert_eq!(keys.inbound, offer.crypto[0].key);
        assert_ne!(keys.outbound, keys.inbound, "our key is our own");
    }

    #[test]
    fn a_plain_offer_gets_no_crypto_and_optional_srtp_is_taken() {
        assert!(LegCrypto::answer(&offer_with("RTP/AVP", &[])).is_none());
        let optional = LegCrypto::answer(&offer_with("RTP/AVP", &[&line(1)])).unwrap();
        assert_eq!(optional.profile, RtpProfile::Avp);
    }

    #[test]
    fn a_reoffer_with_the_same_line_keeps_our_key_and_a_new_line_gets_a_new_one() {
        let first = offer_with("RTP/SAVP", &[&line(1)]);
        let cur = LegCrypto::answer(&first).unwrap();
        // Hold: the phone repeats tag 1 with a new key of its own.
        let again = offer_with("RTP/SAVP", &[&line(1)]);
        let kept = LegCrypto::reanswer(Some(&cur), &again).unwrap();
        assert_eq!(kept.ours, cur.ours);
        assert_eq!(kept.keys(&again).unwrap().inbound, again.crypto[0].key);
        // Another tag: answered afresh.
        let other = offer_with("RTP/SAVP", &[&line(7)]);
        let new = LegCrypto::reanswer(Some(&cur), &other).unwrap();
        assert_eq!(new.ours.tag, 7);
        assert_ne!(new.ours.key, cur.ours.key);
        // No crypto any more: plain.
        assert!(LegCrypto::reanswer(Some(&cur), &offer_with("RTP/AVP", &[])).is_none());
    }

    #[test]
    fn callees_are_offered_by_their_settings() {
        assert_eq!(offer_for(true, false).unwrap().profile, RtpProfile::Savp);
        assert_eq!(offer_for(false, true).unwrap().profile, RtpProfile::Avp);
        assert!(offer_for(false, false).is_none());
    }

    #[test]
    fn an_answer_without_our_line_gives_no_keys() {
        let ours = LegCrypto::offer(RtpProfile::Savp);
        assert!(ours.keys(&offer_with("RTP/AVP", &[])).is_none());
    }
}
