//! PINs (Authenticate, the 779/778 monitoring codes), as the database keeps them.
//!
//! A PIN has a handful of digits: an unsalted fast hash of one (`sha256:<hex>`, the
//! form earlier versions documented) falls to a dictionary of every PIN in
//! milliseconds. New PINs are stored as `argon2:<PHC string>` (argon2id, a random
//! salt, 19 MiB and 2 passes: OWASP's minimum), which costs a guesser tens of
//! milliseconds per try even with the database in hand. `sha256:` values still
//! verify, so existing dialplans keep working; `spygroup pin set` writes the new form.
//!
//! The PHC string's parameters are written with `;` instead of `,`
//! (`m=19456;t=2;p=1`): the value reaches `Authenticate` through `${DB(...)}` as its
//! first argument, where a comma would end it.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};

/// The prefix of an argon2 PIN value.
pub const ARGON2: &str = "argon2:";
/// The prefix of a legacy SHA-256 PIN value.
pub const SHA256: &str = "sha256:";

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// `argon2:<PHC>` for `pin`, with a fresh random salt. Slow on purpose: call it
/// off the async threads.
pub fn hash_pin(pin: &str) -> String {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes make a salt");
    let phc = hasher()
        .hash_password(pin.as_bytes(), &salt)
        .expect("argon2 over a short PIN");
    format!("{ARGON2}{}", phc.to_string().replace(',', ";"))
}

/// Whether `entered` is the PIN `stored` (`argon2:…` or `sha256:…`). Anything else
/// is not a stored PIN and never matches. Slow for argon2: off the async threads.
pub fn verify_pin(stored: &str, entered: &str) -> bool {
    if let Some(phc) = stored.strip_prefix(ARGON2) {
        let phc = phc.trim().replace(';', ",");
        return PasswordHash::new(&phc)
            .is_ok_and(|h| hasher().verify_password(entered.as_bytes(), &h).is_ok());
    }
    if let Some(hex) = stored.strip_prefix(SHA256) {
        let mine = hex::encode(Sha256::digest(entered.as_bytes()));
        let theirs = hex.trim().to_ascii_lowercase();
        // Constant time: compare every byte.
        return mine.len() == theirs.len()
            && mine
                .bytes()
                .zip(theirs.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
    }
    false
}

/// A value a read-only reader must not see: a stored PIN or secret hash.
pub fn is_secret(value: &str) -> bool {
    value.starts_with(ARGON2) || value.starts_with(SHA256)
}

/// A PIN must be 4 to 16 digits.
pub fn valid_pin(pin: &str) -> bool {
    (4..=16).contains(&pin.len()) && pin.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_pins_verify_and_are_salted() {
        let a = hash_pin("4567");
        let b = hash_pin("4567");
        assert!(a.starts_with("argon2:$argon2id$"), "{a}");
        assert!(!a.contains(','), "a dialplan argument: {a}");
        assert_ne!(a, b, "a random salt each time");
        assert!(verify_pin(&a, "4567"));
        assert!(!verify_pin(&a, "4568"));
        assert!(!verify_pin("argon2:garbage", "4567"));
    }

    #[test]
    fn legacy_sha256_pins_still_verify() {
        let stored = format!("sha256:{}", hex::encode(Sha256::digest(b"4567")));
        assert!(verify_pin(&stored, "4567"));
        assert!(verify_pin(
            &stored.to_uppercase().replace("SHA256:", "sha256:"),
            "4567"
        ));
        assert!(!verify_pin(&stored, "1234"));
        assert!(
            !verify_pin("4567", "4567"),
            "a bare value is not a stored PIN"
        );
        assert!(is_secret(&stored) && !is_secret("4567"));
    }

    #[test]
    fn pins_are_digits() {
        assert!(valid_pin("4567") && valid_pin("1234567890123456"));
        for bad in ["123", "12a4", "", "12345678901234567"] {
            assert!(!valid_pin(bad), "{bad}");
        }
    }
}
