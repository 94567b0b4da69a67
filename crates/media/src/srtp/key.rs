//! The master key and salt of one direction, and their SDES text form.

use super::{SrtpError, SrtpSuite};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::fmt;

/// Master key length for AES-128.
pub(super) const KEY_LEN: usize = 16;
/// Master salt length (112 bits) for both suites.
pub(super) const SALT_LEN: usize = 14;

/// A master key and salt for one direction of one call leg.
///
/// With SDES each side picks the key it sends with: the key in the offer is what
/// the offerer encrypts with (and we decrypt with), the one in our answer is what we
/// encrypt with. `Debug` never prints the key material, so a key logged by
/// accident (inside an `AudioDescription`, say) leaks nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKey {
    pub suite: SrtpSuite,
    pub master_key: [u8; KEY_LEN],
    pub master_salt: [u8; SALT_LEN],
}

impl SrtpKey {
    pub fn new(
        suite: SrtpSuite,
        master_key: [u8; KEY_LEN],
        master_salt: [u8; SALT_LEN],
    ) -> SrtpKey {
        SrtpKey {
            suite,
            master_key,
            master_salt,
        }
    }

    /// A fresh random key and salt from the thread RNG (a CSPRNG in rand 0.10).
    pub fn generate(suite: SrtpSuite) -> SrtpKey {
        SrtpKey::new(suite, rand::random(), rand::random())
    }

    /// The base64 of key || salt that follows `inline:` (30 bytes, 40 characters),
    /// without lifetime or MKI.
    pub fn inline(&self) -> String {
        let mut raw = [0u8; KEY_LEN + SALT_LEN];
        raw[..KEY_LEN].copy_from_slice(&self.master_key);
        raw[KEY_LEN..].copy_from_slice(&self.master_salt);
        STANDARD.encode(raw)
    }

    /// Reads the key-info of an `inline:` key param (RFC 4568):
    /// `BASE64[|lifetime][|mki:length]`, with or without the `inline:` prefix.
    ///
    /// A lifetime (`2^31` or a decimal count) is accepted and ignored: no call
    /// lives long enough to reach one. An MKI is refused, because it would put
    /// extra bytes in every packet that we do not write or expect.
    pub fn from_inline(suite: SrtpSuite, text: &str) -> Result<SrtpKey, SrtpError> {
        let text = text.strip_prefix("inline:").unwrap_or(text).trim();
        if text.contains(';') {
            return Err(SrtpError::BadKey(
                "several master keys in one crypto line are not supported (they need an MKI)"
                    .to_string(),
            ));
        }
        let mut fields = text.split('|');
        let b64 = fields.next().unwrap_or("");
        for field in fields {
            if field.contains(':') {
                return Err(SrtpError::BadKey(format!(
                    "MKI {field:?} is not supported; offer the key without an MKI"
                )));
            }
            if !is_lifetime(field) {
                return Err(SrtpError::BadKey(format!(
                    "{field:?} is neither a key lifetime (like 2^31) nor an MKI"
                )));
            }
        }
        let raw = STANDARD
            .decode(b64)
            .map_err(|e| SrtpError::BadKey(format!("key is not valid base64: {e}")))?;
        if raw.len() != KEY_LEN + SALT_LEN {
            return Err(SrtpError::BadKey(format!(
                "key and salt are {} bytes, {} needs {}",
                raw.len(),
                suite,
                KEY_LEN + SALT_LEN
            )));
        }
        let mut key = [0u8; KEY_LEN];
        let mut salt = [0u8; SALT_LEN];
        key.copy_from_slice(&raw[..KEY_LEN]);
        salt.copy_from_slice(&raw[KEY_LEN..]);
        Ok(SrtpKey::new(suite, key, salt))
    }
}

/// `2^N` or a plain decimal number of packets.
fn is_lifetime(field: &str) -> bool {
    let digits = field.strip_prefix("2^").unwrap_or(field);
    !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())
}

impl fmt::Debug for SrtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKey")
            .field("suite", &self.suite)
            .field("master_key", &"<redacted>")
            .field("master_salt", &"<redacted>")
            .finish()
    }
}
