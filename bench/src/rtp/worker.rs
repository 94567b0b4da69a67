//! One RTP worker thread: its legs' sends on a 20-slot 1 ms wheel, batched per
//! socket, and what arrives on its sockets sorted to the leg it is for.
//!
//! Legs that share a socket (an [`super::RtpPool`]) receive each other's streams on
//! it: a stamped packet names its sender's SSRC, and the receiver is the other leg
//! of that call (SSRCs 2k and 2k + 1). A socket of one leg (a supervisor's, a
//! waiting caller's) needs no stamp to know whose packet it is, so unstamped
//! streams (the mix a supervisor hears, music on hold) are counted there.

use super::batch::{realtime_offset_ns, RecvBatch, SendBatch, BATCH};
use super::{now_ns, stamp, unstamp, Kind, Leg, Stats, PAYLOAD, STAMP_NIBBLES};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

/// One socket of the worker and the legs that use it.
struct Sock {
    fd: RawFd,
    legs: Vec<usize>,
}

/// The worker's sockets: legs grouped by the local port they send from.
fn sockets(legs: &[Leg]) -> (Vec<Sock>, Vec<usize>) {
    let mut socks: Vec<Sock> = Vec::new();
    let mut by_port: HashMap<u16, usize> = HashMap::new();
    let mut of_leg = Vec::with_capacity(legs.len());
    for (i, l) in legs.iter().enumerate() {
        let s = match l.port() {
            Some(p) => *by_port.entry(p).or_insert_with(|| {
                socks.push(Sock {
                    fd: l.sock.as_raw_fd(),
                    legs: Vec::new(),
                });
                socks.len() - 1
            }),
            // No address: a socket of its own.
            None => {
                socks.push(Sock {
                    fd: l.sock.as_raw_fd(),
                    legs: Vec::new(),
                });
                socks.len() - 1
            }
        };
        socks[s].legs.push(i);
        of_leg.push(s);
    }
    (socks, of_leg)
}

/// The measurement window: `[w0, w1)` is measured, sending stops at `w1`, arrivals
/// are taken until `end`.
#[derive(Clone, Copy)]
struct Window {
    w0: u64,
    w1: u64,
    end: u64,
}

pub(super) fn run(mut legs: Vec<Leg>, start: u64, w0: u64, w1: u64, end: u64) -> (Vec<Leg>, Stats) {
    let win = Window { w0, w1, end };
    let mut st = Stats::default();
    let Ok(mut poll) = Poll::new() else {
        return (legs, st);
    };
    for l in &legs {
        let _ = l.sock.set_nonblocking(true);
        super::batch::enable_rx_timestamps(&l.sock);
    }
    let (socks, of_leg) = sockets(&legs);
    for (i, s) in socks.iter().enumerate() {
        let _ = poll
            .registry()
            .register(&mut SourceFd(&s.fd), Token(i), Interest::READABLE);
    }
    let by_ssrc: HashMap<u32, usize> = legs.iter().enumerate().map(|(i, l)| (l.ssrc, i)).collect();
    // Leg i sends in slot i % 20; within a slot, the legs of one socket together.
    let mut wheel: Vec<Vec<usize>> = vec![Vec::new(); 20];
    for i in 0..legs.len() {
        wheel[i % 20].push(i);
    }
    for slot in &mut wheel {
        slot.sort_by_key(|&i| of_leg[i]);
    }
    let mut events = Events::with_capacity(1024);
    let mut sends = SendBatch::new();
    let mut reads = RecvBatch::new();
    let mut tick: u64 = 0;
    let mut heard = vec![false; legs.len()];
    loop {
        let now = now_ns();
        if now >= end {
            break;
        }
        // Every slot that is due (catching up if the thread was held back).
        while start + tick * 1_000_000 <= now && start + tick * 1_000_000 < w1 {
            let due = start + tick * 1_000_000;
            let late = now_ns().saturating_sub(due);
            // In the window only: before it, the worker's own start (registering
            // thousands of sockets) holds the first slots back.
            if (w0..w1).contains(&due) {
                st.max_lag_ms = st.max_lag_ms.max(late as f64 / 1e6);
                st.send_late.add(late);
            }
            send_slot(
                &mut legs,
                &wheel[(tick % 20) as usize],
                &of_leg,
                &socks,
                &mut sends,
                &mut st,
                due,
                win,
            );
            tick += 1;
        }
        // Collect what arrived, without waiting: the arrival times are the kernel's.
        let offset = realtime_offset_ns();
        loop {
            if poll.poll(&mut events, Some(Duration::ZERO)).is_err() {
                break;
            }
            // Every datagram of this batch had arrived by now.
            let read_at = now_ns();
            for ev in events.iter() {
                let s = &socks[ev.token().0];
                loop {
                    let n = match reads.recv(s.fd) {
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        // WouldBlock: drained; anything else: nothing to read either.
                        Err(_) => break,
                    };
                    for k in 0..n {
                        let (data, kstamp) = reads.get(k);
                        // The kernel's arrival time on the tool's clock.
                        let r = kstamp
                            .map(|t| u64::try_from(t - offset).unwrap_or(0).min(read_at))
                            .unwrap_or(read_at);
                        if (w0..end).contains(&r) {
                            st.rx_delay.add(read_at - r);
                        }
                        let stamped = data.get(12..).and_then(unstamp);
                        let leg = match (s.legs.as_slice(), stamped) {
                            ([only], _) => Some(*only),
                            (_, Some((_, _, from))) => by_ssrc.get(&(from ^ 1)).copied(),
                            _ => None,
                        };
                        match leg {
                            Some(i) => {
                                account(&mut legs[i], &mut st, &mut heard[i], data, stamped, r, win)
                            }
                            None => st.unattributed += 1,
                        }
                    }
                    if n < BATCH {
                        break;
                    }
                }
            }
            // A full batch of events may have left ready sockets for another round.
            if events.iter().count() < events.capacity() {
                break;
            }
        }
        let next = (start + tick * 1_000_000).min(end);
        let wait = next.saturating_sub(now_ns());
        if wait > 0 {
            std::thread::sleep(Duration::from_nanos(wait));
        }
    }
    st.silent_legs = heard.iter().filter(|h| !**h).count();
    for s in &socks {
        let _ = poll.registry().deregister(&mut SourceFd(&s.fd));
    }
    // A leg starts each measurement afresh.
    for l in legs.iter_mut() {
        l.last = None;
    }
    (legs, st)
}

