//! Location service: which contacts each address-of-record is registered at.
//!
//! I/O-free and clock-free: every call takes `now`, so the rules of RFC 3261
//! section 10.3 are tested in virtual time. The PBX authenticates the
//! REGISTER, extracts a [`RegisterRequest`], calls [`Registrar::apply`] and
//! maps a [`RegisterError`] to its status with
//! [`RegisterError::status_code`]. The store mirrors the bindings so they
//! survive a restart ([`Registrar::restore`]).
//!
//! AORs are opaque keys here; the caller canonicalises them (e.g. the
//! extension number). Contact URIs are compared as exact strings, which is
//! what phones send back on refresh.

mod types;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::Instant;

pub use types::{Binding, ContactEntry, RegisterError, RegisterRequest, RegistrarConfig};

/// A binding plus the order in which it was last written. A counter rather
/// than a timestamp ranks "most recent", so [`Binding`] stays plain data that
/// the store can rebuild without inventing a registration time.
#[derive(Debug, Clone)]
struct Slot {
    seq: u64,
    binding: Binding,
}

/// Bindings of every address-of-record.
#[derive(Debug, Default)]
pub struct Registrar {
    cfg: RegistrarConfig,
    aors: HashMap<String, Vec<Slot>>,
    next_seq: u64,
}

impl Registrar {
    pub fn new(cfg: RegistrarConfig) -> Registrar {
        Registrar {
            cfg,
            aors: HashMap::new(),
            next_seq: 0,
        }
    }

    pub fn config(&self) -> &RegistrarConfig {
        &self.cfg
    }

