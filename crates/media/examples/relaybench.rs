//! What one media thread spends per relayed packet, sockets included (figures, not
//! a test): `calls` bridges on one media thread, both phones of every call sending
//! PCMU every 20 ms over loopback from this process's main thread. The media
//! thread's CPU time (from `/proc`, in ns) is divided by the packets it relayed.
//!
//! Run: cargo run --release -p media --example relaybench -- [calls] [seconds]
//! Linux only (it reads `/proc/self/task/*/schedstat`).

use media::rtp::PayloadTypes;
use media::{MediaBridge, MediaEngine, Side};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// What a G.711 phone's SDP lists: PCMU, PCMA, telephone-event.
const G711: PayloadTypes = PayloadTypes::of(&[0, 8, 101]);

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// CPU time of the thread named `name` in ns, from the scheduler's statistics.
fn thread_cpu_ns(name: &str) -> Option<u64> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
        if comm.trim() == name {
            let stat = std::fs::read_to_string(dir.join("schedstat")).ok()?;
            return stat.split_whitespace().next()?.parse().ok();
        }
    }
    None
}

struct Call {
    bridge: MediaBridge,
    phones: [UdpSocket; 2],
}

fn packet(seq: u16, ssrc: u32) -> [u8; 172] {
    let mut p = [0xffu8; 172];
    p[0] = 0x80;
    p[1] = 0;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p
}

fn main() {
    let mut args = std::env::args().skip(1);
    let calls: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let first = 30_000u16;
    let last = first + u16::try_from(calls * 4 + 400).expect("too many calls");
    let engine = MediaEngine::with_threads(LOCALHOST, first..=last, 1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut all = Vec::with_capacity(calls);
    for _ in 0..calls {
        let bridge = rt.block_on(engine.open_bridge()).expect("open a bridge");
        let phones = [0, 1].map(|_| {
            let s = UdpSocket::bind((LOCALHOST, 0)).expect("bind a phone");
            s.set_nonblocking(true).expect("non-blocking");
            s
        });
        bridge.set_remote(Side::A, phones[0].local_addr().unwrap(), None, G711);
        bridge.set_remote(Side::B, phones[1].local_addr().unwrap(), None, G711);
        all.push(Call { bridge, phones });
    }
    let mut buf = [0u8; 2048];
    let mut seq = 0u16;
    let mut run = |ticks: u64, seq: &mut u16| {
        let t0 = Instant::now();
        for k in 0..ticks {
            for c in &all {
                for (i, side) in [Side::A, Side::B].into_iter().enumerate() {
                    let to = SocketAddr::new(LOCALHOST, c.bridge.port(side));
                    let _ = c.phones[i].send_to(&packet(*seq, 1 + i as u32), to);
                }
            }
            *seq = seq.wrapping_add(1);
            std::thread::sleep(
                (t0 + Duration::from_millis(20 * (k + 1)))
                    .saturating_duration_since(Instant::now()),
            );
            for c in &all {
                for p in &c.phones {
                    while p.recv_from(&mut buf).is_ok() {}
                }
            }
        }
    };
    // Warm up (latching, caches), then measure.
    run(50, &mut seq);
    let sent = |all: &[Call]| -> u64 {
        all.iter()
            .map(|c| {
                let s = c.bridge.stats();
                s.a.packets_out + s.b.packets_out
            })
            .sum()
    };
    let (cpu0, out0) = (thread_cpu_ns("media-0").expect("media thread"), sent(&all));
    run(secs * 50, &mut seq);
    let (cpu1, out1) = (thread_cpu_ns("media-0").expect("media thread"), sent(&all));
    let packets = out1 - out0;
    let cpu = cpu1 - cpu0;
    println!(
        "{calls} calls, {secs} s: {packets} packets relayed, media thread {:.1} ms CPU = {:.0} ns per packet ({:.1}% of a core)",
        cpu as f64 / 1e6,
        cpu as f64 / packets.max(1) as f64,
        cpu as f64 / (secs as f64 * 1e9) * 100.0
    );
}
