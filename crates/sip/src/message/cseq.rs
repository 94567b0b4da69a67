//! The CSeq header: sequence number plus method (RFC 3261 20.16).

use std::fmt;
use std::str::FromStr;

use super::error::ParseError;
use super::method::Method;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    pub fn new(seq: u32, method: Method) -> Self {
        CSeq { seq, method }
    }
}

impl FromStr for CSeq {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseError::header("CSeq", input, reason);
        let mut it = input.split_whitespace();
        let (Some(num), Some(method), None) = (it.next(), it.next(), it.next()) else {
            return Err(err("expected '<number> <method>'"));
        };
        if !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("sequence number is not a number"));
        }
        // RFC 3261 8.1.1.5: the number must be below 2**31.
        let seq: u32 = num.parse().map_err(|_| err("sequence number too large"))?;
        if seq >= 1 << 31 {
            return Err(err("sequence number too large"));
        }
        let method = method.parse().map_err(|_| err("invalid method"))?;
        Ok(CSeq { seq, method })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_display_and_errors() {
        let c: CSeq = "  4711   INVITE ".parse().unwrap();
        assert_eq!(c, CSeq::new(4711, Method::Invite));
        assert_eq!(c.to_string(), "4711 INVITE");
        for bad in [
            "",
            "1",
            "x INVITE",
            "1 INVITE extra",
            "-1 BYE",
            "2147483648 BYE",
            "99999999999 BYE",
        ] {
            assert!(bad.parse::<CSeq>().is_err(), "{bad:?}");
        }
    }
}