    /// Applies a REGISTER to `aor` and returns its bindings afterwards,
    /// highest `q` first then most recent, for the 200's Contact list
    /// (`;expires=` from [`Binding::remaining`]).
    ///
    /// All-or-nothing: every contact is validated before anything changes,
    /// so an error leaves the stored bindings as they were. A REGISTER with
    /// no Contact is a query and changes nothing.
    pub fn apply(
        &mut self,
        aor: &str,
        req: RegisterRequest,
        now: Instant,
    ) -> Result<Vec<Binding>, RegisterError> {
        let mut slots: Vec<Slot> = self
            .aors
            .get(aor)
            .map(|s| {
                s.iter()
                    .filter(|s| !s.binding.is_expired(now))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();

        if req.star {
            if !req.contacts.is_empty() || req.expires_header != Some(0) {
                return Err(RegisterError::InvalidStar);
            }
            for s in &slots {
                check_order(&s.binding, &req)?;
            }
            slots.clear();
        } else {
            // A URI listed twice counts once, the last occurrence winning.
            let mut contacts: Vec<&ContactEntry> = Vec::with_capacity(req.contacts.len());
            for c in req.contacts.iter().rev() {
                if !contacts.iter().any(|k| k.uri == c.uri) {
                    contacts.push(c);
                }
            }
            contacts.reverse();
            for c in contacts {
                let seq = self.next_seq;
                self.next_seq += 1;
                self.apply_contact(&mut slots, c, &req, seq, now)?;
            }
            if slots.len() > self.cfg.max_bindings_per_aor {
                return Err(RegisterError::TooManyBindings {
                    max: self.cfg.max_bindings_per_aor,
                });
            }
        }

        sort_for_lookup(&mut slots);
        let out = slots.iter().map(|s| s.binding.clone()).collect();
        if slots.is_empty() {
            self.aors.remove(aor);
        } else {
            self.aors.insert(aor.to_string(), slots);
        }
        Ok(out)
    }

    /// Adds, refreshes or removes the binding for one contact in `slots`.
    fn apply_contact(
        &self,
        slots: &mut Vec<Slot>,
        c: &ContactEntry,
        req: &RegisterRequest,
        seq: u64,
        now: Instant,
    ) -> Result<(), RegisterError> {
        if c.uri.trim().is_empty() {
            return Err(RegisterError::EmptyContact);
        }
        if let Some(q) = c.q {
            if !(0.0..=1.0).contains(&q) {
                return Err(RegisterError::InvalidQ(q));
            }
        }
        let requested = c
            .expires
            .or(req.expires_header)
            .unwrap_or(self.cfg.default_expires);
        if requested != 0 && requested < self.cfg.min_expires {
            return Err(RegisterError::IntervalTooBrief {
                min_expires: self.cfg.min_expires,
            });
        }
        let expires = requested.min(self.cfg.max_expires);

        let existing = slots.iter().position(|s| s.binding.contact_uri == c.uri);
        if let Some(i) = existing {
            check_order(&slots[i].binding, req)?;
        }
        let fresh = || Slot {
            seq,
            binding: Binding::new(c, req, expires, now),
        };
        match (existing, expires) {
            (Some(i), 0) => {
                slots.remove(i);
            }
            (None, 0) => {}
            (Some(i), _) => slots[i] = fresh(),
            (None, _) => slots.push(fresh()),
        }
        Ok(())
    }

    /// Live bindings of `aor`, highest `q` first, then most recently
    /// registered — the order to fork or hunt in.
    pub fn lookup(&self, aor: &str, now: Instant) -> Vec<Binding> {
        let mut live: Vec<&Slot> = self
            .aors
            .get(aor)
            .map(|s| s.iter().filter(|s| !s.binding.is_expired(now)).collect())
            .unwrap_or_default();
        live.sort_by(|a, b| lookup_order(a, b));
        live.into_iter().map(|s| s.binding.clone()).collect()
    }

    /// Has `aor` a live binding?
    pub fn is_registered(&self, aor: &str, now: Instant) -> bool {
        self.aors
            .get(aor)
            .is_some_and(|s| s.iter().any(|s| !s.binding.is_expired(now)))
    }

    /// Removes and returns expired bindings, so the caller can delete them
    /// from the store and emit "unregistered" events.
    pub fn purge_expired(&mut self, now: Instant) -> Vec<(String, Binding)> {
        let mut gone = Vec::new();
        self.aors.retain(|aor, slots| {
            slots.retain(|s| {
                if s.binding.is_expired(now) {
                    gone.push((aor.clone(), s.binding.clone()));
                    false
                } else {
                    true
                }
            });
            !slots.is_empty()
        });
        gone
    }

    /// Every stored binding (expired ones not yet purged included), in no
    /// particular order.
    pub fn all(&self) -> impl Iterator<Item = (&str, &Binding)> + '_ {
        self.aors
            .iter()
            .flat_map(|(aor, s)| s.iter().map(move |s| (aor.as_str(), &s.binding)))
    }

    /// Re-inserts a binding loaded from the store at start-up, replacing one
    /// with the same contact URI; later restores count as more recent.
    /// Stored data is trusted, so the per-AOR cap is not applied.
    pub fn restore(&mut self, aor: &str, binding: Binding) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slots = self.aors.entry(aor.to_string()).or_default();
        let slot = Slot { seq, binding };
        match slots
            .iter_mut()
            .find(|s| s.binding.contact_uri == slot.binding.contact_uri)
        {
            Some(existing) => *existing = slot,
            None => slots.push(slot),
        }
    }

    /// Number of AORs with at least one stored binding.
    pub fn aor_count(&self) -> usize {
        self.aors.len()
    }
}

/// RFC 3261 10.3 step 7: a request with the stored Call-ID must carry a
/// higher CSeq, or it is a delayed retransmission of an older REGISTER.
fn check_order(b: &Binding, req: &RegisterRequest) -> Result<(), RegisterError> {
    if b.call_id == req.call_id && req.cseq <= b.cseq {
        return Err(RegisterError::OutOfOrder);
    }
    Ok(())
}

fn lookup_order(a: &Slot, b: &Slot) -> std::cmp::Ordering {
    b.binding
        .priority()
        .total_cmp(&a.binding.priority())
        .then(b.seq.cmp(&a.seq))
}

fn sort_for_lookup(slots: &mut [Slot]) {
    slots.sort_by(lookup_order);
}
