//! Batched datagram reads (`recvmmsg`) for the media threads.
//!
//! Sockets are watched edge-triggered, so each readiness event has to be followed
//! by reads until the socket is empty. With one `recv_from` per datagram, the read
//! that finds the socket empty is an extra system call for every event, and at 50
//! packets per second per leg most events carry one datagram. `recvmmsg` takes
//! everything queued (up to `BATCH`) in one call, and a short batch already says the
//! socket is empty.

use std::io;
use std::net::SocketAddr;

/// Datagrams taken per call.
pub(crate) const BATCH: usize = 8;
/// Large enough for any RTP packet that crosses an Ethernet path.
pub(crate) const BUF_LEN: usize = 2048;

/// Buffers for one batch, owned by a media thread and reused for every read.
pub(crate) struct RecvBatch {
    bufs: Box<[[u8; BUF_LEN]; BATCH]>,
    lens: [usize; BATCH],
    srcs: [Option<SocketAddr>; BATCH],
}

impl RecvBatch {
    pub fn new() -> RecvBatch {
        RecvBatch {
            bufs: Box::new([[0; BUF_LEN]; BATCH]),
            lens: [0; BATCH],
            srcs: [None; BATCH],
        }
    }

    /// Datagram `i` of the last batch as its whole receive buffer, the datagram's
    /// length, and where it came from (None for a source that is neither IPv4 nor
    /// IPv6, which the caller drops). The relay may grow a packet in place (an
    /// SRTP tag) into the room after it.
    pub fn get_with_room(&mut self, i: usize) -> (&mut [u8], usize, Option<SocketAddr>) {
        let n = self.lens[i];
        (&mut self.bufs[i][..], n, self.srcs[i])
    }

    /// Reads what `socket` has queued, up to `BATCH` datagrams, without blocking.
    /// `WouldBlock` when there is nothing.
    #[cfg(target_os = "linux")]
    pub fn recv(&mut self, socket: &mio::net::UdpSocket) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        // SAFETY: all-zero is a valid value for these plain C structs.
        let mut addrs: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
        let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..BATCH {
            iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: BUF_LEN,
            };
            msgs[i].msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
            msgs[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as _;
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points at a live buffer and address of the sizes
        // given; the kernel writes at most that much into each.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as _,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for i in 0..n {
            self.lens[i] = (msgs[i].msg_len as usize).min(BUF_LEN);
            self.srcs[i] = to_socket_addr(&addrs[i]);
        }
        Ok(n)
    }

    /// Elsewhere: one datagram per call.
    #[cfg(not(target_os = "linux"))]
    pub fn recv(&mut self, socket: &mio::net::UdpSocket) -> io::Result<usize> {
        let (n, src) = socket.recv_from(&mut self.bufs[0])?;
        self.lens[0] = n;
        self.srcs[0] = Some(src);
        Ok(1)
    }
}

#[cfg(target_os = "linux")]
fn to_socket_addr(a: &libc::sockaddr_storage) -> Option<SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    match i32::from(a.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, and
            // sockaddr_storage is large and aligned enough for it.
            let v4 = unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(v4.sin_port)).into())
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let v6 = unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            let port = u16::from_be(v6.sin6_port);
            Some(SocketAddrV6::new(ip, port, v6.sin6_flowinfo, v6.sin6_scope_id).into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_everything_queued_with_sources() {
        let rx = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let to = rx.local_addr().unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let from = tx.local_addr().unwrap();
        let mut batch = RecvBatch::new();
        let err = batch.recv(&rx).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);

        for k in 0..BATCH + 3 {
            tx.send_to(&vec![k as u8; 10 + k], to).unwrap();
        }
        // Loopback delivers synchronously, but give a slow machine a moment.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut seen = Vec::new();
        loop {
            match batch.recv(&rx) {
                Ok(n) => {
                    for i in 0..n {
                        let (buf, len, src) = batch.get_with_room(i);
                        let pkt = &buf[..len];
                        assert_eq!(src, Some(from));
                        assert_eq!(pkt.len(), 10 + pkt[0] as usize);
                        seen.push(pkt[0]);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        let expected: Vec<u8> = (0..(BATCH + 3) as u8).collect();
        assert_eq!(seen, expected);
    }
}
