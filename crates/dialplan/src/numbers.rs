//! How Asterisk reads text as a number or a condition. Substitution (`${X:off:len}`),
//! the functions (`CUT`, `IF`) and the interpreter (`GotoIf`, `ExecIf`) all read them
//! the same way, so the rules live here once.

/// C's `atoi`: leading blanks, a sign, digits; anything else ends it (0 if none).
pub(crate) fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let mut n: i64 = 0;
    for c in digits.chars() {
        let Some(d) = c.to_digit(10) else { break };
        n = n.saturating_mul(10).saturating_add(i64::from(d));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// Asterisk's `pbx_checkcondition`: empty is false, an integer is its value
/// (`0` false), anything else is true.
pub fn truthy(s: &str) -> bool {
    let s = s.trim();
    if s.is_empty() {
        return false;
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    if body.starts_with(|c: char| c.is_ascii_digit()) {
        atoi(s) != 0
    } else {
        true
    }
}
