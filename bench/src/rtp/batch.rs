//! The tool's RTP system calls: datagrams sent and read in batches (`sendmmsg`,
//! `recvmmsg`), each read one with the kernel's arrival stamp (`SO_TIMESTAMPNS`),
//! and the pool of sockets that many call legs share.
//!
//! Why batches and shared sockets: on a core of its own the tool does per packet what
//! the relay under test does (one send that delivers into the other's socket, one
//! read), so it fell behind at the same load as the minimal relay it must drive past
//! its limit. A socket that many legs share takes one `sendmmsg` for all its legs due
//! in a 1 ms slot and one `recvmmsg` for up to `BATCH` arrivals, whatever leg they
//! are for (the stamp in each payload names its sender, see `super::stamp`).

use std::io;
use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

/// Datagrams per system call.
pub const BATCH: usize = 64;
/// Large enough for the tool's packets and the PBX's (172 bytes of G.711 RTP).
const BUF: usize = 512;
/// Receive buffer of a shared socket: a few hundred legs' packets over a stall of
/// the tool of several hundred ms.
const SHARED_RCVBUF: libc::c_int = 4 << 20;

/// Sockets that call legs share: each leg's SDP names one of them (round-robin).
pub struct RtpPool {
    socks: Vec<UdpSocket>,
    next: usize,
}

impl RtpPool {
    /// Binds `n` sockets with `bind` (the tool's port range).
    pub fn new(n: usize, mut bind: impl FnMut() -> io::Result<UdpSocket>) -> io::Result<RtpPool> {
        let mut socks = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            let s = bind()?;
            set_rcvbuf(&s, SHARED_RCVBUF);
            enable_rx_timestamps(&s);
            socks.push(s);
        }
        Ok(RtpPool { socks, next: 0 })
    }

    /// The next socket for a leg: a handle on one of the pool's (same port).
    pub fn next(&mut self) -> io::Result<UdpSocket> {
        let s = &self.socks[self.next % self.socks.len()];
        self.next += 1;
        s.try_clone()
    }
}

/// As large a receive buffer as the machine allows (root may exceed rmem_max).
fn set_rcvbuf(s: &UdpSocket, bytes: libc::c_int) {
    let set = |opt| {
        // SAFETY: setsockopt on a socket we own, with an int option value.
        unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&bytes as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        }
    };
    if set(libc::SO_RCVBUFFORCE) != 0 {
        set(libc::SO_RCVBUF);
    }
}

/// Asks the kernel to stamp every datagram the socket receives.
pub fn enable_rx_timestamps(sock: &UdpSocket) {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt on a socket we own, with an int option value.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// The offset from the kernel's clock of socket time stamps (`CLOCK_REALTIME`) to
/// the tool's monotonic clock ([`super::now_ns`]): read afresh every slot, so a
/// slewing wall clock moves it by nanoseconds between readings.
pub fn realtime_offset_ns() -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    let real = ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128;
    real - super::now_ns() as i128
}

fn sockaddr_v4(a: SocketAddr) -> libc::sockaddr_in {
    let v4 = match a {
        SocketAddr::V4(v4) => v4,
        // The tool runs on 127.0.0.1 only.
        SocketAddr::V6(_) => SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, a.port()),
    };
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// Up to `BATCH` datagrams, each with its own buffer and destination, sent with one
/// `sendmmsg`.
pub struct SendBatch {
    bufs: Box<[[u8; BUF]; BATCH]>,
    lens: [usize; BATCH],
    dests: [libc::sockaddr_in; BATCH],
    n: usize,
}

