use super::{AudioDescription, Codec, SdpError};

/// RFC 3264 answer side: the offered codecs we support, in the offerer's order of
/// preference, plus telephone-event when it was offered. No codec in common is an
/// error the SIP layer turns into `488 Not Acceptable Here`.
///
/// Names compare case-insensitively (some phones write `pcmu`).
pub fn negotiate(
    offer: &AudioDescription,
    supported: &[&str],
) -> Result<(Vec<Codec>, Option<Codec>), SdpError> {
    let common: Vec<Codec> = offer
        .codecs
        .iter()
        .filter(|c| supported.iter().any(|s| c.name.eq_ignore_ascii_case(s)))
        .cloned()
        .collect();
    if common.is_empty() {
        let offered: Vec<String> = offer.codecs.iter().map(|c| c.to_string()).collect();
        return Err(SdpError::NoCommonCodec {
            offered: offered.join(", "),
            supported: supported.join(", "),
        });
    }
    Ok((common, offer.dtmf.clone()))
}
