//! The API and the web console over HTTPS, beside plain HTTP: browsers give a
//! page its microphone only in a secure context (HTTPS, or the PBX's own host), so
//! a supervisor whispering from another machine needs this. The certificate is the
//! SIP transport's (`tls_cert`, `tls_key`), re-read on SIGHUP for both.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::ConnectInfo;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// A client that does not finish its TLS handshake in this time is dropped.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Binds `addr` (before anything starts, so a busy port fails the start).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for HTTPS on {addr}"))
}

/// Serves `state`'s router on `listener` with `certs` until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    certs: Arc<sip::transport::Certificates>,
    state: api::ApiState,
    stop: impl std::future::Future<Output = ()>,
) {
    let acceptor = certs.acceptor();
    // Marks every request as sent over TLS: the console's cookie gets `Secure`.
    let app = api::router_with(state).layer(axum::Extension(api::OverTls));
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("HTTPS accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => return tracing::debug!(%peer, "HTTPS handshake failed: {e}"),
                Err(_) => return tracing::debug!(%peer, "HTTPS handshake timed out"),
            };
            let svc = TowerToHyperService::new(app.layer(axum::Extension(ConnectInfo(peer))));
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), svc)
                .with_upgrades()
                .await;
            if let Err(e) = served {
                tracing::debug!(%peer, "HTTPS connection ended: {e}");
            }
        });
    }
}
