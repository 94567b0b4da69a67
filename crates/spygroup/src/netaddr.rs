//! Finding the address other hosts reach us on, for SDP when SIP listens on 0.0.0.0.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};

/// The local address the kernel would use to reach the outside: a UDP socket
/// "connected" to a documentation address (TEST-NET-1 / 2001:db8::) picks a route
/// without sending a packet. Falls back to 127.0.0.1 when there is no route.
pub fn outgoing_ip(ipv6: bool) -> IpAddr {
    let (bind, probe) = if ipv6 {
        ("[::]:0", "[2001:db8::1]:9")
    } else {
        ("0.0.0.0:0", "192.0.2.1:9")
    };
    UdpSocket::bind(bind)
        .and_then(|s| {
            s.connect(probe)?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// The media address for a SIP listen address: the same IP unless it is a wildcard.
pub fn media_ip_for(sip_ip: IpAddr) -> IpAddr {
    if sip_ip.is_unspecified() {
        outgoing_ip(sip_ip.is_ipv6())
    } else {
        sip_ip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specific_addresses_are_kept() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(media_ip_for(ip), ip);
    }

    #[test]
    fn wildcard_gives_a_concrete_address() {
        let ip = media_ip_for("0.0.0.0".parse().unwrap());
        assert!(!ip.is_unspecified());
        assert!(ip.is_ipv4());
    }
}
