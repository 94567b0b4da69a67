//! Binding the listener and serving until shutdown.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::error::ApiError;
use crate::routes::router_with;
use crate::state::{ApiState, HealthFn};

/// A bound, not yet serving, HTTP listener.
#[derive(Debug)]
pub struct Bound {
    listener: TcpListener,
    addr: SocketAddr,
}

/// Binds `addr`; port 0 picks a free port (see [`Bound::local_addr`]).
pub async fn bind(addr: SocketAddr) -> Result<Bound, ApiError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ApiError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ApiError::Bind { addr, source })?;
    Ok(Bound { listener, addr })
}

impl Bound {
    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests and returns.
    /// The health closure is dropped on return, releasing whatever it holds.
    pub async fn serve(
        self,
        health: HealthFn,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ApiError> {
        self.serve_with(ApiState::new(health), shutdown).await
    }

    /// Serves the router with every hook in `state`.
    pub async fn serve_with(
        self,
        state: ApiState,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ApiError> {
        let addr = self.addr;
        tracing::debug!(%addr, "HTTP API serving");
        let app = router_with(state).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| ApiError::Serve { addr, source })
    }
}

/// [`bind`] then [`Bound::serve`].
pub async fn serve(
    addr: SocketAddr,
    health: HealthFn,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ApiError> {
    bind(addr).await?.serve(health, shutdown).await
}
