//! SIP digest authentication, server side (RFC 2617, RFC 7616, RFC 8760).
//!
//! Written in-house rather than borrowed: the verifiers we looked at formatted
//! `nc` in decimal or parsed it into a `u8`, which breaks after 255 requests
//! on one nonce and never matches clients that send `nc=0000000a`.
//!
//! Flow inside the PBX for a REGISTER or INVITE:
//! 1. no `Authorization`/`Proxy-Authorization` header → answer 401/407 with the
//!    two offers from [`Challenge::offers`] (SHA-256 first, then MD5) using a
//!    nonce from [`NonceTracker::issue`];
//! 2. header present → [`Credentials::parse`] (parse error → 400), check the
//!    realm is ours and `uri` matches the Request-URI, fetch the user's HA1
//!    for `creds.algorithm`, then [`verify`];
//! 3. only when `verify` succeeds, [`NonceTracker::check`] the nonce and `nc`
//!    (`Stale` → re-challenge with `stale=true`; `Unknown`/`Replay` → plain
//!    re-challenge). Checking after verifying keeps an attacker who saw a
//!    nonce from burning its `nc` space with forged responses.
//!
//! Unknown users and wrong passwords must look identical from outside: the PBX
//! answers both with the same 401/403 flow and the same timing (verify against
//! a dummy HA1 when the user does not exist), and [`LockoutTracker`] counts
//! both as failures.

mod algorithm;
mod challenge;
mod credentials;
mod digest;
mod error;
mod lockout;
mod nonce;
mod params;

pub use algorithm::{ha1, Algorithm};
pub use challenge::Challenge;
pub use credentials::Credentials;
pub use digest::{constant_time_eq, expected_response, verify};
pub use error::AuthError;
pub use lockout::{Lock, LockoutConfig, LockoutTracker, Subject as LockSubject};
pub use nonce::{NonceCheck, NonceTracker, DEFAULT_MAX_LIVE};
