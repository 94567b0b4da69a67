//! Session keys (RFC 3711 4.3) and the two transforms they drive: the AES-CM
//! keystream (4.1.1) and the HMAC-SHA1 tag (4.2.1).
//!
//! Both transforms are set up once per context, so a packet costs a copy of the
//! expanded AES key schedule and of the keyed HMAC state, both on the stack.

use super::key::{KEY_LEN, SALT_LEN};
use super::SrtpKey;
use aes::cipher::{InnerIvInit, KeyInit as _, KeyIvInit, StreamCipher, StreamCipherCoreWrapper};
use aes::Aes128;
use ctr::{flavors, CtrCore};
use hmac::{Hmac, KeyInit as _, Mac};
use sha1::Sha1;

/// The AES-CM transform: a 128-bit big-endian counter over the whole IV. RFC 3711
/// adds the block number to the low 16 bits; carrying into the bits above would
/// need a packet of more than 2^16 blocks (1 MiB), which a datagram never is.
type AesCm = StreamCipherCoreWrapper<CtrCore<Aes128, flavors::Ctr128BE>>;

/// HMAC-SHA1 output length; the tag is its first 10 or 4 bytes.
pub(super) const MAC_LEN: usize = 20;
/// Session authentication key length (n_a = 160 bits for HMAC-SHA1).
pub(super) const AUTH_KEY_LEN: usize = 20;

/// The key derivation labels of RFC 3711 4.3.1: for SRTP the encryption key,
/// authentication key and salt, then the same three for SRTCP.
#[derive(Debug, Clone, Copy)]
pub(super) enum Stream {
    Rtp,
    Rtcp,
}

impl Stream {
    fn labels(self) -> (u8, u8, u8) {
        match self {
            Stream::Rtp => (0x00, 0x01, 0x02),
            Stream::Rtcp => (0x03, 0x04, 0x05),
        }
    }
}

/// The AES-CM PRF of RFC 3711 4.3.3 with a key derivation rate of 0: the
/// index-dependent part `r` of the key id is always 0, so `x` is the master salt
/// with the label XORed into its eighth byte (the label sits just above the 48
/// bits of `r`). The output is the keystream over `out.len()` zero bytes.
pub(super) fn derive(master: &SrtpKey, label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..SALT_LEN].copy_from_slice(&master.master_salt);
    iv[SALT_LEN - 7] ^= label;
    out.fill(0);
    let mut prf = AesCm::new(&master.master_key.into(), &iv.into());
    prf.apply_keystream(out);
}

/// Session keys for one of SRTP or SRTCP, ready to use.
pub(super) struct SessionKeys {
    cipher: Aes128,
    salt: [u8; SALT_LEN],
    mac: Hmac<Sha1>,
}

impl SessionKeys {
    pub(super) fn new(master: &SrtpKey, stream: Stream) -> SessionKeys {
        let (enc, auth, salt_label) = stream.labels();
        let mut key = [0u8; KEY_LEN];
        derive(master, enc, &mut key);
        let mut auth_key = [0u8; AUTH_KEY_LEN];
        derive(master, auth, &mut auth_key);
        let mut salt = [0u8; SALT_LEN];
        derive(master, salt_label, &mut salt);
        SessionKeys::from_session_keys(key, salt, auth_key)
    }

    /// From already derived keys: the RFC's AES-CM vectors start there.
    pub(super) fn from_session_keys(
        key: [u8; KEY_LEN],
        salt: [u8; SALT_LEN],
        auth_key: [u8; AUTH_KEY_LEN],
    ) -> SessionKeys {
        SessionKeys {
            cipher: Aes128::new(&key.into()),
            salt,
            // HMAC takes a key of any length, so this cannot fail.
            mac: Hmac::new_from_slice(&auth_key).expect("HMAC accepts any key length"),
        }
    }

    /// Encrypts or decrypts `data` in place (the same XOR both ways). The IV of
    /// RFC 3711 4.1.1: (salt << 16) XOR (SSRC << 64) XOR (index << 16), where the
    /// index is the 48-bit SRTP packet index or the 31-bit SRTCP index.
    pub(super) fn apply_keystream(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..SALT_LEN].copy_from_slice(&self.salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, i) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= i;
        }
        let core = CtrCore::inner_iv_init(self.cipher.clone(), &iv.into());
        AesCm::from_core(core).apply_keystream(data);
    }

    /// HMAC-SHA1 over the concatenation of `parts` (for SRTP: the packet, then
    /// the ROC; for SRTCP: the packet including its E|index word).
    pub(super) fn mac(&self, parts: &[&[u8]]) -> [u8; MAC_LEN] {
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(part);
        }
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }
}
