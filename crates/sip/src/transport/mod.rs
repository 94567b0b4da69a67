//! The I/O edge: SIP over UDP and TCP on one address, and over TLS on another.
//!
//! Reader tasks parse what arrives and hand whole messages to the core over a channel;
//! the core hands back `Transmit`s. Unparsable datagrams never reach the core: they are
//! dropped and counted here. Stream connections (TCP, TLS) are kept per remote address
//! so that a phone registered over one is reached through the connection it opened (it
//! is usually behind NAT and listens nowhere else). Who may open connections, and how
//! long they may sit idle, is `limits.rs`; the TLS certificate is `tls.rs`.

mod limits;
mod tls;

pub use limits::{ConnectionGuard, ConnectionLimits, Refusal};
pub use tls::{Certificates, TlsError, TlsFiles};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
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
    /// Stream connections closed at once by `ConnectionLimits`.
    pub connections_refused: AtomicU64,
    /// Stream connections closed for saying nothing (`idle`, `first_message`).
    pub connections_idle_closed: AtomicU64,
    /// TLS handshakes that failed (wrong version, bad client, a scanner).
    pub tls_handshake_failures: AtomicU64,
}

/// What to listen on besides UDP and TCP.
#[derive(Debug, Default)]
pub struct TransportConfig {
    /// SIP over TLS: the listener (bound by the caller, who can then say which
    /// address was taken) and its certificate.
    pub tls: Option<(TcpListener, Arc<Certificates>)>,
    pub limits: ConnectionLimits,
}

/// The open stream connections, by transport and remote address.
type Connections = HashMap<(Transport, SocketAddr), mpsc::UnboundedSender<Vec<u8>>>;

/// Sending side of the transports; cheap to clone.
#[derive(Clone)]
pub struct TransportHandle {
    udp: Arc<UdpSocket>,
    streams: Arc<Mutex<Connections>>,
    guard: Arc<Mutex<ConnectionGuard>>,
    inbound: mpsc::Sender<Inbound>,
    stats: Arc<TransportStats>,
    local: SocketAddr,
    tls: Option<(SocketAddr, Arc<Certificates>)>,
}

impl TransportHandle {
    /// The address SIP is bound to (UDP and TCP share it).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The TLS listener's address, when there is one.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().map(|(a, _)| *a)
    }

    /// Reads the TLS certificate and key again (SIGHUP). Without TLS, nothing to do.
    pub fn reload_tls(&self) -> Result<bool, TlsError> {
        match &self.tls {
            Some((_, certs)) => certs.reload().map(|()| true),
            None => Ok(false),
        }
    }

    pub fn stats(&self) -> &TransportStats {
        &self.stats
    }

    /// Stream connections open now (TCP and TLS).
    pub fn open_connections(&self) -> usize {
        self.guard.lock().map(|g| g.open()).unwrap_or(0)
    }

    /// Sends bytes to a peer. UDP errors are counted, not fatal; TCP reuses the
    /// connection the peer opened, or opens one; TLS only reuses (phones connect to
    /// us, and a phone is no TLS server we could verify).
    pub fn send(&self, peer: Peer, data: Vec<u8>) {
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        match peer.transport {
            Transport::Udp => {
                if let Err(e) = self.udp.try_send_to(&data, peer.addr) {
                    self.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                    debug!(%peer, "udp send failed: {e}");
                }
            }
            Transport::Tcp | Transport::Tls => self.send_stream(peer, data),
        }
    }

    fn send_stream(&self, peer: Peer, data: Vec<u8>) {
        let key = (peer.transport, peer.addr);
        let existing = self.streams.lock().ok().and_then(|m| m.get(&key).cloned());
        let data = match existing {
            Some(tx) => match tx.send(data) {
                Ok(()) => return,
                Err(e) => e.0,
            },
            None => data,
        };
        if peer.transport == Transport::Tcp {
            return self.connect_tcp(peer.addr, data);
        }
        self.stats.send_errors.fetch_add(1, Ordering::Relaxed);
        warn!(%peer, "no TLS connection open to this phone; it is reached again once it reconnects");
    }

    /// Opens an outgoing TCP connection and serves it like an accepted one.
    fn connect_tcp(&self, addr: SocketAddr, first: Vec<u8>) {
        let this = self.clone();
        tokio::spawn(async move {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    let tx = this.serve_stream(Peer::new(Transport::Tcp, addr), stream, None);
                    let _ = tx.send(first);
                }
                Err(e) => {
                    this.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                    warn!(%addr, "tcp connect failed: {e}");
                }
            }
        });
    }

    /// Splits a connection into a reader task (parsing into `inbound`) and a writer
    /// task (draining the returned sender). `admitted`: the guard counted it (an
    /// accepted connection) and must be told when it closes.
    fn serve_stream<S>(
        &self,
        peer: Peer,
        stream: S,
        admitted: Option<Instant>,
    ) -> mpsc::UnboundedSender<Vec<u8>>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (mut reader, mut writer) = tokio::io::split(stream);
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        if let Ok(mut map) = self.streams.lock() {
            map.insert((peer.transport, peer.addr), tx.clone());
        }
        tokio::spawn(async move {
            while let Some(data) = rx.recv().await {
                if writer.write_all(&data).await.is_err() {
                    break;
                }
            }
            let _ = writer.shutdown().await;
        });
        let this = self.clone();
        let limits = self.limits();
        let tx_for_close = tx.clone();
        tokio::spawn(async move {
            let mut buf: Vec<u8> = Vec::with_capacity(8192);
            let mut chunk = [0u8; 8192];
            let mut wait = limits.first_message;
            'conn: loop {
                let n = match tokio::time::timeout(wait, reader.read(&mut chunk)).await {
                    Err(_) => {
                        this.stats
                            .connections_idle_closed
                            .fetch_add(1, Ordering::Relaxed);
                        debug!(%peer, "closing idle connection");
                        break;
                    }
                    Ok(Ok(0) | Err(_)) => break,
                    Ok(Ok(n)) => n,
                };
                wait = limits.idle;
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
                            debug!(%peer, "closing {} connection: {e}", peer.transport);
                            break 'conn;
                        }
                    }
                }
                if buf.len() > MAX_TCP_BUFFER {
                    this.stats.unparsable.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
            if let Ok(mut map) = this.streams.lock() {
                // Only our own entry: a newer connection from the same address
                // (a phone that reconnected from the same port) stays.
                let key = (peer.transport, peer.addr);
                if map.get(&key).is_some_and(|t| t.same_channel(&tx_for_close)) {
                    map.remove(&key);
                }
            }
            if admitted.is_some() {
                this.release(peer.addr);
            }
        });
        tx
    }

    fn limits(&self) -> ConnectionLimits {
        self.guard.lock().map(|g| *g.limits()).unwrap_or_default()
    }

    /// Asks the guard whether an accepted connection may stay.
    fn admit(&self, addr: SocketAddr) -> bool {
        let verdict = match self.guard.lock() {
            Ok(mut g) => g.admit(addr.ip(), Instant::now()),
            Err(_) => Ok(()),
        };
        match verdict {
            Ok(()) => true,
            Err(why) => {
                self.stats
                    .connections_refused
                    .fetch_add(1, Ordering::Relaxed);
                debug!(%addr, "connection refused: {}", why.as_str());
                false
            }
        }
    }

    fn release(&self, addr: SocketAddr) {
        if let Ok(mut g) = self.guard.lock() {
            g.release(addr.ip(), Instant::now());
        }
    }
}