/// Sends one slot's packets, one `sendmmsg` per socket (per `BATCH` of its legs).
#[allow(clippy::too_many_arguments)]
fn send_slot(
    legs: &mut [Leg],
    slot: &[usize],
    of_leg: &[usize],
    socks: &[Sock],
    batch: &mut SendBatch,
    st: &mut Stats,
    due: u64,
    win: Window,
) {
    // The media clock follows real time (gaps between steps included).
    let ts = (due / 20_000_000).wrapping_mul(160) as u32;
    let mut t = 0;
    // The legs in the batch and the send time each one's stamp carries.
    let mut members: Vec<(usize, u64)> = Vec::with_capacity(BATCH);
    let mut k = 0;
    while k < slot.len() {
        let sock = of_leg[slot[k]];
        members.clear();
        while k < slot.len() && of_leg[slot[k]] == sock && !batch.is_full() {
            let i = slot[k];
            // The clock read once per 8 sends (a few microseconds apart): it was 8%
            // of the tool's time read per packet. A stamp taken before the send it
            // marks can only make a latency look longer.
            if members.len().is_multiple_of(8) {
                t = now_ns();
            }
            let l = &mut legs[i];
            let pkt = batch.push(l.remote, 12 + PAYLOAD);
            pkt.fill(0xff);
            pkt[0] = 0x80;
            pkt[1] = 0; // PCMU
            pkt[2..4].copy_from_slice(&(l.seq as u16).to_be_bytes());
            pkt[4..8].copy_from_slice(&ts.to_be_bytes());
            pkt[8..12].copy_from_slice(&l.ssrc.to_be_bytes());
            if l.kind != Kind::Spy {
                stamp(&mut pkt[12..12 + STAMP_NIBBLES], l.seq, t, l.ssrc);
            }
            l.seq = l.seq.wrapping_add(1);
            members.push((i, t));
            k += 1;
        }
        batch.flush(socks[sock].fd, |m, ok| {
            let (i, t) = members[m];
            let kind = legs[i].kind;
            if !ok {
                st.send_errors += 1;
            } else if kind != Kind::Spy && (win.w0..win.w1).contains(&t) {
                st.kinds[kind as usize].sent += 1;
            }
        });
    }
}

/// One arrival `data` for leg `l` at `r` (tool clock) into the statistics.
#[allow(clippy::too_many_arguments)]
fn account(
    l: &mut Leg,
    st: &mut Stats,
    heard: &mut bool,
    data: &[u8],
    stamped: Option<(u32, u64, u32)>,
    r: u64,
    win: Window,
) {
    let Window { w0, w1, end, .. } = win;
    let ks = &mut st.kinds[l.kind as usize];
    if (w0..end).contains(&r) {
        ks.recv_any += 1;
        *heard = true;
    }
    if data.len() < 12 + STAMP_NIBBLES {
        return;
    }
    match stamped {
        Some((_seq, s, _)) => {
            if (w0..w1).contains(&s) {
                ks.recv += 1;
                ks.latency.add(r.saturating_sub(s));
                if let Some((pr, ps)) = l.last {
                    let d = (r as i64 - pr as i64) - (s as i64 - ps as i64);
                    ks.jitter.add(d.unsigned_abs());
                }
            }
            l.last = Some((r, s));
        }
        None => {
            if (w0..w1).contains(&r) {
                ks.unstamped += 1;
                if data[12..].iter().any(|&b| b & 0x7f < 0x7c) {
                    ks.audible += 1;
                }
                if let Some((pr, _)) = l.last {
                    let d = r as i64 - pr as i64 - 20_000_000;
                    ks.arrival_dev.add(d.unsigned_abs());
                }
            }
            l.last = Some((r, 0));
        }
    }
}
