//! The physical-limit reference: a one-thread UDP relay, latch and forward, no SIP.
//!
//! `minirelay IP FIRST_PORT PAIRS` binds ports FIRST_PORT .. FIRST_PORT + 2*PAIRS - 1.
//! Ports 2k and 2k+1 (relative to FIRST_PORT) form pair k: a datagram arriving on one
//! latches its source as that port's peer and is forwarded, from the other port, to
//! the other port's latched peer (dropped until that side has sent once).
//! FIRST_PORT 0 binds every socket to a port the kernel picks. Once bound it prints
//! `ready` and the ports in order on one line.
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use std::io::ErrorKind;
use std::net::SocketAddr;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = || std::io::Error::other("usage: minirelay IP FIRST_PORT PAIRS");
    let ip: std::net::IpAddr = args.get(1).and_then(|s| s.parse().ok()).ok_or_else(usage)?;
    let first: u16 = args.get(2).and_then(|s| s.parse().ok()).ok_or_else(usage)?;
    let pairs: usize = args.get(3).and_then(|s| s.parse().ok()).ok_or_else(usage)?;
    let mut poll = Poll::new()?;
    let mut socks = Vec::with_capacity(pairs * 2);
    for i in 0..pairs * 2 {
        let port = if first == 0 { 0 } else { first + i as u16 };
        let mut s = UdpSocket::bind(SocketAddr::new(ip, port))?;
        poll.registry()
            .register(&mut s, Token(i), Interest::READABLE)?;
        socks.push(s);
    }
    let mut peers: Vec<Option<SocketAddr>> = vec![None; socks.len()];
    let ports: Vec<String> = socks
        .iter()
        .map(|s| s.local_addr().map(|a| a.port().to_string()))
        .collect::<Result<_, _>>()?;
    println!("ready {}", ports.join(" "));
    let mut events = Events::with_capacity(1024);
    let mut buf = [0u8; 2048];
    loop {
        poll.poll(&mut events, None)?;
        for ev in events.iter() {
            let i = ev.token().0;
            loop {
                match socks[i].recv_from(&mut buf) {
                    Ok((n, from)) => {
                        peers[i] = Some(from);
                        if let Some(to) = peers[i ^ 1] {
                            let _ = socks[i ^ 1].send_to(&buf[..n], to);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break,
                }
            }
        }
    }
}