/// Binds UDP and TCP on `addr` and starts the reader tasks. Messages arrive on the
/// returned receiver.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TransportHandle, mpsc::Receiver<Inbound>)> {
    bind_with(addr, TransportConfig::default()).await
}

/// `bind`, plus TLS and connection limits as `config` says.
pub async fn bind_with(
    addr: SocketAddr,
    config: TransportConfig,
) -> std::io::Result<(TransportHandle, mpsc::Receiver<Inbound>)> {
    let udp = UdpSocket::bind(addr).await?;
    let local = udp.local_addr()?;
    // TCP shares the port UDP got (matters when addr asked for port 0).
    let listener = TcpListener::bind(local).await?;
    let tls = match config.tls {
        Some((l, certs)) => Some((l.local_addr()?, certs, l)),
        None => None,
    };
    let (inbound, rx) = mpsc::channel(4096);
    let handle = TransportHandle {
        udp: Arc::new(udp),
        streams: Arc::new(Mutex::new(HashMap::new())),
        guard: Arc::new(Mutex::new(ConnectionGuard::new(config.limits))),
        inbound,
        stats: Arc::new(TransportStats::default()),
        local,
        tls: tls.as_ref().map(|(a, c, _)| (*a, c.clone())),
    };
    spawn_udp_reader(handle.clone());
    spawn_acceptor(handle.clone(), listener, None);
    if let Some((_, certs, l)) = tls {
        spawn_acceptor(handle.clone(), l, Some(certs.acceptor()));
    }
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

/// Accepts stream connections, TCP or (with an acceptor) TLS. The guard decides
/// before any handshake; the handshake itself must finish within the first-message
/// time, so a peer that opens a socket and sends nothing holds it only that long.
fn spawn_acceptor(
    handle: TransportHandle,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    tokio::spawn(async move {
        loop {
            let (stream, addr) = match listener.accept().await {
                Ok(r) => r,
                Err(e) => {
                    warn!(
                        "{} accept failed: {e}",
                        if tls.is_some() { "tls" } else { "tcp" }
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            if !handle.admit(addr) {
                drop(stream);
                continue;
            }
            let _ = stream.set_nodelay(true);
            let admitted = Some(Instant::now());
            let Some(acceptor) = tls.clone() else {
                handle.serve_stream(Peer::new(Transport::Tcp, addr), stream, admitted);
                continue;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let wait = handle.limits().first_message;
                let why = match tokio::time::timeout(wait, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        handle.serve_stream(Peer::new(Transport::Tls, addr), tls, admitted);
                        return;
                    }
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "timed out".to_string(),
                };
                handle
                    .stats
                    .tls_handshake_failures
                    .fetch_add(1, Ordering::Relaxed);
                debug!(%addr, "TLS handshake failed: {why}");
                handle.release(addr);
            });
        }
    });
}
