//! SIP request methods. Method names are case-sensitive (RFC 3261 7.1), so `invite`
//! is an extension method, not INVITE.

use std::fmt;
use std::str::FromStr;

use super::error::ParseError;
use super::params::is_token;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Info,
    Update,
    Refer,
    Notify,
    Subscribe,
    Message,
    Prack,
    Publish,
    /// Any other token, kept verbatim.
    Other(String),
}

impl Method {
    /// Map a token to a method; unknown tokens become `Other`. The caller is expected
    /// to have checked token syntax (see `FromStr` for the checking variant).
    pub fn from_token(token: &str) -> Method {
        match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "REFER" => Method::Refer,
            "NOTIFY" => Method::Notify,
            "SUBSCRIBE" => Method::Subscribe,
            "MESSAGE" => Method::Message,
            "PRACK" => Method::Prack,
            "PUBLISH" => Method::Publish,
            other => Method::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Refer => "REFER",
            Method::Notify => "NOTIFY",
            Method::Subscribe => "SUBSCRIBE",
            Method::Message => "MESSAGE",
            Method::Prack => "PRACK",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }
}

impl FromStr for Method {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_token(s) {
            Ok(Method::from_token(s))
        } else {
            Err(ParseError::InvalidMethod(super::error::truncate(s)))
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods_round_trip() {
        for m in [
            "INVITE",
            "ACK",
            "BYE",
            "CANCEL",
            "REGISTER",
            "OPTIONS",
            "INFO",
            "UPDATE",
            "REFER",
            "NOTIFY",
            "SUBSCRIBE",
            "MESSAGE",
            "PRACK",
            "PUBLISH",
        ] {
            let parsed: Method = m.parse().unwrap();
            assert!(!matches!(parsed, Method::Other(_)), "{m}");
            assert_eq!(parsed.to_string(), m);
        }
    }

    #[test]
    fn case_sensitive_and_extension() {
        assert_eq!(Method::from_token("invite"), Method::Other("invite".into()));
        assert_eq!(
            "NEWMETHOD".parse::<Method>().unwrap(),
            Method::Other("NEWMETHOD".into())
        );
        assert!("IN VITE".parse::<Method>().is_err());
        assert!("".parse::<Method>().is_err());
    }
}
