//! Fresh identifiers for branches, tags and Call-IDs. They must be globally unique
//! (RFC 3261 8.1.1.4, 8.1.1.7, 19.3), so they come from the thread RNG with enough
//! bits that collisions are not a practical concern.

/// RFC 3261 magic cookie that marks a branch as globally unique (8.1.1.7).
pub const BRANCH_COOKIE: &str = "z9hG4bK";

fn random_hex(bytes: usize) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes * 2);
    for _ in 0..bytes {
        let b: u8 = rand::random();
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A new Via branch: the magic cookie followed by 128 random bits.
pub fn new_branch() -> String {
    format!("{BRANCH_COOKIE}{}", random_hex(16))
}

/// A new From/To tag (64 random bits; RFC 3261 asks for at least 32).
pub fn new_tag() -> String {
    random_hex(8)
}

/// A new Call-ID `random@host`; the host part only helps humans reading traces.
pub fn new_call_id(host: &str) -> String {
    let id = random_hex(16);
    if host.is_empty() {
        id
    } else {
        format!("{id}@{host}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_uniqueness() {
        let b = new_branch();
        assert!(b.starts_with(BRANCH_COOKIE));
        assert_eq!(b.len(), BRANCH_COOKIE.len() + 32);
        assert_ne!(new_branch(), b);
        let t = new_tag();
        assert_eq!(t.len(), 16);
        assert!(t.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(new_tag(), t);
        assert!(new_call_id("pbx.example").ends_with("@pbx.example"));
        assert!(!new_call_id("").contains('@'));
    }
}
