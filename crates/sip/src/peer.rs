//! Where a message came from or goes to: the transport edge hands the core a `Peer`
//! with every message and takes one back with every transmit.

use std::fmt;
use std::net::SocketAddr;

/// Transport protocol of a peer. Reliable transports (TCP, TLS) switch off
/// retransmissions in the transaction layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// Upper-case token as used in the Via header (`SIP/2.0/UDP`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// True for transports that deliver reliably, so no retransmission is needed.
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp | Transport::Tls)
    }

    /// Whether the signalling is encrypted (what `require_tls` asks for, and what
    /// makes SDES keys in SDP safe to send).
    pub fn is_secure(self) -> bool {
        self == Transport::Tls
    }

    /// The `transport=` URI parameter (RFC 3261 19.1.1) for a Contact on this
    /// transport; UDP, the default, needs none.
    pub fn uri_param(self) -> Option<&'static str> {
        match self {
            Transport::Udp => None,
            Transport::Tcp => Some("tcp"),
            Transport::Tls => Some("tls"),
        }
    }

    /// Reads a transport name as stored or written in a Via (`udp`, `TCP`, `tls`).
    pub fn from_name(name: &str) -> Option<Transport> {
        [Transport::Udp, Transport::Tcp, Transport::Tls]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The remote end of a message: transport plus socket address. For TCP the address
/// identifies the connection to reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub transport: Transport,
    pub addr: SocketAddr,
}

impl Peer {
    pub fn new(transport: Transport, addr: SocketAddr) -> Self {
        Peer { transport, addr }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_reliability() {
        let p = Peer::new(Transport::Tcp, "127.0.0.1:5060".parse().unwrap());
        assert_eq!(p.to_string(), "TCP:127.0.0.1:5060");
        assert_eq!(Transport::Udp.to_string(), "UDP");
        assert!(Transport::Tcp.is_reliable());
        assert!(!Transport::Udp.is_reliable());
        assert!(Transport::Tls.is_reliable() && Transport::Tls.is_secure());
        assert_eq!(Transport::from_name("tls"), Some(Transport::Tls));
        assert_eq!(Transport::from_name("sctp"), None);
    }
}