impl SendBatch {
    pub fn new() -> SendBatch {
        SendBatch {
            bufs: Box::new([[0; BUF]; BATCH]),
            lens: [0; BATCH],
            // SAFETY: all-zero is a valid sockaddr_in.
            dests: unsafe { std::mem::zeroed() },
            n: 0,
        }
    }
    pub fn is_full(&self) -> bool {
        self.n == BATCH
    }
    /// The buffer of the next datagram: the caller writes `len` bytes to it.
    pub fn push(&mut self, dest: SocketAddr, len: usize) -> &mut [u8] {
        let i = self.n;
        self.n += 1;
        self.dests[i] = sockaddr_v4(dest);
        self.lens[i] = len.min(BUF);
        &mut self.bufs[i][..len.min(BUF)]
    }
    /// Sends what was pushed on `fd` and empties the batch; per datagram, whether
    /// the kernel took it (a full buffer drops that one and the rest are tried).
    pub fn flush(&mut self, fd: RawFd, mut sent: impl FnMut(usize, bool)) {
        let n = std::mem::take(&mut self.n);
        // SAFETY: all-zero is valid for these plain C structs; the pointers set
        // below point into `self`, which outlives the call.
        let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..n {
            iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: self.lens[i],
            };
            msgs[i].msg_hdr.msg_name = (&mut self.dests[i] as *mut libc::sockaddr_in).cast();
            msgs[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as _;
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        let mut off = 0;
        while off < n {
            // SAFETY: sendmmsg over the n - off prepared headers.
            let r = unsafe {
                libc::sendmmsg(
                    fd,
                    msgs[off..].as_mut_ptr(),
                    (n - off) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if r > 0 {
                for i in off..off + r as usize {
                    sent(i, true);
                }
                off += r as usize;
            } else {
                // This one failed (EAGAIN, ECONNREFUSED...): counted, go on.
                if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                sent(off, false);
                off += 1;
            }
        }
    }
}

/// Buffers for one `recvmmsg` with arrival stamps, reused for every read.
pub struct RecvBatch {
    bufs: Box<[[u8; BUF]; BATCH]>,
    /// Room for one SCM_TIMESTAMPNS (a timespec) with its header, 8-byte aligned.
    controls: Box<[[u64; 8]; BATCH]>,
    lens: [usize; BATCH],
    stamps: [Option<i128>; BATCH],
}

impl RecvBatch {
    pub fn new() -> RecvBatch {
        RecvBatch {
            bufs: Box::new([[0; BUF]; BATCH]),
            controls: Box::new([[0; 8]; BATCH]),
            lens: [0; BATCH],
            stamps: [None; BATCH],
        }
    }

    /// Datagram `i` of the last read and its kernel arrival stamp (`CLOCK_REALTIME`
    /// ns; None when the kernel gave none).
    pub fn get(&self, i: usize) -> (&[u8], Option<i128>) {
        (&self.bufs[i][..self.lens[i]], self.stamps[i])
    }

    /// Reads up to `BATCH` queued datagrams from `fd` without blocking; how many
    /// (WouldBlock when none).
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        // SAFETY: all-zero is valid for these plain C structs; the pointers set
        // below point into `self`, which outlives the call.
        let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..BATCH {
            iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: BUF,
            };
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_control = self.controls[i].as_mut_ptr().cast();
            msgs[i].msg_hdr.msg_controllen = std::mem::size_of::<[u64; 8]>() as _;
        }
        // SAFETY: recvmmsg into the headers above.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = r as usize;
        for (i, m) in msgs.iter().enumerate().take(n) {
            self.lens[i] = (m.msg_len as usize).min(BUF);
            self.stamps[i] = None;
            // SAFETY: walking the control messages the kernel wrote for this
            // datagram, with the libc macros made for it.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(&m.msg_hdr);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_SOCKET
                        && (*c).cmsg_type == libc::SCM_TIMESTAMPNS
                    {
                        let ts =
                            std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                        self.stamps[i] =
                            Some(ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128);
                    }
                    c = libc::CMSG_NXTHDR(&m.msg_hdr, c);
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_goes_out_and_comes_back_stamped() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        enable_rx_timestamps(&rx);
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let mut b = SendBatch::new();
        for i in 0..5u8 {
            b.push(to, 3).copy_from_slice(&[i, i, i]);
        }
        let mut ok = 0;
        b.flush(tx.as_raw_fd(), |_, sent| ok += usize::from(sent));
        assert_eq!(ok, 5);
        let mut r = RecvBatch::new();
        let n = r.recv(rx.as_raw_fd()).unwrap();
        assert_eq!(n, 5);
        for i in 0..5 {
            let (data, stamp) = r.get(i);
            assert_eq!(data, &[i as u8; 3]);
            assert!(stamp.is_some());
        }
        assert!(r.recv(rx.as_raw_fd()).is_err(), "empty now: WouldBlock");
    }
}
