//! Data handed to and returned by the registrar.

use std::time::{Duration, Instant};

use sip::Peer;

/// Limits applied to REGISTER requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Shortest non-zero expiry accepted; shorter gets 423 with Min-Expires.
    pub min_expires: u32,
    /// Longer requested expiries are silently shortened to this.
    pub max_expires: u32,
    /// Used when neither the Contact nor an Expires header gives one.
    pub default_expires: u32,
    /// Most contacts one address-of-record may have at once.
    pub max_bindings_per_aor: usize,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_bindings_per_aor: 10,
        }
    }
}

/// One Contact of a REGISTER.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactEntry {
    pub uri: String,
    /// The Contact's `;expires=` parameter, which overrides the Expires header.
    pub expires: Option<u32>,
    /// The Contact's `;q=` parameter (0.0 to 1.0).
    pub q: Option<f32>,
}

/// What the registrar needs from a REGISTER, already authenticated and
/// parsed by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterRequest {
    pub contacts: Vec<ContactEntry>,
    /// `Contact: *` (remove all bindings; only valid alone with Expires: 0).
    pub star: bool,
    pub expires_header: Option<u32>,
    pub call_id: String,
    pub cseq: u32,
    /// Transport and address the REGISTER arrived from.
    pub source: Peer,
    pub user_agent: Option<String>,
}

/// A registered contact of an address-of-record.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub contact_uri: String,
    /// Where the REGISTER came from. Requests to this contact are sent here,
    /// not to the Contact's host: behind NAT the Contact holds a private
    /// address (Asterisk's `force_rport` + `comedia` behaviour).
    pub source: Peer,
    /// Absolute expiry. Persist it as `remaining(now)` seconds (or wall-clock
    /// time) and rebuild with `now + remaining` on restore, since `Instant`
    /// means nothing across restarts.
    pub expires_at: Instant,
    pub call_id: String,
    pub cseq: u32,
    pub q: Option<f32>,
    pub user_agent: Option<String>,
}

impl Binding {
    /// Seconds left before expiry, rounded up so a live binding never
    /// reports `expires=0` (which a phone would read as un-registered).
    pub fn remaining(&self, now: Instant) -> u32 {
        let left = self.expires_at.saturating_duration_since(now);
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    /// True once `now` has reached the expiry instant.
    pub fn is_expired(&self, now: Instant) -> bool {
        now >= self.expires_at
    }

    /// `q` used for ordering: an absent `q` ranks as 1.0, the highest.
    pub fn priority(&self) -> f32 {
        self.q.unwrap_or(1.0)
    }

    pub(super) fn new(
        contact: &ContactEntry,
        req: &RegisterRequest,
        expires: u32,
        now: Instant,
    ) -> Binding {
        Binding {
            contact_uri: contact.uri.clone(),
            source: req.source,
            expires_at: now + Duration::from_secs(expires.into()),
            call_id: req.call_id.clone(),
            cseq: req.cseq,
            q: contact.q,
            user_agent: req.user_agent.clone(),
        }
    }
}

/// Why a REGISTER was refused; nothing was changed when this is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegisterError {
    #[error("Contact: * must be the only Contact and needs Expires: 0")]
    InvalidStar,
    #[error("registration interval too brief; minimum is {min_expires} s")]
    IntervalTooBrief { min_expires: u32 },
    /// Same Call-ID as a stored binding but a CSeq not above it: a delayed
    /// copy of an older REGISTER.
    #[error("out-of-order REGISTER: CSeq not above the one stored for this Call-ID")]
    OutOfOrder,
    #[error("too many contacts for this address-of-record (maximum {max})")]
    TooManyBindings { max: usize },
    #[error("Contact q value {0} is outside 0.0..=1.0")]
    InvalidQ(f32),
    #[error("empty Contact URI")]
    EmptyContact,
}

impl RegisterError {
    /// SIP status the PBX answers with: 400 for malformed requests,
    /// 423 (with `Min-Expires`) for short intervals, 500 for out-of-order
    /// requests (RFC 3261 section 10.3 step 7), 403 for too many contacts
    /// (as Asterisk's `max_contacts` does).
    pub fn status_code(&self) -> u16 {
        match self {
            RegisterError::InvalidStar
            | RegisterError::InvalidQ(_)
            | RegisterError::EmptyContact => 400,
            RegisterError::IntervalTooBrief { .. } => 423,
            RegisterError::OutOfOrder => 500,
            RegisterError::TooManyBindings { .. } => 403,
        }
    }
}
