//! The I/O edge: SIP over UDP and TCP on one address.
//!
//! Reader tasks parse what arrives and hand whole messages to the core over a channel;
//! the core hands back `Transmit`s. Unparsable datagrams never reach the core: they are
//! dropped and counted here. TCP connections are kept per remote address so that a
//! phone registered over TCP is reached through the connection it opened (it is
//! usually behind NAT and listens nowhere else).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::message::{parse_datagram, parse_stream, Message, StreamItem};
use crate::peer::{Peer, Transport};

/// Largest SIP message we accept over TCP before closing the connection.
const MAX_TCP_BUFFER: usize = 256 * 1024;

/// A parsed message and where it came from.
#[derive(Debug)]
pub struct Inbound {
    pub peer: Peer,
    pub message: Message,
}

/// Counters an operator (and the tests) can read.
#[derive(Debug, Default)]
pub struct TransportStats {
    pub received: AtomicU64,
    pub sent: AtomicU64,
    /// Datagrams or stream bytes that did not parse as SIP; dropped without answer.
    pub unparsable: AtomicU64,
    pub send_errors: AtomicU64,
}

/// Sending side of the transports; cheap to clone.
#[derive(Clone)]
pub struct TransportHandle {
    udp: Arc<UdpSocket>,
    tcp: Arc<Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>>>,
    inbound: mpsc::Sender<Inbound>,
    stats: Arc<TransportStats>,
    local: SocketAddr,
}

impl TransportHandle {
    /// The address SIP is bound to (UDP and TCP share it).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub fn stats(&self) -> &TransportStats {
        &self.stats
    }

    /// Sends bytes to a peer. UDP errors are counted, not fatal; TCP reuses the
    /// connection the peer opened, or opens one.
    pub fn send(&self, peer: Peer, data: Vec<u8>) {
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        match peer.transport {
            Transport::Udp => {
                if let Err(e) = self.udp.try_send_to(&data, peer.addr) {
                    self.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                    debug!(%peer, "udp send failed: {e}");
                }
            }
            Transport::Tcp => self.send_tcp(peer.addr, data),
        }
    }

    fn send_tcp(&self, addr: SocketAddr, data: Vec<u8>) {
        let existing = self.tcp.lock().ok().and_then(|m| m.get(&addr).cloned());
        if let Some(tx) = existing {
            if tx.send(data).is_ok() {
                return;
            }
            return self.connect_tcp(addr, None);
        }
        self.connect_tcp(addr, Some(data));
    }

    /// Opens an outgoing TCP connection and serves it like an accepted one.
    fn connect_tcp(&self, addr: SocketAddr, first: Option<Vec<u8>>) {
        let this = self.clone();
        tokio::spawn(async move {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    let tx = this.register_connection(addr, stream);
                    if let Some(data) = first {
                        let _ = tx.send(data);
                    }
                }
                Err(e) => {
                    this.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                    warn!(%addr, "tcp connect failed: {e}");
                }
            }
        });
    }

    /// Splits a connection into a reader task (parsing into `inbound`) and a writer
    /// task (draining the returned sender).
    fn register_connection(
        &self,
        addr: SocketAddr,
        stream: TcpStream,
    ) -> mpsc::UnboundedSender<Vec<u8>> {
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        if let Ok(mut map) = self.tcp.lock() {
            map.insert(addr, tx.clone());
        }
        tokio::spawn(async move {
            while let Some(data) = rx.recv().await {
                if writer.write_all(&data).await.is_err() {
                    break;
                }
            }
        });
        let this = self.clone();
        tokio::spawn(async move {
            let peer = Peer::new(Transport::Tcp, addr);
            let mut buf: Vec<u8> = Vec::with_capacity(8192);
            let mut chunk = [0u8; 8192];
            'conn: loop {
                let n = match reader.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                loop {
                    match parse_stream(&buf) {
                        Ok(None) => break,
                        Ok(Some((item, used))) => {
                            buf.drain(..used);
                            if let StreamItem::Message(message) = item {
                                this.stats.received.fetch_add(1, Ordering::Relaxed);
                                if this.inbound.send(Inbound { peer, message }).await.is_err() {
                                    break 'conn;
                                }
                            }
                        }
                        Err(e) => {
                            // A stream cannot be resynchronised after garbage.
                            this.stats.unparsable.fetch_add(1, Ordering::Relaxed);
                            debug!(%peer, "closing tcp connection: {e}");
                            break 'conn;
                        }
                    }
                }
                if buf.len() > MAX_TCP_BUFFER {
                    this.stats.unparsable.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
            if let Ok(mut map) = this.tcp.lock() {
                map.remove(&addr);
            }
        });
        tx
    }
}

/// Binds UDP and TCP on `addr` and starts the reader tasks. Messages arrive on the
/// returned receiver.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TransportHandle, mpsc::Receiver<Inbound>)> {
    let udp = UdpSocket::bind(addr).await?;
    let local = udp.local_addr()?;
    // TCP shares the port UDP got (matters when addr asked for port 0).
    let listener = TcpListener::bind(local).await?;
    let (inbound, rx) = mpsc::channel(4096);
    let handle = TransportHandle {
        udp: Arc::new(udp),
        tcp: Arc::new(Mutex::new(HashMap::new())),
        inbound,
        stats: Arc::new(TransportStats::default()),
        local,
    };
    spawn_udp_reader(handle.clone());
    spawn_tcp_acceptor(handle.clone(), listener);
    Ok((handle, rx))
}

fn spawn_udp_reader(handle: TransportHandle) {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, from) = match handle.udp.recv_from(&mut buf).await {
                Ok(r) => r,
                // ICMP port unreachable surfaces as an error on some systems: keep going.
                Err(_) => continue,
            };
            let data = &buf[..n];
            // Keep-alives (CRLF or empty) are not messages.
            if data.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            match parse_datagram(data) {
                Ok(message) => {
                    handle.stats.received.fetch_add(1, Ordering::Relaxed);
                    let peer = Peer::new(Transport::Udp, from);
                    if handle
                        .inbound
                        .send(Inbound { peer, message })
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                Err(e) => {
                    handle.stats.unparsable.fetch_add(1, Ordering::Relaxed);
                    debug!(%from, "dropped unparsable datagram: {e}");
                }
            }
        }
    });
}

fn spawn_tcp_acceptor(handle: TransportHandle, listener: TcpListener) {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, addr)) => {
                    handle.register_connection(addr, stream);
                }
                Err(e) => {
                    warn!("tcp accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    });
}
